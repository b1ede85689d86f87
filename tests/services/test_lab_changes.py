"""The lab store's change feed on both engines, with real second processes and a real server.

Another OS process (the ``meterlab`` command line, as another workstation would run it) commits
a change; the watcher in this process must call back within a few seconds. On PostgreSQL the
watcher's connection is cut (``pg_terminate_backend``) and a server of the test's own is stopped
and started again: the state says "lab store unreachable: ..." meanwhile and "reachable again"
after, with a change reported for what was missed.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from app.services.lab_changes import APPLICATION_NAME, LabChangeWatcher, LabStoreState
from app.storage.db import open_database
from app.storage.labstore import PostgresLabStore, lab_store
from tests.pg import PORT, ROLE

pytestmark = pytest.mark.timeout(120)

ROOT = Path(__file__).resolve().parents[2]


class Seen:
    """What a watcher reported, in order, from its thread."""

    def __init__(self) -> None:
        self.changes: list[frozenset[str]] = []
        self.states: list[LabStoreState] = []
        self._cond = threading.Condition()

    def change(self, tables: frozenset[str]) -> None:
        with self._cond:
            self.changes.append(tables)
            self._cond.notify_all()

    def state(self, state: LabStoreState) -> None:
        with self._cond:
            self.states.append(state)
            self._cond.notify_all()

    def wait(self, condition: Callable[[], bool], timeout: float = 15.0) -> bool:
        with self._cond:
            return self._cond.wait_for(condition, timeout)


def meterlab(*argv: str) -> None:
    """Run the command line in a process of its own (another workstation), checked."""
    proc = subprocess.run([sys.executable, "-c", "import sys; from app.cli import main; "
                           "sys.exit(main(sys.argv[1:]))", *argv],
                          cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "MELAB_LAB_STORE": ""})
    assert proc.returncode == 0, proc.stderr


@pytest.fixture(params=["sqlite", "postgresql"])
def shared(request, tmp_path) -> Iterator[tuple[Any, list[str]]]:
    """(what the watcher watches, the options that make another process use the same store)."""
    if request.param == "sqlite":
        db = open_database(tmp_path / "lab.db")
        try:
            yield lab_store(db), ["--db", str(tmp_path / "lab.db")]
        finally:
            db.conn.close()
        return
    url = request.getfixturevalue("pg_url")
    store = PostgresLabStore(url)
    try:
        yield store, ["--db", str(tmp_path / "other-workstation.db"), "--lab-store", url]
    finally:
        store.close()


def _watching(source: Any, seen: Seen, **options: Any) -> LabChangeWatcher:
    watcher = LabChangeWatcher(source, seen.change, seen.state, poll_s=0.2, **options)
    watcher.start()
    assert seen.wait(lambda: bool(seen.states)), "the watcher reported no state"
    assert seen.states[0] == LabStoreState(True, "lab store reachable")
    return watcher


def test_a_change_committed_by_another_process_is_reported(shared) -> None:
    source, options = shared
    seen = Seen()
    watcher = _watching(source, seen)
    try:
        time.sleep(0.5)
        assert seen.changes == []  # nothing changed yet
        started = time.monotonic()
        meterlab("org", "add", "--name", "Acme Energy", "--roles", "IS", *options)
        assert seen.wait(lambda: bool(seen.changes)), "no change reported"
        assert time.monotonic() - started < 10
        if watcher.engine == "postgresql":  # the tables of the transaction, by name
            assert seen.wait(lambda: {"organisations", "audit"} <= set().union(*seen.changes))
        else:
            assert seen.changes[0] == frozenset()
    finally:
        watcher.stop()


def test_sqlite_bench_store_writes_are_not_lab_changes(tmp_path) -> None:
    path = tmp_path / "lab.db"
    open_database(path).conn.close()
    seen = Seen()
    watcher = _watching(path, seen)
    try:
        capture = sqlite3.connect(path)  # events arriving from a bench, committed in batches
        for batch in range(5):
            with capture:
                capture.executemany(
                    "INSERT INTO events (device, kind, host_time) VALUES (?, 'alert', ?)",
                    [("hub-1", f"2026-11-25T10:00:0{batch}+00:00")] * 50)
            time.sleep(0.25)
        capture.close()
        time.sleep(0.5)
        assert seen.changes == []
        meterlab("org", "add", "--name", "Acme Energy", "--roles", "IS", "--db", str(path))
        assert seen.wait(lambda: bool(seen.changes))
    finally:
        watcher.stop()


def test_a_rolled_back_change_is_not_reported_on_postgresql(pg_url) -> None:
    seen = Seen()
    watcher = _watching(pg_url, seen)
    try:
        store = PostgresLabStore(pg_url)
        with pytest.raises(RuntimeError), store.transaction() as conn:
            conn.exec_driver_sql("INSERT INTO organisations (name) VALUES ('Never Ltd')")
            raise RuntimeError("rolled back")
        with store.transaction() as conn:
            conn.exec_driver_sql("INSERT INTO labs (name, spaces, timezone) "
                                 "VALUES ('Kept', 10, 'Europe/London')")
        store.close()
        assert seen.wait(lambda: bool(seen.changes))
        time.sleep(0.5)
        assert seen.changes == [frozenset({"labs"})]
    finally:
        watcher.stop()


def test_a_cut_connection_is_unreachable_then_back(pg_url) -> None:
    seen = Seen()
    watcher = _watching(pg_url, seen, backoff=(0.2,))
    try:
        store = PostgresLabStore(pg_url)
        with store.transaction() as conn:
            cut = conn.exec_driver_sql(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND application_name = %(name)s",
                {"name": APPLICATION_NAME}).all()
        store.close()
        assert cut == [(True,)]
        assert seen.wait(lambda: len(seen.states) >= 3), seen.states
        lost, back = seen.states[1], seen.states[2]
        assert not lost.reachable and lost.message.startswith("lab store unreachable: ")
        assert back == LabStoreState(True, "lab store reachable again")
        assert seen.wait(lambda: frozenset() in seen.changes)  # what it may have missed
    finally:
        watcher.stop()


def test_a_stopped_server_is_unreachable_until_it_is_started_again(own_pg) -> None:
    cluster, url = own_pg  # a server of this test's own: the others' stays up
    seen = Seen()
    watcher = _watching(url, seen, backoff=(0.2, 0.4))
    try:
        cluster.stop_server()
        assert seen.wait(lambda: len(seen.states) >= 2)
        assert not seen.states[1].reachable
        assert seen.states[1].message.startswith("lab store unreachable: ")
        assert watcher.state == seen.states[1]
        time.sleep(1.0)  # it keeps trying meanwhile, and says it once
        assert len(seen.states) == 2
        cluster.start_server()
        with psycopg.connect(host=str(cluster.socket_dir), port=PORT, user=ROLE,
                             dbname="lab", autocommit=True) as conn:
            conn.execute("INSERT INTO labs (name, spaces, timezone) "
                         "VALUES ('While away', 10, 'Europe/London')")
        assert seen.wait(lambda: len(seen.states) >= 3)
        assert seen.states[2] == LabStoreState(True, "lab store reachable again")
        assert seen.wait(lambda: bool(seen.changes))
    finally:
        watcher.stop()


def test_stop_ends_the_thread_promptly(pg_url, tmp_path) -> None:
    db = open_database(tmp_path / "lab.db")
    for source in (pg_url, lab_store(db)):
        seen = Seen()
        watcher = _watching(source, seen)
        started = time.monotonic()
        watcher.stop()
        assert time.monotonic() - started < 3
        assert not any(t.name == "lab-changes" and t.is_alive() for t in threading.enumerate())
    db.conn.close()
