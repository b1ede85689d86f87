"""The queue and batch writer: batching, drops counted, a database that cannot be written."""

from __future__ import annotations

import os
import sqlite3
import time
from datetime import UTC, datetime

import pytest

from app.domain.events import DeviceEvent, EventKind
from app.services.ingest import EventQueue, EventWriter
from app.storage.db import open_database

pytestmark = pytest.mark.timeout(60)


def ev(i: int) -> DeviceEvent:
    return DeviceEvent("CH", EventKind.ALERT, datetime(2026, 11, 25, 10, 0, tzinfo=UTC),
                       {"alert_code": "8F35", "n": i})


def wait_for(cond, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def count(db) -> int:
    return sqlite3.connect(db).execute("SELECT count(*) FROM events").fetchone()[0]


def test_events_are_stored_in_batches(tmp_path) -> None:
    db = tmp_path / "e.db"
    open_database(db).conn.close()
    q = EventQueue()
    writer = EventWriter(db, q, flush_interval_s=0.1, batch_max=1000)
    writer.start()
    for i in range(5000):
        q.put(ev(i))
    wait_for(lambda: q.stats.stored == 5000)
    writer.stop()
    assert count(db) == 5000 and q.stats.dropped == 0
    assert 5 <= q.stats.batches <= 60


def test_full_queue_counts_drops_and_never_blocks(tmp_path) -> None:
    q = EventQueue(max_events=10)
    t = time.monotonic()
    for i in range(100):
        q.put(ev(i))
    assert time.monotonic() - t < 1.0
    assert q.stats.queued == 10 and q.stats.dropped == 90


def test_stop_writes_what_is_queued(tmp_path) -> None:
    db = tmp_path / "e.db"
    open_database(db).conn.close()
    q = EventQueue()
    writer = EventWriter(db, q, flush_interval_s=10.0)
    writer.start()
    for i in range(10):
        q.put(ev(i))
    writer.stop()
    assert count(db) == 10


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions; the locked-database test covers this path")
def test_read_only_file_resumes(tmp_path) -> None:  # pragma: no cover - runs as a normal user
    db = tmp_path / "e.db"
    open_database(db).conn.close()
    os.chmod(db, 0o444)
    q = EventQueue()
    errors: list[str] = []
    writer = EventWriter(db, q, flush_interval_s=0.05, retry_s=0.1, on_error=errors.append)
    writer.start()
    q.put(ev(1))
    wait_for(lambda: errors)
    os.chmod(db, 0o644)
    wait_for(lambda: q.stats.stored == 1)
    writer.stop()


def test_database_that_refuses_writes_is_reported_and_writing_resumes(tmp_path) -> None:
    """A lock held by another writer stands in for a read-only or full database."""
    db = tmp_path / "e.db"
    open_database(db).conn.close()
    blocker = sqlite3.connect(db, timeout=0)
    blocker.execute("BEGIN EXCLUSIVE")
    q = EventQueue()
    errors: list[str] = []
    writer = EventWriter(db, q, flush_interval_s=0.05, retry_s=0.1, on_error=errors.append)
    writer._busy_timeout_ms = 0  # fail fast instead of waiting out the lock
    writer.start()
    for i in range(3):
        q.put(ev(i))
    wait_for(lambda: errors and errors[0], timeout_s=30)
    assert "cannot be stored" in errors[0] and q.stats.write_error
    blocker.rollback()
    blocker.close()
    wait_for(lambda: q.stats.stored == 3, timeout_s=30)
    assert errors[-1] == "" and q.stats.write_error == ""
    writer.stop()
    assert count(db) == 3


def test_put_many_counts_what_does_not_fit_and_feeds_both_kinds_of_listener(tmp_path) -> None:
    q = EventQueue(max_events=10)
    one_by_one: list[DeviceEvent] = []
    lists: list[list[DeviceEvent]] = []
    q.add_listener(one_by_one.append)
    q.add_batch_listener(lists.append)
    q.put_many([ev(i) for i in range(4)])
    q.put(ev(4))
    q.put_many([ev(i) for i in range(5, 12)])
    q.put_many([])
    assert q.stats.queued == 10 and q.stats.dropped == 2 and len(q) == 10
    assert [e.fields["n"] for e in one_by_one] == list(range(10))
    assert [[e.fields["n"] for e in batch] for batch in lists] == [
        [0, 1, 2, 3], [4], [5, 6, 7, 8, 9]]
    assert [e.fields["n"] for e in q.get_batch(100, 0.0)] == list(range(10))


def test_batches_put_together_are_stored_whole(tmp_path) -> None:
    db = tmp_path / "e.db"
    open_database(db).conn.close()
    q = EventQueue()
    writer = EventWriter(db, q, flush_interval_s=0.1, batch_max=1000)
    writer.start()
    for start in range(0, 5000, 50):
        q.put_many([ev(i) for i in range(start, start + 50)])
    wait_for(lambda: q.stats.stored == 5000)
    writer.stop()
    assert count(db) == 5000 and q.stats.dropped == 0


# --- events that cannot be stored are counted (real faults) --------------------------------------
from tests.services.faults import (  # noqa: E402
    NEEDS_ROOT,
    fill,
    locked_by_another_process,
    remount_read_only,
    tmpfs,
)


def session_ev(session_id: int | None, i: int) -> DeviceEvent:
    return DeviceEvent("CH", EventKind.LOG, datetime(2026, 11, 25, 10, 0, tzinfo=UTC),
                       {"text": f"line {i}"}, session_id=session_id)


def put_and_stop(db, writer_kwargs: dict | None = None, per_session: int = 700) -> EventQueue:
    """Queue events of two sessions (more than one batch), then stop the writer."""
    q = EventQueue()
    writer = EventWriter(db, q, flush_interval_s=0.05, retry_s=0.1, **(writer_kwargs or {}))
    writer._busy_timeout_ms = 200  # the lock outlasts it either way; keeps the test short
    writer.start()
    q.put_many([session_ev(1, i) for i in range(per_session)])
    q.put_many([session_ev(2, i) for i in range(per_session)])
    time.sleep(0.5)
    writer.stop(timeout_s=30)
    return q


def test_writer_stopped_while_another_process_holds_the_lock_counts_every_event(tmp_path) -> None:
    db = tmp_path / "e.db"
    open_database(db).conn.close()
    with locked_by_another_process(db):
        q = put_and_stop(db)
    s = q.stats
    assert count(db) == 0
    assert (s.stored, s.unstored, s.dropped) == (0, 1400, 0)
    assert s.unstored_by_session == {1: 700, 2: 700}
    assert s.not_stored_of(1) == 700 and s.not_stored == 1400
    assert "locked" in s.write_error


@NEEDS_ROOT
def test_writer_on_a_read_only_file_system_counts_every_event(tmp_path) -> None:
    with tmpfs(tmp_path / "ro") as folder:
        db = folder / "e.db"
        open_database(db).conn.close()
        remount_read_only(folder)
        q = put_and_stop(db)
        s = q.stats
        ro = sqlite3.connect(f"file:{db}?immutable=1", uri=True)
        assert ro.execute("SELECT count(*) FROM events").fetchone()[0] == 0
        assert (s.stored, s.unstored) == (0, 1400) and s.write_error


@NEEDS_ROOT
def test_writer_on_a_full_disk_counts_what_did_not_fit(tmp_path) -> None:
    with tmpfs(tmp_path / "full", size="1m") as folder:
        db = folder / "e.db"
        open_database(db).conn.close()
        fill(folder)
        q = put_and_stop(db, per_session=5000)
        s = q.stats
        (folder / "filler").unlink()  # room for a reader's shared-memory file
        stored = count(db)
        assert s.queued == 10_000 and s.stored == stored
        assert s.unstored > 0 and s.stored + s.unstored == 10_000
        assert s.unstored_by_session[1] + s.unstored_by_session[2] == s.unstored
        assert "full" in s.write_error


def test_queue_full_drops_are_counted_per_session() -> None:
    q = EventQueue(max_events=5)
    q.put_many([session_ev(1, i) for i in range(4)])
    q.put_many([session_ev(2, i) for i in range(4)])
    q.put(session_ev(2, 9))
    assert q.stats.dropped == 4 and q.stats.dropped_by_session == {2: 4}
    assert q.stats.not_stored_of(2) == 4 and q.stats.not_stored_of(1) == 0
