"""Bookings of lab space, their life cycle, and the rules a request is checked against."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import Enum

from app.domain.errors import RuleRefusal, ValidationError


class BookingStatus(str, Enum):
    REQUESTED = "requested"
    SCHEDULED = "scheduled"
    CHECKED_IN = "checked_in"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    NO_SHOW = "no_show"


#: Statuses that hold lab space (count against capacity and benches).
ACTIVE_STATUSES = (BookingStatus.REQUESTED, BookingStatus.SCHEDULED, BookingStatus.CHECKED_IN)


class Phase(str, Enum):
    E2E = "e2e"
    UEPT = "uept"
    DEVICE = "device"
    INDUCTION = "induction"
    OTHER = "other"


def parse_phase(text: str) -> Phase:
    try:
        return Phase(text.strip().lower())
    except ValueError:
        allowed = ", ".join(p.value for p in Phase)
        raise ValidationError("phase", f"Phase must be one of {allowed}, not {text!r}.") from None


#: action name -> (statuses it may start from, status it leads to)
TRANSITIONS: dict[str, tuple[tuple[BookingStatus, ...], BookingStatus]] = {
    "approve": ((BookingStatus.REQUESTED,), BookingStatus.SCHEDULED),
    "reject": ((BookingStatus.REQUESTED,), BookingStatus.REJECTED),
    "cancel": ((BookingStatus.REQUESTED, BookingStatus.SCHEDULED), BookingStatus.CANCELLED),
    "checkin": ((BookingStatus.SCHEDULED,), BookingStatus.CHECKED_IN),
    "complete": ((BookingStatus.CHECKED_IN,), BookingStatus.COMPLETED),
    "no_show": ((BookingStatus.SCHEDULED,), BookingStatus.NO_SHOW),
}


class TransitionRefused(RuleRefusal):
    """A life-cycle move the booking's status does not allow (now, or any more).

    Raised when the action never leads from the booking's status, and when another workstation
    moved the booking between the moment it was read and the moment it was written. The two are
    the same to the person asking ("it is no longer requested"), so both are refusals (CLI exit 3),
    not bad input.

    Attributes:
        action: the life-cycle action that was refused.
        current: the booking's status when it was refused.
    """

    def __init__(self, action: str, current: BookingStatus, message: str) -> None:
        super().__init__([Reason("status", message)])
        self.action = action
        self.current = current


def next_status(action: str, current: BookingStatus) -> BookingStatus:
    """The status `action` leads to from `current`.

    Raises:
        ValidationError: `action` is not a life-cycle action.
        TransitionRefused: the life cycle does not allow `action` from `current`.
    """
    if action not in TRANSITIONS:
        raise ValidationError("action", f"Action must be one of {', '.join(TRANSITIONS)}, not {action!r}.")
    sources, target = TRANSITIONS[action]
    if current not in sources:
        allowed = " or ".join(s.value for s in sources)
        raise TransitionRefused(
            action, current,
            f"Cannot {action.replace('_', ' ')} a booking that is {current.value}; "
            f"it must be {allowed}.",
        )
    return target


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a rule refused a request: a stable code and a sentence for people."""

    code: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


@dataclass(frozen=True, slots=True)
class BookingRequest:
    """What someone asks for. Times are aware datetimes (the lab's local zone or any other)."""

    lab_id: int
    org_id: int
    start: datetime
    end: datetime
    spaces: int
    phase: Phase
    roles: tuple[str, ...] = ()
    attendees: tuple[str, ...] = ()  # emails
    benches: tuple[str, ...] = ()  # bench names
    devices: str = ""
    notes: str = ""

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValidationError("start", "Start and end must carry a time zone once parsed.")
        if self.end <= self.start:
            raise ValidationError(
                "end", f"End {self.end:%Y-%m-%d %H:%M} must be after start {self.start:%Y-%m-%d %H:%M}."
            )
        if self.spaces < 1:
            raise ValidationError("spaces", f"Spaces must be a whole number of 1 or more, not {self.spaces}.")


@dataclass(frozen=True, slots=True)
class Booking:
    """A booking of lab space as stored."""

    id: int
    lab_id: int
    org_id: int
    start: datetime  # UTC
    end: datetime  # UTC
    spaces: int
    phase: Phase
    status: BookingStatus
    roles: tuple[str, ...] = ()
    attendees: tuple[str, ...] = ()
    benches: tuple[str, ...] = ()
    devices: str = ""
    notes: str = ""
    created_at: datetime | None = None
    override: str = ""  # justification when staff overrode a refusal
    override_reasons: tuple[Reason, ...] = ()
    lab_name: str = ""
    org_name: str = ""


@dataclass(frozen=True, slots=True)
class Segment:
    """Part of a booking that occupies one day's opening hours (UTC instants)."""

    day: date
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class Occupancy:
    """What an existing active booking holds on one day: for capacity and bench checks."""

    booking_id: int
    start: datetime
    end: datetime
    spaces: int
    benches: tuple[str, ...] = ()


@dataclass
class RuleContext:
    """Everything the rules need to know beyond the request itself.

    Attributes:
        occupancy: segments of existing active bookings that fall on the request's days.
        completed_roles: roles whose mandatory testing the organisation has completed.
        attendee_inducted: email -> whether a valid induction covers every booking day; an email
            with no person record maps to None.
        known_benches: names of the lab's benches (lower-cased).
    """

    occupancy: list[Occupancy] = field(default_factory=list)
    completed_roles: tuple[str, ...] = ()
    attendee_inducted: dict[str, bool | None] = field(default_factory=dict)
    known_benches: frozenset[str] = frozenset()


def booking_days(start_local: datetime, end_local: datetime) -> list[date]:
    """Calendar days a booking touches in local time (an end at midnight does not add a day)."""
    first = start_local.date()
    last = end_local.date()
    if end_local.time() == datetime.min.time() and last > first:
        last -= timedelta(days=1)
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]
