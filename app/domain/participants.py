"""Testing Participant organisations, their people and inductions."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from app.domain.errors import ValidationError
from app.domain.lab import E2E_ROLES

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def parse_roles(text: str | list[str] | tuple[str, ...] | None, field: str = "roles") -> tuple[str, ...]:
    """Parse SEC user roles from ``"IS,GS"`` or a list; unknown roles are refused."""
    if text is None:
        return ()
    items = text.split(",") if isinstance(text, str) else list(text)
    roles: list[str] = []
    for item in items:
        role = item.strip().upper()
        if not role:
            continue
        if role not in E2E_ROLES:
            raise ValidationError(
                field,
                f"{field.capitalize()} must be SEC user roles from {', '.join(E2E_ROLES)}; "
                f"{item.strip()!r} is not one.",
            )
        if role not in roles:
            roles.append(role)
    return tuple(roles)


def validate_email(email: str, field: str = "email") -> str:
    """Return the email trimmed and lower-cased, or refuse it."""
    value = email.strip().lower()
    if not _EMAIL.match(value):
        raise ValidationError(field, f"{field.capitalize()} must be an address like name@example.com, not {email!r}.")
    return value


@dataclass(frozen=True, slots=True)
class Organisation:
    """A Testing Participant organisation.

    Attributes:
        name: unique name.
        roles: the SEC user roles it holds.
        completed_roles: roles whose mandatory testing it has completed (E2E allowed for these).
    """

    name: str
    roles: tuple[str, ...] = ()
    completed_roles: tuple[str, ...] = ()
    id: int | None = None

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ValidationError("name", "Organisation name must not be empty.")


@dataclass(frozen=True, slots=True)
class Induction:
    """A lab induction a person attended.

    The remaining attributes are set when the induction was given at the workstation (empty for
    one recorded as held elsewhere):

    Attributes:
        content_version: the induction content's version.
        content_sha256: the SHA-256 of the content's file.
        participant_signature: the full name the participant typed to sign.
        countersigned_by: the staff member who countersigned.
        countersign_note: how the countersignature was checked (e.g. without a password before
            any staff account existed).
        booking_id: the checked-in booking of the visit, if any.
    """

    lab_id: int
    date: date
    valid_until: date
    delivered_by: str = ""
    id: int | None = None
    content_version: str = ""
    content_sha256: str = ""
    participant_signature: str = ""
    countersigned_by: str = ""
    countersign_note: str = ""
    booking_id: int | None = None

    def valid_on(self, day: date) -> bool:
        return self.date <= day <= self.valid_until


@dataclass(frozen=True, slots=True)
class Person:
    """Someone from a participant organisation who may attend the lab."""

    name: str
    email: str
    org_id: int
    inductions: tuple[Induction, ...] = ()
    id: int | None = None

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ValidationError("name", "Person name must not be empty.")

    def inducted_for(self, lab_id: int, days: list[date]) -> bool:
        """True when one of the person's inductions for the lab covers every day in `days`."""
        return any(
            ind.lab_id == lab_id and all(ind.valid_on(d) for d in days) for ind in self.inductions
        )


def add_months(day: date, months: int) -> date:
    """`day` plus whole months, clamped to the month's last day (31 Jan + 1 month = 28/29 Feb)."""
    month_index = day.month - 1 + months
    year = day.year + month_index // 12
    month = month_index % 12 + 1
    for dd in (day.day, 30, 29, 28):
        try:
            return date(year, month, dd)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def induction_valid_until(held_on: date, validity_months: int) -> date:
    """Last day an induction held on `held_on` is valid (the day before the anniversary)."""
    return add_months(held_on, validity_months) - timedelta(days=1)
