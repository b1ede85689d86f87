"""How a run reaches its bench: the relay, on-demand readouts, the event stream, the evidence.

A run measures only through the event stream the Live page sees (the device manager's event
queue): the relay's ground truth, the Comms Hub's log, the meter's alerts and readouts all arrive
there as :class:`DeviceEvent` values. The link adds nothing the devices did not say; it only asks
for things to happen (switch a relay channel, read the meter now) and listens.

Clocks
------
Three clocks meet in a run, and every measurement says which it is on:

- **host time**: the workstation's clock (the runtime's :class:`Clock`). Every event's
  ``host_time`` (when MeterLab received it) and every relay acknowledgement is host time. Host
  time always runs at real speed.
- **bench time**: the clock of the devices under test. An event's ``device_time`` (the hub's
  ``start=``/``at=`` of an outage, an alert's time inside its APDU, a log line's time) is bench
  time. On a real bench, bench time *is* real time (time scale 1) and the devices' clocks are
  meant to agree with the host's, so any disagreement is a measured error, not a conversion.
  An emulated bench runs ``time_scale`` times fast (:mod:`devices.emulator.clock`):
  ``bench = start + (monotonic - t0) * time_scale``.
- **real seconds**: how long the host actually waits.

Conversions (:class:`BenchClock`):

- Every duration in a plan (an outage's ``duration_s``, a wait's ``seconds``, ``alert_wait_s``,
  ``readable_within_s``, ``within_s``, step time limits) is in bench seconds; the host sleeps
  ``bench_s / time_scale`` real seconds (:meth:`BenchClock.real_s`).
- A span between two host moments (two relay acknowledgements, a restore and the end of a good
  readout) is ``real span * time_scale`` bench seconds (:meth:`BenchClock.span_s`): the bench lived
  that much meanwhile.
- A host moment is placed on the bench clock through an anchor, a pair (host time, bench time)
  read together when the link is made (:meth:`BenchClock.to_bench`); on a real bench the anchor
  is the identity. This is how the hub's outage record (bench time) is compared with the relay's
  acknowledgement (host time): ``|hub start - to_bench(cut ack)|``, in bench seconds.
- The host's own delays do not run fast: a reply over a pseudo-terminal, the session's 50 ms
  read coalescing, the loop's scheduling take the same real milliseconds at any time scale. Placed
  on a bench running 60 times fast, 50 ms of host delay looks like 3 bench seconds. So a
  *latency* (from a moment a device dated to the moment the host received it) is split where the
  device says it handed the event on: ``restore_alert_latency_s = (log time - alert time)`` in
  bench seconds, both from the hub's own log line, ``+ (host receipt - to_host(log time))`` in
  real seconds, unscaled. At time scale 1 the sum is exactly ``host receipt - alert time``. An
  event without a log time is measured as ``to_bench(host receipt) - event time``.
  Comparisons with the relay's acknowledgement cannot be split that way (the acknowledgement is
  the ground truth, and it is host time): their resolution on a fast bench is the relay's round
  trip (a few milliseconds) times the time scale, well inside the default 10 s tolerance.
- Operator prompts are real seconds: a person answers in real time, whatever the bench's speed.

Evidence
--------
:meth:`RuntimeBenchLink.evidence` lists the capture sessions of the bench's devices that overlap
the run. A closed session gives its stored size and SHA-256. A session still open (the usual case:
capture goes on after a run) gives the size of its file at that moment and the SHA-256 of exactly
those first bytes; the file only grows, so the figure can be checked against the file later by
hashing its first ``bytes`` bytes.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from app.domain.clock import Clock
from app.domain.devices import Device, DeviceKind
from app.domain.events import DeviceEvent, EventKind
from app.services.ingest import EventQueue
from app.services.runs.api import RunEvidenceItem
from app.storage.capture_sessions import CaptureSessionRepo
from app.storage.db import connect
from devices.sessions import SessionState

if TYPE_CHECKING:
    from app.services.runtime import DeviceRuntime


class BenchError(Exception):
    """The bench failed (a relay that did not acknowledge, a port gone): the step is ERROR.

    The message is one sentence for the user.
    """


class NoReadingError(Exception):
    """The meter gave no good readout (no answer, a rejected data message): the device's
    fault, so what it should have measured is UNSET and the step FAILs."""


@dataclass(frozen=True)
class BenchClock:
    """Host time and bench time (see the module's "Clocks").

    Attributes:
        time_scale: bench seconds per real second (1 on a real bench).
        host_anchor, bench_anchor: the same instant on both clocks (None: the identity).
    """

    time_scale: float = 1.0
    host_anchor: datetime | None = None
    bench_anchor: datetime | None = None

    @classmethod
    def sampled(cls, host: Clock, bench: Clock, time_scale: float) -> BenchClock:
        """An anchor read from both clocks at once (the tighter of two readings of the host)."""
        before = host.now()
        on_bench = bench.now()
        after = host.now()
        return cls(time_scale, before + (after - before) / 2, on_bench)

    def real_s(self, bench_s: float) -> float:
        """Real seconds to wait for `bench_s` bench seconds."""
        return bench_s / self.time_scale

    def bench_s(self, real_s: float) -> float:
        """Bench seconds that pass in `real_s` real seconds."""
        return real_s * self.time_scale

    def span_s(self, host_from: datetime, host_to: datetime) -> float:
        """Bench seconds between two host moments."""
        return (host_to - host_from).total_seconds() * self.time_scale

    def to_bench(self, host: datetime) -> datetime:
        """A host moment on the bench clock."""
        if self.host_anchor is None or self.bench_anchor is None:
            return host
        return self.bench_anchor + (host - self.host_anchor) * self.time_scale

    def to_host(self, bench: datetime) -> datetime:
        """A bench moment on the host clock."""
        if self.host_anchor is None or self.bench_anchor is None:
            return bench
        return self.host_anchor + (bench - self.bench_anchor) / self.time_scale


class EventStream:
    """The events of some devices from the moment of subscribing, for one coroutine.

    Fed from any thread (cheaply: on the loop's own thread events are appended at once, from
    another they are handed over with ``call_soon_threadsafe``); read on the loop. Close it (or
    use ``with``) to stop receiving.

    Attributes:
        counts: events received per (device, kind value), kept or not.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, devices: frozenset[str] | None,
                 on_close: Callable[[EventStream], None], keep: bool = True) -> None:
        self._loop = loop
        self._thread = threading.get_ident()
        self._devices = devices
        self._on_close = on_close
        self._items: collections.deque[DeviceEvent] = collections.deque()
        self._waiter: asyncio.Future[None] | None = None
        self._keep = keep
        self.counts: collections.Counter[tuple[str, str]] = collections.Counter()
        self.closed = False

    def feed(self, events: list[DeviceEvent]) -> None:
        """Take a batch (any thread; must stay quick)."""
        if self.closed:
            return
        devices = self._devices
        wanted = events if devices is None else [e for e in events if e.device in devices]
        if not wanted:
            return
        if threading.get_ident() == self._thread:
            self._push(wanted)
        else:
            self._loop.call_soon_threadsafe(self._push, wanted)

    def _push(self, events: list[DeviceEvent]) -> None:
        self.counts.update((e.device, e.kind.value) for e in events)
        if not self._keep:
            return
        self._items.extend(events)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def next(self, timeout_s: float) -> DeviceEvent | None:
        """The next event, or None when none came within `timeout_s` real seconds."""
        if not self._items and timeout_s > 0:
            self._waiter = self._loop.create_future()
            try:
                await asyncio.wait_for(self._waiter, timeout_s)
            except TimeoutError:
                pass
            finally:
                self._waiter = None
        return self._items.popleft() if self._items else None

    def drain(self) -> list[DeviceEvent]:
        """Every event received and not yet taken."""
        items = list(self._items)
        self._items.clear()
        return items

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._on_close(self)

    def __enter__(self) -> EventStream:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


