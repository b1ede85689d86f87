"""Emulated Comms Hub debug ports for the ingest benchmark, served from a child process.

The emulated hubs stand in for hardware outside the workstation: they run in their own process
(one :class:`~devices.emulator.pty_host.PtyHost` serving every hub on its own pseudo-terminal), so
the MeterLab process under measurement pays only for what it would pay with real Comms Hubs on USB
serial adapters: reading, decoding and storing.

What each hub sent is counted where it leaves the emulator (bytes and line feeds handed to the
pty), behind a gate: output made before the host opened its ports (which discard pending input
on open) or after the measurement ended is not counted, and is not sent.
"""

from __future__ import annotations

import multiprocessing
import resource
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection

from devices.emulator.bench import BenchConfig, EmulatedBench
from devices.emulator.endpoint import EmulatedEndpoint
from devices.emulator.pacing import BITS_PER_BYTE_8N1
from devices.emulator.pty_host import PtyHost

#: Average length of a hub noise line, CR LF included (measured on the emulator's output).
NOISE_LINE_BYTES = 62.0
#: Average length of a routine alert line (a GBCS alert APDU in hex is most of it).
ALERT_LINE_BYTES = 330.0


@dataclass(frozen=True)
class HubTraffic:
    """How busy each emulated hub is.

    Attributes:
        baud: line speed each port is paced to (``baud / 10`` bytes per second, 8N1).
        line_fill: share of the line's capacity the hub's log aims to use (0 < fill <= 1).
        alert_rate_per_min: routine GBCS alerts per real minute per hub.
    """

    baud: int = 115200
    line_fill: float = 0.95
    alert_rate_per_min: float = 120.0

    def noise_lines_per_s(self) -> float:
        """Noise lines per second that, with the alerts, fill ``line_fill`` of the line."""
        budget = self.baud / BITS_PER_BYTE_8N1 * self.line_fill
        budget -= self.alert_rate_per_min / 60.0 * ALERT_LINE_BYTES
        return max(budget / NOISE_LINE_BYTES, 0.1)


@dataclass(frozen=True)
class HubCounts:
    """What the hubs sent while the gate was open."""

    bytes_sent: dict[str, int]
    lines_sent: dict[str, int]
    hub_dropped_bytes: int
    cpu_s: float


class CountingEndpoint:
    """Wraps an endpoint: counts the bytes and line feeds it sends while the gate is open.

    Output made while the gate is closed is discarded, as a device's output is lost when nobody
    listens. Thread-safe: the pty host calls :meth:`pending_output` from its own thread.
    """

    def __init__(self, endpoint: EmulatedEndpoint) -> None:
        self.endpoint = endpoint
        self.bytes_sent = 0
        self.lines_sent = 0
        self._open = False
        self._lock = threading.Lock()

    def set_gate(self, is_open: bool) -> None:
        with self._lock:
            self._open = is_open

    def handle_input(self, data: bytes) -> None:
        self.endpoint.handle_input(data)

    def pending_output(self, now_s: float) -> bytes:
        data = self.endpoint.pending_output(now_s)
        with self._lock:
            if not self._open:
                return b""
            self.bytes_sent += len(data)
            self.lines_sent += data.count(b"\n")
        return data


