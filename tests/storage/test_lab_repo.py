"""LabRepo on a real SQLite file and on PostgreSQL: round trip, unique names, all-or-nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from app.domain.clock import FixedClock
from app.domain.errors import NotFoundError, ValidationError
from app.domain.lab import MAX_BENCHES, Bench, HolidayCalendar, Lab, OpeningHours
from app.storage.labs import LabRepo
from tests.storage.engines import engine  # noqa: F401 (a fixture: every test on both engines)

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


@pytest.fixture
def db(engine):  # noqa: F811
    return engine


@pytest.fixture
def repo(engine) -> LabRepo:  # noqa: F811
    return LabRepo(engine.source, FixedClock(NOW))


def benches(n: int) -> tuple[Bench, ...]:
    return tuple(Bench(number=i, name=f"Bench {i}") for i in range(1, n + 1))


def counts(db) -> dict[str, int]:
    return {t: db.count(t) for t in ("labs", "benches", "audit")}


def test_round_trip_keeps_every_field(repo) -> None:
    lab = Lab(
        name=" Winchester ", spaces=100, site="Test site", benches=benches(3),
        hours={0: OpeningHours(time(9), time(17)), 2: OpeningHours(time(8), time(18))},
        calendar=HolidayCalendar(extra_closed=frozenset({date(2026, 12, 24)})),
        attendance_notice_h=24.5, e2e_notice_working_days=30, induction_validity_months=6,
        comms_hub_types=("EDMI",), phantom_load=False, log_capture=True,
    )
    stored = repo.add(lab, actor="ann")
    assert stored.id is not None and stored.name == "Winchester"
    assert [(b.number, b.name) for b in stored.benches] == [(1, "Bench 1"), (2, "Bench 2"),
                                                            (3, "Bench 3")]
    assert stored.hours == lab.hours and stored.calendar == lab.calendar
    assert (stored.attendance_notice_h, stored.e2e_notice_working_days,
            stored.induction_validity_months) == (24.5, 30, 6)
    assert stored.comms_hub_types == ("EDMI",) and stored.phantom_load is False
    assert repo.get(stored.id) == stored == repo.find("winchester") == repo.find(str(stored.id))
    assert repo.list() == [stored] and repo.count() == 1


def test_lookups_refuse_unknown_labs(repo) -> None:
    repo.add(Lab(name="Winchester", spaces=10))
    assert repo.find("Northampton") is None
    with pytest.raises(NotFoundError, match=r"labs: Winchester"):
        repo.resolve("Northampton")
    with pytest.raises(NotFoundError):
        repo.get(99)


def test_a_name_taken_in_any_case_is_refused_and_nothing_written(db, repo) -> None:
    repo.add(Lab(name="Winchester", spaces=10, benches=benches(2)))
    before = counts(db)
    with pytest.raises(ValidationError, match="already exists") as err:
        repo.add(Lab(name="WINCHESTER", spaces=5, benches=benches(4)))
    assert err.value.field == "name" and counts(db) == before


def test_creation_is_audited(db, repo) -> None:
    lab = repo.add(Lab(name="Winchester", spaces=10, benches=benches(2)), actor="ann")
    rows = db.sql("SELECT actor, action, entity, entity_id FROM audit")
    assert [tuple(r) for r in rows] == [("ann", "created", "lab", lab.id)]


def test_a_failure_half_way_through_the_benches_leaves_nothing(db, repo) -> None:
    # A real trigger fails the 250th bench, as a full disk or a killed process might.
    db.fail_insert("benches", "NEW.number = 250")
    with pytest.raises(db.integrity_error, match="injected failure"):
        repo.add(Lab(name="Winchester", spaces=10, benches=benches(400)))
    assert counts(db) == {"labs": 0, "benches": 0, "audit": 0}
    assert db.idle()


def test_a_bench_the_unique_index_refuses_leaves_nothing(db, repo) -> None:
    # A trigger renames the third bench to the first one's name, so the unique index on
    # (lab_id, name) refuses it after the lab and two benches were written.
    if db.name == "sqlite":
        db.sql("CREATE TRIGGER same_name AFTER INSERT ON benches WHEN NEW.number = 3 "
               "BEGIN UPDATE benches SET name = 'Bench 1' WHERE id = NEW.id; END")
    else:
        db.sql("CREATE FUNCTION same_name() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
               "IF NEW.number = 3 THEN NEW.name := 'Bench 1'; END IF; RETURN NEW; END $$")
        db.sql("CREATE TRIGGER same_name BEFORE INSERT ON benches FOR EACH ROW "
               "EXECUTE FUNCTION same_name()")
    with pytest.raises(db.integrity_error, match="UNIQUE|duplicate key"):
        repo.add(Lab(name="Winchester", spaces=10, benches=benches(5)))
    assert counts(db) == {"labs": 0, "benches": 0, "audit": 0}


def test_the_most_benches_a_lab_may_have_are_stored(repo) -> None:
    lab = repo.add(Lab(name="Big", spaces=280, benches=benches(MAX_BENCHES)))
    assert len(lab.benches) == MAX_BENCHES == 500
