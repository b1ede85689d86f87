"""The run recorder against real faults: a lock held by another process, a read-only file system,
a process killed in the middle of a run; and start-up recovery of the runs such a process left."""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.domain.clock import FixedClock
from app.domain.runs import (
    MeasurementOutcome,
    MeasurementResult,
    StepOutcome,
    StepResult,
    Verdict,
)
from app.main import open_bench_database
from app.services.runs.api import RunEvidenceItem, RunRecorder, RunResult, RunStart
from app.services.runs.recovery import INTERRUPTED_MESSAGE, close_interrupted_runs
from app.services.runs.store import StoreRunRecorder
from app.storage.capture_sessions import ProcessOwner, current_owner
from app.storage.db import open_database
from app.storage.runs import RunRepo
from tests.services.faults import NEEDS_ROOT, locked_by_another_process, remount_read_only, tmpfs

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[3]

if os.name != "posix":  # pragma: no cover
    pytestmark = pytest.mark.skip("process liveness is checked the POSIX way")


def a_start() -> RunStart:
    return RunStart(plan_name="power-outage", plan_version="1", plan_sha256="0" * 64,
                    plan_source="", parameters={"duration_s": 179}, bench="Bench 1", started=T0,
                    emulated=True)


def a_step(index: int, minutes: int = 1) -> StepResult:
    return StepResult(index, f"step {index}", "wait", StepOutcome.PASS, T0,
                      T0 + timedelta(minutes=minutes),
                      (MeasurementResult("waited_s", 60.0, "s", "any value",
                                         MeasurementOutcome.PASS),))


def fresh_db(path: Path) -> Path:
    open_database(path).conn.close()
    return path


def read(path: Path, run_id: int):  # type: ignore[no-untyped-def]
    db = open_database(path)
    try:
        return RunRepo(db.conn).get(run_id)
    finally:
        db.conn.close()


def wait_until(condition, limit_s: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    """Poll `condition` (a wait for another thread, not a timing assertion)."""
    deadline = time.monotonic() + limit_s
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


def test_a_run_is_stored_through_the_recorder(tmp_path) -> None:
    db = fresh_db(tmp_path / "r.db")
    rec = StoreRunRecorder(db, FixedClock(T0))
    _: RunRecorder = rec  # the protocol the executor calls
    rid = rec.started(a_start())
    assert rid > 0
    rec.step_finished(rid, a_step(0))
    rec.add_evidence(rid, [RunEvidenceItem(3, "CH", "/c.bin", 9, "a" * 64)])
    rec.finished(RunResult(rid, Verdict.PASS, T0 + timedelta(minutes=2), (a_step(0), a_step(1))))
    assert rec.close(30)
    assert (rec.stored, rec.unstored, rec.last_error) == (3, 0, "")
    stored = read(db, rid)
    assert stored.verdict is Verdict.PASS and [s.index for s in stored.steps] == [0, 1]
    assert stored.evidence[0].capture_session_id == 3
    assert stored.owner == f"{current_owner().host}:{os.getpid()}"


def test_step_calls_return_while_the_writer_waits_for_a_lock(tmp_path) -> None:
    """The executor's thread is not held up by the database: the step is queued, not written."""
    db = fresh_db(tmp_path / "r.db")
    rec = StoreRunRecorder(db, FixedClock(T0), busy_timeout_s=0.1, retry_delays_s=(0.05,) * 400)
    rid = rec.started(a_start())
    with locked_by_another_process(db):
        caller = threading.Thread(target=rec.step_finished, args=(rid, a_step(0)))
        caller.start()
        caller.join()  # returned while the lock is still held
        assert not rec.flush(0)
        # Retried while the other process holds the lock ...
        wait_until(lambda: rec.retries >= 2)
        assert read_steps_raw(db, rid) == 0
    # ... and stored once it lets go.
    assert rec.flush(30)
    assert rec.stored == 1 and rec.unstored == 0
    assert [s.name for s in read(db, rid).steps] == ["step 0"]
    rec.close(5)


def read_steps_raw(db: Path, run_id: int) -> int:
    # In WAL mode a reader sees the last committed state while another process holds the lock.
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.1)
    try:
        return conn.execute("SELECT count(*) FROM run_steps WHERE run_id = ?",
                            (run_id,)).fetchone()[0]
    finally:
        conn.close()


