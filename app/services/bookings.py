"""Use cases for labs, participants and bookings."""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from app.domain.bookings import (
    ACTIVE_STATUSES,
    Booking,
    BookingRequest,
    BookingStatus,
    Phase,
    Reason,
    RuleContext,
    booking_days,
    next_status,
    parse_phase,
)
from app.domain.clock import Clock
from app.domain.errors import ValidationError
from app.domain.lab import Bench, Lab, OpeningHours, check_bench_count, default_opening_hours
from app.domain.parsing import MAX_NOTE_CHARS, check_text
from app.domain.participants import (
    Induction,
    Organisation,
    Person,
    induction_valid_until,
    parse_roles,
    validate_email,
)
from app.domain.principals import WORKSTATION_ADMIN, Action, Principal
from app.domain.rules import check_request, find_slot, segments
from app.storage.bookings import BookingRepo
from app.storage.labs import LabRepo
from app.storage.people import OrgRepo, PersonRepo


@dataclass(frozen=True)
class RequestOutcome:
    """What happened to a booking request."""

    status: str  # "requested" | "refused" | "overridden"
    booking: Booking | None
    reasons: list[Reason] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": "requested" if self.status == "overridden" else self.status,
            "id": self.booking.id if self.booking else None,
            "reasons": [r.to_dict() for r in self.reasons],
            **({"override": self.booking.override} if self.booking and self.booking.override else {}),
        }


class LabService:
    """Labs, organisations, people and inductions.

    Every use case acts for a principal: the one given to the call, else the service's own
    (:attr:`principal`, the workstation admin unless the front end says otherwise). Changes are
    refused (:class:`RuleRefusal`) for a principal whose role does not allow them.
    """

    def __init__(self, labs: LabRepo, orgs: OrgRepo, people: PersonRepo, clock: Clock,
                 actor: str = "unknown", principal: Principal = WORKSTATION_ADMIN) -> None:
        self.labs, self.orgs, self.people, self.clock = labs, orgs, people, clock
        self.actor = actor  # who the audit trail names for what this service creates
        self.principal = principal

    def add_lab(
        self,
        name: str,
        spaces: int,
        site: str = "",
        opens: time | None = None,
        closes: time | None = None,
        benches: int | list[Bench] = 0,
        principal: Principal | None = None,
        **settings: Any,
    ) -> Lab:
        (principal or self.principal).require(Action.LABS, "add labs")
        if (opens is None) != (closes is None):
            missing = "closes" if closes is None else "opens"
            raise ValidationError(missing, "Give both --opens and --closes, or neither (default 08:00-18:00).")
        hours: dict[int, OpeningHours] = (
            default_opening_hours(opens, closes) if opens and closes else default_opening_hours()
        )
        # Bounded before the list is built: an absurd count must not exhaust memory first.
        bench_list = (
            [Bench(number=i, name=f"Bench {i}") for i in range(1, check_bench_count(benches) + 1)]
            if isinstance(benches, int) else benches
        )
        lab = Lab(name=name.strip(), spaces=spaces, site=site, hours=hours,
                  benches=tuple(bench_list), **settings)
        return self.labs.add(lab, self.actor)

    def add_org(self, name: str, roles: str | None = None, completed_roles: str | None = None,
                principal: Principal | None = None) -> Organisation:
        (principal or self.principal).require(Action.PEOPLE, "add organisations")
        held = parse_roles(roles, "roles")
        done = parse_roles(completed_roles, "completed_roles")
        return self.orgs.add(
            Organisation(name=name.strip(), roles=held, completed_roles=done), self.actor
        )

    def add_person(self, org_ref: str, name: str, email: str,
                   principal: Principal | None = None) -> Person:
        (principal or self.principal).require(Action.PEOPLE, "add people")
        org = self.orgs.resolve(org_ref)
        address = validate_email(email)
        assert org.id is not None
        return self.people.add(Person(name=name.strip(), email=address, org_id=org.id), self.actor)

    def induct(self, email: str, lab_ref: str, held_on: date, delivered_by: str = "",
               reason: str = "", principal: Principal | None = None) -> Person:
        """Record that a person attended a lab's induction on `held_on`, held elsewhere.

        An induction given at the workstation is recorded by the induction wizard with both
        signatures; this one is staff's word for an induction held elsewhere, so it needs a
        justification, kept in the audit trail.

        Raises:
            ValidationError: the reason is empty or not plain text, or the date is in the future.
        """
        (principal or self.principal).require(Action.INDUCT, "record inductions")
        why = check_text(reason.strip(), "reason", MAX_NOTE_CHARS)
        if not why:
            raise ValidationError(
                "reason", "A reason is required: say where and by whom the induction was held "
                          "(it is kept in the audit trail).")
        person = self.people.resolve_email(validate_email(email))
        lab = self.labs.resolve(lab_ref)
        today = lab.local(self.clock.now()).date()
        if held_on > today:
            raise ValidationError(
                "date", f"The induction date {held_on} is in the future; record it once it has happened."
            )
        assert lab.id is not None and person.id is not None
        induction = Induction(
            lab_id=lab.id, date=held_on,
            valid_until=induction_valid_until(held_on, lab.induction_validity_months),
            delivered_by=delivered_by,
        )
        return self.people.add_induction(person.id, induction, self.actor, reason=why)


