"""Bench mains power shared by the emulated devices, its outage history, and the meter registers.

Power can be cut by the relay board (channel 1 is wired to the bench mains) or by a scripted
outage plan used for demos. The bench is powered only while nothing cuts it; an outage starts when
the first cut begins and ends when the last one is lifted.

Every method takes the caller's monotonic reading ``now_s`` so that devices written sans-I/O can be
driven by a test's hand-advanced time as well as by the pty carrier's real time.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from devices.emulator.clock import ScaledClock


class CutSource(str, Enum):
    """What is holding the bench mains off."""

    RELAY = "relay"
    PLAN = "plan"


@dataclass(frozen=True, slots=True)
class PlannedOutage:
    """One scripted outage.

    Attributes:
        start_after_s: real seconds after the bench clock's start at which the supply is cut.
        duration_emulated_s: how long the outage lasts on the emulated clock.
    """

    start_after_s: float
    duration_emulated_s: float

    def __post_init__(self) -> None:
        if self.start_after_s < 0 or self.duration_emulated_s <= 0:
            raise ValueError(
                "a planned outage needs start_after_s >= 0 and duration_emulated_s > 0, "
                f"got ({self.start_after_s}, {self.duration_emulated_s})"
            )


@dataclass(frozen=True, slots=True)
class Outage:
    """One loss of bench mains, with emulated wall times and the monotonic readings behind them.

    Attributes:
        start: emulated time the supply was lost (UTC).
        end: emulated time it came back, or None while the outage lasts.
        start_mono_s: monotonic reading at ``start``.
        end_mono_s: monotonic reading at ``end``, or None.
    """

    start: datetime
    end: datetime | None
    start_mono_s: float
    end_mono_s: float | None

    @property
    def duration_s(self) -> float | None:
        """Emulated length of a finished outage in seconds (None while it lasts)."""
        if self.end is None:
            return None
        return (self.end - self.start).total_seconds()


#: ESME power event codes (GBCS alert code table).
SUPPLY_INTERRUPTED = 0x8F57  # logged in the meter's power event log, not sent over the WAN
SUPPLY_RESTORED = 0x8F35
SUPPLY_RESTORED_LONG = 0x8F36  # outage >= 3 minutes; critical, sent to the network operator
LONG_OUTAGE_S = 180.0


def restore_alert_code(duration_s: float) -> int:
    """The ESME's restore alert for an outage of ``duration_s`` emulated seconds."""
    return SUPPLY_RESTORED_LONG if duration_s >= LONG_OUTAGE_S else SUPPLY_RESTORED


@dataclass(frozen=True, slots=True)
class PowerEvent:
    """One entry of the ESME's power event log.

    Attributes:
        at: emulated time of the event (UTC).
        alert_code: 8F57 at loss of supply, 8F35 or 8F36 at its return.
    """

    at: datetime
    alert_code: int


def power_event_log(outages: Iterable[Outage]) -> list[PowerEvent]:
    """The ESME's power event log for an outage history, oldest first."""
    events: list[PowerEvent] = []
    for outage in outages:
        events.append(PowerEvent(outage.start, SUPPLY_INTERRUPTED))
        if outage.end is not None and outage.duration_s is not None:
            events.append(PowerEvent(outage.end, restore_alert_code(outage.duration_s)))
    return events


def as_plan(plan: Iterable[PlannedOutage | tuple[float, float]] | None) -> list[PlannedOutage]:
    """Accept planned outages as objects or ``(start_after_s, duration_emulated_s)`` pairs."""
    result: list[PlannedOutage] = []
    for item in plan or ():
        result.append(item if isinstance(item, PlannedOutage) else PlannedOutage(*item))
    return result