def test_a_lock_that_outlasts_every_retry_is_counted_not_raised(tmp_path, caplog) -> None:
    db = fresh_db(tmp_path / "r.db")
    rec = StoreRunRecorder(db, FixedClock(T0), busy_timeout_s=0.05, retry_delays_s=(0.01, 0.01))
    rid = rec.started(a_start())
    with caplog.at_level(logging.ERROR), locked_by_another_process(db):
        rec.step_finished(rid, a_step(0))
        assert rec.flush(30)
    assert (rec.stored, rec.unstored, rec.retries) == (0, 1, 2)
    assert "locked" in rec.last_error and f"step 0 of run {rid}" in rec.last_error
    assert rec.last_error_at == T0
    assert "could not be stored" in caplog.text
    rec.close(5)


@NEEDS_ROOT
def test_an_unwritable_database_is_counted(tmp_path) -> None:
    with tmpfs(tmp_path / "ro") as folder:
        db = fresh_db(folder / "r.db")
        rec = StoreRunRecorder(db, FixedClock(T0), busy_timeout_s=0.05,
                               retry_delays_s=(0.01, 0.01))
        rid = rec.started(a_start())
        assert rid > 0
        remount_read_only(folder)
        rec.step_finished(rid, a_step(0))
        rec.finished(RunResult(rid, Verdict.PASS, T0, (a_step(0),)))
        assert rec.flush(30)
        assert (rec.stored, rec.unstored) == (0, 2) and rec.last_error
        assert rec.started(a_start()) == 0  # cannot even start: the run goes on unrecorded
        rec.step_finished(0, a_step(0))
        assert rec.unstored == 4 and "never recorded" in rec.last_error
        ro = sqlite3.connect(f"file:{db}?immutable=1", uri=True)
        assert ro.execute("SELECT verdict FROM runs").fetchall() == [(None,)]
        assert ro.execute("SELECT count(*) FROM run_steps").fetchone()[0] == 0
        ro.close()
        rec.close(5)


def test_a_missing_database_is_counted_and_not_created(tmp_path) -> None:
    missing = tmp_path / "nowhere" / "r.db"
    rec = StoreRunRecorder(missing, FixedClock(T0))
    assert rec.started(a_start()) == 0
    assert rec.unstored == 1 and "no database" in rec.last_error
    assert not missing.exists()
    rec.close(5)


def test_writes_after_close_are_counted(tmp_path) -> None:
    db = fresh_db(tmp_path / "r.db")
    rec = StoreRunRecorder(db, FixedClock(T0))
    rid = rec.started(a_start())
    assert rec.close(5)
    rec.finished(RunResult(rid, Verdict.PASS, T0, ()))
    assert rec.unstored == 1 and "closed" in rec.last_error


def test_a_finish_after_recovery_closed_the_run_is_counted(tmp_path) -> None:
    db = fresh_db(tmp_path / "r.db")
    rec = StoreRunRecorder(db, FixedClock(T0))
    rid = rec.started(a_start())
    conn = sqlite3.connect(db)
    RunRepo(conn).close_interrupted(rid, T0, "interrupted")
    conn.close()
    rec.finished(RunResult(rid, Verdict.PASS, T0, ()))
    assert rec.flush(30)
    assert rec.unstored == 1 and "closed already" in rec.last_error
    assert read(db, rid).verdict is Verdict.ERROR
    rec.close(5)