def serve_hubs(conn: Connection, count: int, traffic: HubTraffic, seed: int) -> None:
    """Child process: serve ``count`` hubs on ptys and obey commands from ``conn``.

    Sends ``{"ports": {name: path}}`` once serving (or ``{"error": sentence}``), then answers:
    ``"open"`` (start sending and counting), ``"close"`` (stop; replies with the counts as a
    :class:`HubCounts`), ``"stop"`` (close the ptys and end).
    """
    benches = [
        EmulatedBench(
            BenchConfig(
                pace_baud=traffic.baud,
                noise_lines_per_s=traffic.noise_lines_per_s(),
                alert_rate_per_min=traffic.alert_rate_per_min,
                seed=seed + index,
            )
        )
        for index in range(count)
    ]
    endpoints = {f"hub{index + 1:03d}": CountingEndpoint(b.comms_hub) for index, b in
                 enumerate(benches)}
    host = PtyHost(endpoints)
    try:
        host.start()
    except OSError as exc:
        conn.send({"error": f"cannot open {count} pseudo-terminals: {exc.strerror or exc}"})
        return
    cpu_at_open = 0.0
    try:
        conn.send({"ports": host.ports})
        while True:
            command = conn.recv()
            if command == "open":
                cpu_at_open = _cpu_s()
                for endpoint in endpoints.values():
                    endpoint.set_gate(True)
            elif command == "close":
                for endpoint in endpoints.values():
                    endpoint.set_gate(False)
                conn.send(HubCounts(
                    bytes_sent={n: e.bytes_sent for n, e in endpoints.items()},
                    lines_sent={n: e.lines_sent for n, e in endpoints.items()},
                    hub_dropped_bytes=sum(b.comms_hub.dropped_bytes for b in benches),
                    cpu_s=_cpu_s() - cpu_at_open,
                ))
            else:
                return
    except (EOFError, OSError):
        return  # the parent went away: nothing left to serve
    finally:
        host.stop()


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class HubProcessError(RuntimeError):
    """The emulated hubs could not be started or stopped answering; the message says why."""


class EmulatedHubs:
    """The parent's handle on the hub process.

    Args:
        count: number of hubs (one pty each).
        traffic: pacing and rates.
        seed: makes the hubs' output reproducible.
        timeout_s: how long to wait for the child to answer a command.
    """

    def __init__(self, count: int, traffic: HubTraffic, seed: int = 1,
                 timeout_s: float = 30.0) -> None:
        self.count = count
        self.traffic = traffic
        self.seed = seed
        self.timeout_s = timeout_s
        self.ports: dict[str, str] = {}
        self._conn: Connection | None = None
        self._process: multiprocessing.process.BaseProcess | None = None

    def start(self) -> dict[str, str]:
        """Start the child and return the pty path of each hub."""
        # "spawn": the parent already runs threads, which fork would copy in a broken state.
        context = multiprocessing.get_context("spawn")
        parent_end, child_end = context.Pipe()
        self._process = context.Process(
            target=serve_hubs, args=(child_end, self.count, self.traffic, self.seed),
            name="meterlab-bench-hubs", daemon=True,
        )
        self._process.start()
        child_end.close()
        self._conn = parent_end
        reply = self._receive()
        if "error" in reply:
            self.stop()
            raise HubProcessError(reply["error"])
        self.ports = dict(reply["ports"])
        return self.ports

    def open_gate(self) -> None:
        """Start sending (and counting) on every hub."""
        self._send("open")

    def close_gate(self) -> HubCounts:
        """Stop sending; return what was sent since :meth:`open_gate`."""
        self._send("close")
        counts = self._receive()
        assert isinstance(counts, HubCounts)
        return counts

    def stop(self, timeout_s: float = 5.0) -> None:
        """Close the ptys and end the child (killed if it does not end in time)."""
        if self._conn is not None:
            try:
                self._conn.send("stop")
            except OSError:
                pass
        if self._process is not None:
            self._process.join(timeout_s)
            if self._process.is_alive():
                self._process.kill()
                self._process.join(timeout_s)
            self._process = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _send(self, command: str) -> None:
        if self._conn is None:
            raise HubProcessError("the emulated hubs are not running")
        self._conn.send(command)

    def _receive(self) -> object:
        if self._conn is None:
            raise HubProcessError("the emulated hubs are not running")
        deadline = time.monotonic() + self.timeout_s
        while not self._conn.poll(0.1):
            if self._process is not None and not self._process.is_alive():
                raise HubProcessError("the emulated hub process ended unexpectedly")
            if time.monotonic() > deadline:
                raise HubProcessError(
                    f"the emulated hub process did not answer within {self.timeout_s:g} s")
        return self._conn.recv()
