"""Giving the lab induction at the workstation and recording it.

The content ships in ``resources/induction/default.toml``. A lab's own goes in the data
directory's ``induction`` folder: ``<lab>.toml`` (the lab's name in lower case, spaces as hyphens)
for one lab, else ``default.toml`` there for every lab, else the shipped one.

An induction is recorded against the person and the lab with its expiry (the lab's
``induction_validity_months``), the content's version and SHA-256, the participant's typed name
and the countersigning staff member; the booking rule ``induction`` reads these records as it
reads one recorded with ``person induct``.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Protocol

import platformdirs

from app.domain.bookings import Booking, BookingStatus
from app.domain.clock import Clock
from app.domain.errors import NotFoundError, ValidationError
from app.domain.induction import (
    InductionContent,
    VisitDetails,
    check_signature,
    fill_visit,
    parse_content,
)
from app.domain.lab import Lab
from app.domain.participants import Induction, Person, induction_valid_until
from app.domain.principals import WORKSTATION_ADMIN, Action, Principal
from app.storage.bookings import BookingRepo
from app.storage.db import APP_NAME
from app.storage.labs import LabRepo
from app.storage.people import OrgRepo, PersonRepo

#: An induction file larger than this is refused before it is read (the shipped one is ~4 kB).
MAX_CONTENT_BYTES = 256 * 1024
DEFAULT_NAME = "default"


def default_induction_dir() -> Path:
    """Where a lab keeps its own induction content (overrides the shipped one)."""
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)) / "induction"


def builtin_induction_dir() -> Traversable:
    return resources.files("resources").joinpath("induction")


def lab_file_stem(lab_name: str) -> str:
    """The file name (without ``.toml``) of a lab's own induction content."""
    return re.sub(r"[^a-z0-9]+", "-", lab_name.strip().lower()).strip("-") or DEFAULT_NAME


def load_content_file(path: Path | Traversable, source: str) -> InductionContent:
    """Read and check one induction file.

    Raises:
        ValidationError: (field "induction") the file is too large, not TOML, or not a valid
            induction.
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ValidationError("induction", f"{source} cannot be read ({exc.strerror or exc}).") \
            from None
    if len(raw) > MAX_CONTENT_BYTES:
        raise ValidationError("induction", f"{source} is larger than {MAX_CONTENT_BYTES} bytes.")
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ValidationError("induction", f"{source} is not valid TOML ({exc}).") from None
    return parse_content(data, raw, source)


def load_content(lab_name: str | None = None, content_dir: Path | None = None) -> InductionContent:
    """The induction content for a lab: its own file, the lab's default, or the shipped one."""
    folder = content_dir if content_dir is not None else default_induction_dir()
    names = ([lab_file_stem(lab_name)] if lab_name else []) + [DEFAULT_NAME]
    for name in names:
        path = folder / f"{name}.toml"
        if path.is_file():
            return load_content_file(path, str(path))
    builtin = builtin_induction_dir().joinpath(f"{DEFAULT_NAME}.toml")
    return load_content_file(builtin, f"builtin:{DEFAULT_NAME}")


class StaffVerifier(Protocol):
    """Checks a staff member's password (the staff accounts service has this shape)."""

    def any_accounts(self) -> bool: ...

    def verify(self, name: str, password: str) -> Principal | None: ...


class NoStaffAccounts:
    """A workstation where no staff account can exist (the accounts service is not installed)."""

    def any_accounts(self) -> bool:
        return False

    def verify(self, name: str, password: str) -> Principal | None:
        return None


def staff_verifier(db: Any, clock: Clock) -> StaffVerifier:
    """The staff accounts of the database `db`."""
    try:
        from app.services.accounts import AccountService
    except ImportError:
        return NoStaffAccounts()
    return AccountService(db, clock)


class _NeverRaised(Exception):
    """Stands for the lock-out error where the accounts service is not installed."""