KILLED_RUN = textwrap.dedent("""
    import sys, time
    from datetime import UTC, datetime, timedelta
    from app.domain.clock import SystemClock
    from app.domain.runs import StepOutcome, StepResult
    from app.services.runs.api import RunStart
    from app.services.runs.store import StoreRunRecorder

    t0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    rec = StoreRunRecorder(sys.argv[1], SystemClock())
    rid = rec.started(RunStart(plan_name="power-outage", plan_version="1", plan_sha256="",
                               plan_source="", parameters={}, bench="Bench 1", started=t0,
                               emulated=True))
    rec.step_finished(rid, StepResult(0, "cut", "outage", StepOutcome.PASS, t0,
                                      t0 + timedelta(minutes=3)))
    assert rec.flush(30)
    print(rid, flush=True)
    time.sleep(600)
""")


def test_a_run_of_a_killed_process_is_closed_at_the_next_start(tmp_path) -> None:
    db = fresh_db(tmp_path / "r.db")
    proc = subprocess.Popen([sys.executable, "-c", KILLED_RUN, str(db)], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    try:
        rid = int(proc.stdout.readline())
        # While its process runs, the run is left alone: it is being executed.
        conn = sqlite3.connect(db)
        assert close_interrupted_runs(conn, T0) == 0
        conn.close()
        assert read(db, rid).running
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        proc.stdout.close()
    later = T0 + timedelta(days=1)
    db_conn = open_bench_database(db, FixedClock(later))  # what every start-up does
    db_conn.conn.close()
    rec = read(db, rid)
    assert rec.verdict is Verdict.ERROR and rec.message.startswith(INTERRUPTED_MESSAGE)
    assert rec.ended == T0 + timedelta(minutes=3)  # the last step's end, not the restart
    assert [s.name for s in rec.steps] == ["cut"]


def test_recovery_closes_only_runs_whose_owner_is_gone(tmp_path) -> None:
    db = fresh_db(tmp_path / "r.db")
    conn = sqlite3.connect(db)
    me = current_owner()
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    owners = {
        "mine": me,
        "dead here": ProcessOwner(me.host, gone.pid, "1"),
        "other host": ProcessOwner(me.host + "-elsewhere", gone.pid, "1"),
        "reused pid": ProcessOwner(me.host, os.getppid(), "not-its-start-time"),
    }
    ids = {name: RunRepo(conn, owner).start(a_start()) for name, owner in owners.items()}
    conn.execute("UPDATE runs SET owner_host = NULL, owner_pid = NULL WHERE id = ?",
                 (RunRepo(conn).start(a_start()),))
    conn.commit()
    assert close_interrupted_runs(conn, T0, me) == 3
    left = {r.id for r in RunRepo(conn).open_runs()}
    assert left == {ids["mine"], ids["other host"]}
    closed = RunRepo(conn).get(ids["dead here"])
    assert closed.verdict is Verdict.ERROR and closed.ended == T0  # no step: its start
    conn.close()


def test_recovery_on_an_unwritable_database_does_not_stop_the_start(tmp_path, caplog) -> None:
    db = fresh_db(tmp_path / "r.db")
    conn = sqlite3.connect(db)
    RunRepo(conn, ProcessOwner(current_owner().host, 2**22 + 7, "1")).start(a_start())
    conn.commit()
    with locked_by_another_process(db), caplog.at_level(logging.ERROR):
        locked = sqlite3.connect(db, timeout=0.05)
        assert close_interrupted_runs(locked, T0) == 0
        locked.close()
    assert "could not be closed" in caplog.text
    conn.close()


def test_a_result_the_database_cannot_take_is_counted_and_the_writer_goes_on(tmp_path) -> None:
    db = fresh_db(tmp_path / "r.db")
    rec = StoreRunRecorder(db, FixedClock(T0))
    rid = rec.started(a_start())
    naive = StepResult(0, "bad", "wait", StepOutcome.PASS, datetime(2026, 11, 25), None)
    rec.step_finished(rid, naive)
    rec.step_finished(rid, a_step(1))
    assert rec.flush(30)
    assert (rec.stored, rec.unstored) == (1, 1) and "naive" in rec.last_error
    assert [s.index for s in read(db, rid).steps] == [1]
    rec.close(5)
