"""Who is acting: a staff account or a participant, and what each may do.

Services take a :class:`Principal` and check :func:`may` before they change anything;
repositories take :meth:`Principal.org_scope` for every query of organisation-owned data, so a
participant gets nothing of another organisation whatever the front end does.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from app.domain.bookings import Reason
from app.domain.errors import RuleRefusal


class Role(StrEnum):
    ADMIN = "admin"
    STAFF = "staff"
    PARTICIPANT = "participant"


class Action(StrEnum):
    """What a principal may be allowed to do."""

    READ_OWN = "read_own"  # read its organisation's bookings, runs, reports, inductions
    READ_ALL = "read_all"  # read every organisation's data
    ANSWER_PROMPT = "answer_prompt"  # answer a prompt of a run of its organisation
    BOOKINGS = "bookings"  # request, approve, check in, cancel bookings
    OVERRIDE = "override"  # override a refused booking
    DEVICES = "devices"  # register, change and connect devices
    RUNS = "runs"  # start and abort runs
    INDUCT = "induct"  # record and countersign inductions
    PEOPLE = "people"  # add organisations and people
    LABS = "labs"  # add and change labs
    ACCOUNTS = "accounts"  # manage staff accounts
    AUDIT = "audit"  # read the audit trail


ALLOWED: dict[Role, frozenset[Action]] = {
    Role.ADMIN: frozenset(Action),
    Role.STAFF: frozenset({Action.READ_OWN, Action.READ_ALL, Action.ANSWER_PROMPT,
                           Action.BOOKINGS, Action.DEVICES, Action.RUNS, Action.INDUCT,
                           Action.PEOPLE}),
    Role.PARTICIPANT: frozenset({Action.READ_OWN, Action.ANSWER_PROMPT}),
}


@dataclass(frozen=True)
class Principal:
    """Who is acting.

    Attributes:
        name: how the audit trail names them (a staff account's name, a participant's email).
        role: admin, staff or participant.
        org_id: a participant's organisation; None for staff.
        account_id: the staff account's id, or the participant's person id.
        implicit: the workstation acting as admin because no staff account exists yet.
    """

    name: str
    role: Role
    org_id: int | None = None
    account_id: int | None = None
    implicit: bool = False

    @property
    def is_participant(self) -> bool:
        return self.role is Role.PARTICIPANT

    def org_scope(self) -> int | None:
        """The organisation every organisation-owned query is limited to (None: all)."""
        return self.org_id if self.is_participant else None

    def may(self, action: Action) -> bool:
        return action in ALLOWED[self.role]

    def require(self, action: Action, what: str) -> None:
        """Refuse (RuleRefusal, exit 3) when the principal may not do `action`.

        Args:
            what: the sentence's object, e.g. "approve bookings".
        """
        if not self.may(action):
            who = {Role.PARTICIPANT: "a participant", Role.STAFF: "a staff account",
                   Role.ADMIN: "an admin"}[self.role]
            raise RuleRefusal([Reason("permission", f"{self.name} is {who} and may not "
                                                    f"{what}.")])


#: The workstation before any staff account exists (the demo, a new install).
WORKSTATION_ADMIN = Principal("workstation", Role.ADMIN, implicit=True)


def staff(name: str, role: Role | str = Role.STAFF, account_id: int | None = None) -> Principal:
    return Principal(name, Role(role), None, account_id)


def participant(email: str, org_id: int, person_id: int | None = None) -> Principal:
    return Principal(email, Role.PARTICIPANT, org_id, person_id)
