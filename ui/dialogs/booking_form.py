"""The booking dialog's view-model: what was typed, what the rules say about it. No Qt here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from app.domain.bookings import BookingRequest, Phase, Reason
from app.domain.errors import NotFoundError, ValidationError
from app.domain.lab import Lab
from app.services.bookings import BookingService, RequestOutcome


@dataclass(frozen=True)
class BookingForm:
    """The fields of the booking dialog. Times are naive, in the lab's local time."""

    lab: str
    org: str
    start: datetime
    end: datetime
    spaces: int = 1
    phase: Phase = Phase.DEVICE
    roles: tuple[str, ...] = ()
    attendees: tuple[str, ...] = ()
    benches: tuple[str, ...] = ()
    devices: str = ""
    notes: str = ""
    override: bool = False
    justification: str = ""


@dataclass(frozen=True)
class FormCheck:
    """The outcome of checking a form: an input error, or the rules' reasons (maybe none)."""

    reasons: tuple[Reason, ...] = ()
    error: str = ""
    error_field: str = ""
    lab: Lab | None = None
    request: BookingRequest | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when the request may be booked without an override."""
        return self.request is not None and not self.reasons

    def can_request(self, override: bool, justification: str) -> bool:
        """Request is allowed when nothing fails, or when staff override with a written reason."""
        if self.request is None:
            return False
        return not self.reasons or (override and bool(justification.strip()))

    def lines(self) -> list[tuple[str, str]]:
        """(code, sentence) for everything wrong, input errors first."""
        if self.error:
            return [(f"input: {self.error_field}", self.error)]
        return [(r.code, r.message) for r in self.reasons]


def evaluate(service: BookingService, form: BookingForm) -> FormCheck:
    """Build the request and check it against every rule; bad input becomes one sentence."""
    try:
        lab, req = service.build_request(
            form.lab, form.org, form.start, form.end, form.spaces, form.phase,
            roles=form.roles if form.phase is Phase.E2E else (),
            attendees=form.attendees, benches=form.benches,
            devices=form.devices.strip(), notes=form.notes.strip(),
        )
        reasons = service.check(lab, req)
    except (ValidationError, NotFoundError) as exc:
        return FormCheck(error=exc.message, error_field=exc.field)
    return FormCheck(reasons=tuple(reasons), lab=lab, request=req)


def submit(service: BookingService, form: BookingForm) -> tuple[FormCheck, RequestOutcome | None]:
    """Check again and book. Returns the fresh check and the outcome (None on bad input).

    The rules are re-run at the moment of booking: someone else may have taken the space since
    the form was last checked.
    """
    check = evaluate(service, form)
    if check.request is None or check.lab is None:
        return check, None
    if not check.can_request(form.override, form.justification):
        return check, None
    override = form.justification.strip() if (form.override and check.reasons) else ""
    outcome = service.request(check.lab, check.request, override=override)
    return check, outcome
