"""Who is acting, resolved from the lab's data: a participant by their email.

Staff accounts are resolved by :mod:`app.services.accounts`; this module turns a person of an
organisation into a participant :class:`~app.domain.principals.Principal`, whose
:meth:`~app.domain.principals.Principal.org_scope` every organisation-owned query then honours.
"""

from __future__ import annotations

from sqlite_utils import Database

from app.domain.clock import Clock
from app.domain.errors import NotFoundError
from app.domain.participants import validate_email
from app.domain.principals import Principal, participant
from app.storage.labstore import LabStore
from app.storage.people import PersonRepo


def participant_principal(db: Database | LabStore, clock: Clock, email: str) -> Principal:
    """The participant principal of the person with `email` (their organisation's scope).

    Raises:
        ValidationError: `email` is not an email address (field ``participant``).
        NotFoundError: no person has that email (field ``participant``).
    """
    address = validate_email(email, "participant")
    person = PersonRepo(db, clock).find_by_email(address)
    if person is None or person.id is None:
        raise NotFoundError("participant", f"There is no person with email {address!r}; a "
                                           f"participant must be a person of an organisation.")
    return participant(person.email, person.org_id, person.id)