class EventFanout:
    """One listener on the event queue that hands each batch to the open streams.

    The queue's listeners are for the life of the application; streams come and go with runs and
    steps, so they hang off this single listener instead.
    """

    def __init__(self, events: EventQueue) -> None:
        self._lock = threading.Lock()
        self._streams: tuple[EventStream, ...] = ()
        events.add_batch_listener(self._on_batch)

    def _on_batch(self, events: list[DeviceEvent]) -> None:
        for stream in self._streams:  # a tuple swapped whole: safe to read without the lock
            stream.feed(events)

    def open(self, devices: Iterable[str] | None = None, keep: bool = True) -> EventStream:
        """A stream of the events of `devices` (None: all), from now; call on the loop.
        With ``keep=False`` it only counts them (for a whole run)."""
        stream = EventStream(asyncio.get_running_loop(),
                             None if devices is None else frozenset(devices), self._remove, keep)
        with self._lock:
            self._streams = (*self._streams, stream)
        return stream

    def _remove(self, stream: EventStream) -> None:
        with self._lock:
            self._streams = tuple(s for s in self._streams if s is not stream)

    @property
    def open_streams(self) -> int:
        return len(self._streams)


class BenchLink(Protocol):
    """What a run needs from its bench. Every coroutine runs on the I/O loop.

    Attributes:
        bench: the bench's name.
        clock: host and bench time.
        emulated: whether the bench is the emulator.
        relay_label, esme_label, chf_label: the bench's devices of those kinds ("" if none).
        esme_eui: the meter's device id (alerts relayed by the hub name their originator by it).
    """

    bench: str
    clock: BenchClock
    emulated: bool
    relay_label: str
    esme_label: str
    chf_label: str
    esme_eui: str

    def now(self) -> datetime:
        """Host time now."""
        ...

    def labels(self, kind: str) -> tuple[str, ...]:
        """The bench's device labels of a kind (``ESME``, ``CHF``, ...)."""
        ...

    async def switch(self, channel: int, on: bool, timeout_s: float = 3.0) -> datetime:
        """Switch a relay channel; the host time of the board's acknowledgement.

        Raises:
            BenchError: no relay, not connected, no acknowledgement, refused.
        """
        ...

    def ensure_connected(self, label: str) -> None:
        """Raise BenchError when the device's session is not connected (its port gone...)."""
        ...

    def subscribe(self, keep: bool = True) -> EventStream:
        """The events of the bench's devices from now on (close it when done); with
        ``keep=False`` only counted."""
        ...

    async def read_now(self, label: str, timeout_s: float) -> list[DeviceEvent]:
        """Read a meter now; the READING events of that readout (also in the event stream).

        Raises:
            BenchError: the device is not connected or its port failed.
            NoReadingError: the meter gave no good readout within `timeout_s` real seconds.
        """
        ...

    async def evidence(self, since: datetime) -> list[RunEvidenceItem]:
        """The capture sessions of the bench's devices that overlap [since, now]."""
        ...


