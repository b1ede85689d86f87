"""BookingRepo on a real SQLite file: storage, occupancy, compare-and-set status changes."""

from __future__ import annotations

import sqlite3
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
from app.storage.db import open_database
from app.storage.labs import LabRepo
from app.storage.people import OrgRepo

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
DAY = date(2026, 11, 30)


def at(h: int, d: date = DAY) -> datetime:
    return datetime(d.year, d.month, d.day, h, tzinfo=UTC)


@pytest.fixture
def path(tmp_path):
    p = tmp_path / "bookings.db"
    db = open_database(p)
    LabRepo(db, FixedClock(NOW)).add(Lab(name="Winchester", spaces=10,
                                         benches=(Bench(1, "Bench 1"), Bench(2, "Bench 2"))))
    OrgRepo(db, FixedClock(NOW)).add(Organisation(name="Acme"))
    db.conn.close()
    return p


@pytest.fixture
def repo(path):
    db = open_database(path)
    yield BookingRepo(db, FixedClock(NOW))
    db.conn.close()


def booking(start: datetime, end: datetime, spaces: int = 2, benches: tuple[str, ...] = ()):
    return Booking(id=0, lab_id=1, org_id=1, start=start, end=end, spaces=spaces,
                   phase=Phase.DEVICE, status=BookingStatus.REQUESTED, benches=benches)


def add(repo: BookingRepo, start: datetime, end: datetime, **kw) -> Booking:
    segs = [Segment(start.date(), start, end)]
    return repo.add(booking(start, end, **kw), segs, actor="ann")


def count(repo: BookingRepo, table: str) -> int:
    return repo.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_add_stores_booking_day_rows_and_audit(repo) -> None:
    b = repo.add(booking(at(9), at(17, date(2026, 12, 1)), benches=("Bench 1",)),
                 [Segment(DAY, at(9), at(18)), Segment(date(2026, 12, 1), at(8), at(17))], "ann")
    assert (b.lab_name, b.org_name, b.spaces, b.benches) == ("Winchester", "Acme", 2, ("Bench 1",))
    assert repo.get(b.id) == b and repo.list(lab_id=1) == [b] and repo.count() == 1
    assert count(repo, "booking_days") == 2
    assert [(a["actor"], a["action"]) for a in repo.audit_for(b.id)] == [("ann", "requested")]


def test_a_failing_day_row_leaves_no_booking(repo) -> None:
    repo.db.execute("CREATE TRIGGER fail_day BEFORE INSERT ON booking_days "
                    "WHEN NEW.day = '2026-12-01' BEGIN SELECT RAISE(ABORT, 'injected'); END")
    with pytest.raises(sqlite3.IntegrityError, match="injected"):
        repo.add(booking(at(9), at(17, date(2026, 12, 1))),
                 [Segment(DAY, at(9), at(18)), Segment(date(2026, 12, 1), at(8), at(17))], "ann")
    assert [count(repo, t) for t in ("bookings", "booking_days")] == [0, 0]
    assert repo.db.execute("SELECT count(*) FROM audit WHERE entity = 'booking'").fetchone()[0] == 0


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


def test_set_status_is_compare_and_set_across_workstations(path, repo) -> None:
    b = add(repo, at(9), at(12))
    other_db = open_database(path)
    try:
        other = BookingRepo(other_db, FixedClock(NOW))
        # Both workstations read the booking as requested; the other one approves first.
        seen_here = repo.get(b.id).status
        other.set_status(b.id, BookingStatus.REQUESTED, BookingStatus.SCHEDULED, "bob",
                         "approve", "")
        with pytest.raises(TransitionRefused) as err:
            repo.set_status(b.id, seen_here, BookingStatus.CANCELLED, "ann", "cancel", "")
    finally:
        other_db.conn.close()
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