class BenchPower:
    """The bench mains: on/off state, cut sources, and the outage history.

    Thread-safe: the pty carrier's thread and a test's thread may both use it.

    Args:
        clock: the bench's scaled clock (turns monotonic readings into emulated times).
        plan: scripted outages applied as time passes, independent of the relay.
    """

    def __init__(self, clock: ScaledClock, plan: Sequence[PlannedOutage] = ()) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._cuts: dict[CutSource, int] = {source: 0 for source in CutSource}
        self._outages: list[Outage] = []
        # Scripted transitions as (monotonic reading, +1 cut / -1 lift), applied lazily in order.
        transitions: list[tuple[float, int]] = []
        for item in plan:
            start_mono_s = clock.t0_s + item.start_after_s
            transitions.append((start_mono_s, +1))
            transitions.append((start_mono_s + clock.real_s(item.duration_emulated_s), -1))
        self._plan = sorted(transitions)
        self._plan_index = 0

    @property
    def clock(self) -> ScaledClock:
        """The bench clock."""
        return self._clock

    def is_on(self, now_s: float) -> bool:
        """Whether the bench has mains at monotonic reading ``now_s``."""
        with self._lock:
            self._apply_plan(now_s)
            return not any(self._cuts.values())

    def set_cut(self, source: CutSource, cut: bool, now_s: float) -> None:
        """Hold the mains off (``cut=True``) or release that hold, for a non-plan source."""
        if source is CutSource.PLAN:
            raise ValueError("planned outages are driven by the plan, not set by hand")
        with self._lock:
            self._apply_plan(now_s)
            self._change(source, 1 if cut else 0, now_s)

    def outages(self, now_s: float) -> list[Outage]:
        """Every outage that started by ``now_s``, oldest first (the last may be ongoing)."""
        with self._lock:
            self._apply_plan(now_s)
            return list(self._outages)

    def failure_count(self, now_s: float) -> int:
        """How many outages have started by ``now_s`` (the meter's power failure counter)."""
        with self._lock:
            self._apply_plan(now_s)
            return len(self._outages)

    def powered_elapsed_s(self, now_s: float) -> float:
        """Emulated seconds the bench has had mains since the clock started, up to ``now_s``."""
        with self._lock:
            self._apply_plan(now_s)
            dark_real_s = 0.0
            for outage in self._outages:
                end_mono_s = now_s if outage.end_mono_s is None else min(outage.end_mono_s, now_s)
                dark_real_s += max(0.0, end_mono_s - outage.start_mono_s)
            real_s = max(0.0, now_s - self._clock.t0_s) - dark_real_s
            return real_s * self._clock.time_scale

    def _apply_plan(self, now_s: float) -> None:
        while self._plan_index < len(self._plan) and self._plan[self._plan_index][0] <= now_s:
            at_s, delta = self._plan[self._plan_index]
            self._plan_index += 1
            self._change(CutSource.PLAN, self._cuts[CutSource.PLAN] + delta, at_s)

    def _change(self, source: CutSource, level: int, at_s: float) -> None:
        was_on = not any(self._cuts.values())
        self._cuts[source] = level
        is_on = not any(self._cuts.values())
        if was_on and not is_on:
            self._outages.append(Outage(self._clock.emulated_at(at_s), None, at_s, None))
        elif is_on and not was_on:
            last = self._outages[-1]
            self._outages[-1] = Outage(
                last.start, self._clock.emulated_at(at_s), last.start_mono_s, at_s
            )


@dataclass(frozen=True, slots=True)
class MeterRegisters:
    """Energy registers of the emulated ESME, advancing only while the bench has mains.

    Attributes:
        power: the bench mains the meter measures.
        import_start_kwh: import register (1.8.0) at the clock's start.
        export_start_kwh: export register (2.8.0) at the clock's start.
        load_kw: constant active import power drawn by the bench load while powered.
        export_kw: constant export power while powered (0 for a consumer-only bench).
    """

    power: BenchPower
    import_start_kwh: float = 12345.678
    export_start_kwh: float = 12.345
    load_kw: float = 0.45
    export_kw: float = 0.0

    def import_kwh(self, now_s: float) -> float:
        """Import register (OBIS 1.8.0) at ``now_s``."""
        return self.import_start_kwh + self.load_kw * self.power.powered_elapsed_s(now_s) / 3600

    def export_kwh(self, now_s: float) -> float:
        """Export register (OBIS 2.8.0) at ``now_s``."""
        return self.export_start_kwh + self.export_kw * self.power.powered_elapsed_s(now_s) / 3600

    def active_power_kw(self, now_s: float) -> float:
        """Instantaneous import power (OBIS 1.7.0): the load while powered, else 0."""
        return self.load_kw if self.power.is_on(now_s) else 0.0
