"""Running the lab's devices: one session per connected device on the I/O loop.

The Devices and Live pages talk to this object only. It is Qt-free: state changes are reported
through a callback (the UI bridge turns them into signals); counters and raw bytes are read as
snapshots by the UI's timers.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from app.domain.clock import Clock
from app.domain.devices import IEC_62056_21, Device, DeviceKind
from app.domain.events import DeviceEvent
from app.services.capture import capture_path_for
from app.services.ingest import EventQueue
from app.services.relay_watch import RelayWatch
from app.storage.db import connect, default_profile_dir
from app.storage.devices import CaptureSessionRepo
from devices.capture_file import CaptureFile
from devices.codecs.base import make_codec
from devices.codecs.iec62056_21 import IecReadoutClient
from devices.emulator.bench import BenchConfig, EmulatedBench
from devices.emulator.faults import Fault
from devices.emulator.runner import EmulatorHost
from devices.io_loop import IoLoop
from devices.sessions import (
    DeviceSession,
    ReconnectPolicy,
    SessionHealth,
    SessionState,
    failure_reason,
)
from devices.transports.base import SerialSettings, Transport
from devices.transports.serial import SerialTransport
from devices.transports.sim import SimTransport

logger = logging.getLogger(__name__)

StateCallback = Callable[[str, SessionState, str], None]
#: The line protocol of the lab's relay boards.
RELAY_PROTOCOL = "profile:relay"


@dataclass(frozen=True, slots=True)
class RawChunk:
    """Bytes that crossed a device's link, for the raw console."""

    seq: int
    at: datetime
    direction: str  # "rx" | "tx"
    data: bytes


class RawLog:
    """The last bytes of one device, bounded; read by sequence number so nothing is shown twice."""

    def __init__(self, max_chunks: int = 5000) -> None:
        self._chunks: deque[RawChunk] = deque(maxlen=max_chunks)
        self._seq = 0
        self._lock = threading.Lock()

    def add(self, at: datetime, direction: str, data: bytes) -> None:
        with self._lock:
            self._seq += 1
            self._chunks.append(RawChunk(self._seq, at, direction, data))

    def since(self, seq: int) -> list[RawChunk]:
        with self._lock:
            return [c for c in self._chunks if c.seq > seq]


class DemoEmulator:
    """The emulated bench behind the demo lab's devices: on ptys where they exist, else in-process."""

    def __init__(self, config: BenchConfig, *, faults: Iterable[Fault] | None = None) -> None:
        if faults is not None:
            config = replace(config, faults=tuple(faults))
        self.bench = EmulatedBench(config)
        self.host: EmulatorHost | None = None
        self.ports: dict[str, str] = {}

    def start(self) -> None:
        try:
            self.host = EmulatorHost(self.bench)
            self.host.__enter__()
            self.ports = dict(self.host.ports)
        except (OSError, ImportError) as exc:  # no pseudo-terminals on this platform
            logger.info("emulator on ptys unavailable (%s); using in-process simulation", exc)
            self.host = None
            self.ports = {}

    def transport(self, endpoint: str, baud: int) -> Transport:
        if endpoint in self.ports:
            return SerialTransport(SerialSettings(self.ports[endpoint], baud=baud))
        return SimTransport(self.bench.endpoints()[endpoint], name=f"emulated {endpoint}")

    def set_faults(self, faults: Iterable[Fault]) -> None:
        """Make the running bench misbehave on purpose, or healthy again with no faults."""
        self.bench.set_faults(faults)

    def stop(self) -> None:
        if self.host is not None:
            self.host.__exit__(None, None, None)
            self.host = None


def demo_bench_config(time_scale: float = 60.0, start: datetime | None = None, *,
                      faults: Iterable[Fault] = ()) -> BenchConfig:
    """The demo bench: periodic alerts on a clock running `time_scale` times fast.

    Its outages are cut and restored through the relay board by the demo's outage script, so
    that the ground truth is the lab's own, as on a real bench. `start` is the emulated clock's
    starting time (the application's "now", so that device times match the lab's clock).
    `faults` makes the bench misbehave on purpose (see `devices.emulator.faults`).
    """
    return BenchConfig(time_scale=time_scale, alert_rate_per_min=20.0, seed=7, start=start,
                       faults=tuple(faults))