def account_locked_error() -> type[Exception]:
    """The error the accounts service raises for a locked account."""
    try:
        from app.services.accounts import AccountLocked
    except ImportError:
        return _NeverRaised
    return AccountLocked


@dataclass(frozen=True)
class Countersignature:
    """Who countersigned and how it was checked.

    Attributes:
        name: the staff member's name as recorded.
        principal: who is recording the induction.
        note: how it was checked ("password", or why without one).
    """

    name: str
    principal: Principal
    note: str


NO_ACCOUNTS_NOTE = ("No staff account exists yet: countersigned as the workstation admin "
                    "without a password.")


def countersign(accounts: StaffVerifier, name: str, password: str) -> Countersignature:
    """Check a staff member's countersignature.

    With no staff account at all, the workstation admin countersigns without a password (and the
    record says so).

    Raises:
        ValidationError: (field "password") the name or password is wrong.
        RuleRefusal: the account may not record inductions.
        AccountLocked: (from the accounts service) too many failed attempts.
    """
    if not accounts.any_accounts():
        return Countersignature(WORKSTATION_ADMIN.name, WORKSTATION_ADMIN, NO_ACCOUNTS_NOTE)
    if not name.strip():
        raise ValidationError("staff", "Type the countersigning staff member's account name.")
    principal = accounts.verify(name.strip(), password)
    if principal is None:
        raise ValidationError("password", "The staff name or password is wrong; the induction "
                                          "is not countersigned.")
    principal.require(Action.INDUCT, "countersign inductions")
    return Countersignature(principal.name, principal, "password")


@dataclass(frozen=True)
class Visitor:
    """A person the induction may be given to at a lab, with their booking checked in today."""

    person: Person
    org_name: str
    booking: Booking | None = None

    @property
    def label(self) -> str:
        when = f" (booking {self.booking.id})" if self.booking else ""
        return f"{self.person.name}, {self.org_name}{when}"


