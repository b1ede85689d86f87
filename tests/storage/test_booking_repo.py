"""BookingRepo on a real SQLite file and on PostgreSQL: storage, occupancy, compare-and-set."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from app.domain.bookings import (
    Booking,
    BookingStatus,
    Phase,
    Reason,
    Segment,
    TransitionRefused,
)
from app.domain.clock import FixedClock
from app.domain.errors import NotFoundError
from app.domain.lab import Bench, Lab
from app.domain.participants import Organisation
from app.storage.bookings import BookingRepo
from app.storage.labs import LabRepo
from app.storage.people import OrgRepo
from tests.storage.engines import engine  # noqa: F401 (a fixture: every test on both engines)

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
DAY = date(2026, 11, 30)


def at(h: int, d: date = DAY) -> datetime:
    return datetime(d.year, d.month, d.day, h, tzinfo=UTC)


@pytest.fixture
def db(engine):  # noqa: F811
    LabRepo(engine.source, FixedClock(NOW)).add(
        Lab(name="Winchester", spaces=10, benches=(Bench(1, "Bench 1"), Bench(2, "Bench 2"))))
    OrgRepo(engine.source, FixedClock(NOW)).add(Organisation(name="Acme"))
    return engine


@pytest.fixture
def repo(db):
    return BookingRepo(db.source, FixedClock(NOW))


def booking(start: datetime, end: datetime, spaces: int = 2, benches: tuple[str, ...] = ()):
    return Booking(id=0, lab_id=1, org_id=1, start=start, end=end, spaces=spaces,
                   phase=Phase.DEVICE, status=BookingStatus.REQUESTED, benches=benches)


def add(repo: BookingRepo, start: datetime, end: datetime, **kw) -> Booking:
    segs = [Segment(start.date(), start, end)]
    return repo.add(booking(start, end, **kw), segs, actor="ann")




def test_add_stores_booking_day_rows_and_audit(db, repo) -> None:
    b = repo.add(booking(at(9), at(17, date(2026, 12, 1)), benches=("Bench 1",)),
                 [Segment(DAY, at(9), at(18)), Segment(date(2026, 12, 1), at(8), at(17))], "ann")
    assert (b.lab_name, b.org_name, b.spaces, b.benches) == ("Winchester", "Acme", 2, ("Bench 1",))
    assert repo.get(b.id) == b and repo.list(lab_id=1) == [b] and repo.count() == 1
    assert db.count("booking_days") == 2
    assert [(a["actor"], a["action"]) for a in repo.audit_for(b.id)] == [("ann", "requested")]


def test_a_failing_day_row_leaves_no_booking(db, repo) -> None:
    db.fail_insert("booking_days", "NEW.day = '2026-12-01'", "injected")
    with pytest.raises(db.integrity_error, match="injected"):
        repo.add(booking(at(9), at(17, date(2026, 12, 1))),
                 [Segment(DAY, at(9), at(18)), Segment(date(2026, 12, 1), at(8), at(17))], "ann")
    assert [db.count(t) for t in ("bookings", "booking_days")] == [0, 0]
    assert db.count("audit", "entity = 'booking'") == 0 and db.idle()


def test_occupancy_counts_active_bookings_only(repo) -> None:
    kept = add(repo, at(9), at(12), spaces=3, benches=("Bench 2",))
    gone = add(repo, at(10), at(11), spaces=4)
    repo.set_status(gone.id, BookingStatus.REQUESTED, BookingStatus.CANCELLED, "ann", "cancel", "")
    held = repo.occupancy(1, DAY, DAY)
    assert [(o.booking_id, o.spaces, o.benches) for o in held] == [(kept.id, 3, ("Bench 2",))]
    assert repo.occupancy(1, DAY, DAY, exclude_id=kept.id) == []
    assert repo.occupancy(1, date(2026, 12, 1), date(2026, 12, 2)) == []


def test_list_filters(repo) -> None:
    a = add(repo, at(9), at(12))
    b = add(repo, at(13), at(15))
    repo.set_status(b.id, BookingStatus.REQUESTED, BookingStatus.SCHEDULED, "ann", "approve", "")
    assert [x.id for x in repo.list(statuses=(BookingStatus.SCHEDULED,))] == [b.id]
    assert [x.id for x in repo.list(start=at(12), end=at(18))] == [b.id]
    assert [x.id for x in repo.list(org_id=1, end=at(12))] == [a.id]
    with pytest.raises(NotFoundError, match="no booking with id 99"):
        repo.get(99)


def test_set_status_is_compare_and_set_across_workstations(db, repo) -> None:
    b = add(repo, at(9), at(12))
    with db.second_workstation() as other_store:
        other = BookingRepo(other_store, FixedClock(NOW))
        # Both workstations read the booking as requested; the other one approves first.
        seen_here = repo.get(b.id).status
        other.set_status(b.id, BookingStatus.REQUESTED, BookingStatus.SCHEDULED, "bob",
                         "approve", "")
        with pytest.raises(TransitionRefused) as err:
            repo.set_status(b.id, seen_here, BookingStatus.CANCELLED, "ann", "cancel", "")
    assert str(err.value) == (
        f"Booking #{b.id} was requested but is now scheduled (moved from another workstation), "
        "so it cannot be cancelled any more."
    )
    assert err.value.current is BookingStatus.SCHEDULED and err.value.reasons[0].code == "status"
    assert repo.get(b.id).status is BookingStatus.SCHEDULED
    assert [a["action"] for a in repo.audit_for(b.id)] == ["requested", "approve"]


def test_set_status_of_a_missing_booking_is_not_found(repo) -> None:
    with pytest.raises(NotFoundError):
        repo.set_status(42, BookingStatus.REQUESTED, BookingStatus.SCHEDULED, "ann", "approve", "")


def test_refusals_are_kept_in_the_audit_trail(repo) -> None:
    repo.record_refusal("ann", {"lab": "Winchester"}, [Reason("capacity", "Full.")])
    assert repo.refusals() == [{"at": "2026-11-25T10:00:00.000000+00:00", "actor": "ann",
                                "request": {"lab": "Winchester"},
                                "reasons": [{"code": "capacity", "message": "Full."}]}]


def test_a_booking_transaction_for_a_lab_holds_that_lab_only(db, repo) -> None:
    """On PostgreSQL another workstation's booking check for the same lab waits (its lock is
    refused here, NOWAIT); another lab's goes ahead. On SQLite the transaction holds the file's
    write lock, so no other writer gets in at all."""
    LabRepo(db.source, FixedClock(NOW)).add(Lab(name="Northampton", spaces=5))
    with repo.write_transaction(lab_id=1):
        if db.name == "postgresql":
            import sqlalchemy.exc

            with pytest.raises(sqlalchemy.exc.OperationalError, match="could not obtain lock"):
                db.sql("SELECT id FROM labs WHERE id = 1 FOR UPDATE NOWAIT")
            assert db.sql("SELECT id FROM labs WHERE id = 2 FOR UPDATE NOWAIT") == [(2,)]
        else:
            import sqlite3

            with db.second_workstation() as other, pytest.raises(sqlite3.OperationalError,
                                                                  match="locked"):
                other.conn.execute("PRAGMA busy_timeout = 0")
                other.conn.execute("BEGIN IMMEDIATE")
