"""Power outages on lab benches: pairing starts and ends, and checking the devices' evidence.

Ground truth is the lab's own relay (it cut and restored the bench supply). Device evidence is the
Comms Hub's outage log lines, the ESME's ``8F57`` (supply interrupted) and its restore alert,
``8F35`` (outage under 3 minutes) or ``8F36`` (3 minutes or more). The tracker is pure: it is
fed events in arrival order and asked, at a given moment, what it knows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

#: An outage of this many seconds or more is a "long" one (8F36 rather than 8F35).
LONG_OUTAGE_S = 180.0
RESTORE_SHORT, RESTORE_LONG, SUPPLY_INTERRUPTED = "8F35", "8F36", "8F57"
#: The relay channel wired to a bench's mains: switching it cuts or restores the supply (other
#: channels switch other things and are not outages).
MAINS_CHANNEL = 1


@dataclass(frozen=True)
class TrackerConfig:
    """How outages are judged.

    Attributes:
        latency_target_s: alert code -> most seconds from the real event to the alert's arrival
            (default 8 s for every code, the DCC WAN traffic model's meter-alert target).
        default_latency_s: the target for codes not named.
        restore_alert_wait_s: how long after a restore the restore alert may still arrive before
            it is called missing.
        match_window_s: how far apart in time device evidence may be from the ground truth and
            still belong to the same outage.
        time_scale: per bench, emulated seconds per real second (1 for real hardware; the demo
            emulator runs faster, so the 3-minute rule applies to scaled durations).
    """

    latency_target_s: dict[str, float] = field(default_factory=dict)
    default_latency_s: float = 8.0
    restore_alert_wait_s: float = 60.0
    match_window_s: float = 120.0
    time_scale: dict[str, float] = field(default_factory=dict)

    def target_for(self, code: str) -> float:
        return self.latency_target_s.get(code.upper(), self.default_latency_s)

    def scale_for(self, bench: str) -> float:
        return self.time_scale.get(bench, 1.0)


@dataclass(frozen=True, slots=True)
class Flag:
    """Something wrong with an outage's evidence."""

    code: str  # wrong_restore_alert | missing_restore_alert | restore_without_start | late_alert
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


@dataclass
class Outage:
    """One supply outage on a bench, as far as it is known.

    Host times are when MeterLab saw something (UTC); device times are the devices' own clocks.
    """

    id: int
    bench: str
    mpxn: str = ""
    start: datetime | None = None  # ground truth (relay) or, without a relay, the device's start
    end: datetime | None = None
    start_source: str = ""  # "relay" | "comms_hub" | "esme"
    end_source: str = ""
    device_start: datetime | None = None  # as the Comms Hub logged it (device clock)
    device_end: datetime | None = None
    device_duration_s: float | None = None
    restore_alert_code: str | None = None
    restore_alert_host_time: datetime | None = None
    restore_alert_device: str = ""
    interrupted_alert: bool = False
    flags: list[Flag] = field(default_factory=list)
    time_scale: float = 1.0
    #: for an outage read back from storage with no end, the last time it was recorded (the
    #: end was never seen: MeterLab stopped recording while the supply was off); None otherwise
    recorded_until: datetime | None = None

    @property
    def ground_truth(self) -> bool:
        return self.start_source == "relay"

    @property
    def duration_s(self) -> float | None:
        """Duration on the bench's clock: relay times scaled, else what the device reported."""
        if self.ground_truth and self.start and self.end:
            return (self.end - self.start).total_seconds() * self.time_scale
        if self.device_duration_s is not None:
            return self.device_duration_s
        if self.start and self.end:
            return (self.end - self.start).total_seconds() * self.time_scale
        return None

    @property
    def long(self) -> bool | None:
        d = self.duration_s
        return None if d is None else d >= LONG_OUTAGE_S

    @property
    def latency_s(self) -> float | None:
        """Restore alert arrival minus the ground-truth restore (real seconds)."""
        if self.restore_alert_host_time and self.end and self.ground_truth:
            return (self.restore_alert_host_time - self.end).total_seconds()
        return None

    def to_dict(self) -> dict[str, object]:
        iso = lambda t: t.isoformat() if t else None  # noqa: E731
        return {
            "id": self.id, "bench": self.bench, "mpxn": self.mpxn, "start": iso(self.start),
            "end": iso(self.end), "duration_s": _round(self.duration_s), "long": self.long,
            "start_source": self.start_source, "end_source": self.end_source,
            "device_start": iso(self.device_start), "device_end": iso(self.device_end),
            "device_duration_s": self.device_duration_s,
            "restore_alert_code": self.restore_alert_code,
            "restore_alert_host_time": iso(self.restore_alert_host_time),
            "restore_alert_device": self.restore_alert_device,
            "latency_s": _round(self.latency_s), "interrupted_alert": self.interrupted_alert,
            "flags": [f.to_dict() for f in self.flags],
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


@dataclass(frozen=True, slots=True)
class PowerEvidence:
    """One piece of outage evidence, already attributed to a bench.

    Attributes:
        kind: "relay_off" | "relay_on" | "device_start" | "device_end" | "alert".
        bench: the bench it concerns.
        host_time: when MeterLab received it.
        device_time: the device's own time for it, if any.
        mpxn: supply point, if known.
        code: the alert code for "alert".
        device: the device label it came from.
        duration_s: device-reported duration for "device_end".
    """

    kind: str
    bench: str
    host_time: datetime
    device_time: datetime | None = None
    mpxn: str = ""
    code: str = ""
    device: str = ""
    duration_s: float | None = None


class OutageTracker:
    """Pairs outage evidence into outages per bench and checks it."""

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.config = config or TrackerConfig()
        self.outages: list[Outage] = []
        self._next_id = 1  # the tracker's own keys; the store gives the ids people see
        self.changed: set[int] = set()

    # --- helpers ---------------------------------------------------------------------------
    def _new(self, bench: str, mpxn: str) -> Outage:
        o = Outage(id=self._next_id, bench=bench, mpxn=mpxn, time_scale=self.config.scale_for(bench))
        self._next_id += 1
        self.outages.append(o)
        return o

    def _on_bench(self, bench: str) -> list[Outage]:
        return [o for o in self.outages if o.bench == bench]

    def _open_relay(self, bench: str) -> Outage | None:
        for o in reversed(self._on_bench(bench)):
            if o.ground_truth and o.end is None:
                return o
        return None

    def _near(self, a: datetime | None, b: datetime | None, slack_s: float) -> bool:
        return a is not None and b is not None and abs((a - b).total_seconds()) <= slack_s

    # --- feeding ---------------------------------------------------------------------------
    def feed(self, ev: PowerEvidence) -> None:
        """Take one piece of evidence (in arrival order)."""
        handler = getattr(self, f"_on_{ev.kind}", None)
        if handler is None:
            raise ValueError(f"unknown evidence kind {ev.kind!r}")
        handler(ev)

    def _on_relay_off(self, ev: PowerEvidence) -> None:
        if self._open_relay(ev.bench) is not None:
            return  # already off: a repeated command changes nothing
        o = self._new(ev.bench, ev.mpxn)
        o.start, o.start_source = ev.host_time, "relay"
        self.changed.add(o.id)

    def _on_relay_on(self, ev: PowerEvidence) -> None:
        o = self._open_relay(ev.bench)
        if o is None:
            return
        o.end, o.end_source = ev.host_time, "relay"
        self.changed.add(o.id)

    def _on_device_start(self, ev: PowerEvidence) -> None:
        # The Comms Hub logs the start only once power is back: attach it to the latest outage
        # on the bench that has no device start yet and ended (or is ending) around now.
        target = self._latest(ev.bench, lambda o: o.device_start is None and o.ground_truth
                              and (o.end is None or self._near(o.end, ev.host_time, self.config.match_window_s)))
        if target is None:
            target = self._new(ev.bench, ev.mpxn)
            target.start, target.start_source = ev.device_time or ev.host_time, "comms_hub"
        target.device_start = ev.device_time
        target.mpxn = target.mpxn or ev.mpxn
        self.changed.add(target.id)

    def _on_device_end(self, ev: PowerEvidence) -> None:
        target = self._latest(ev.bench, lambda o: o.device_end is None and (
            o.device_start is not None or self._near(o.end, ev.host_time, self.config.match_window_s)))
        if target is None:
            target = self._new(ev.bench, ev.mpxn)
            target.start_source = "comms_hub"
        target.device_end = ev.device_time
        target.device_duration_s = ev.duration_s
        if not target.ground_truth:
            target.end, target.end_source = ev.device_time or ev.host_time, "comms_hub"
            if target.start is None and ev.device_time and ev.duration_s is not None:
                target.start = ev.device_time - timedelta(seconds=ev.duration_s)
        target.mpxn = target.mpxn or ev.mpxn
        self.changed.add(target.id)

    def _on_alert(self, ev: PowerEvidence) -> None:
        code = ev.code.upper()
        if code == SUPPLY_INTERRUPTED:
            target = self._latest(ev.bench, lambda o: not o.interrupted_alert)
            if target is not None:
                target.interrupted_alert = True
                self.changed.add(target.id)
            return
        if code not in (RESTORE_SHORT, RESTORE_LONG):
            return
        window = self.config.match_window_s + self.config.restore_alert_wait_s
        target = self._latest(ev.bench, lambda o: o.restore_alert_code is None and (
            (o.end is not None and (ev.host_time - o.end).total_seconds() <= window)
            or o.device_end is not None))
        if target is None:
            target = self._new(ev.bench, ev.mpxn)
            target.flags.append(Flag(
                "restore_without_start",
                f"{ev.device or 'A meter'} raised {code} at {ev.host_time:%H:%M:%S} but no outage "
                f"was seen on {ev.bench}.",
            ))
        target.restore_alert_code = code
        target.restore_alert_host_time = ev.host_time
        target.restore_alert_device = ev.device
        target.mpxn = target.mpxn or ev.mpxn
        self.changed.add(target.id)

    def _latest(self, bench: str, pred) -> Outage | None:  # type: ignore[no-untyped-def]
        for o in reversed(self._on_bench(bench)):
            if pred(o):
                return o
        return None

    # --- judging ---------------------------------------------------------------------------
    def evaluate(self, now: datetime) -> list[Outage]:
        """Recompute every outage's flags as of `now`; returns the outages whose flags changed."""
        changed = []
        for o in self.outages:
            flags = [f for f in o.flags if f.code == "restore_without_start"] + check_outage(o, now, self.config)
            if flags != o.flags:
                o.flags = flags
                changed.append(o)
                self.changed.add(o.id)
        return changed

    def take_changed(self) -> list[Outage]:
        ids, self.changed = self.changed, set()
        return [o for o in self.outages if o.id in ids]


def check_outage(o: Outage, now: datetime, config: TrackerConfig) -> list[Flag]:
    """Flags for one outage: wrong restore alert, missing restore alert, late alert."""
    flags: list[Flag] = []
    if o.end is None and o.device_end is None:
        return flags  # still off
    if o.start_source == "" and o.restore_alert_code and o.device_start is None:
        return flags
    duration = o.duration_s
    code = o.restore_alert_code
    if code is None:
        ended = o.end or o.restore_alert_host_time
        if ended is not None and (now - ended).total_seconds() > config.restore_alert_wait_s and o.ground_truth:
            expected = RESTORE_LONG if (duration or 0) >= LONG_OUTAGE_S else RESTORE_SHORT
            flags.append(Flag(
                "missing_restore_alert",
                f"No restore alert ({expected} expected) within {config.restore_alert_wait_s:g} s of "
                f"the supply coming back.",
            ))
        return flags
    if duration is not None:
        if code == RESTORE_LONG and duration < LONG_OUTAGE_S:
            flags.append(Flag("wrong_restore_alert",
                              f"8F36 (outage of 3 minutes or more) after an outage of {_mmss(duration)}."))
        elif code == RESTORE_SHORT and duration >= LONG_OUTAGE_S:
            flags.append(Flag("wrong_restore_alert",
                              f"8F35 (outage under 3 minutes) after an outage of {_mmss(duration)}; "
                              f"8F36 expected."))
    latency = o.latency_s
    if latency is not None and latency > config.target_for(code):
        flags.append(Flag("late_alert",
                          f"{code} arrived {latency:.1f} s after the supply came back "
                          f"(target {config.target_for(code):g} s)."))
    return flags


def _mmss(seconds: float) -> str:
    m, s = divmod(round(seconds), 60)
    return f"{m} min {s:02d} s"


# --- where an outage lies in time, and which outages a view shows ------------------------------
@dataclass(frozen=True, slots=True)
class OutagePart:
    """A stretch of host time an outage covers, as one source saw it.

    Attributes:
        source: "relay" (the lab's ground truth) or "device" (what a device reported).
        start, end: host times (UTC); `end` is `now` for a part still going on.
        ongoing: the supply is still off (as far as is known now).
    """

    source: str
    start: datetime
    end: datetime
    ongoing: bool


def outage_parts(o: Outage, now: datetime) -> list[OutagePart]:
    """Where outage `o` lies on the host's time axis at `now`; [] when no time of it is known
    (a restore alert that matched no outage).

    A relay outage (ground truth) runs from the relay's cut to its restore (to `now` while it
    is off); when the Comms Hub reported a duration, a device part of that duration ends when
    the device's report (its restore alert) arrived, the device's seconds scaled by the bench's
    time scale. An outage known only from device evidence is one device part.
    """
    end = o.end if o.end is not None or o.start is None else o.recorded_until
    ongoing = end is None
    if o.ground_truth and o.start is not None:
        parts = [OutagePart("relay", o.start, end or now, ongoing)]
        if o.device_duration_s is not None and not ongoing:
            anchor = o.restore_alert_host_time or end or o.start
            width = timedelta(seconds=o.device_duration_s / max(o.time_scale, 1e-9))
            parts.append(OutagePart("device", anchor - width, anchor, False))
        return parts
    if o.start is None and end is None:
        return []
    stop = end or now
    start = o.start if o.start is not None else stop - timedelta(
        seconds=(o.device_duration_s or 0.0) / max(o.time_scale, 1e-9))
    return [OutagePart("device", start, stop, ongoing)]


def outages_in_view(outages: list[Outage], benches: set[str] | frozenset[str],
                    start: datetime, end: datetime, now: datetime) -> list[Outage]:
    """The outages a view of [start, end] shows, and so counts: the one definition.

    An outage is shown when it is on one of `benches` (the benches whose devices have lanes
    in the view) and some part of it (:func:`outage_parts`) overlaps [start, end]. Each outage
    counts once, whatever parts it has; a restore alert that matched no outage has no part and
    is not an outage shown (its flag stays on the record).
    """
    return [o for o in outages if o.bench in benches
            and any(p.end >= start and p.start <= end for p in outage_parts(o, now))]
