"""Measuring this workstation's ingest: N emulated Comms Hub debug ports through the real pipeline.

Each hub (in a child process, see :mod:`app.services.bench_hubs`) writes its debug log to a
pseudo-terminal at a serial line's rate. Here every port gets what a real Comms Hub gets: a
:class:`~devices.sessions.DeviceSession` with a :class:`~devices.transports.serial.SerialTransport`,
the ``profile:emulator`` codec and a capture file, all sessions on one I/O loop, feeding one
bounded :class:`~app.services.ingest.EventQueue` that one :class:`~app.services.ingest.EventWriter`
drains into a temporary database, with the live ring buffers and the outage tracker attached as
in the application.

The measurement window is the time the hubs send. Afterwards the pipeline is drained (every byte
sent has been read, every event queued has been stored) before anything is counted, so ``lost``
is what the pipeline really lost, not what was still in flight.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.domain.clock import Clock
from app.domain.errors import ValidationError
from app.services.bench_hubs import EmulatedHubs, HubCounts, HubTraffic
from app.services.ingest import EventQueue, EventWriter
from app.services.live import LiveData
from app.services.outages import OutageService
from app.storage.db import connect, open_database
from app.storage.devices import CaptureSessionRepo
from devices.capture_file import CaptureFile
from devices.codecs.base import make_codec
from devices.io_loop import IoLoop, IoLoopState
from devices.sessions import DeviceSession, ReconnectPolicy, SessionState
from devices.transports.base import SerialSettings
from devices.transports.serial import SerialTransport

PROTOCOL = "profile:emulator"
MAX_PORTS = 512


@dataclass(frozen=True)
class BenchIngestOptions:
    """What to measure.

    Attributes:
        ports: emulated Comms Hub debug ports.
        seconds: length of the measurement window.
        baud: line speed of every port.
        traffic: how busy the hubs are (its ``baud`` is replaced by ``baud``).
        work_dir: where the temporary database and capture files go (None: a new temporary
            directory, removed afterwards).
        connect_timeout_s: longest wait for every port to be open.
        drain_timeout_s: longest wait, after the window, for bytes in flight to be stored.
    """

    ports: int
    seconds: float
    baud: int = 115200
    traffic: HubTraffic = field(default_factory=HubTraffic)
    work_dir: Path | None = None
    connect_timeout_s: float = 30.0
    drain_timeout_s: float = 30.0

    def validate(self) -> None:
        """Refuse out-of-range options with a sentence naming the option.

        Raises:
            ValidationError: naming ``ports``, ``seconds`` or ``baud``.
        """
        if not 1 <= self.ports <= MAX_PORTS:
            raise ValidationError(
                "ports", f"--ports must be a whole number from 1 to {MAX_PORTS}, not {self.ports}.")
        if not 0 < self.seconds <= 24 * 3600:
            raise ValidationError(
                "seconds", f"--seconds must be above 0 and at most 86400, not {self.seconds:g}.")
        if not 50 <= self.baud <= 4_000_000:
            raise ValidationError(
                "baud", f"--baud must be a whole number from 50 to 4000000, not {self.baud}.")


@dataclass(frozen=True)
class BenchIngestResult:
    """Figures of one run (see :meth:`as_dict` for the printed form)."""

    ports: int
    baud: int
    seconds: float
    bytes_sent: int
    lines_sent: int
    lines_stored: int
    cpu_percent: float
    ui_fps: float | None
    bytes_read: int
    queue_dropped: int
    rx_overflow_bytes: int
    codec_dropped_bytes: int
    hub_dropped_bytes: int
    emulator_cpu_percent: float
    drain_s: float
    window_s: float
    #: Events queued but never stored: the database refused them until the writer stopped.
    events_unstored: int = 0

    @property
    def lost(self) -> int:
        return self.lines_sent - self.lines_stored

    @property
    def events_per_s(self) -> float:
        """Events stored per second of the window as it really lasted (at least ``seconds``)."""
        return self.lines_stored / self.window_s

    def as_dict(self) -> dict[str, Any]:
        """The benchmark's JSON object: the headline figures, then where any loss happened."""
        return {
            "ports": self.ports, "baud": self.baud, "seconds": self.seconds,
            "bytes_sent": self.bytes_sent, "lines_sent": self.lines_sent,
            "lines_stored": self.lines_stored, "lost": self.lost,
            "events_per_s": round(self.events_per_s, 1),
            "cpu_percent": round(self.cpu_percent, 1),
            "ui_fps": None if self.ui_fps is None else round(self.ui_fps, 1),
            "bytes_read": self.bytes_read, "queue_dropped": self.queue_dropped,
            "events_unstored": self.events_unstored,
            "rx_overflow_bytes": self.rx_overflow_bytes,
            "codec_dropped_bytes": self.codec_dropped_bytes,
            "hub_dropped_bytes": self.hub_dropped_bytes,
            "emulator_cpu_percent": round(self.emulator_cpu_percent, 1),
            "drain_s": round(self.drain_s, 2), "window_s": round(self.window_s, 2),
        }


