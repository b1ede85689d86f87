"""The device registry (lab store: SQLAlchemy Core, SQLite or PostgreSQL), and the decoded
events of the workstation's bench store (its SQLite file)."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, update
from sqlite_utils import Database

from app.domain.bookings import ACTIVE_STATUSES
from app.domain.clock import Clock
from app.domain.devices import ConnectionSettings, Device, DeviceKind
from app.domain.errors import NotFoundError, ValidationError
from app.domain.events import DeviceEvent, EventKind
from app.storage.audit import write_audit
from app.storage.capture_sessions import CaptureSessionRepo
from app.storage.labstore import LabStore, lab_store
from app.storage.tables import bookings, devices
from app.storage.timefmt import from_db, to_db

logger = logging.getLogger(__name__)

#: The largest id the lab store holds (64-bit on both engines).
_MAX_ID = 2**63 - 1


def _connection(row: Any) -> ConnectionSettings:
    """A stored ``connection_json``; a value that no longer validates is kept, not fatal."""
    raw = json.loads(row["connection_json"] or "{}")
    try:
        return ConnectionSettings.from_dict(raw)
    except ValidationError as exc:
        logger.warning("device %s: connection setting kept as stored: %s", row["label"], exc)
        return ConnectionSettings.from_dict(raw, lenient=True)


__all__ = ["CaptureSessionRepo", "DeviceRepo", "EventStore"]


class DeviceRepo:
    """Stores and loads :class:`Device` values: the devices registry, part of the lab store
    (SQLAlchemy Core, on the workstation's SQLite file or the lab's PostgreSQL server)."""

    def __init__(self, db: Database | LabStore, clock: Clock) -> None:
        self.store = lab_store(db)
        self.clock = clock

    def _row(self, d: Device) -> dict[str, Any]:
        return {
            "label": d.label, "kind": d.kind.value, "device_id": d.device_id, "mpxn": d.mpxn,
            "manufacturer": d.manufacturer, "model": d.model, "firmware": d.firmware,
            "owner": d.owner, "bench": d.bench, "connection_json": json.dumps(d.connection.to_dict()),
            "updated_at": to_db(self.clock.now()),
        }

    @staticmethod
    def _what(device: Device) -> dict[str, Any]:
        """A device as the audit trail records it."""
        return {"label": device.label, "kind": device.kind.value, "device_id": device.device_id,
                "mpxn": device.mpxn, "bench": device.bench, "firmware": device.firmware}

    def _rows(self, *where: Any) -> list[Any]:
        query = select(devices).where(*where).order_by(devices.c.bench, devices.c.label)
        with self.store.reading() as conn:
            return list(conn.execute(query).mappings().all())

    def add(self, device: Device, actor: str = "unknown") -> Device:
        """Register a device, with its audit row, in one transaction."""
        now = to_db(self.clock.now())
        with self.store.transaction() as conn:
            if self.find(device.label) is not None:
                raise ValidationError("label", f"A device labelled {device.label!r} already "
                                               f"exists.")
            pk = int(conn.execute(insert(devices).values(
                **self._row(device), created_at=now)).inserted_primary_key[0])
            write_audit(conn, now, actor, "created", "device", pk, self._what(device))
        return self.get(pk)

    def update(self, device: Device, actor: str = "unknown") -> Device:
        if device.id is None:
            raise ValueError("device has no id")
        with self.store.transaction() as conn:
            other = self.find(device.label)
            if other is not None and other.id != device.id:
                raise ValidationError("label", f"A device labelled {device.label!r} already "
                                               f"exists.")
            conn.execute(update(devices).where(devices.c.id == device.id)
                         .values(**self._row(device)))
            write_audit(conn, to_db(self.clock.now()), actor, "changed", "device", device.id,
                        self._what(device))
        return self.get(device.id)

    def delete(self, device_id: int, actor: str = "unknown") -> None:
        with self.store.transaction() as conn:
            conn.execute(delete(devices).where(devices.c.id == device_id))
            write_audit(conn, to_db(self.clock.now()), actor, "deleted", "device", device_id,
                        {})

    @staticmethod
    def _from_row(row: Any) -> Device:
        return Device(
            id=row["id"], label=row["label"], kind=DeviceKind(row["kind"]),
            device_id=row["device_id"] or "", mpxn=row["mpxn"] or "",
            manufacturer=row["manufacturer"] or "", model=row["model"] or "",
            firmware=row["firmware"] or "", owner=row["owner"] or "lab", bench=row["bench"] or "",
            connection=_connection(row),
        )

    def get(self, device_id: int) -> Device:
        rows = self._rows(devices.c.id == device_id) if 0 <= device_id <= _MAX_ID else []
        if not rows:
            raise NotFoundError("device", f"There is no device with id {device_id}.")
        return self._from_row(rows[0])

    def registered_at(self, device_id: int) -> str | None:
        """When the device with id `device_id` was registered (as stored), None if there is none:
        with its id, it tells this device from another given the same id by a database created
        again from scratch."""
        if not 0 <= device_id <= _MAX_ID:
            return None
        with self.store.reading() as conn:
            return conn.execute(select(devices.c.created_at).where(
                devices.c.id == device_id)).scalar_one_or_none()

    def find(self, ref: str | int) -> Device | None:
        """A device by id, label (case-insensitive) or EUI-64."""
        text = str(ref).strip()
        if text.isdigit() and int(text) <= _MAX_ID:
            rows = self._rows(devices.c.id == int(text))
            if rows:
                return self._from_row(rows[0])
        rows = self._rows(or_(func.lower(devices.c.label) == func.lower(text),
                              func.upper(devices.c.device_id) == func.upper(text)))
        return self._from_row(rows[0]) if rows else None

    def list(self, org_scope: int | None = None) -> list[Device]:
        """Every registered device, or (with `org_scope`) a participant's: devices have no
        organisation of their own, so a participant sees the devices on the benches its
        organisation's open bookings (requested, scheduled, checked in) hold right now, and
        none otherwise; bench names are matched ignoring case."""
        if org_scope is None:
            return [self._from_row(r) for r in self._rows()]
        now = to_db(self.clock.now())
        with self.store.reading() as conn:
            held_json = conn.execute(select(bookings.c.benches_json).where(
                bookings.c.org_id == org_scope,
                bookings.c.status.in_([s.value for s in ACTIVE_STATUSES]),
                bookings.c.start_utc <= now, bookings.c.end_utc > now)).scalars().all()
        held = {str(name).lower() for text in held_json for name in json.loads(text or "[]")}
        if not held:
            return []
        # Compared here, not in SQL: the engines' lower() differ beyond ASCII.
        return [self._from_row(r) for r in self._rows(devices.c.bench.is_not(None))
                if r["bench"].lower() in held]


def _iso_utc(moment: datetime) -> str:
    """:func:`~app.storage.timefmt.to_db`, skipping the conversion when already in UTC."""
    if moment.tzinfo is UTC:
        return moment.isoformat(timespec="microseconds")
    return to_db(moment)


#: Event fields as stored: what ``json.dumps(fields, default=str, separators=(",", ":"))`` gives,
#: without building a new encoder for every event. Stateless, so one instance serves all threads.
_FIELDS_ENCODER = json.JSONEncoder(default=str, separators=(",", ":"))


class EventStore:
    """Writes decoded events in batches and reads them back."""

    INSERT = ("INSERT INTO events (session_id, device, device_ref, kind, host_time, device_time, "
              "code, fields_json) VALUES (?,?,?,?,?,?,?,?)")
    #: Placeholders of one row (see :meth:`_insert_rows_sql`).
    ROW = "(?,?,?,?,?,?,?,?)"

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    @staticmethod
    def rows(events: Iterable[DeviceEvent]) -> list[tuple[Any, ...]]:
        """Database rows of `events`: times as ISO-8601 UTC text, fields as compact JSON."""
        encode = _FIELDS_ENCODER.encode
        out = []
        append = out.append
        # Events decoded from one chunk share their host time: format it once.
        last_host: datetime | None = None
        host_text = ""
        for ev in events:
            host = ev.host_time
            if host is not last_host:
                host_text = _iso_utc(host)
                last_host = host
            fields = ev.fields
            device_time = ev.device_time
            append((
                ev.session_id, ev.device, ev.device_ref, ev.kind.value, host_text,
                _iso_utc(device_time) if device_time else None,
                fields.get("alert_code") or fields.get("obis") or fields.get("code"),
                encode(fields),
            ))
        return out

    #: Rows per INSERT statement in :meth:`insert_many` (8 parameters a row: 800 stays under
    #: SQLite's oldest default limit of 999 parameters a statement).
    ROWS_PER_STATEMENT = 100

    @classmethod
    def _insert_rows_sql(cls, count: int) -> str:
        return cls.INSERT + ("," + cls.ROW) * (count - 1)

    def insert_many(self, events: Iterable[DeviceEvent]) -> int:
        """Insert a batch in one transaction; returns how many were written.

        Rows go in groups of :attr:`ROWS_PER_STATEMENT` per statement rather than one statement
        per row: Python's sqlite3 releases the GIL around every statement step, and with other
        busy threads (the I/O loop, the UI) winning it back can take a thread switch interval
        (5 ms) each time, which starved the writer when it was one step per row.
        """
        rows = self.rows(events)
        per = self.ROWS_PER_STATEMENT
        full = len(rows) - len(rows) % per
        with self.conn:
            if full:
                self.conn.executemany(self._insert_rows_sql(per), [
                    [value for row in rows[start:start + per] for value in row]
                    for start in range(0, full, per)
                ])
            if full < len(rows):
                self.conn.execute(self._insert_rows_sql(len(rows) - full),
                                  [value for row in rows[full:] for value in row])
        return len(rows)

    def list(self, device: str | None = None, kind: EventKind | None = None,
             since: datetime | None = None, limit: int = 10_000, *,
             device_ref: int | None = None) -> list[DeviceEvent]:
        """Events in time order.

        Args:
            device: the label events were stored with (ports not in the registry).
            device_ref: a registered device's id: its whole history, whatever its label was
                (indexed; prefer it for registered devices).
        """
        where, args = ["1 = 1"], []  # type: list[str], list[Any]
        if device_ref is not None:
            where.append("device_ref = ?")
            args.append(device_ref)
        if device:
            where.append("device = ?")
            args.append(device)
        if kind:
            where.append("kind = ?")
            args.append(kind.value)
        if since:
            where.append("host_time >= ?")
            args.append(to_db(since))
        cur = self.conn.execute(
            f"SELECT session_id, device, device_ref, kind, host_time, device_time, fields_json "
            f"FROM events WHERE {' AND '.join(where)} ORDER BY host_time, id LIMIT ?",
            [*args, limit])
        return [
            DeviceEvent(device=d, kind=EventKind(k), host_time=from_db(h),  # type: ignore[arg-type]
                        device_time=from_db(dt), fields=json.loads(f or "{}"), session_id=s,
                        device_ref=r)
            for s, d, r, k, h, dt, f in cur.fetchall()
        ]

    @staticmethod
    def fingerprint(row: tuple[Any, ...]) -> tuple[Any, ...]:
        """What identifies an event within its session: kind, device time, code and fields,
        as stored (a row of :meth:`rows`). The host time is left out: a replay cannot know it."""
        return row[3], row[5], row[6], row[7]

    def session_fingerprints(self, session_id: int) -> list[tuple[tuple[Any, ...], str]]:
        """(fingerprint, host time text) of a session's stored events, in the order stored."""
        cur = self.conn.execute(
            "SELECT kind, device_time, code, fields_json, host_time FROM events "
            "WHERE session_id = ? ORDER BY id", (session_id,))
        return [((k, dt, c, f), h) for k, dt, c, f, h in cur.fetchall()]

    def count(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM events").fetchone()[0])
