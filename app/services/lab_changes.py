"""The change feed of the lab store: another workstation (or process) committed a change.

:class:`LabChangeWatcher` runs one thread of its own and calls back:

- ``on_change(tables)`` when a change to the lab store has been committed, within about a
  second. On PostgreSQL `tables` names the tables the transaction changed (the triggers of
  Alembic revision ``0002_lab_changes`` send ``NOTIFY meterlab_lab_changes`` with the table's
  name when a transaction commits; the watcher listens on a dedicated psycopg connection). On a
  workstation's SQLite file, which has no notifications, `tables` is empty ("something
  changed"): the watcher reads ``PRAGMA data_version`` every `poll_s` on a connection of its own
  (it changes when any other connection commits) and, as the file's bench store changes far more
  often than its lab store, calls back only when the lab store's tables have new rows or a new
  audit row (every change to lab data writes one).
- ``on_state(state)`` when the lab store becomes reachable or unreachable. When the server goes
  away (stopped, restarted, the connection cut), the state says ``"lab store unreachable:
  ..."`` and the watcher keeps trying to reconnect, waiting longer each time (`backoff`); once
  it is back, the state says so and ``on_change`` is called with no tables, since changes made
  meanwhile were not announced to this workstation.

Callbacks run on the watcher's thread: a GUI hands them to its own thread (a queued signal).
Nothing here writes to the lab store.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL

from app.storage.labstore import CONNECT_TIMEOUT_S, LabStore, SqliteLabStore, postgres_url

log = logging.getLogger(__name__)

#: The channel the lab store's triggers notify on (revision 0002_lab_changes).
CHANNEL = "meterlab_lab_changes"
#: How long to wait before each further attempt to reach the server (the last one repeats).
BACKOFF_S: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0)
#: How the watcher's connection names itself to the server (``pg_stat_activity``).
APPLICATION_NAME = "meterlab lab changes"
#: On a SQLite file: the newest row of each of these tables tells whether lab data changed.
_SQLITE_FINGERPRINT = ("SELECT (SELECT max(id) FROM audit), (SELECT max(id) FROM bookings), "
                       "(SELECT max(id) FROM people), (SELECT max(id) FROM organisations), "
                       "(SELECT max(id) FROM labs), (SELECT max(id) FROM inductions)")


@dataclass(frozen=True)
class LabStoreState:
    """Whether the lab store answers, and the sentence saying so.

    Attributes:
        reachable: the watcher is connected (PostgreSQL) or reads the file (SQLite).
        message: ``"lab store unreachable: ..."`` with the reason, ``"lab store reachable
            again"`` after an outage, or ``"lab store reachable"`` at the start.
    """

    reachable: bool
    message: str


ChangeCallback = Callable[[frozenset[str]], None]
StateCallback = Callable[[LabStoreState], None]


class LabChangeWatcher:
    """Watches a lab store for changes committed by other connections.

    Args:
        source: the lab store (a :class:`LabStore`, as the application's context has it), a
            PostgreSQL URL, or the path of a workstation's SQLite file.
        on_change: called with the changed tables (empty: not known) after each commit.
        on_state: called when reachability changes (also once at the start).
        poll_s: how often the SQLite file is looked at; on PostgreSQL, how long the watcher
            waits for notifications between checks that it was asked to stop.
        heartbeat_s: on PostgreSQL, how long the connection may stay quiet before a ``SELECT
            1`` checks that the server is still there.
        backoff: seconds to wait before each attempt to reconnect (the last one repeats).

    Raises:
        ValueError: `source` is a URL that is not PostgreSQL's.
    """

    def __init__(self, source: LabStore | URL | str | Path, on_change: ChangeCallback,
                 on_state: StateCallback | None = None, *, poll_s: float = 1.0,
                 heartbeat_s: float = 5.0, backoff: Sequence[float] = BACKOFF_S) -> None:
        self.on_change = on_change
        self.on_state = on_state
        self.poll_s = poll_s
        self.heartbeat_s = heartbeat_s
        self.backoff = tuple(backoff) or BACKOFF_S
        self._url: URL | None = None
        self._path: Path | None = None
        if isinstance(source, SqliteLabStore):
            self._path = _file_of(source.conn)
        elif isinstance(source, LabStore):
            self._url = source.engine.url
        elif isinstance(source, Path):
            self._path = source
        else:
            self._url = postgres_url(source)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._state: LabStoreState | None = None
        self._lock = threading.Lock()

    @property
    def engine(self) -> str:
        """``"postgresql"`` or ``"sqlite"``."""
        return "postgresql" if self._url is not None else "sqlite"

    @property
    def state(self) -> LabStoreState | None:
        """The last state reported (None: not known yet)."""
        with self._lock:
            return self._state

    def start(self) -> None:
        """Start watching (in a daemon thread); does nothing when already started."""
        if self._thread is not None:
            return
        self._stop.clear()
        target = self._watch_server if self._url is not None else self._watch_file
        self._thread = threading.Thread(target=target, name="lab-changes", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop watching and wait for the thread to end (no callback comes after this)."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    # --- reporting ---------------------------------------------------------------------------------
    def _changed(self, tables: frozenset[str]) -> None:
        if self._stop.is_set():
            return
        try:
            self.on_change(tables)
        except Exception:  # a fault of the receiver must not end the feed
            log.exception("a lab change callback failed")

    def _set_state(self, reachable: bool, message: str) -> bool:
        """Report a change of reachability; True when it changed."""
        with self._lock:
            previous = self._state
            if previous is not None and previous.reachable == reachable:
                return False
            self._state = state = LabStoreState(reachable, message)
        if self.on_state is not None and not self._stop.is_set():
            try:
                self.on_state(state)
            except Exception:
                log.exception("a lab store state callback failed")
        return True

    def _reachable(self) -> None:
        was = self.state
        again = was is not None and not was.reachable
        if self._set_state(True, "lab store reachable again" if again else "lab store reachable") \
                and again:
            self._changed(frozenset())  # what changed meanwhile was not announced here

    def _unreachable(self, exc: BaseException) -> None:
        self._set_state(False, f"lab store unreachable: {_first_line(exc)}")

    def _wait_before_retry(self, attempt: int) -> None:
        self._stop.wait(self.backoff[min(attempt, len(self.backoff) - 1)])

    # --- PostgreSQL: LISTEN/NOTIFY on a dedicated connection -------------------------------------
    def _connect(self) -> Any:
        import psycopg
        from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg

        assert self._url is not None
        cargs, cparams = PGDialect_psycopg().create_connect_args(self._url)
        cparams.setdefault("connect_timeout", CONNECT_TIMEOUT_S)
        cparams.setdefault("application_name", APPLICATION_NAME)
        return psycopg.connect(*cargs, autocommit=True, **cparams)

    def _watch_server(self) -> None:
        import psycopg

        attempt = 0
        while not self._stop.is_set():
            try:
                conn = self._connect()
            except psycopg.Error as exc:
                self._unreachable(exc)
                self._wait_before_retry(attempt)
                attempt += 1
                continue
            try:
                with conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    attempt = 0
                    self._reachable()
                    self._listen(conn)
            except psycopg.Error as exc:
                if self._stop.is_set():
                    return
                self._unreachable(exc)
                self._wait_before_retry(attempt)
                attempt += 1

    def _listen(self, conn: Any) -> None:
        quiet_since = time.monotonic()
        while not self._stop.is_set():
            first = list(conn.notifies(timeout=self.poll_s, stop_after=1))
            if first:
                # The notifications of one commit arrive together: take them as one change.
                more = list(conn.notifies(timeout=0.002))
                self._changed(frozenset(n.payload for n in first + more))
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= self.heartbeat_s:
                conn.execute("SELECT 1")
                quiet_since = time.monotonic()

    # --- SQLite: PRAGMA data_version on a connection of the watcher's own ------------------------
    def _watch_file(self) -> None:
        assert self._path is not None
        attempt = 0
        conn: sqlite3.Connection | None = None
        version: int | None = None
        fingerprint: tuple[Any, ...] | None = None
        while not self._stop.is_set():
            try:
                if conn is None:
                    if not self._path.exists():
                        raise sqlite3.OperationalError(f"{self._path} does not exist")
                    conn = sqlite3.connect(self._path, timeout=self.poll_s)
                    version = fingerprint = None
                now_version = conn.execute("PRAGMA data_version").fetchone()[0]
                if now_version != version:
                    version = now_version
                    now_fingerprint = tuple(conn.execute(_SQLITE_FINGERPRINT).fetchone())
                    if fingerprint is not None and now_fingerprint != fingerprint:
                        self._changed(frozenset())
                    fingerprint = now_fingerprint
                attempt = 0
                self._reachable()
                self._stop.wait(self.poll_s)
            except sqlite3.Error as exc:
                if conn is not None:
                    conn.close()
                    conn = None
                self._unreachable(exc)
                self._wait_before_retry(attempt)
                attempt += 1
        if conn is not None:
            conn.close()


def _file_of(conn: sqlite3.Connection) -> Path:
    """The file of the connection's main database."""
    for _seq, name, file in conn.execute("PRAGMA database_list"):
        if name == "main" and file:
            return Path(file)
    raise ValueError("the lab store is an in-memory SQLite database: nothing to watch")


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
