"""Outage ids come from the database: two processes tracking outages into one workstation file
(the desktop and `meterlab capture`, say) never take each other's ids nor overwrite each other's
outages."""

from __future__ import annotations

import multiprocessing
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.domain.clock import FixedClock
from app.services.outages import OutageService, ground_truth_event
from app.services.runtime import DEMO_DEVICES
from app.storage.db import connect, open_database
from app.storage.outages import OutageRepo

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)

pytestmark = pytest.mark.timeout(60)


def _track(db_path: str, bench: str, ready, go, minutes: int) -> None:
    """One process: a relay cut and restored on `bench`, stored batch by batch, started only
    when the other process is ready too (both have read the file before either writes)."""
    conn = connect(Path(db_path))
    service = OutageService(FixedClock(NOW), list(DEMO_DEVICES))
    relay = f"{bench} relay"
    start = NOW - timedelta(minutes=minutes)
    conn.execute("SELECT count(*) FROM outages").fetchone()
    ready.wait()
    go.wait()
    service.on_batch(conn, [ground_truth_event(relay, bench, True, start)])
    service.on_batch(conn, [ground_truth_event(relay, bench, False, start + timedelta(seconds=90))])
    conn.close()


def test_two_processes_store_their_outages_under_ids_of_their_own(tmp_path) -> None:
    db_path = tmp_path / "bench.db"
    open_database(db_path).conn.close()
    spawn = multiprocessing.get_context("spawn")
    ready, go = spawn.Barrier(3), spawn.Barrier(3)
    workers = [spawn.Process(target=_track, args=(str(db_path), bench, ready, go, minutes))
               for bench, minutes in (("Bench 1", 10), ("Bench 2", 5))]
    for worker in workers:
        worker.start()
    ready.wait()
    go.wait()
    for worker in workers:
        worker.join(30)
        assert worker.exitcode == 0
    conn = sqlite3.connect(db_path)
    rows = conn.execute("SELECT id, bench, start, end FROM outages ORDER BY bench").fetchall()
    conn.close()
    assert [r[1] for r in rows] == ["Bench 1", "Bench 2"]
    assert len({r[0] for r in rows}) == 2
    assert all(r[2] and r[3] for r in rows)  # each outage has its start and its end, in one row


def test_the_snapshot_names_an_outage_by_its_stored_id_and_updates_that_row(tmp_path) -> None:
    db_path = tmp_path / "bench.db"
    db = open_database(db_path)
    # An outage stored before (an earlier run of the workstation) holds id 1.
    earlier = OutageService(FixedClock(NOW), list(DEMO_DEVICES))
    earlier.on_batch(db.conn, [ground_truth_event("Bench 1 relay", "Bench 1", True,
                                                  NOW - timedelta(hours=2))])
    service = OutageService(FixedClock(NOW), list(DEMO_DEVICES))
    service.on_batch(db.conn, [ground_truth_event("Bench 2 relay", "Bench 2", True,
                                                  NOW - timedelta(minutes=3))])
    _, (outage,) = service.snapshot()
    assert outage.id == 2 and outage.bench == "Bench 2"
    service.on_batch(db.conn, [ground_truth_event("Bench 2 relay", "Bench 2", False,
                                                  NOW - timedelta(minutes=1))])
    stored = OutageRepo(db.conn).list()
    assert [(o["id"], o["bench"], o["end"] is not None) for o in stored] == [
        (1, "Bench 1", False), (2, "Bench 2", True)]
    db.conn.close()


def test_an_outage_not_stored_is_written_with_the_next_batch(tmp_path) -> None:
    db_path = tmp_path / "bench.db"
    db = open_database(db_path)
    service = OutageService(FixedClock(NOW), list(DEMO_DEVICES))
    locker = sqlite3.connect(db_path, timeout=0)
    locker.execute("BEGIN IMMEDIATE")  # another program holds the file's write lock
    busy = connect(db_path, busy_timeout_s=0.05)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        service.on_batch(busy, [ground_truth_event("Bench 1 relay", "Bench 1", True,
                                                   NOW - timedelta(minutes=3))])
    locker.rollback()
    locker.close()
    service.on_batch(busy, [])
    assert [o["bench"] for o in OutageRepo(db.conn).list()] == ["Bench 1"]
    busy.close()
    db.conn.close()
