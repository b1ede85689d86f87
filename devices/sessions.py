"""A connected device: transport + codec + state machine + reconnect + health counters.

A session runs on the I/O thread. It never blocks on the UI or the database: decoded events go
to a sink that must not block (a bounded queue that counts what it drops), raw bytes go to the
session's capture file before anything else happens to them.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum

from app.domain.clock import Clock
from app.domain.events import CodecEvent, DeviceEvent, EventKind
from devices.capture_file import CaptureFile, CaptureWriteError
from devices.codecs.base import Codec, CodecError, CodecStats
from devices.codecs.iec62056_21 import Done, IecReadoutClient, Send, SetBaud
from devices.transports.base import Transport, TransportError, TransportErrorReason

logger = logging.getLogger(__name__)

#: After a read that returned bytes, a streaming session lets more arrive for up to this long
#: before reading and decoding again. 50 ms: a Comms Hub debug port at 115200 baud delivers about
#: 580 bytes in that time, far inside the 4 KiB a tty or USB adapter buffers, and 50 ms is nothing
#: against the 8 s within which an alert must be shown; yet it turns the hundred-odd wake-ups a
#: second a busy port causes into at most twenty, each decoding several lines at once.
DEFAULT_COALESCE_S = 0.05
#: Most bytes taken from the transport by one read of a streaming session.
READ_MAX_BYTES = 1 << 16


class SessionState(str, Enum):
    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    FAILED = "failed"


@dataclass
class SessionHealth:
    """Counters shown beside a device; read from any thread (plain ints, written on one).

    Attributes:
        state, reason: the connection state and why (empty when there is nothing to say).
        bytes_in, bytes_out: bytes read from and written to the transport.
        frames, errors, resyncs, dropped_bytes: the codec's counters (``dropped_bytes`` are
            bytes the codec discarded while resynchronising, not bytes lost before it).
        events: decoded events delivered.
        reconnects: reopen attempts.
        rx_dropped_bytes: bytes the transport received but dropped because its receive buffer
            was full; they never reached the codec or the capture file.
        capture_bytes: bytes in the capture file.
        capture_lost_bytes: bytes read that are not in the capture file (a failed write, or a
            chunk that arrived after the file was closed).
        last_seen: host time of the last bytes read.
    """

    state: SessionState = SessionState.DISCONNECTED
    reason: str = ""
    bytes_in: int = 0
    bytes_out: int = 0
    frames: int = 0
    errors: int = 0
    resyncs: int = 0
    dropped_bytes: int = 0
    events: int = 0
    reconnects: int = 0
    rx_dropped_bytes: int = 0
    capture_bytes: int = 0
    capture_lost_bytes: int = 0
    last_seen: datetime | None = None

    def absorb(self, stats: CodecStats) -> None:
        self.frames, self.errors = stats.frames, stats.errors
        self.resyncs, self.dropped_bytes = stats.resyncs, stats.dropped_bytes

    @property
    def not_captured_bytes(self) -> int:
        """Bytes the device sent that the capture file does not hold (as far as is known)."""
        return self.rx_dropped_bytes + self.capture_lost_bytes

    @property
    def capture_complete(self) -> bool:
        """True when the capture file holds every byte the device sent as far as is known."""
        return self.not_captured_bytes == 0

    def as_dict(self) -> dict[str, object]:
        return {
            "state": self.state.value, "reason": self.reason, "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out, "frames": self.frames, "errors": self.errors,
            "resyncs": self.resyncs, "dropped_bytes": self.dropped_bytes, "events": self.events,
            "reconnects": self.reconnects, "rx_dropped_bytes": self.rx_dropped_bytes,
            "capture_bytes": self.capture_bytes, "capture_lost_bytes": self.capture_lost_bytes,
            "last_seen": self.last_seen.isoformat() if self.last_seen else None,
        }


@dataclass(frozen=True)
class ReconnectPolicy:
    """Exponential backoff between reconnect attempts."""

    enabled: bool = True
    initial_s: float = 0.5
    max_s: float = 10.0
    factor: float = 2.0

    def delays(self) -> BackoffIterator:
        return BackoffIterator(self)


@dataclass
class BackoffIterator:
    policy: ReconnectPolicy
    _next: float = field(default=0.0)

    def next(self) -> float:
        delay = self._next or self.policy.initial_s
        self._next = min(delay * self.policy.factor, self.policy.max_s)
        return delay

    def reset(self) -> None:
        self._next = 0.0


EventSink = Callable[[DeviceEvent], None]
BatchSink = Callable[[list[DeviceEvent]], None]
StateListener = Callable[[SessionState, str], None]


class DeviceSession:
    """One device's connection, read loop and decoding.

    Args:
        label: the device's label (events are attributed to it).
        transport: the byte pipe (opened and reopened by the session).
        codec: a streaming codec (line profile, GBCS hex) or an :class:`IecReadoutClient`.
        clock: gives the host receive time of every chunk.
        sink: takes every decoded event; must not block.
        capture: file receiving every byte read, or None.
        reconnect: backoff policy for reopening after a failure or a vanished port.
        on_state: called (on the I/O thread) whenever the state changes.
        session_id: stored with every event.
        read_timeout_s: how long one read waits (bounds how fast a stop is noticed).
        tap: called with ("rx" | "tx", bytes) for every chunk (a raw console); "tx" as the bytes
            are handed to the port, before the write returns.
        batch_sink: when given, takes the events of each chunk as one list instead of ``sink``
            taking them one by one (must not block either).
        device_ref: the registered device's stable id, stamped on every event (None when the
            port is not a registered device).
        coalesce_s: in :meth:`run`, after bytes arrived, wait until the next multiple of this
            period of the loop's clock before reading again (0: read again at once). Ticks on
            the loop's clock line every session up, so many busy ports are decoded in one pass
            of the I/O loop rather than in as many small ones.
    """

    def __init__(
        self,
        label: str,
        transport: Transport,
        codec: Codec | IecReadoutClient,
        clock: Clock,
        sink: EventSink,
        capture: CaptureFile | None = None,
        reconnect: ReconnectPolicy = ReconnectPolicy(),
        on_state: StateListener | None = None,
        session_id: int | None = None,
        read_timeout_s: float = 0.2,
        tap: Callable[[str, bytes], None] | None = None,
        batch_sink: BatchSink | None = None,
        coalesce_s: float = DEFAULT_COALESCE_S,
        device_ref: int | None = None,
    ) -> None:
        if coalesce_s < 0:
            raise ValueError(f"coalesce_s must not be negative, got {coalesce_s}.")
        self.label = label
        self.transport = transport
        self.codec = codec
        self.clock = clock
        self.sink = sink
        self.capture = capture
        self.reconnect = reconnect
        self.on_state = on_state
        self.session_id = session_id
        self.read_timeout_s = read_timeout_s
        self.tap = tap
        self.batch_sink = batch_sink
        self.coalesce_s = coalesce_s
        self.device_ref = device_ref
        self.health = SessionHealth()
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()
        self._readout_waiters: list[asyncio.Future[tuple[bool, str]]] = []

    # --- state ---------------------------------------------------------------------------------
    def _set_state(self, state: SessionState, reason: str = "", *, quiet: bool = False) -> None:
        """Record and report a state change.

        Args:
            quiet: a failing listener is logged instead of raised (used while the session is
                already ending, so that reporting the end cannot stop it from being recorded).
        """
        if state == self.health.state and reason == self.health.reason:
            return
        self.health.state, self.health.reason = state, reason
        log = logger.warning if state is SessionState.FAILED else logger.info
        log("%s: %s %s", self.label, state.value, reason)
        if self.on_state is not None:
            try:
                self.on_state(state, reason)
            except Exception:
                if not quiet:
                    raise
                logger.exception("%s: state listener failed", self.label)

    def stop(self) -> None:
        """Ask the session to end (call on the I/O thread)."""
        self._stop.set()
        self._wake.set()

    def request_readout(self) -> asyncio.Future[tuple[bool, str]]:
        """Ask a readout session (:meth:`poll_readouts`) to read the meter now (I/O thread).

        The future gets the (ok, reason) of the first readout that *starts* after this call (one
        already running may have begun before the caller's moment of interest, an outage's
        restore for instance); its readings flow to the sink like any other. A session that
        stops first answers (False, "stopped").
        """
        waiter: asyncio.Future[tuple[bool, str]] = asyncio.get_running_loop().create_future()
        if self.stopping:
            waiter.set_result((False, "stopped"))
            return waiter
        self._readout_waiters.append(waiter)
        self._wake.set()
        return waiter

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    # --- bytes in ------------------------------------------------------------------------------
    def _received(self, data: bytes) -> list[DeviceEvent]:
        now = self.clock.now()
        health = self.health
        health.bytes_in += len(data)
        health.last_seen = now
        self._count_rx_drops()
        if self.capture is not None:
            try:
                self.capture.write(data)
            finally:
                health.capture_bytes = self.capture.bytes_written
                health.capture_lost_bytes = self.capture.lost_bytes
        if self.tap is not None:
            self.tap("rx", data)
        decoded = self._decode(data)
        health.absorb(self.codec.stats)
        if not decoded:
            return []
        label, session_id, ref = self.label, self.session_id, self.device_ref
        out = [DeviceEvent(label, ev.kind, now, dict(ev.fields), ev.device_time, session_id, ref)
               for ev in decoded]
        self._deliver(out)
        return out

    def _decode(self, data: bytes) -> list[CodecEvent]:
        """Feed the codec; an exception from it becomes an error event for this chunk.

        Codecs report bad input as events and raise only :class:`CodecError`; anything else is a
        codec bug. Either way one bad chunk must not end the session: the codec is reset so that
        it resynchronises on the next chunk, and the fault is logged with its traceback.
        """
        try:
            return self.codec.feed(data)
        except CodecError as exc:
            return [CodecEvent(EventKind.ERROR, {"message": str(exc), "offset": exc.offset})]
        except Exception as exc:
            logger.exception("%s: codec failed on a chunk of %d bytes", self.label, len(data))
            try:
                self.codec.reset()
            except Exception:
                logger.exception("%s: codec reset failed", self.label)
            return [CodecEvent(EventKind.ERROR, {
                "message": f"decoder fault: {type(exc).__name__}: {exc}", "bytes": len(data),
            })]

    def _count_rx_drops(self) -> None:
        # Transports with a bounded receive buffer count what it dropped (cumulative).
        dropped = getattr(self.transport, "rx_overflow_bytes", 0)
        if isinstance(dropped, int):
            self.health.rx_dropped_bytes = dropped

    def _deliver(self, events: list[DeviceEvent]) -> None:
        if self.batch_sink is not None:
            self.batch_sink(events)
        else:
            sink = self.sink
            for ev in events:
                sink(ev)
        self.health.events += len(events)

    def _stamp(self, ev: CodecEvent, now: datetime) -> DeviceEvent:
        return DeviceEvent(
            device=self.label, kind=ev.kind, host_time=now, fields=dict(ev.fields),
            device_time=ev.device_time, session_id=self.session_id, device_ref=self.device_ref,
        )

    async def _coalesce(self, loop: asyncio.AbstractEventLoop) -> None:
        """Wait for the next tick of ``coalesce_s`` on the loop's clock (see the constructor)."""
        tick_s = self.coalesce_s
        wake_at = (math.floor(loop.time() / tick_s) + 1.0) * tick_s
        waiter: asyncio.Future[None] = loop.create_future()
        handle = loop.call_at(wake_at, _release, waiter)
        try:
            await waiter
        finally:
            handle.cancel()

    async def send(self, data: bytes) -> None:
        """Write bytes to the device (on the I/O thread)."""
        await self._write(data)

    async def _write(self, data: bytes) -> None:
        # Tapped before the write: a port's write can return after the device has answered and
        # the answer has been read, and a console ordered by tap (sequence) must show the
        # command before its reply however close together they are.
        if self.tap is not None:
            self.tap("tx", data)
        sent = await self.transport.write(data)
        self.health.bytes_out += sent

    async def _sleep_or_stop(self, delay_s: float) -> None:
        try:
            await asyncio.wait_for(self._stop.wait(), timeout=delay_s)
        except TimeoutError:
            pass

    async def _open(self, backoff: BackoffIterator, first: bool) -> bool:
        """Open the transport, retrying with backoff; False when stopped or giving up."""
        while not self.stopping:
            self._set_state(SessionState.CONNECTING if first else SessionState.RECONNECTING,
                            "" if first else self.health.reason)
            try:
                await self.transport.open()
                self._set_state(SessionState.CONNECTED)
                backoff.reset()
                return True
            except TransportError as exc:
                self._set_state(SessionState.FAILED, exc.message)
                if not self.reconnect.enabled or exc.reason is TransportErrorReason.UNAVAILABLE:
                    return False
            first = False
            self.health.reconnects += 1
            await self._sleep_or_stop(backoff.next())
        return False

    # --- the connection loop shared by every protocol ----------------------------------------
    async def _keep_connected(self, work: Callable[[], Awaitable[bool]]) -> None:
        """Open the transport and run `work` until it returns True or the session stops.

        A transport failure closes the link, resets the codec and reopens with backoff (or ends
        in ``failed`` when reconnecting is off); the state ends ``disconnected`` unless failed.
        """
        backoff = self.reconnect.delays()
        first = True
        try:
            while not self.stopping:
                if not await self._open(backoff, first):
                    return
                first = False
                try:
                    if await work():
                        return
                except TransportError as exc:
                    await self.transport.close()
                    self.codec.reset()
                    if not self.reconnect.enabled:
                        self._set_state(SessionState.FAILED, exc.message)
                        return
                    self._set_state(SessionState.RECONNECTING, exc.message)
                    self.health.reconnects += 1
                    await self._sleep_or_stop(backoff.next())
        except CaptureWriteError as exc:
            # Reading on without a capture would leave evidence with a hole nobody sees.
            logger.error("%s: capture failed: %s", self.label, exc)
            self._set_state(SessionState.FAILED, str(exc), quiet=True)
        except Exception as exc:
            # Not a hardware fault: a faulty sink, listener or tap. The session cannot go on
            # safely, but the user must see why it stopped (and the log keeps the traceback).
            logger.exception("%s: session ended by an unexpected error", self.label)
            self._set_state(SessionState.FAILED, failure_reason(exc), quiet=True)
        finally:
            await self.transport.close()
            self._count_rx_drops()
            if self.health.state is not SessionState.FAILED:
                self._set_state(SessionState.DISCONNECTED, quiet=True)

    # --- streaming protocols -------------------------------------------------------------------
    async def run(self, max_events: int | None = None) -> None:
        """Read, decode and deliver until stopped (or `max_events` events were delivered)."""
        loop = asyncio.get_running_loop()
        delivered = 0

        async def stream() -> bool:
            nonlocal delivered
            while not self.stopping:
                data = await self.transport.read(READ_MAX_BYTES, timeout_s=self.read_timeout_s)
                if data:
                    delivered += len(self._received(data))
                    if max_events is not None and delivered >= max_events:
                        return True
                    if self.coalesce_s > 0:
                        await self._coalesce(loop)
            return True

        await self._keep_connected(stream)

    # --- IEC 62056-21 readout ------------------------------------------------------------------
    async def readout(self, reply_timeout_s: float = 3.0) -> tuple[bool, str]:
        """One IEC 62056-21 readout over an open transport.

        Returns:
            (True, "") when a data message was read and passed its check, else (False, why).

        The request goes out at 300 baud 7E1; on the meter's identification the client answers
        with an option select and both sides switch to the offered rate (IEC 62056-21 6.3.3).
        """
        client = self.codec
        if not isinstance(client, IecReadoutClient):
            raise TypeError("readout needs an IecReadoutClient codec")
        set_line = getattr(self.transport, "set_line", None)
        if set_line is not None:
            await set_line(300, 7, "E", 1)
        await self._write(client.start())
        loop = asyncio.get_running_loop()
        deadline = loop.time() + reply_timeout_s
        baud = 300
        last_sent = b""
        while not self.stopping:
            remaining = deadline - loop.time()
            if remaining <= 0:
                ev = client.timeout()
                self.health.absorb(client.stats)
                self._deliver([self._stamp(ev, self.clock.now())])
                return False, str(ev.fields.get("message", "no reply"))
            data = await self.transport.read(4096, timeout_s=min(remaining, 0.2))
            if data:
                for ev in self._received(data):
                    if ev.kind is EventKind.ERROR and ev.fields.get("step") == "data":
                        # A data message that failed its BCC: rejected, nothing read.
                        client.take_actions()
                        return False, str(ev.fields.get("message", "data message rejected"))
            for action in client.take_actions():
                if isinstance(action, Send):
                    await self._write(action.data)
                    last_sent = action.data
                    deadline = loop.time() + reply_timeout_s
                elif isinstance(action, SetBaud):
                    if set_line is not None:
                        # Let the option select leave the port at the old rate first: 10 bits a
                        # character on a 7E1 line.
                        await asyncio.sleep(len(last_sent) * 10 / baud + 0.02)
                        await set_line(action.baud, 7, "E", 1)
                    baud = action.baud
                elif isinstance(action, Done):
                    return action.ok, action.reason
        return False, "stopped"

    async def poll_readouts(self, poll_s: float, reply_timeout_s: float = 3.0) -> None:
        """IEC 62056-21: read the meter now and every `poll_s` seconds until stopped.

        A readout that gets no answer leaves the session connected with the reason shown (the
        probe may have slipped); a port that fails is reopened with backoff.
        """

        async def poll() -> bool:
            while not self.stopping:
                self._wake.clear()
                waiters, self._readout_waiters = self._readout_waiters, []
                try:
                    ok, reason = await self.readout(reply_timeout_s)
                except BaseException:
                    # Not answered: the next readout (after a reconnect) serves them.
                    self._readout_waiters[:0] = waiters
                    raise
                for waiter in waiters:
                    if not waiter.done():
                        waiter.set_result((ok, reason))
                self._set_state(SessionState.CONNECTED, "" if ok else f"last readout failed: {reason}")
                if not self._readout_waiters:
                    await self._sleep_or_woken(poll_s)
            return True

        try:
            await self._keep_connected(poll)
        finally:
            waiters, self._readout_waiters = self._readout_waiters, []
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result((False, "stopped"))

    async def _sleep_or_woken(self, delay_s: float) -> None:
        """Sleep until `delay_s` passes, a readout is requested or the session stops."""
        try:
            await asyncio.wait_for(self._wake.wait(), timeout=delay_s)
        except TimeoutError:
            pass


def failure_reason(exc: BaseException) -> str:
    """One line for the user saying why a session ended on an unexpected error."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"internal error: {type(exc).__name__}" + (f": {text}" if text else "")


def _release(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
