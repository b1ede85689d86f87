"""The run recorder and start-up recovery with the lab store on a real PostgreSQL server: runs go
to the server only, a lost connection is retried, a server that does not answer is counted, and
recovery closes only the runs this workstation's dead processes left there, with the capture
sessions of this workstation's bench file as their evidence."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from app.domain.clock import FixedClock
from app.domain.runs import Verdict
from app.services.runs.api import RunDeviceInfo, RunEvidenceItem, RunResult
from app.services.runs.recovery import INTERRUPTED_MESSAGE, close_interrupted_runs
from app.services.runs.store import StoreRunRecorder
from app.storage.capture_sessions import CaptureSessionRepo, ProcessOwner, current_owner
from app.storage.labstore import PostgresLabStore
from app.storage.runs import RunRepo
from tests.services.runs.test_store import T0, a_start, a_step, fresh_db, wait_until

if os.name != "posix":  # pragma: no cover
    pytestmark = pytest.mark.skip("process liveness is checked the POSIX way")


@pytest.fixture
def store(pg_url) -> Iterator[PostgresLabStore]:
    opened = PostgresLabStore(pg_url)
    yield opened
    opened.close()


def runs_in(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT count(*) FROM runs").fetchone()[0]
    finally:
        conn.close()


def test_a_run_goes_to_the_server_and_names_this_workstation(store, tmp_path) -> None:
    bench = fresh_db(tmp_path / "bench.db")
    rec = StoreRunRecorder(bench, FixedClock(T0), store=store)
    rid = rec.started(a_start())
    assert rid > 0
    rec.step_finished(rid, a_step(0))
    rec.add_evidence(rid, [RunEvidenceItem(3, "CH", "/c.bin", 9, "a" * 64)])
    rec.finished(RunResult(rid, Verdict.PASS, T0 + timedelta(minutes=2), (a_step(0), a_step(1))))
    assert rec.close(30)
    assert (rec.stored, rec.unstored, rec.last_error) == (3, 0, "")
    stored = RunRepo(store).get(rid)
    assert stored is not None and stored.verdict is Verdict.PASS
    assert [s.index for s in stored.steps] == [0, 1] and stored.evidence[0].sha256 == "a" * 64
    assert stored.workstation == current_owner().host
    assert runs_in(bench) == 0  # nothing of it in the workstation's file


def test_a_connection_lost_in_the_middle_of_a_write_is_retried(store, pg_url, tmp_path) -> None:
    rec = StoreRunRecorder(fresh_db(tmp_path / "bench.db"), FixedClock(T0), store=store,
                           retry_delays_s=(0.05,) * 6)
    rid = rec.started(a_start())
    other = create_engine(pg_url)
    try:
        with other.connect() as locker:
            locker.execute(text("LOCK TABLE run_steps IN ACCESS EXCLUSIVE MODE"))
            rec.step_finished(rid, a_step(0))  # returns at once; the writer waits for the lock
            waiting: list[int] = []

            def writer_waits() -> bool:
                waiting[:] = [row[0] for row in locker.execute(text(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'"))]
                return bool(waiting)

            wait_until(writer_waits)
            # The server drops the writer's connection (as a restart or a network cut would).
            locker.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": waiting[0]})
            locker.rollback()
        assert rec.flush(30)
    finally:
        other.dispose()
    assert (rec.stored, rec.unstored) == (1, 0) and rec.retries >= 1
    stored = RunRepo(store).get(rid)
    assert stored is not None and [s.index for s in stored.steps] == [0]
    rec.close(5)


def test_a_server_that_does_not_answer_is_counted_not_raised(tmp_path) -> None:
    gone = PostgresLabStore(f"postgresql://meterlab@/meterlab?host={tmp_path}&port=5432")
    rec = StoreRunRecorder(fresh_db(tmp_path / "bench.db"), FixedClock(T0), store=gone,
                           retry_delays_s=(0.01, 0.01))
    started = time.monotonic()
    assert rec.started(a_start()) == 0
    assert rec.unstored == 1 and "lab store unreachable" in rec.last_error
    # A run recorded before the server went away: its step is tried again, then given up.
    rec.step_finished(7, a_step(0))
    assert rec.close(5) and time.monotonic() - started < 30
    assert (rec.unstored, rec.retries, rec.stored) == (2, 2, 0)
    assert rec.last_error.startswith("step 0 of run 7 could not be stored: lab store "
                                     "unreachable")
    assert runs_in(tmp_path / "bench.db") == 0  # nothing kept locally instead
    gone.close()


def test_recovery_on_the_server_closes_only_this_workstations_dead_runs(store, tmp_path) -> None:
    bench = fresh_db(tmp_path / "bench.db")
    me = current_owner()
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    dead_here = ProcessOwner(me.host, gone.pid, "1")
    owners = {"mine": me, "dead here": dead_here,
              "other workstation": ProcessOwner(me.host + "-elsewhere", gone.pid, "1")}
    with_device = replace(a_start(), devices=(RunDeviceInfo("Bench 1 ESME", "ESME"),))
    ids = {name: RunRepo(store, owner).start(with_device) for name, owner in owners.items()}
    conn = sqlite3.connect(bench)
    # The dead process's capture of the run's device, in this workstation's bench store.
    session = CaptureSessionRepo(conn, dead_here).open(
        "Bench 1 ESME", "/dev/pts/9", "iec62056-21", str(tmp_path / "esme.bin"),
        T0 + timedelta(seconds=1))
    assert close_interrupted_runs(conn, datetime(2026, 11, 25, 11, 0, tzinfo=UTC), me,
                                  store=store) == 1
    assert {r.id for r in RunRepo(store).open_runs()} == {ids["mine"],
                                                         ids["other workstation"]}
    closed = RunRepo(store).get(ids["dead here"])
    assert closed is not None and closed.verdict is Verdict.ERROR
    assert closed.message.startswith(INTERRUPTED_MESSAGE)
    assert [(e.capture_session_id, e.device) for e in closed.evidence] == [
        (session, "Bench 1 ESME")]
    conn.close()
    assert runs_in(bench) == 0