class DeviceManager:
    """Connects registered devices and keeps their sessions running.

    Args:
        clock: host time for events.
        io: the I/O loop (started by the caller).
        events: where decoded events go (the batch writer drains it).
        db_path: for capture-session records.
        capture_dir: where raw capture files are written.
        on_state: called on the I/O thread with (label, state, reason).
        emulator: the demo bench, when devices use ``{"transport": "emulator"}``.
        device_refs: gives a device the id its events, capture sessions and outages are
            recorded under in the bench store, when the devices are a lab store's on a server
            (their stand-ins', see :class:`app.services.lab_store_devices.StandIns`); None:
            the devices are the file's own, recorded under their own ids.
    """

    def __init__(self, clock: Clock, io: IoLoop, events: EventQueue, db_path: Path,
                 capture_dir: Path, on_state: StateCallback | None = None,
                 emulator: DemoEmulator | None = None,
                 device_refs: Callable[[Device], int] | None = None) -> None:
        self.clock, self.io, self.events = clock, io, events
        self.db_path, self.capture_dir = Path(db_path), Path(capture_dir)
        self.on_state = on_state
        self.emulator = emulator
        self.device_refs = device_refs
        self._refs: dict[str, int | None] = {}
        self._sessions: dict[str, DeviceSession] = {}
        self._tasks: dict[str, concurrent.futures.Future[Any]] = {}
        self._raw: dict[str, RawLog] = {}
        self._captures: dict[str, tuple[int, CaptureFile]] = {}
        self._ended: dict[str, SessionHealth] = {}
        self._lock = threading.Lock()
        self._waiters: dict[str, list[asyncio.Future[DeviceEvent]]] = {}
        self._finishers: list[threading.Thread] = []
        self._relays: dict[str, RelayWatch] = {}

    # --- queries (any thread) ------------------------------------------------------------------
    def health(self, label: str) -> SessionHealth | None:
        """The running session's counters, else the last session's final ones, else None."""
        session = self._sessions.get(label)
        return session.health if session else self._ended.get(label)

    def raw(self, label: str) -> RawLog:
        with self._lock:
            return self._raw.setdefault(label, RawLog())

    def connected_labels(self) -> list[str]:
        return list(self._sessions)

    def device_ref_of(self, label: str) -> int | None:
        """The bench store's id of the device connected (now or last) under `label`, if it
        was registered."""
        return self._refs.get(label)

    # --- connect / disconnect ------------------------------------------------------------------
    def _transport(self, device: Device) -> tuple[Transport, str]:
        conn = device.connection
        kind = conn.transport or "serial"
        if conn.transport and not conn.is_direct:
            raise ValueError(f"{device.label} is not connected to the workstation directly.")
        needed = replace(conn, transport=kind).missing()
        if needed:
            raise ValueError(f"{device.label} has no {needed} in its connection settings.")
        protocol = conn.protocol_or_default
        baud = conn.line_baud
        if kind == "emulator":
            if self.emulator is None:
                raise ValueError(f"{device.label} is wired to the emulator, which is not running.")
            return self.emulator.transport(conn.endpoint, baud), protocol
        if kind == "ble":
            from devices.transports.ble import BleNusTransport

            return BleNusTransport(conn.address), protocol
        # IEC 62056-21 optical ports always use 7E1 (clause 6.3.3), whatever else is stored.
        iec = protocol == IEC_62056_21
        settings = SerialSettings(
            conn.port, baud=baud, bytesize=7 if iec else conn.bytesize,
            parity="E" if iec else conn.parity, stopbits=1 if iec else conn.stopbits,
        )
        return SerialTransport(settings), protocol

    def connect(self, device: Device) -> None:
        """Start a session for `device` (no-op when one is running). Call from any thread."""
        label = device.label
        if label in self._sessions:
            return
        transport, protocol = self._transport(device)
        codec = make_codec(protocol, profile_dirs=(default_profile_dir(),))
        raw = self.raw(label)
        # A device not in the registry (an emulated bench's) is recorded under no device.
        device_ref = self.device_refs(device) if self.device_refs is not None \
            and device.id is not None else device.id
        self._refs[label] = device_ref
        capture_path, session_id = self._open_capture(label, transport.description, protocol,
                                                      device_ref)
        # A relay board's switching is ground truth whoever commands it (see relay_watch).
        relay = (RelayWatch(label, device.bench)
                 if device.kind is DeviceKind.RELAY or protocol == RELAY_PROTOCOL else None)
        if relay is not None:
            self._relays[label] = relay

        def tap(direction: str, data: bytes) -> None:
            raw.add(self.clock.now(), direction, data)
            if relay is not None and direction == "tx":
                relay.sent(data)

        def state(s: SessionState, reason: str) -> None:
            if self.on_state is not None:
                self.on_state(label, s, reason)

        def deliver(events: list[DeviceEvent]) -> None:
            truth = relay.replies(events) if relay is not None else []
            self.events.put_many(events + truth if truth else events)
            waiters = self._waiters.get(label)
            if waiters:
                for ev in events:
                    if waiters and ev.fields.get("state") in ("ok", "error"):
                        fut = waiters.pop(0)
                        if not fut.done():
                            fut.set_result(ev)

        session = DeviceSession(
            label, transport, codec, self.clock, lambda ev: deliver([ev]),
            capture=self._captures[label][1], reconnect=ReconnectPolicy(), on_state=state,
            session_id=session_id, tap=tap, batch_sink=deliver, device_ref=device_ref,
        )
        self._sessions[label] = session
        poll_s = device.connection.poll_s
        coro = session.poll_readouts(poll_s) if isinstance(codec, IecReadoutClient) else session.run()
        task = self.io.submit(coro)
        self._tasks[label] = task
        # A session can end by itself (a port that is gone for good, a full capture disk, a
        # fault): notice it at once, not at the next manual disconnect.
        task.add_done_callback(lambda fut: self._session_ended(label, session, fut))
        logger.info("connecting %s via %s (%s), capture %s", label, transport.description, protocol, capture_path)

    def _open_capture(self, label: str, port: str, protocol: str,
                      device_ref: int | None) -> tuple[Path, int]:
        conn = connect(self.db_path)
        try:
            repo = CaptureSessionRepo(conn)
            session_id = repo.open(label, port, protocol, "", self.clock.now(), device_ref,
                                   by_label=self.device_refs is None)
            path = capture_path_for(self.capture_dir, label, self.clock.now(), session_id)
            with conn:
                conn.execute("UPDATE capture_sessions SET capture_path = ? WHERE id = ?", (str(path), session_id))
        finally:
            conn.close()
        self._captures[label] = (session_id, CaptureFile(path))
        return path, session_id

    def _take(self, label: str, session: DeviceSession | None = None
              ) -> tuple[DeviceSession, concurrent.futures.Future[Any] | None, int, CaptureFile] | None:
        """Remove a running session from the books, once: the caller then finishes it.

        With `session`, only that session is taken (a new one for the same label is left alone).
        """
        with self._lock:
            current = self._sessions.get(label)
            if current is None or (session is not None and current is not session):
                return None
            del self._sessions[label]
            task = self._tasks.pop(label, None)
            session_id, capture = self._captures.pop(label)
            self._ended[label] = current.health
            return current, task, session_id, capture

    def _session_ended(self, label: str, session: DeviceSession,
                       task: concurrent.futures.Future[Any]) -> None:
        """Done-callback of a session's task (runs on the I/O thread, or wherever it ended)."""
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            # The session catches its own faults; this is the last net, so the state is honest.
            logger.error("session %s ended with an error", label, exc_info=exc)
            session.health.state = SessionState.FAILED
            session.health.reason = failure_reason(exc)  # type: ignore[arg-type]
        taken = self._take(label, session)
        if taken is None:  # disconnect() took it and finishes it itself
            return
        _, _, session_id, capture = taken
        # Closing the file and writing the record wait on the disk and the database: not on the
        # I/O thread, which serves every other device.
        worker = threading.Thread(
            target=self._finish, args=(label, session, session_id, capture, True),
            name=f"finish {label}", daemon=True)
        with self._lock:
            # Started before it is listed, under the lock: wait_finished never joins a thread
            # that has not started, nor misses one that has.
            worker.start()
            self._finishers = [t for t in self._finishers if t.is_alive()] + [worker]

    def _finish(self, label: str, session: DeviceSession, session_id: int, capture: CaptureFile,
                report: bool) -> None:
        """Close the capture file, record the session's final health and report its state."""
        health = session.health
        try:
            digest = capture.close()
            # Counted after the close: a chunk that arrives later is counted as lost, not written.
            health.capture_bytes = capture.bytes_written
            health.capture_lost_bytes = capture.lost_bytes
            conn = connect(self.db_path)
            try:
                CaptureSessionRepo(conn).close(session_id, self.clock.now(), digest,
                                               health.as_dict(), health.state.value)  # type: ignore[arg-type]
            finally:
                conn.close()
        except Exception:  # recording must not take the application down; the log keeps it
            logger.exception("could not record the end of %s's capture session %s", label,
                             session_id)
        if report and self.on_state is not None:
            try:
                self.on_state(label, health.state, health.reason)
            except Exception:
                logger.exception("state listener failed for %s", label)

    def disconnect(self, label: str, timeout_s: float = 5.0) -> None:
        """Stop a device's session, close its capture file and record its SHA-256."""
        taken = self._take(label)
        if taken is None:
            return
        session, task, session_id, capture = taken
        self.io.call_soon_threadsafe(session.stop)
        if task is not None:
            try:
                task.result(timeout=timeout_s)
            except (concurrent.futures.TimeoutError, asyncio.CancelledError):
                logger.warning("session %s did not stop within %s s; cancelling it", label,
                               timeout_s)
                task.cancel()
            except Exception:  # a session must never take the application down
                logger.exception("session %s ended with an error", label)
        # The session has ended (or was cancelled): bytes it still delivers are counted by the
        # closed capture file as lost, never written into a closed file.
        self._finish(label, session, session_id, capture, report=False)

    def wait_finished(self, timeout_s: float = 5.0) -> bool:
        """Wait until sessions that ended by themselves are recorded; False if some are not."""
        with self._lock:
            workers = list(self._finishers)
        deadline = time.monotonic() + timeout_s
        for worker in workers:
            worker.join(max(0.0, deadline - time.monotonic()))
        return not any(w.is_alive() for w in workers)

    def send(self, label: str, data: bytes) -> concurrent.futures.Future[None]:
        session = self._sessions[label]
        return self.io.submit(session.send(data))

    def switch_supply(self, relay_label: str, bench: str, off: bool, channel: int = 1,
                      timeout_s: float = 3.0) -> concurrent.futures.Future[str]:
        """Cut (off=True) or restore a bench's supply through its relay board.

        When the board acknowledges, a ground-truth event (``source = "relay"``) is queued with
        the host time of the acknowledgement. The future's result is "" on success, else why not.
        """
        session = self._sessions.get(relay_label)
        if session is None:
            failed: concurrent.futures.Future[str] = concurrent.futures.Future()
            failed.set_result(f"{relay_label} is not connected.")
            return failed
        return self.io.submit(self._switch(session, relay_label, bench, off, channel, timeout_s))

    def switch_supply_acked(self, relay_label: str, bench: str, off: bool, channel: int = 1,
                            timeout_s: float = 3.0
                            ) -> concurrent.futures.Future[tuple[str, datetime | None]]:
        """Like :meth:`switch_supply`, with the host time of the board's acknowledgement:
        ("", ack time) on success, else (why not, None)."""
        session = self._sessions.get(relay_label)
        if session is None:
            failed: concurrent.futures.Future[tuple[str, datetime | None]] = (
                concurrent.futures.Future())
            failed.set_result((f"{relay_label} is not connected.", None))
            return failed
        acked: list[datetime] = []

        async def switch() -> tuple[str, datetime | None]:
            why = await self._switch(session, relay_label, bench, off, channel, timeout_s,
                                     acked)
            return why, (acked[0] if acked and not why else None)

        return self.io.submit(switch())

    def read_now(self, label: str) -> concurrent.futures.Future[tuple[bool, str]]:
        """Ask an IEC 62056-21 readout session to read its meter now (see
        :meth:`DeviceSession.request_readout`): (ok, reason) of a readout begun after the call.
        The readings go through the event queue like every periodic readout's."""
        session = self._sessions.get(label)
        if session is None or not isinstance(session.codec, IecReadoutClient):
            done: concurrent.futures.Future[tuple[bool, str]] = concurrent.futures.Future()
            done.set_result((False, f"{label} is not connected." if session is None else
                             f"{label} is not read by IEC 62056-21 readouts."))
            return done

        async def read() -> tuple[bool, str]:
            return await session.request_readout()

        return self.io.submit(read())

    async def _switch(self, session: DeviceSession, label: str, bench: str, off: bool, channel: int,
                      timeout_s: float, acked: list[datetime] | None = None) -> str:
        fut: asyncio.Future[DeviceEvent] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(label, []).append(fut)
        relay = self._relays.get(label)
        if relay is not None and not relay.bench:
            relay.bench = bench  # a board registered without a bench: the caller's
        await session.send(f"RELAY {channel} {'OFF' if off else 'ON'}\r\n".encode())
        try:
            answer = await asyncio.wait_for(fut, timeout_s)
        except TimeoutError:
            return f"{label} did not acknowledge within {timeout_s:g} s."
        finally:
            if fut in self._waiters.get(label, []):
                self._waiters[label].remove(fut)
        if answer.fields.get("state") != "ok":
            return f"{label} refused the command: {answer.fields.get('error', 'error')}."
        # The ground-truth event was queued with the acknowledgement (the session's RelayWatch).
        if acked is not None:
            acked.append(answer.host_time)
        return ""

    def shutdown(self) -> None:
        for label in list(self._sessions):
            self.disconnect(label)
        if not self.wait_finished():
            logger.warning("some capture sessions could not be recorded before shutdown")
