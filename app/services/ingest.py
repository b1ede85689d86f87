"""The path from device sessions to the database: a bounded queue and one batch writer.

Sessions (I/O thread) put events on the queue and never wait: when it is full the event is
counted as dropped, and the count is shown (dropping is never silent; the raw bytes are in the
capture file regardless). One writer thread owns its own SQLite connection and stores events in
batches, at most every 250 ms or 1,000 events. When the database cannot be written (read-only, disk
full, locked) the writer keeps its batch, the queue fills and then counts drops; the writer reports
the error, and resumes when it can. When it is stopped while it still cannot write, what it holds
and what is still queued is counted as unstored (per capture session too): no event leaves the
path without being either stored or counted.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from app.domain.events import DeviceEvent
from app.storage.db import connect
from app.storage.devices import EventStore

logger = logging.getLogger(__name__)


@dataclass
class IngestStats:
    """Counters of the ingest path, readable from any thread.

    Attributes:
        queued: events accepted by the queue.
        dropped: events refused because the queue was full (never queued).
        stored: events written to the database.
        unstored: events accepted but never written: the writer was stopped while the database
            could not be written. ``queued == stored + unstored`` once the writer has stopped.
        dropped_by_session, unstored_by_session: the same two counts per capture session id
            (None: events of no session), so that each session's record can say what it lacks.
    """

    queued: int = 0
    dropped: int = 0
    stored: int = 0
    batches: int = 0
    pending: int = 0
    write_error: str = ""
    unstored: int = 0
    dropped_by_session: Counter[int | None] = field(default_factory=Counter)
    unstored_by_session: Counter[int | None] = field(default_factory=Counter)

    @property
    def not_stored(self) -> int:
        """Every event that is not in the database, whatever the cause."""
        return self.dropped + self.unstored

    def not_stored_of(self, session_id: int | None) -> int:
        """Events of one capture session that are not in the database."""
        return self.dropped_by_session[session_id] + self.unstored_by_session[session_id]


class EventQueue:
    """A bounded, non-blocking hand-off from the I/O thread to the writer.

    A deque rather than :class:`queue.Queue`: appending and popping are single atomic operations
    under the GIL, so the reader pays no lock per event; only a writer with nothing to do waits,
    on an event the producer sets when it finds it clear.

    Args:
        max_events: capacity; events offered beyond it are counted in ``stats.dropped``.
    """

    def __init__(self, max_events: int = 100_000) -> None:
        if max_events < 1:
            raise ValueError(f"max_events must be at least 1, got {max_events}.")
        self._items: deque[DeviceEvent] = deque()
        self._max_events = max_events
        self._ready = threading.Event()
        self.stats = IngestStats()
        self._listeners: list[Callable[[DeviceEvent], None]] = []
        self._batch_listeners: list[Callable[[list[DeviceEvent]], None]] = []

    def __len__(self) -> int:
        return len(self._items)

    def add_listener(self, listener: Callable[[DeviceEvent], None]) -> None:
        """Also hand every accepted event to `listener` (e.g. ring buffers); must be quick."""
        self._listeners.append(listener)

    def add_batch_listener(self, listener: Callable[[list[DeviceEvent]], None]) -> None:
        """Also hand every accepted event to `listener`, a list at a time (e.g.
        :meth:`~app.services.live.LiveData.on_events`); must be quick."""
        self._batch_listeners = [*self._batch_listeners, listener]

    def remove_batch_listener(self, listener: Callable[[list[DeviceEvent]], None]) -> None:
        """Stop handing events to `listener` (safe while another thread is putting events: the
        list is replaced, never changed in place)."""
        self._batch_listeners = [x for x in self._batch_listeners if x is not listener]

    def put(self, event: DeviceEvent) -> None:
        """Offer an event; never blocks. A full queue counts the event as dropped."""
        if len(self._items) >= self._max_events:
            self.stats.dropped += 1
            self.stats.dropped_by_session[event.session_id] += 1
            return
        self._items.append(event)
        self.stats.queued += 1
        if not self._ready.is_set():
            self._ready.set()
        for listener in self._listeners:
            listener(event)
        for batch_listener in self._batch_listeners:
            batch_listener([event])

    def put_many(self, events: list[DeviceEvent]) -> None:
        """Offer several events (one session's chunk); never blocks. Those that do not fit are
        counted as dropped, as if they had been put one by one."""
        room = self._max_events - len(self._items)
        if room < len(events):
            refused = events[max(room, 0):]
            self.stats.dropped += len(refused)
            self.stats.dropped_by_session.update(ev.session_id for ev in refused)
            events = events[: max(room, 0)]
        if not events:
            return
        self._items.extend(events)
        self.stats.queued += len(events)
        if not self._ready.is_set():
            self._ready.set()
        for listener in self._listeners:
            for event in events:
                listener(event)
        for batch_listener in self._batch_listeners:
            batch_listener(events)

    def get_batch(self, max_events: int, timeout_s: float) -> list[DeviceEvent]:
        """Wait up to `timeout_s` for the first event, then take what is there up to the limit."""
        items = self._items
        if not items:
            # Cleared before the second look: an event put after that look sets it again.
            self._ready.clear()
            if not items and timeout_s > 0:
                self._ready.wait(timeout_s)
            if not items:
                return []
        popleft = items.popleft
        return [popleft() for _ in range(min(max_events, len(items)))]

    def drain(self) -> list[DeviceEvent]:
        """Take everything queued (the writer's last look when it stops)."""
        items = self._items
        popleft = items.popleft
        return [popleft() for _ in range(len(items))]


class EventWriter:
    """Stores queued events in batches on its own thread and connection.

    Args:
        db_path: the database file.
        events: the queue sessions put events on.
        flush_interval_s: longest time an event waits before its batch is written.
        batch_max: most events in one transaction.
        on_error: called with a sentence when writing fails and with "" when it recovers.
        retry_s: how long to wait before retrying a failed write.
        after_batch: called on the writer thread with its connection and each stored batch
            (the outage tracker runs here).
    """

    def __init__(
        self,
        db_path: Path,
        events: EventQueue,
        flush_interval_s: float = 0.25,
        batch_max: int = 1000,
        on_error: Callable[[str], None] | None = None,
        retry_s: float = 1.0,
        after_batch: Callable[[sqlite3.Connection, list[DeviceEvent]], None] | None = None,
    ) -> None:
        self.db_path = Path(db_path)
        self.events = events
        self.flush_interval_s = flush_interval_s
        self.batch_max = batch_max
        self.on_error = on_error
        self.retry_s = retry_s
        self.after_batch = after_batch
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pending: list[DeviceEvent] = []
        self._busy_timeout_ms = 2000
        #: Longest nap between looks at the queue while a batch is gathering (bounds how late a
        #: full batch is noticed: at 10,000 events a second, 500 events).
        self.gather_s = 0.05

    @property
    def stats(self) -> IngestStats:
        return self.events.stats

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="meterlab-writer", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Write what is queued, then stop.

        If the database still cannot be written, one more attempt is made (waiting up to the
        busy timeout for a lock) and then every event held or queued is counted in
        ``stats.unstored``; the counts are final when this returns (unless the thread outlives
        `timeout_s`, which the busy timeout keeps from happening).
        """
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _run(self) -> None:
        try:
            self._write_until_stopped()
        finally:
            # Whatever is left was not stored: count it rather than let it vanish. Events put
            # after this point (a session still running) stay queued and are counted by the
            # queue's owner through ``queued - stored - unstored``.
            self._count_unstored(self._pending + self.events.drain())
            self._pending = []
            self.stats.pending = 0

    def _count_unstored(self, events: list[DeviceEvent]) -> None:
        if not events:
            return
        self.stats.unstored_by_session.update(ev.session_id for ev in events)
        self.stats.unstored += len(events)
        logger.error("%d events could not be stored in %s: %s", len(events), self.db_path,
                     self.stats.write_error or "the writer stopped")

    def _write_until_stopped(self) -> None:
        conn = self._connect()
        if conn is None:
            return
        store = EventStore(conn)
        last_flush = time.monotonic()
        failing_since: float | None = None
        try:
            while True:
                stopping = self._stop.is_set()
                room = self.batch_max - len(self._pending)
                got = 0
                if room > 0:
                    batch = self.events.get_batch(room, 0.0 if stopping else 0.05)
                    got = len(batch)
                    self._pending.extend(batch)
                now = time.monotonic()
                due = bool(self._pending) and (
                    stopping or len(self._pending) >= self.batch_max
                    or now - last_flush >= self.flush_interval_s
                )
                may_retry = failing_since is None or stopping or now - failing_since >= self.retry_s
                if due and may_retry:
                    last_flush = now
                    if self._flush(store):
                        if failing_since is not None and self.on_error:
                            self.on_error("")
                        failing_since = None
                    else:
                        failing_since = now
                        if stopping:
                            break
                elif due or room <= 0:
                    time.sleep(0.05)  # waiting to retry a failed write: do not spin
                elif self._pending and not stopping:
                    # Not due yet: let events gather in the queue rather than taking them a few
                    # at a time as sessions put them, which would wake this thread (and take the
                    # GIL) once per chunk instead of a few times per flush.
                    self._stop.wait(min(self.gather_s, last_flush + self.flush_interval_s - now))
                if stopping and not got and not self._pending:
                    break
        finally:
            conn.close()

    def _connect(self) -> sqlite3.Connection | None:
        """Open the writer's connection, retrying (and reporting) until it works or we stop."""
        while True:
            try:
                conn = connect(self.db_path, check_same_thread=True)
                # Wait briefly for a lock, then report: the queue keeps filling meanwhile.
                conn.execute(f"PRAGMA busy_timeout={int(self._busy_timeout_ms)}")
                # A larger page cache keeps the event indexes' hot pages in memory.
                conn.execute("PRAGMA cache_size=-65536")
                return conn
            except sqlite3.Error as exc:
                message = f"Events cannot be stored in {self.db_path}: {exc}; the capture files keep the raw bytes received."
                if self.stats.write_error != message:
                    self.stats.write_error = message
                    logger.error(message)
                    if self.on_error:
                        self.on_error(message)
                if self._stop.wait(self.retry_s):
                    return None

    def _flush(self, store: EventStore) -> bool:
        chunk = self._pending[: self.batch_max]
        try:
            store.insert_many(chunk)
        except sqlite3.Error as exc:
            message = f"Events cannot be stored in {self.db_path}: {exc}; the capture files keep the raw bytes received."
            if self.stats.write_error != message:
                logger.error(message)
                if self.on_error:
                    self.on_error(message)
            self.stats.write_error = message
            self.stats.pending = len(self._pending)
            return False
        del self._pending[: len(chunk)]
        if self.after_batch is not None:
            try:
                self.after_batch(store.conn, chunk)
            except Exception:  # a bug in a consumer must not stop events being stored
                logger.exception("processing a stored batch failed")
        self.stats.stored += len(chunk)
        self.stats.batches += 1
        self.stats.pending = len(self._pending)
        self.stats.write_error = ""
        return True