class InductionService:
    """Who may be inducted today, the content for their visit, and recording the induction."""

    def __init__(self, labs: LabRepo, orgs: OrgRepo, people: PersonRepo, bookings: BookingRepo,
                 clock: Clock, content_dir: Path | None = None) -> None:
        self.labs, self.orgs, self.people, self.bookings = labs, orgs, people, bookings
        self.clock = clock
        self.content_dir = content_dir

    @classmethod
    def of(cls, ctx: Any, content_dir: Path | None = None) -> InductionService:
        """The service over an application context's repositories."""
        return cls(ctx.labs, ctx.orgs, ctx.people, ctx.bookings_repo, ctx.clock, content_dir)

    def today(self, lab: Lab) -> date:
        return lab.local(self.clock.now()).date()

    def content(self, lab: Lab) -> InductionContent:
        return load_content(lab.name, self.content_dir)

    def checked_in_today(self, lab: Lab) -> list[Visitor]:
        """The people of bookings checked in at `lab` today, in name order."""
        day = self.today(lab)
        start = datetime.combine(day, time(0), tzinfo=lab.tz)
        found: dict[str, Visitor] = {}
        for booking in self.bookings.list(lab_id=lab.id, statuses=(BookingStatus.CHECKED_IN,),
                                          start=start, end=start + timedelta(days=1)):
            for email in booking.attendees:
                person = self.people.find_by_email(email)
                if person is not None and email not in found:
                    found[email] = Visitor(person, booking.org_name, booking)
        return sorted(found.values(), key=lambda v: v.person.name.casefold())

    def everyone(self, lab: Lab) -> list[Visitor]:
        """Every person (staff may induct someone without a booking checked in); those checked in
        today keep their booking."""
        booked = {v.person.email: v for v in self.checked_in_today(lab)}
        orgs = {o.id: o.name for o in self.orgs.list()}
        return [booked.get(p.email) or Visitor(p, orgs.get(p.org_id, "")) for p in self.people.list()]

    def visit_content(self, lab: Lab, visitor: Visitor | None) -> InductionContent:
        """The lab's content with the visit section filled from the visitor's booking."""
        details = VisitDetails(lab=lab.name)
        booking = visitor.booking if visitor else None
        if booking is not None:
            start, end = lab.local(booking.start), lab.local(booking.end)
            benches = []
            for name in booking.benches:
                bench = lab.bench_by_name(name)
                benches.append(f"{name} ({bench.equipment})" if bench and bench.equipment
                               else name)
            details = VisitDetails(
                lab=lab.name,
                booking=f"{booking.id}, {start:%a %d %b %Y %H:%M}-{end:%H:%M}",
                benches=", ".join(benches) or "as lab staff direct",
                devices=booking.devices.strip() or "the devices on those benches",
            )
        return fill_visit(self.content(lab), details)

    def record(self, lab: Lab, person: Person, content: InductionContent, signature: str,
               countersigned: Countersignature, booking_id: int | None = None) -> Induction:
        """Record an induction given today: the participant's signature must be their name.

        Raises:
            ValidationError: the signature is not the person's full name.
            RuleRefusal: the countersigning principal may not record inductions.
        """
        typed = check_signature(signature, person.name)
        countersigned.principal.require(Action.INDUCT, "record inductions")
        if person.id is None or lab.id is None:
            raise ValueError("person and lab must be stored")
        held_on = self.today(lab)
        induction = Induction(
            lab_id=lab.id, date=held_on,
            valid_until=induction_valid_until(held_on, lab.induction_validity_months),
            delivered_by=countersigned.name, content_version=content.version,
            content_sha256=content.sha256, participant_signature=typed,
            countersigned_by=countersigned.name, countersign_note=countersigned.note,
            booking_id=booking_id,
        )
        stored = self.people.add_induction(person.id, induction, countersigned.name)
        return max(stored.inductions, key=lambda i: i.id or 0)

    def show(self, email: str, principal: Principal | None = None) -> dict[str, Any]:
        """A person's inductions as JSON-ready data (a participant sees only its own
        organisation's people: another's is "no such person")."""
        person = self.people.find_by_email(email)
        scope = principal.org_scope() if principal else None
        if person is None or (scope is not None and person.org_id != scope):
            raise NotFoundError("person", f"There is no person with email {email!r}.")
        labs = {lab.id: lab for lab in self.labs.list()}
        org = self.orgs.get(person.org_id)
        return {
            "person": person.name, "email": person.email, "org": org.name,
            "inductions": [induction_dict(i, labs.get(i.lab_id), self.clock) for i in
                           sorted(person.inductions, key=lambda i: (i.date, i.id or 0))],
        }

    def latest(self, email: str, lab_ref: str | None = None) -> tuple[Person, Lab, Induction]:
        """A person's most recent induction (at `lab_ref` if given).

        Raises:
            NotFoundError: no such person, lab, or no induction recorded.
        """
        person = self.people.resolve_email(email, "person")
        lab = self.labs.resolve(lab_ref) if lab_ref else None
        held = [i for i in person.inductions if lab is None or i.lab_id == lab.id]
        if not held:
            where = f" at {lab.name}" if lab else ""
            raise NotFoundError("person", f"{person.name} has no induction recorded{where}.")
        induction = max(held, key=lambda i: (i.date, i.id or 0))
        return person, lab or self.labs.get(induction.lab_id), induction


def induction_dict(ind: Induction, lab: Lab | None, clock: Clock) -> dict[str, Any]:
    today = lab.local(clock.now()).date() if lab else clock.now().date()
    return {
        "id": ind.id, "lab": lab.name if lab else ind.lab_id, "date": ind.date.isoformat(),
        "valid_until": ind.valid_until.isoformat(), "valid_today": ind.valid_on(today),
        "delivered_by": ind.delivered_by, "content_version": ind.content_version,
        "content_sha256": ind.content_sha256,
        "participant_signature": ind.participant_signature,
        "countersigned_by": ind.countersigned_by, "countersign_note": ind.countersign_note,
        "booking_id": ind.booking_id,
        "given_at_workstation": bool(ind.content_sha256),
    }

