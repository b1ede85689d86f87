"""Running an emulated bench on pseudo-terminals: a context manager for tests and a blocking runner
for the ``meterlab emulate`` command."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from types import TracebackType

from devices.emulator.bench import BenchConfig, EmulatedBench
from devices.emulator.faults import Fault
from devices.emulator.power import PlannedOutage
from devices.emulator.pty_host import PtyHost


class EmulatorHost:
    """Serves a bench's endpoints on ptys for the duration of a ``with`` block.

    Example::

        with EmulatorHost(EmulatedBench(BenchConfig(time_scale=60))) as host:
            serial.Serial(host.ports["esme_optical"], 300, bytesize=7, parity="E")

    Args:
        bench: the bench to serve.
        poll_interval_s: how often endpoints are asked for time-driven output.
    """

    def __init__(self, bench: EmulatedBench, poll_interval_s: float = 0.01) -> None:
        self.bench = bench
        self._host = PtyHost(bench.endpoints(), poll_interval_s=poll_interval_s)

    @property
    def ports(self) -> dict[str, str]:
        """Slave path per port name: ``esme_optical``, ``ch_debug``, ``relay``."""
        return self._host.ports

    def close_port(self, name: str) -> None:
        """Make one port vanish (its slave path disappears; an open host handle fails)."""
        self._host.close_port(name)

    def __enter__(self) -> EmulatorHost:
        self._host.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._host.stop()


def run_emulator(
    seconds: float | None,
    time_scale: float,
    alert_rate_per_min: float,
    on_ready: Callable[[dict[str, str]], None],
    stop_event: threading.Event | None = None,
    seed: int | None = None,
    outage_plan: Iterable[PlannedOutage | tuple[float, float]] | None = None,
    faults: Iterable[Fault] = (),
) -> None:
    """Serve an emulated bench on ptys until stopped or ``seconds`` have passed.

    Args:
        seconds: real seconds to run (None: until ``stop_event`` is set).
        time_scale: emulated seconds per real second.
        alert_rate_per_min: routine hub alerts per real minute.
        on_ready: called once with the port paths, e.g.
            ``{"esme_optical": "/dev/pts/5", "ch_debug": "/dev/pts/6", "relay": "/dev/pts/7"}``.
        stop_event: set it from another thread to stop early.
        seed: makes the bench's output reproducible.
        outage_plan: scripted outages ``(start_after_s real, duration_emulated_s)``.
        faults: deliberate faults of the bench (see :mod:`devices.emulator.faults`).

    Raises:
        ValueError: a setting is out of range (the message names the setting).
    """
    if seconds is not None and seconds < 0:
        raise ValueError(f"seconds: expected 0 or more, got {seconds!r}.")
    config = BenchConfig(
        time_scale=time_scale,
        alert_rate_per_min=alert_rate_per_min,
        seed=seed,
        outage_plan=list(outage_plan or ()),
        faults=tuple(faults),
    )
    stop = stop_event or threading.Event()
    with EmulatorHost(EmulatedBench(config)) as host:
        on_ready(host.ports)
        if seconds is None:
            stop.wait()
            return
        deadline_s = time.monotonic() + seconds
        while not stop.is_set():
            remaining_s = deadline_s - time.monotonic()
            if remaining_s <= 0:
                break
            stop.wait(remaining_s)
