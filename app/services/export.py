"""Exporting bookings to ICS (icalendar) and CSV (ISO-8601 times)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import datetime, tzinfo
from pathlib import Path

from icalendar import Calendar, Event

from app.domain.bookings import Booking

CSV_COLUMNS = (
    "id", "status", "lab", "org", "start", "end", "spaces", "phase", "roles", "attendees",
    "benches", "devices", "notes", "override",
)


def booking_to_dict(b: Booking) -> dict:
    """The JSON/CSV view of a booking (times ISO-8601 UTC with offset)."""
    return {
        "id": b.id, "status": b.status.value, "lab": b.lab_name, "lab_id": b.lab_id,
        "org": b.org_name, "org_id": b.org_id, "start": b.start.isoformat(),
        "end": b.end.isoformat(), "spaces": b.spaces, "phase": b.phase.value,
        "roles": list(b.roles), "attendees": list(b.attendees), "benches": list(b.benches),
        "devices": b.devices, "notes": b.notes, "override": b.override,
        "override_reasons": [r.to_dict() for r in b.override_reasons],
    }


def to_csv(bookings: list[Booking], tz_of: Callable[[int], tzinfo] | None = None) -> str:
    """CSV of the bookings; with `tz_of` (a lab id to its zone) start and end are in each lab's
    local time with the offset, as lab staff read them, else in UTC."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for b in bookings:
        row = booking_to_dict(b)
        if tz_of is not None:
            tz = tz_of(b.lab_id)
            row["start"] = b.start.astimezone(tz).isoformat()
            row["end"] = b.end.astimezone(tz).isoformat()
        for key in ("roles", "attendees", "benches"):
            row[key] = ";".join(row[key])
        writer.writerow({k: row[k] for k in CSV_COLUMNS})
    return buf.getvalue()


def to_ics(bookings: list[Booking], title: str, stamp: datetime) -> bytes:
    """An iCalendar with one VEVENT per booking (UTC times, stable UIDs)."""
    cal = Calendar()
    cal.add("prodid", "-//MeterLab//Lab bookings//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", title)
    for b in bookings:
        ev = Event()
        ev.add("uid", f"booking-{b.id}-lab-{b.lab_id}@meterlab")
        ev.add("dtstamp", stamp)
        ev.add("dtstart", b.start)
        ev.add("dtend", b.end)
        ev.add("summary", f"{b.org_name}: {b.phase.value} ({b.spaces} spaces)")
        ev.add("location", b.lab_name + (f", benches {', '.join(b.benches)}" if b.benches else ""))
        details = [f"Status: {b.status.value}", f"Booking #{b.id}"]
        if b.roles:
            details.append("Roles: " + ", ".join(b.roles))
        if b.attendees:
            details.append("Attendees: " + ", ".join(b.attendees))
        if b.notes:
            details.append("Notes: " + b.notes)
        ev.add("description", "\n".join(details))
        ev.add("status", "CANCELLED" if b.status.value in ("cancelled", "rejected") else
               ("TENTATIVE" if b.status.value == "requested" else "CONFIRMED"))
        cal.add_component(ev)
    return cal.to_ical()


def write_atomically(path: Path, data: bytes) -> None:
    """Write a file so that a reader never sees half of it."""
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(data)
    tmp.replace(path)