class BookingService:
    """Requesting, checking, moving and exporting bookings.

    Every use case acts for a principal: the one given to the call, else :attr:`principal`. A
    participant sees only its own organisation's bookings and may change none.
    """

    def __init__(self, labs: LabRepo, orgs: OrgRepo, people: PersonRepo, bookings: BookingRepo,
                 clock: Clock, actor: str, principal: Principal = WORKSTATION_ADMIN) -> None:
        self.labs, self.orgs, self.people, self.bookings = labs, orgs, people, bookings
        self.clock, self.actor = clock, actor
        self.principal = principal

    def write_transaction(self) -> AbstractContextManager[None]:
        """Group several use cases into one all-or-nothing write (e.g. seeding the demo lab).

        The use cases of this service and of :class:`LabService` nest inside it (they share the
        lab store), so either all of their writes are committed or none is.
        """
        return self.bookings.write_transaction()

    # --- checking --------------------------------------------------------------------------
    def context_for(self, lab: Lab, req: BookingRequest, exclude_id: int | None = None) -> RuleContext:
        """Gather what the rules need from the database for one request."""
        assert lab.id is not None
        start_l, end_l = lab.local(req.start), lab.local(req.end)
        days = booking_days(start_l, end_l)
        with self.bookings.reads_together():
            org = self.orgs.get(req.org_id)
            inducted: dict[str, bool | None] = {}
            for email in req.attendees:
                person = self.people.find_by_email(email)
                inducted[email] = None if person is None else person.inducted_for(lab.id, days)
            occupancy = self.bookings.occupancy(lab.id, days[0], days[-1], exclude_id=exclude_id)
        return RuleContext(
            occupancy=occupancy,
            completed_roles=org.completed_roles,
            attendee_inducted=inducted,
            known_benches=frozenset(b.name.casefold() for b in lab.benches),
        )

    def build_request(
        self,
        lab_ref: str,
        org_ref: str,
        start: datetime,
        end: datetime,
        spaces: int,
        phase: Phase | str,
        roles: list[str] | tuple[str, ...] = (),
        attendees: list[str] | tuple[str, ...] = (),
        benches: list[str] | tuple[str, ...] = (),
        devices: str = "",
        notes: str = "",
    ) -> tuple[Lab, BookingRequest]:
        """Resolve names and validate input; raises ValidationError/NotFoundError on bad input."""
        phase = phase if isinstance(phase, Phase) else parse_phase(phase)
        lab = self.labs.resolve(lab_ref)
        org = self.orgs.resolve(org_ref)
        start = lab.localize(start)
        end = lab.localize(end)
        emails: list[str] = []
        for email in attendees:
            address = validate_email(email, "attendee")
            self.people.resolve_email(address, "attendee")
            if address not in emails:
                emails.append(address)
        bench_names: list[str] = []
        for name in benches:
            bench = lab.bench_by_name(name)
            if bench is None:
                known = ", ".join(b.name for b in lab.benches) or "none"
                raise ValidationError("bench", f"Lab {lab.name} has no bench {name!r} (benches: {known}).")
            if bench.name not in bench_names:
                bench_names.append(bench.name)
        assert lab.id is not None and org.id is not None
        req = BookingRequest(
            lab_id=lab.id, org_id=org.id, start=start, end=end, spaces=spaces, phase=phase,
            roles=parse_roles(list(roles), "role"), attendees=tuple(emails),
            benches=tuple(bench_names), devices=devices, notes=notes,
        )
        return lab, req

    def check(self, lab: Lab, req: BookingRequest) -> list[Reason]:
        """Every rule the request breaks right now (empty when it may be booked)."""
        return check_request(lab, req, self.clock.now(), self.context_for(lab, req))

    def request(self, lab: Lab, req: BookingRequest, override: str = "",
                principal: Principal | None = None) -> RequestOutcome:
        """Book if every rule passes; otherwise refuse (kept in the audit trail only).

        With a written `override` justification, lab staff book despite the refusal; the reasons
        and the justification are kept on the booking and in the audit trail.

        Raises:
            RuleRefusal: the principal may not request bookings (nothing is written).
        """
        (principal or self.principal).require(Action.BOOKINGS, "request bookings")
        # The rule check reads what other bookings hold; only inside the write transaction, with
        # the lab locked, can nobody else book those spaces between the check and our insert.
        with self.bookings.write_transaction(lab_id=req.lab_id):
            reasons = self.check(lab, req)
            if reasons and override.strip():
                (principal or self.principal).require(Action.OVERRIDE, "override a refused "
                                                                       "booking")
            if reasons and not override.strip():
                self.bookings.record_refusal(self.actor, _request_dict(lab, req), reasons)
                return RequestOutcome("refused", None, reasons)
            booking = Booking(
                id=0, lab_id=req.lab_id, org_id=req.org_id,
                start=req.start.astimezone(UTC), end=req.end.astimezone(UTC),
                spaces=req.spaces, phase=req.phase, status=BookingStatus.REQUESTED,
                roles=req.roles, attendees=req.attendees, benches=req.benches,
                devices=req.devices, notes=req.notes,
                override=override.strip() if reasons else "",
                override_reasons=tuple(reasons) if reasons else (),
            )
            stored = self.bookings.add(
                booking, segments(lab, req.start, req.end), self.actor,
                action="overridden" if reasons else "requested",
            )
        return RequestOutcome("overridden" if reasons else "requested", stored, reasons)

    # --- life cycle ------------------------------------------------------------------------
    def transition(self, booking_id: int, action: str, why: str = "",
                   principal: Principal | None = None) -> Booking:
        """Apply a life-cycle `action` (approve, reject, cancel, checkin, complete, no_show).

        Raises:
            ValidationError: `action` is not a life-cycle action.
            NotFoundError: there is no such booking.
            TransitionRefused: the booking's status does not allow `action`, including when
                another workstation moved it first (only one of two simultaneous moves wins).
            RuleRefusal: the principal may not move bookings.
        """
        (principal or self.principal).require(Action.BOOKINGS, "change bookings")
        with self.bookings.write_transaction():
            booking = self.bookings.get(booking_id)
            target = next_status(action, booking.status)
            # No move out of or between the active statuses takes more space or benches than
            # the request already held, so no rule is re-checked here; the compare-and-set in
            # set_status is what keeps two workstations from both moving the booking.
            return self.bookings.set_status(
                booking_id, booking.status, target, self.actor, action, why
            )

    # --- finding and listing ---------------------------------------------------------------
    def find_slot(self, lab_ref: str, spaces: int, hours: float, phase: Phase,
                  benches: tuple[str, ...] = ()) -> tuple[datetime, datetime] | None:
        lab = self.labs.resolve(lab_ref)
        if spaces > lab.spaces:
            raise ValidationError("spaces", f"Lab {lab.name} has {lab.spaces} spaces; {spaces} can never fit.")
        assert lab.id is not None
        lab_id = lab.id
        return find_slot(
            lab, self.clock.now(), spaces, hours, phase,
            lambda a, b: self.bookings.occupancy(lab_id, a, b), benches=benches,
        )

    def list(self, lab_ref: str | None = None, org_ref: str | None = None,
             day_from: date | None = None, day_to: date | None = None,
             statuses: tuple[BookingStatus, ...] | None = None,
             principal: Principal | None = None) -> list[Booking]:
        """Bookings matching the filters; a participant's are only its organisation's (naming
        another organisation is "no such organisation")."""
        scope = (principal or self.principal).org_scope()
        lab = self.labs.resolve(lab_ref) if lab_ref else None
        org = self.orgs.resolve(org_ref, org_scope=scope) if org_ref else None
        tz = lab.tz if lab else None
        start = _day_start(day_from, tz) if day_from else None
        end = _day_start(day_to + timedelta(days=1), tz) if day_to else None
        return self.bookings.list(
            lab_id=lab.id if lab else None, org_id=org.id if org else None,
            statuses=statuses, start=start, end=end, org_scope=scope,
        )

    def active_between(self, lab: Lab, start: datetime, end: datetime,
                       principal: Principal | None = None) -> list[Booking]:
        return self.bookings.list(lab_id=lab.id, statuses=ACTIVE_STATUSES, start=start, end=end,
                                  org_scope=(principal or self.principal).org_scope())


def _day_start(day: date, tz: ZoneInfo | None) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=tz or ZoneInfo("Europe/London"))


def _request_dict(lab: Lab, req: BookingRequest) -> dict[str, Any]:
    return {
        "lab": lab.name, "org_id": req.org_id, "start": req.start.isoformat(),
        "end": req.end.isoformat(), "spaces": req.spaces, "phase": req.phase.value,
        "roles": list(req.roles), "attendees": list(req.attendees), "benches": list(req.benches),
    }
