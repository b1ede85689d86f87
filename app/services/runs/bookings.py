"""Which booking a run belongs to: by default the one checked in on its bench now."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from app.domain.bookings import Booking, BookingStatus, Reason
from app.domain.errors import NotFoundError, RuleRefusal, ValidationError
from app.storage.bookings import BookingRepo

LONDON = ZoneInfo("Europe/London")
#: Bookings a run may be recorded against.
RUNNABLE = (BookingStatus.SCHEDULED, BookingStatus.CHECKED_IN)


def _on_bench(booking: Booking, bench: str) -> bool:
    return bench.casefold() in (b.casefold() for b in booking.benches)


def bookings_on_bench(repo: BookingRepo, bench: str, now: datetime) -> list[Booking]:
    """Today's scheduled or checked-in bookings that hold `bench`, earliest first."""
    local = now.astimezone(LONDON)
    day_start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    found = repo.list(statuses=RUNNABLE, start=day_start, end=day_start + timedelta(days=1))
    return [b for b in found if _on_bench(b, bench)]


def default_booking(repo: BookingRepo, bench: str, now: datetime) -> Booking | None:
    """The booking checked in on `bench` whose time contains `now`, if there is one."""
    for booking in bookings_on_bench(repo, bench, now):
        if booking.status is BookingStatus.CHECKED_IN and booking.start <= now < booking.end:
            return booking
    return None


def describe(booking: Booking) -> str:
    """One line for a chooser: "#12 Acme Energy 09:00-17:00 (checked in)"."""
    start = booking.start.astimezone(LONDON).strftime("%H:%M")
    end = booking.end.astimezone(LONDON).strftime("%H:%M")
    status = booking.status.value.replace("_", " ")
    return f"#{booking.id} {booking.org_name} {start}-{end} ({status})"


def booking_for_run(repo: BookingRepo, booking_id: int | None, bench: str,
                    now: datetime) -> Booking | None:
    """The booking a run on `bench` is recorded against.

    With an id, that booking, which must hold the bench and be scheduled or checked in;
    without, the booking checked in on the bench now (or none).

    Raises:
        NotFoundError: no booking with that id (field ``booking``).
        RuleRefusal: the booking does not hold the bench, or is not scheduled or checked in.
    """
    if booking_id is None:
        return default_booking(repo, bench, now)
    try:
        booking = repo.get(booking_id)
    except NotFoundError:
        raise NotFoundError("booking", f"There is no booking {booking_id}.") from None
    if booking.status not in RUNNABLE:
        raise RuleRefusal([Reason("booking_status", f"Booking {booking_id} is "
                                  f"{booking.status.value.replace('_', ' ')}; a run needs a "
                                  f"scheduled or checked-in booking.")])
    if not _on_bench(booking, bench):
        held = ", ".join(booking.benches) or "no bench"
        raise RuleRefusal([Reason("booking_bench", f"Booking {booking_id} holds {held}, not "
                                  f"{bench}.")])
    return booking


def check_booking_id(raw: str | int | None) -> int | None:
    if raw is None:
        return None
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise ValidationError("booking", f"--booking must be a booking number, not {raw!r}.") \
            from None
    if not 1 <= value <= 2**63 - 1:
        raise ValidationError("booking", f"--booking must be a booking number, not {raw!r}.")
    return value