class BenchIngestError(RuntimeError):
    """The benchmark could not run (no pseudo-terminals, ports that would not open)."""


Progress = Callable[[str], None]


class BenchIngest:
    """One benchmark run: :meth:`start`, let the window pass (drawing the live page meanwhile,
    if wanted), then :meth:`finish`.

    Args:
        options: what to measure (validated here).
        clock: host time for events.
        progress: receives one-line progress messages (e.g. written to stderr).
    """

    def __init__(self, options: BenchIngestOptions, clock: Clock,
                 progress: Progress | None = None) -> None:
        options.validate()
        self.options = options
        self.clock = clock
        self._progress = progress or (lambda _message: None)
        self.events = EventQueue()
        self.live = LiveData()
        self.outages = OutageService(clock, [])
        self.events.add_batch_listener(self.live.on_events)
        self._own_dir = options.work_dir is None
        self.work_dir = Path(options.work_dir or tempfile.mkdtemp(prefix="meterlab-bench-"))
        self.db_path = self.work_dir / "bench.db"
        self.io = IoLoop(name="meterlab-bench-io")
        self.writer: EventWriter | None = None
        traffic = HubTraffic(options.baud, options.traffic.line_fill,
                             options.traffic.alert_rate_per_min)
        self.hubs = EmulatedHubs(options.ports, traffic)
        self.sessions: dict[str, DeviceSession] = {}
        self._captures: dict[str, tuple[int, CaptureFile]] = {}
        self._tasks: list[Any] = []
        self._window_start_s = 0.0
        self._cpu_start_s = 0.0
        self._ticker_stop = threading.Event()
        self._ticker: threading.Thread | None = None
        self._started = False

    # --- running -------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the hubs, open every port, and open the measurement window.

        Raises:
            BenchIngestError: the hubs or the ports could not be started (everything started is
                stopped again).
        """
        opts = self.options
        self._started = True
        try:
            self.work_dir.mkdir(parents=True, exist_ok=True)
            open_database(self.db_path).conn.close()
            self._progress(f"starting {opts.ports} emulated Comms Hub debug ports at {opts.baud} "
                           f"baud; database {self.db_path}")
            ports = self.hubs.start()
            self.writer = EventWriter(self.db_path, self.events,
                                      after_batch=self.outages.on_batch)
            self.writer.start()
            self.io.start()
            self._open_sessions(ports)
            self._wait_connected()
        except Exception as exc:
            self._shutdown()
            if isinstance(exc, BenchIngestError):
                raise
            raise BenchIngestError(str(exc)) from exc
        self.hubs.open_gate()
        self._window_start_s = time.monotonic()
        self._cpu_start_s = time.process_time()
        self._progress(f"all {opts.ports} ports open; ingesting for {opts.seconds:g} s")
        self._ticker = threading.Thread(target=self._tick, name="meterlab-bench-progress",
                                        daemon=True)
        self._ticker.start()

    def wait_window(self) -> None:
        """Block until the measurement window has passed (when nothing else fills it)."""
        remaining_s = self._window_start_s + self.options.seconds - time.monotonic()
        if remaining_s > 0:
            time.sleep(remaining_s)

    def finish(self, ui_fps: float | None = None) -> BenchIngestResult:
        """Close the window, drain the pipeline, count, and clean up.

        Args:
            ui_fps: frames per second the live page drew during the window, if measured.
        """
        self.wait_window()
        counts = self.hubs.close_gate()
        wall_s = time.monotonic() - self._window_start_s
        cpu_percent = (time.process_time() - self._cpu_start_s) / wall_s * 100.0
        self._ticker_stop.set()
        self._progress("window closed; draining what is in flight")
        drain_s = self._drain(counts)
        try:
            self._stop_sessions()
            stored = self._count_stored()
            result = BenchIngestResult(
                ports=self.options.ports, baud=self.options.baud, seconds=self.options.seconds,
                bytes_sent=sum(counts.bytes_sent.values()),
                lines_sent=sum(counts.lines_sent.values()), lines_stored=stored,
                cpu_percent=cpu_percent, ui_fps=ui_fps,
                bytes_read=sum(s.health.bytes_in for s in self.sessions.values()),
                queue_dropped=self.events.stats.dropped,
                rx_overflow_bytes=sum(getattr(s.transport, "rx_overflow_bytes", 0)
                                      for s in self.sessions.values()),
                codec_dropped_bytes=sum(s.health.dropped_bytes for s in self.sessions.values()),
                hub_dropped_bytes=counts.hub_dropped_bytes,
                emulator_cpu_percent=counts.cpu_s / wall_s * 100.0,
                drain_s=drain_s, window_s=wall_s, events_unstored=self.events.stats.unstored,
            )
        finally:
            self._shutdown()
        return result

    def abort(self) -> None:
        """Stop everything without measuring (after an error or an interrupt)."""
        self._ticker_stop.set()
        self._shutdown()

    # --- parts ---------------------------------------------------------------------------------
    def _open_sessions(self, ports: dict[str, str]) -> None:
        conn = connect(self.db_path)
        try:
            repo = CaptureSessionRepo(conn)
            for name, path in ports.items():
                capture_path = self.work_dir / f"{name}.bin"
                session_id = repo.open(name, path, PROTOCOL, str(capture_path), self.clock.now())
                capture = CaptureFile(capture_path)
                self._captures[name] = (session_id, capture)
                session = DeviceSession(
                    name, SerialTransport(SerialSettings(path, baud=self.options.baud)),
                    make_codec(PROTOCOL), self.clock, self.events.put, capture=capture,
                    reconnect=ReconnectPolicy(), session_id=session_id,
                    batch_sink=self.events.put_many,
                )
                self.sessions[name] = session
                self._tasks.append(self.io.submit(session.run()))
        finally:
            conn.close()

    def _wait_connected(self) -> None:
        deadline = time.monotonic() + self.options.connect_timeout_s
        while True:
            states = [s.health.state for s in self.sessions.values()]
            if all(state is SessionState.CONNECTED for state in states):
                return
            if time.monotonic() > deadline:
                bad = [f"{n} ({s.health.reason or s.health.state.value})"
                       for n, s in self.sessions.items()
                       if s.health.state is not SessionState.CONNECTED]
                raise BenchIngestError(
                    f"{len(bad)} of {len(states)} ports did not open within "
                    f"{self.options.connect_timeout_s:g} s: {', '.join(bad[:3])}")
            time.sleep(0.02)

    def _drain(self, counts: HubCounts) -> float:
        """Wait until every byte sent was read and every event queued was stored."""
        start_s = time.monotonic()
        deadline = start_s + self.options.drain_timeout_s
        stats = self.events.stats
        while time.monotonic() < deadline:
            read_all = all(
                self.sessions[name].health.bytes_in >= sent
                for name, sent in counts.bytes_sent.items()
            )
            # Every accepted event stored, or the writer stuck with a failure it reported.
            if read_all and stats.stored >= stats.queued:
                break
            time.sleep(0.02)
        else:
            self._progress(f"the pipeline did not drain within {self.options.drain_timeout_s:g} "
                           "s; what is still in flight counts as lost")
        return time.monotonic() - start_s

    def _stop_sessions(self) -> None:
        if self.io.state is not IoLoopState.RUNNING:
            return
        for session in self.sessions.values():
            self.io.call_soon_threadsafe(session.stop)
        for task in self._tasks:
            try:
                task.result(timeout=5.0)
            except Exception:
                task.cancel()
        self._tasks.clear()
        if self.writer is not None:
            self.writer.stop(timeout_s=self.options.drain_timeout_s)
        conn = connect(self.db_path)
        try:
            repo = CaptureSessionRepo(conn)
            for name, (session_id, capture) in self._captures.items():
                health = self.sessions[name].health
                repo.close(session_id, self.clock.now(), capture.close(),
                           health.as_dict(), health.state.value,
                           events_unstored=self.events.stats.not_stored_of(session_id))
        finally:
            conn.close()

    def _count_stored(self) -> int:
        conn = connect(self.db_path)
        try:
            return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])
        finally:
            conn.close()

    def _tick(self, period_s: float = 5.0) -> None:
        stats = self.events.stats
        while not self._ticker_stop.wait(period_s):
            elapsed_s = time.monotonic() - self._window_start_s
            self._progress(f"{elapsed_s:4.0f} s: {stats.stored} events stored, "
                           f"{stats.queued - stats.stored - stats.unstored} waiting, {stats.dropped} dropped, "
                           f"{stats.unstored} not stored")

    def _shutdown(self) -> None:
        if not self._started:
            return
        self._started = False
        self.io.stop()
        if self.writer is not None:
            self.writer.stop()
        for _session_id, capture in self._captures.values():
            capture.close()
        self.hubs.stop()
        if self._own_dir:
            shutil.rmtree(self.work_dir, ignore_errors=True)
