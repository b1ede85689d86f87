"""Participant organisations, people and inductions in the lab store (SQLAlchemy Core)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import bindparam, func, insert, select, update
from sqlite_utils import Database

from app.domain.clock import Clock
from app.domain.errors import NotFoundError, ValidationError
from app.domain.participants import Induction, Organisation, Person
from app.storage.audit import write_audit
from app.storage.labstore import LabStore, lab_store
from app.storage.tables import inductions, organisations, people
from app.storage.timefmt import to_db

#: The largest id the lab store holds (64-bit on both engines).
_MAX_ID = 2**63 - 1


def _read(store: LabStore, statement, values: dict | None = None) -> list:
    """The rows of `statement` (with its parameters' values) as mappings."""
    with store.reading() as conn:
        return list(conn.execute(statement, values or {}).mappings().all())


# The booking check reads a person and their inductions for every attendee: these statements are
# built once rather than on every call (building a statement costs more than running it).
_ORG_BY_ID = select(organisations).where(organisations.c.id == bindparam("org_id"))
_PERSON_BY_ID = select(people).where(people.c.id == bindparam("person_id"))
_INDUCTIONS_OF = (select(inductions).where(inductions.c.person_id == bindparam("person_id"))
                  .order_by(inductions.c.date))
#: A person by email and their inductions in one statement (one round trip to a server): a row
#: for each induction, or one row with no induction.
_INDUCTION_COLUMNS = [c.label(f"induction_{c.name}") for c in inductions.c]
_PERSON_AND_INDUCTIONS_BY_EMAIL = (
    select(people, *_INDUCTION_COLUMNS)
    .select_from(people.outerjoin(inductions, inductions.c.person_id == people.c.id))
    .where(people.c.email == bindparam("email"))
    .order_by(inductions.c.date, inductions.c.id))


def _roles(text: str | None) -> tuple[str, ...]:
    return tuple(r for r in (text or "").split(",") if r)


def _induction(r) -> Induction:
    """An induction from its row (a mapping of the inductions table's columns)."""
    return Induction(
        id=r["id"], lab_id=r["lab_id"], date=date.fromisoformat(r["date"]),
        valid_until=date.fromisoformat(r["valid_until"]), delivered_by=r["delivered_by"] or "",
        content_version=r.get("content_version") or "",
        content_sha256=r.get("content_sha256") or "",
        participant_signature=r.get("participant_signature") or "",
        countersigned_by=r.get("countersigned_by") or "",
        countersign_note=r.get("countersign_note") or "",
        booking_id=r.get("booking_id"),
    )


class OrgRepo:
    """Stores and loads :class:`Organisation` values.

    Args:
        scope: a participant's organisation: every read is limited to it unless a call gives
            its own `org_scope` (None: every organisation).
    """

    def __init__(self, db: Database | LabStore, clock: Clock, scope: int | None = None) -> None:
        self.store = lab_store(db)
        self.clock = clock
        self.scope = scope

    def _rows(self, *where, order=None) -> list:
        query = select(organisations).where(*where)
        return _read(self.store, query.order_by(order) if order is not None else query)

    def _read(self, statement, **values) -> list:
        return _read(self.store, statement, values)

    def add(self, org: Organisation, actor: str = "unknown") -> Organisation:
        """Insert an organisation and its audit entry in one transaction.

        Raises:
            ValidationError: an organisation of that name (ignoring case) already exists.
        """
        now = to_db(self.clock.now())
        with self.store.transaction() as conn:
            if self.find(org.name) is not None:
                raise ValidationError("name", f"An organisation named {org.name!r} already exists.")
            org_id = int(conn.execute(insert(organisations).values(
                name=org.name.strip(), roles=",".join(org.roles),
                completed_roles=",".join(org.completed_roles), created_at=now,
            )).inserted_primary_key[0])
            write_audit(conn, now, actor, "created", "organisation", org_id,
                        {"name": org.name.strip(), "roles": list(org.roles),
                         "completed_roles": list(org.completed_roles)})
        return self.get(org_id)

    def update(self, org: Organisation, actor: str = "unknown") -> Organisation:
        """Store changed names and roles of an organisation, with an audit entry."""
        if org.id is None:
            raise ValueError("organisation has no id")
        with self.store.transaction() as conn:
            conn.execute(update(organisations).where(organisations.c.id == org.id).values(
                name=org.name.strip(), roles=",".join(org.roles),
                completed_roles=",".join(org.completed_roles),
            ))
            write_audit(conn, to_db(self.clock.now()), actor, "updated", "organisation", org.id,
                        {"name": org.name.strip(), "roles": list(org.roles),
                         "completed_roles": list(org.completed_roles)})
        return self.get(org.id)

    @staticmethod
    def _from_row(row) -> Organisation:
        return Organisation(
            id=row["id"], name=row["name"], roles=_roles(row["roles"]),
            completed_roles=_roles(row["completed_roles"]),
        )

    def get(self, org_id: int, org_scope: int | None = None) -> Organisation:
        org_scope = self.scope if org_scope is None else org_scope
        rows = self._read(_ORG_BY_ID, org_id=org_id) if org_id <= _MAX_ID else []
        if not rows or (org_scope is not None and org_id != org_scope):
            raise NotFoundError("org", f"There is no organisation with id {org_id}.")
        return self._from_row(rows[0])

    def find(self, ref: str | int) -> Organisation | None:
        text = str(ref).strip()
        found = None
        if text.isdigit() and int(text) <= _MAX_ID:
            rows = self._rows(organisations.c.id == int(text))
            if rows:
                found = self._from_row(rows[0])
        if found is None:
            rows = self._rows(func.lower(organisations.c.name) == func.lower(text))
            found = self._from_row(rows[0]) if rows else None
        if found is not None and self.scope is not None and found.id != self.scope:
            return None
        return found

    def resolve(self, ref: str | int, field: str = "org",
                org_scope: int | None = None) -> Organisation:
        """An organisation by name or id; with `org_scope`, any other is "no such organisation"
        and the message names only the organisations in scope."""
        org_scope = self.scope if org_scope is None else org_scope
        org = self.find(ref)
        if org is None or (org_scope is not None and org.id != org_scope):
            names = ", ".join(o.name for o in self.list(org_scope)) or "none yet"
            raise NotFoundError(field, f"There is no organisation {ref!r} (organisations: {names}).")
        return org

    def list(self, org_scope: int | None = None) -> list[Organisation]:
        """Every organisation, or only `org_scope` (a participant's own)."""
        org_scope = self.scope if org_scope is None else org_scope
        where = [organisations.c.id == org_scope] if org_scope is not None else []
        return [self._from_row(r) for r in self._rows(*where, order=organisations.c.name)]


class PersonRepo:
    """Stores and loads :class:`Person` values with their inductions."""

    def __init__(self, db: Database | LabStore, clock: Clock, scope: int | None = None) -> None:
        self.store = lab_store(db)
        self.clock = clock
        self.scope = scope  # a participant's organisation: reads see only its people

    def _rows(self, *where, order=None) -> list:
        query = select(people).where(*where)
        return _read(self.store, query.order_by(order) if order is not None else query)

    def _read(self, statement, **values) -> list:
        return _read(self.store, statement, values)

    def add(self, person: Person, actor: str = "unknown") -> Person:
        """Insert a person and their audit entry in one transaction.

        Raises:
            ValidationError: a person with that email already exists.
        """
        now = to_db(self.clock.now())
        with self.store.transaction() as conn:
            if self.find_by_email(person.email) is not None:
                raise ValidationError("email", f"A person with email {person.email} already exists.")
            pid = int(conn.execute(insert(people).values(
                org_id=person.org_id, name=person.name.strip(), email=person.email,
                created_at=now,
            )).inserted_primary_key[0])
            write_audit(conn, now, actor, "created", "person", pid,
                        {"name": person.name.strip(), "email": person.email,
                         "org_id": person.org_id})
        return self.get(pid)

    def _inductions(self, person_id: int) -> tuple[Induction, ...]:
        with self.store.reading() as conn:
            rows = conn.execute(_INDUCTIONS_OF, {"person_id": person_id}).mappings().all()
        return tuple(_induction(r) for r in rows)

    def _from_row(self, row) -> Person:
        return Person(
            id=row["id"], name=row["name"], email=row["email"], org_id=row["org_id"],
            inductions=self._inductions(row["id"]),
        )

    def get(self, person_id: int) -> Person:
        rows = self._read(_PERSON_BY_ID, person_id=person_id) if person_id <= _MAX_ID else []
        if rows and self.scope is not None and rows[0]["org_id"] != self.scope:
            rows = []
        if not rows:
            raise NotFoundError("person", f"There is no person with id {person_id}.")
        return self._from_row(rows[0])

    def find_by_email(self, email: str) -> Person | None:
        rows = self._read(_PERSON_AND_INDUCTIONS_BY_EMAIL, email=email.strip().lower())
        if not rows or (self.scope is not None and rows[0]["org_id"] != self.scope):
            return None
        row = rows[0]
        prefix = "induction_"
        found = tuple(_induction({k[len(prefix):]: v for k, v in r.items() if k.startswith(prefix)})
                      for r in rows if r[f"{prefix}id"] is not None)
        return Person(id=row["id"], name=row["name"], email=row["email"], org_id=row["org_id"],
                      inductions=found)

    def resolve_email(self, email: str, field: str = "email") -> Person:
        person = self.find_by_email(email)
        if person is None:
            raise NotFoundError(field, f"There is no person with email {email!r}; add them first.")
        return person

    def list(self, org_id: int | None = None, org_scope: int | None = None) -> list[Person]:
        """People (of organisation `org_id` if given), with their inductions; `org_scope` limits
        them to a participant's own organisation whatever `org_id` says."""
        org_scope = self.scope if org_scope is None else org_scope
        where = [people.c.org_id == value for value in (org_id, org_scope) if value is not None]
        return [self._from_row(r) for r in self._rows(*where, order=people.c.name)]

    def add_induction(self, person_id: int, induction: Induction, actor: str = "unknown",
                      reason: str = "") -> Person:
        """Record an induction and its audit entry (with the reason given, if any) in one transaction."""
        now = to_db(self.clock.now())
        with self.store.transaction() as conn:
            signed = {
                "content_version": induction.content_version,
                "content_sha256": induction.content_sha256,
                "participant_signature": induction.participant_signature,
                "countersigned_by": induction.countersigned_by,
                "countersign_note": induction.countersign_note,
                "booking_id": induction.booking_id,
            }
            induction_id = int(conn.execute(insert(inductions).values(
                person_id=person_id, lab_id=induction.lab_id,
                date=induction.date.isoformat(), valid_until=induction.valid_until.isoformat(),
                delivered_by=induction.delivered_by, created_at=now, **signed,
            )).inserted_primary_key[0])
            details: dict = {"person_id": person_id, "lab_id": induction.lab_id,
                             "date": induction.date.isoformat(),
                             "valid_until": induction.valid_until.isoformat()}
            if induction.content_sha256:  # given at the workstation: what and who signed
                details.update(signed)
            if reason:
                details["reason"] = reason
            write_audit(conn, now, actor, "created", "induction", induction_id, details)
        return self.get(person_id)
