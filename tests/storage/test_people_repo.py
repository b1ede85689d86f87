"""OrgRepo and PersonRepo on a real SQLite file and on PostgreSQL: round trips, unique keys, audit."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from app.domain.clock import FixedClock
from app.domain.errors import NotFoundError, ValidationError
from app.domain.lab import Lab
from app.domain.participants import Induction, Organisation, Person
from app.storage.labs import LabRepo
from app.storage.people import OrgRepo, PersonRepo
from tests.storage.engines import engine  # noqa: F401 (a fixture: every test on both engines)

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


@pytest.fixture
def db(engine):  # noqa: F811
    return engine


@pytest.fixture
def orgs(db) -> OrgRepo:
    return OrgRepo(db.source, FixedClock(NOW))


@pytest.fixture
def people(db) -> PersonRepo:
    return PersonRepo(db.source, FixedClock(NOW))


def audit(db) -> list[tuple]:
    return [tuple(r) for r in db.sql(
        "SELECT actor, action, entity, entity_id FROM audit ORDER BY id")]


def fail_audit(db, entity: str) -> None:
    """Make the audit insert for `entity` fail, as a full disk would half-way through."""
    db.fail_insert("audit", f"NEW.entity = '{entity}'")


def count(db, table: str) -> int:
    return db.count(table)


def test_organisation_round_trip_update_and_lookups(db, orgs) -> None:
    org = orgs.add(Organisation(name=" Acme ", roles=("IS", "GS"), completed_roles=("IS",)), "ann")
    assert (org.name, org.roles, org.completed_roles) == ("Acme", ("IS", "GS"), ("IS",))
    assert orgs.get(org.id) == org == orgs.find("ACME") == orgs.find(str(org.id))
    changed = orgs.update(Organisation(name="Acme", roles=("IS", "GS"),
                                       completed_roles=("IS", "GS"), id=org.id), "bob")
    assert changed.completed_roles == ("IS", "GS") and orgs.list() == [changed]
    assert audit(db) == [("ann", "created", "organisation", org.id),
                         ("bob", "updated", "organisation", org.id)]
    with pytest.raises(NotFoundError, match="organisations: Acme"):
        orgs.resolve("Gasco")


def test_organisation_name_taken_in_any_case_is_refused(db, orgs) -> None:
    orgs.add(Organisation(name="Acme"))
    with pytest.raises(ValidationError, match="already exists"):
        orgs.add(Organisation(name="acme"))
    assert count(db, "organisations") == 1 and len(audit(db)) == 1


def test_organisation_creation_failing_half_way_leaves_nothing(db, orgs) -> None:
    fail_audit(db, "organisation")
    with pytest.raises(db.integrity_error, match="injected failure"):
        orgs.add(Organisation(name="Acme"))
    assert count(db, "organisations") == 0 and db.idle()


def test_person_round_trip_with_inductions(db, orgs, people) -> None:
    org = orgs.add(Organisation(name="Acme"))
    lab = LabRepo(db.source, FixedClock(NOW)).add(Lab(name="Winchester", spaces=10))
    ann = people.add(Person(name="Ann", email="ann@acme.example", org_id=org.id), "staff")
    assert people.find_by_email("ann@acme.example") == ann == people.get(ann.id)
    inducted = people.add_induction(
        ann.id, Induction(lab_id=lab.id, date=date(2026, 11, 2), valid_until=date(2027, 11, 2),
                          delivered_by="Bob"), "staff",
    )
    assert [(i.lab_id, i.date, i.delivered_by) for i in inducted.inductions] == [
        (lab.id, date(2026, 11, 2), "Bob")]
    assert people.list(org.id) == [inducted] and people.list() == [inducted]
    assert [a for a in audit(db) if a[0] == "staff"] == [
        ("staff", "created", "person", ann.id),
        ("staff", "created", "induction", inducted.inductions[0].id),
    ]
    with pytest.raises(NotFoundError, match="add them first"):
        people.resolve_email("nobody@acme.example")


def test_email_taken_is_refused(db, orgs, people) -> None:
    org = orgs.add(Organisation(name="Acme"))
    people.add(Person(name="Ann", email="ann@acme.example", org_id=org.id))
    with pytest.raises(ValidationError, match="already exists") as err:
        people.add(Person(name="Another Ann", email="ann@acme.example", org_id=org.id))
    assert err.value.field == "email" and count(db, "people") == 1


@pytest.mark.parametrize("entity", ["person", "induction"])
def test_person_and_induction_failing_half_way_leave_nothing(db, orgs, people, entity) -> None:
    org = orgs.add(Organisation(name="Acme"))
    lab = LabRepo(db.source, FixedClock(NOW)).add(Lab(name="Winchester", spaces=10))
    ann = people.add(Person(name="Ann", email="ann@acme.example", org_id=org.id))
    fail_audit(db, entity)
    with pytest.raises(db.integrity_error, match="injected failure"):
        if entity == "person":
            people.add(Person(name="Bob", email="bob@acme.example", org_id=org.id))
        else:
            people.add_induction(ann.id, Induction(lab_id=lab.id, date=date(2026, 11, 2),
                                                   valid_until=date(2027, 11, 2)))
    assert count(db, "people") == 1 and count(db, "inductions") == 0
