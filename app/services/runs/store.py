"""The recorder that stores runs in the lab store without holding up the run.

`started` writes at once (one short transaction: the run needs its id), waiting at most
`start_timeout_s` for another writer's lock. Finished steps and the run's end go through a queue
to one writer thread with its own connection, which retries a write the database refused
(locked by another program, a transient I/O error, a lab store server that does not answer)
and, when it finally cannot write, counts it and logs why: the executor is never made to wait
for the disk or the network, and never sees an exception.

The lab store is the workstation's SQLite file (the writer opens its own connection to it) or,
when one is given, a lab store on a PostgreSQL server (the writer thread takes its own
connection from the store's engine).
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path

from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError

from app.domain.clock import Clock
from app.domain.runs import StepResult
from app.services.runs.api import RunEvidenceItem, RunResult, RunStart
from app.storage.capture_sessions import ProcessOwner, current_owner
from app.storage.db import connect
from app.storage.labstore import LabStore, LabStoreError
from app.storage.runs import RunRepo

logger = logging.getLogger(__name__)

#: Pauses between attempts of a queued write (about half a minute in all with the busy timeout).
DEFAULT_RETRY_DELAYS_S: tuple[float, ...] = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)

_STOP = object()


class StoreRunRecorder:
    """A :class:`app.services.runs.api.RunRecorder` writing to the SQLite database at `db_path`,
    or to the lab store `store` on a PostgreSQL server when one is given.

    The database must exist with the current schema (the application opens and upgrades it at
    start-up). Counters may be read from any thread.

    Attributes:
        stored: queued writes that reached the database.
        unstored: writes given up (a run that could not be started counts one, and each of its
            steps and its end one more).
        retries: attempts that failed and were tried again.
        last_error: why the last write failed ("" if none did), with `last_error_at`.

    Args:
        db_path: the database file.
        clock: the time of the last error.
        busy_timeout_s: how long one attempt waits for another writer's lock.
        start_timeout_s: how long `started` waits for the lock (it blocks its caller).
        retry_delays_s: pauses between the attempts of a queued write; one attempt more than
            there are pauses.
        owner: the process recorded as executing the runs (default: this one).
        store: the lab store on a server the runs go to (None, or the file's own store: the
            file at `db_path`). The recorder does not close it.
    """

    def __init__(self, db_path: Path | str, clock: Clock, *, busy_timeout_s: float = 2.0,
                 start_timeout_s: float = 2.0,
                 retry_delays_s: Sequence[float] = DEFAULT_RETRY_DELAYS_S,
                 owner: ProcessOwner | None = None, store: LabStore | None = None) -> None:
        self.db_path = Path(db_path)
        # The file's own store shares the front end's connection: the writer keeps to its own.
        self.store = store if store is not None and store.dialect != "sqlite" else None
        self.clock = clock
        self.busy_timeout_s = busy_timeout_s
        self.start_timeout_s = start_timeout_s
        self.retry_delays_s = tuple(retry_delays_s)
        self.owner = owner or current_owner()
        self.stored = 0
        self.unstored = 0
        self.retries = 0
        self.last_error = ""
        self.last_error_at: datetime | None = None
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._pending = 0
        self._cond = threading.Condition()
        self._closed = False
        self._conn: sqlite3.Connection | None = None
        self._thread = threading.Thread(target=self._run, name="run-recorder", daemon=True)
        self._thread.start()

    # --- RunRecorder --------------------------------------------------------------------------
    def started(self, start: RunStart) -> int:
        """Record the run now and return its id; 0 if it cannot be recorded (counted, logged):
        the run goes on, and its steps and end are counted as not stored."""
        if self.store is not None:
            try:
                return RunRepo(self.store, self.owner).start(start)
            except (LabStoreError, SQLAlchemyError) as exc:  # the run goes on unrecorded
                self._give_up(f"the run could not be recorded: {_reason(exc)}")
                return 0
        try:
            conn = self._connect(self.start_timeout_s)
        except sqlite3.Error as exc:
            self._give_up(f"the run could not be recorded: {exc}")
            return 0
        try:
            return RunRepo(conn, self.owner).start(start)
        except sqlite3.Error as exc:
            self._give_up(f"the run could not be recorded: {exc}")
            return 0
        finally:
            conn.close()

    def step_finished(self, run_id: int, result: StepResult) -> None:
        self._submit(run_id, ("step", run_id, result))

    def finished(self, result: RunResult) -> None:
        self._submit(result.run_id, ("finish", result))

    def add_evidence(self, run_id: int, items: Iterable[RunEvidenceItem]) -> None:
        """Queue capture sessions of the run (they may also come with its result)."""
        self._submit(run_id, ("evidence", run_id, tuple(items)))

    # --- life cycle ---------------------------------------------------------------------------
    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every queued write is stored or given up; False if `timeout` passed first."""
        with self._cond:
            return self._cond.wait_for(lambda: self._pending == 0, timeout)

    def close(self, timeout: float | None = None) -> bool:
        """Finish the queued writes (waiting up to `timeout`) and stop the writer thread.

        Returns:
            True if nothing was left queued. Writes submitted after this are counted as unstored.
        """
        done = self.flush(timeout)
        with self._cond:
            self._closed = True
        self._queue.put(_STOP)
        self._thread.join(timeout)
        return done

    # --- writer -------------------------------------------------------------------------------
    def _submit(self, run_id: int, item: tuple) -> None:
        if run_id <= 0:
            self._give_up(f"run {run_id} was never recorded, so its results cannot be")
            return
        with self._cond:
            if self._closed:
                closed = True
            else:
                closed = False
                self._pending += 1
        if closed:
            self._give_up("the run recorder was closed before the run ended")
            return
        self._queue.put(item)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                break
            try:
                self._write_with_retries(item)  # type: ignore[arg-type]
            finally:
                with self._cond:
                    self._pending -= 1
                    self._cond.notify_all()
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _write_with_retries(self, item: tuple) -> None:
        what = _describe(item)
        for attempt in range(len(self.retry_delays_s) + 1):
            try:
                written = self._write(item)
            except _TRANSIENT as exc:
                # Locked, busy, read-only, full, an I/O error: any of these may pass (the lock is
                # released, space is freed), so the write is tried again on a new connection.
                self._drop_connection()
                if attempt == len(self.retry_delays_s):
                    self._give_up(f"{what} could not be stored: {_reason(exc)}")
                    return
                with self._cond:
                    self.retries += 1
                logger.info("%s could not be stored yet (%s); trying again", what,
                            _reason(exc))
                time.sleep(self.retry_delays_s[attempt])
                continue
            except (sqlite3.Error, DBAPIError) as exc:  # a broken constraint stays broken
                self._drop_connection()
                self._give_up(f"{what} could not be stored: {_reason(exc)}")
                return
            except Exception as exc:  # a value the database cannot take: the writer goes on
                logger.exception("%s could not be written", what)
                self._give_up(f"{what} could not be stored: {exc}")
                return
            if written:
                with self._cond:
                    self.stored += 1
            else:
                self._give_up(f"{what} was not stored: the run had been closed already")
            return

    def _write(self, item: tuple) -> bool:
        if self.store is not None:
            repo = RunRepo(self.store, self.owner)
        else:
            if self._conn is None:
                self._conn = self._connect(self.busy_timeout_s)
            repo = RunRepo(self._conn, self.owner)
        kind = item[0]
        if kind == "step":
            repo.record_step(item[1], item[2])
            return True
        if kind == "evidence":
            repo.add_evidence(item[1], item[2])
            return True
        return repo.finish(item[1])

    def _connect(self, busy_timeout_s: float) -> sqlite3.Connection:
        # Connecting to a missing file would create an empty database in its place.
        if not self.db_path.is_file():
            raise sqlite3.OperationalError(f"there is no database at {self.db_path}")
        return connect(self.db_path, busy_timeout_s=busy_timeout_s)

    def _drop_connection(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except sqlite3.Error:
                pass
            self._conn = None

    def _give_up(self, message: str) -> None:
        with self._cond:
            self.unstored += 1
            self.last_error = message
            self.last_error_at = self.clock.now()
        where = "the lab store" if self.store is not None else f"database {self.db_path}"
        logger.error("%s (%s)", message, where)


#: Failures that may pass (a lock released, space freed, the server back): tried again. On a
#: server, an OperationalError is a lost connection, a serialization failure or a deadlock.
_TRANSIENT = (sqlite3.OperationalError, LabStoreError, OperationalError)


def _reason(exc: BaseException) -> str:
    """What went wrong, in one line (the driver's own message for a server's error)."""
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        exc = exc.orig
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _describe(item: tuple) -> str:
    if item[0] == "step":
        return f"step {item[2].index} of run {item[1]}"
    if item[0] == "evidence":
        return f"the evidence of run {item[1]}"
    return f"the end of run {item[1].run_id}"