class RuntimeBenchLink:
    """A :class:`BenchLink` over the application's :class:`DeviceRuntime`.

    Args:
        runtime: the running device runtime (its I/O loop, event queue and device manager).
        bench: the bench's name.
        devices: the device registry (the bench's devices are those with ``bench == bench``).
        fanout: the runtime's shared event fan-out (made here if not given; give one per runtime
            so that links do not each add a queue listener).
        clock: host/bench time; by default the identity on a real bench, and on the emulated
            bench an anchor read from the emulator's clock.
    """

    def __init__(self, runtime: DeviceRuntime, bench: str, devices: Iterable[Device],
                 fanout: EventFanout | None = None, clock: BenchClock | None = None) -> None:
        self.runtime = runtime
        self.bench = bench
        self.devices = [d for d in devices if d.bench == bench]
        self.fanout = fanout or EventFanout(runtime.events)
        self.emulated = any(d.connection.transport == "emulator" for d in self.devices)
        self.relay_label = self._first(DeviceKind.RELAY)
        self.esme_label = self._first(DeviceKind.ESME)
        self.chf_label = self._first(DeviceKind.CHF)
        esme = next((d for d in self.devices if d.label == self.esme_label), None)
        self.esme_eui = (esme.device_id if esme else "").upper()
        if clock is None:
            emulator = runtime.emulator
            if self.emulated and emulator is not None:
                bench_clock = emulator.bench.clock
                clock = BenchClock.sampled(runtime.clock, bench_clock, bench_clock.time_scale)
            else:
                clock = BenchClock()
        self.clock = clock

    def _first(self, kind: DeviceKind) -> str:
        return next((d.label for d in self.devices if d.kind is kind), "")

    def labels(self, kind: str) -> tuple[str, ...]:
        return tuple(d.label for d in self.devices if d.kind.value == kind)

    def now(self) -> datetime:
        return self.runtime.clock.now()

    def subscribe(self, keep: bool = True) -> EventStream:
        return self.fanout.open((d.label for d in self.devices), keep)

    async def switch(self, channel: int, on: bool, timeout_s: float = 3.0) -> datetime:
        if not self.relay_label:
            raise BenchError(f"{self.bench} has no relay board in the device registry.")
        future = self.runtime.manager.switch_supply_acked(
            self.relay_label, self.bench, off=not on, channel=channel, timeout_s=timeout_s)
        try:
            why, ack = await asyncio.wait_for(asyncio.wrap_future(future), timeout_s + 2.0)
        except TimeoutError:
            raise BenchError(f"{self.relay_label} did not acknowledge within "
                             f"{timeout_s:g} s.") from None
        if why or ack is None:
            raise BenchError(why or f"{self.relay_label} did not acknowledge.")
        return ack

    def ensure_connected(self, label: str) -> None:
        health = self.runtime.manager.health(label)
        if label not in self.runtime.manager.connected_labels() or health is None:
            raise BenchError(f"{label} is not connected.")
        why = f": {health.reason.rstrip('.')}" if health.reason else ""
        if health.state is SessionState.FAILED:
            raise BenchError(f"{label} failed{why}.")
        if health.state in (SessionState.RECONNECTING, SessionState.DISCONNECTED):
            raise BenchError(f"{label} is {health.state.value}{why}.")

    async def read_now(self, label: str, timeout_s: float) -> list[DeviceEvent]:
        self.ensure_connected(label)
        with self.fanout.open((label,)) as stream:
            future = self.runtime.manager.read_now(label)
            try:
                ok, reason = await asyncio.wait_for(asyncio.wrap_future(future), timeout_s)
            except TimeoutError:
                self.ensure_connected(label)
                raise NoReadingError(f"{label} gave no readout within {timeout_s:g} s.") from None
            if not ok:
                if reason == "stopped" or reason.endswith("not connected."):
                    raise BenchError(f"{label} stopped before its readout." if reason == "stopped"
                                     else reason)
                raise NoReadingError(f"{label}: {reason}")
            return [e for e in stream.drain() if e.kind is EventKind.READING]

    async def evidence(self, since: datetime) -> list[RunEvidenceItem]:
        labels = [d.label for d in self.devices]
        db_path = self.runtime.manager.db_path
        now = self.now()
        return await asyncio.to_thread(_evidence, db_path, labels, since, now)


def _evidence(db_path: Path, labels: list[str], since: datetime,
              now: datetime) -> list[RunEvidenceItem]:
    conn = connect(db_path)
    try:
        repo = CaptureSessionRepo(conn)
        rows = [row for label in labels for row in repo.list(device=label)]
    finally:
        conn.close()
    items = []
    for row in sorted(rows, key=lambda r: int(r["id"])):
        started, ended = row["started_at"], row["ended_at"]
        if started is not None and started > now + timedelta(seconds=1):
            continue
        if ended is not None and ended < since:
            continue
        path = str(row.get("capture_path") or "")
        if ended is not None:
            items.append(RunEvidenceItem(int(row["id"]), str(row["device"]), path,
                                         int(row.get("bytes_in") or 0), str(row["sha256"] or "")))
            continue
        size, digest = _prefix_hash(Path(path)) if path else (0, "")
        items.append(RunEvidenceItem(int(row["id"]), str(row["device"]), path, size, digest))
    return items


def _prefix_hash(path: Path) -> tuple[int, str]:
    """The size of a growing file now and the SHA-256 of exactly those bytes."""
    try:
        size = path.stat().st_size
        h = hashlib.sha256()
        left = size
        with open(path, "rb") as f:
            while left > 0:
                chunk = f.read(min(left, 1 << 20))
                if not chunk:
                    break
                h.update(chunk)
                left -= len(chunk)
        return size - left, h.hexdigest()
    except OSError:
        return 0, ""


class RuntimeLinks:
    """Makes the link of each bench over one runtime, sharing one event fan-out."""

    def __init__(self, runtime: DeviceRuntime, devices: Iterable[Device]) -> None:
        self.runtime = runtime
        self.devices = list(devices)
        self.fanout = EventFanout(runtime.events)

    def __call__(self, bench: str) -> RuntimeBenchLink:
        return RuntimeBenchLink(self.runtime, bench, self.devices, self.fanout)


LinkFactory = Callable[[str], BenchLink]

__all__ = ["BenchClock", "BenchError", "BenchLink", "EventFanout", "EventStream", "LinkFactory",
           "NoReadingError", "RuntimeBenchLink", "RuntimeLinks"]
