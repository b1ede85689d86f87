"""What the Live page shows, computed without Qt: visible range, markers, alert rate, outage spans.

The page's display timer calls these functions 30-60 times a second with numpy snapshots of the
ring buffers (:mod:`app.services.live`), so everything here is vectorised and works on the part of
the history inside the visible time range (found with ``np.searchsorted`` on the sorted host
times). Times are POSIX seconds (UTC) as the plots use them.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from zoneinfo import ZoneInfo

import numpy as np

from app.domain.devices import Device
from app.domain.outages import Outage, outage_parts

#: The lab's local time, in which times are shown.
LAB_TZ = ZoneInfo("Europe/London")

#: Time-range presets of the Live page: label -> seconds (None: everything kept).
RANGE_PRESETS: dict[str, float | None] = {"5 min": 300.0, "1 h": 3600.0, "24 h": 86400.0,
                                          "All": None}

#: More markers than this in view are thinned to one per column, lane and severity.
MAX_MARKERS = 4000
#: Width of a thinning column in pixels: markers are 6-9 px wide, so three columns per pixel
#: width would draw markers that cover each other almost entirely.
THIN_COLUMN_PX = 3

#: Severity levels as stored in the alert ring (see ``app.services.live.SEVERITY_LEVEL``).
CRITICAL, NON_CRITICAL, INFO, UNKNOWN = 2, 1, 0, -1


class ViewMode(str, Enum):
    """How the visible time range moves."""

    FOLLOW = "follow"  # the range ends at now and moves with it
    BROWSE = "browse"  # the user zoomed or panned: the range stays, data keeps arriving
    PAUSED = "paused"  # the view is frozen (range and data); capture carries on


@dataclass
class RangeState:
    """The visible time range and how it moves.

    Attributes:
        mode: follow, browse or paused.
        span_s: the preset's width in seconds (None: all history).
        x_range: the range last shown, (start, end) in POSIX seconds.
    """

    mode: ViewMode = ViewMode.FOLLOW
    span_s: float | None = 300.0
    x_range: tuple[float, float] = (0.0, 1.0)

    def follow_range(self, now_s: float, first_s: float | None) -> tuple[float, float]:
        """The range in follow mode: the preset's width ending at now.

        While the history is younger than the preset, the range starts at the first data point,
        so a fresh capture fills the plot instead of sitting in its right-hand corner.
        """
        if first_s is None or not np.isfinite(first_s) or first_s >= now_s:
            width = self.span_s or 60.0
            return now_s - width, now_s + width * 0.02
        start = first_s if self.span_s is None else max(now_s - self.span_s, first_s)
        width = max(now_s - start, 10.0)
        return now_s - width * 1.02, now_s + width * 0.02

    def update(self, now_s: float, first_s: float | None) -> tuple[float, float]:
        """The range to show now (moves only in follow mode)."""
        if self.mode is ViewMode.FOLLOW:
            self.x_range = self.follow_range(now_s, first_s)
        return self.x_range


def visible_slice(t: np.ndarray, x0: float, x1: float, margin: int = 1) -> slice:
    """Indices of sorted times `t` inside [x0, x1], widened by `margin` points each side.

    The margin keeps a line to the first point outside the view, so curves reach the edges.
    """
    lo = int(np.searchsorted(t, x0, side="left"))
    hi = int(np.searchsorted(t, x1, side="right"))
    return slice(max(lo - margin, 0), min(hi + margin, len(t)))


@dataclass(frozen=True)
class Markers:
    """Markers to draw: one per alert, or one per pixel column, lane and severity when thinned.

    Attributes:
        x: host time (POSIX seconds); the column's middle for a thinned marker.
        lane: lane index.
        severity: severity level (2 critical, 1 non-critical, 0 info, -1 unknown).
        index: index into the snapshot of the alert drawn, -1 for a thinned marker.
        count: how many alerts each marker stands for.
        visible: alerts inside the range (before thinning).
        column_s: the width in seconds of one pixel column (the thinning's grain).
    """

    x: np.ndarray
    lane: np.ndarray
    severity: np.ndarray
    index: np.ndarray
    count: np.ndarray
    visible: int
    column_s: float = 0.0

    @property
    def thinned(self) -> bool:
        return bool(len(self.x) < self.visible)


def lane_severity_key(alerts: np.ndarray) -> np.ndarray:
    """lane * 4 + severity + 1 for each alert: what thinning groups by (computed per snapshot)."""
    return alerts["lane"].astype(np.int32) * 4 + (alerts["severity"].astype(np.int32) + 1)


def markers_in_view(alerts: np.ndarray, x0: float, x1: float, width_px: int,
                    max_markers: int = MAX_MARKERS, t: np.ndarray | None = None,
                    key: np.ndarray | None = None) -> Markers:
    """The markers of `alerts` (ALERT_DTYPE records sorted by t) inside [x0, x1].

    At most `max_markers` are returned as they are; beyond that, alerts that would land in the
    same column (THIN_COLUMN_PX pixels) of the same lane with the same severity are drawn once
    (their markers would cover each other anyway), which bounds what is drawn by the plot's
    width, not by the history.

    Args:
        alerts: the snapshot.
        x0: start of the range.
        x1: end of the range.
        width_px: the plot's width in pixels.
        max_markers: most markers drawn one per alert.
        t: the alerts' times as a contiguous array (searching the record field is slower).
        key: :func:`lane_severity_key` of the alerts, if already computed.
    """
    t = alerts["t"] if t is None else t
    sl = visible_slice(t, x0, x1, margin=0)
    n = sl.stop - sl.start
    if n <= max_markers:
        part = alerts[sl]
        return Markers(t[sl], part["lane"].astype(np.int64), part["severity"].astype(np.int64),
                       np.arange(sl.start, sl.stop, dtype=np.int64), np.ones(n, dtype=np.int64), n)
    cols = max(int(width_px) // THIN_COLUMN_PX, 1)
    column_s = max(x1 - x0, 1e-9) / cols
    ks = (lane_severity_key(alerts[sl]) if key is None else key[sl]).astype(np.int64)
    groups = int(ks.max()) + 1
    col = ((t[sl] - x0) * (1.0 / column_s)).astype(np.int64)
    np.clip(col, 0, cols - 1, out=col)
    counts = np.bincount(col * groups + ks, minlength=cols * groups)
    bins = np.flatnonzero(counts)
    col_of, k_of = np.divmod(bins, groups)
    return Markers(x0 + (col_of + 0.5) * column_s, k_of // 4, k_of % 4 - 1,
                   np.full(len(bins), -1, dtype=np.int64), counts[bins], n, column_s)


def alert_near(alerts: np.ndarray, t: np.ndarray, x_lo: float, x_hi: float, lane: int,
               severity: int) -> int:
    """Index of the latest alert in [x_lo, x_hi] on `lane` with `severity`, or -1."""
    sl = visible_slice(t, x_lo, x_hi, margin=0)
    part = alerts[sl]
    hits = np.flatnonzero((part["lane"] == lane) & (part["severity"] == severity))
    return int(sl.start + hits[-1]) if len(hits) else -1


#: Bin widths the alert rate may use, in seconds.
RATE_STEPS_S = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600,
                43200, 86400)


def rate_bin_s(x0: float, x1: float, target_bins: int = 60, column_s: float = 0.0) -> float:
    """A round bin width giving about `target_bins` bins across [x0, x1] (whole pixel columns)."""
    raw = max(x1 - x0, 1e-9) / max(target_bins, 1)
    width = float(next((s for s in RATE_STEPS_S if s >= raw), RATE_STEPS_S[-1]))
    if column_s > 0:
        # Whole pixel columns per bin, or some bins would get one column more than others.
        width = max(round(width / column_s), 1) * column_s
    return width


def rate_from_markers(markers: Markers, x0: float, x1: float, target_bins: int = 60
                      ) -> tuple[np.ndarray, np.ndarray, float]:
    """Alerts per bin across [x0, x1] from the markers in view: (edges, counts, bin seconds).

    Thinned markers carry their counts, so this costs as little as the markers do. Bins have a
    round width (1 s, 5 s, 1 min...) and start at a multiple of it.
    """
    width = rate_bin_s(x0, x1, target_bins, markers.column_s)
    start = np.floor(x0 / width) * width if markers.column_s == 0 else x0
    bins = max(int(np.ceil((x1 - start) / width - 1e-9)), 1)
    edges = start + np.arange(bins + 1) * width
    which = ((markers.x - start) / width).astype(np.int64)
    np.clip(which, 0, bins - 1, out=which)
    counts = np.bincount(which, weights=markers.count, minlength=bins)
    return edges, counts.astype(np.float64), width


def thin_curve(t: np.ndarray, v: np.ndarray, x0: float, x1: float,
               max_points: int = 4000) -> tuple[np.ndarray, np.ndarray]:
    """The part of a reading curve in view (plus one point each side), strided to `max_points`."""
    sl = visible_slice(t, x0, x1)
    xs, ys = t[sl], v[sl]
    if len(xs) > max_points:
        step = int(np.ceil(len(xs) / max_points))
        keep = np.r_[np.arange(0, len(xs), step), len(xs) - 1]
        xs, ys = xs[keep], ys[keep]
    return xs, ys


# --- outages ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class OutageSpan:
    """One shaded span on the timeline.

    Attributes:
        outage_id: the outage it belongs to.
        source: "relay" (the lab's ground truth) or "device" (what a device reported).
        x0: start (POSIX seconds, host time).
        x1: end (now for an outage still going on).
        lanes: the lanes of the bench's devices.
        label: duration and restore alert, e.g. "1:40 8F35" (empty for device spans).
        tooltip: the outage explained in a few lines, flag messages included.
        flagged: the outage has at least one flag.
        ongoing: the supply is still off.
    """

    outage_id: int
    source: str
    x0: float
    x1: float
    lanes: tuple[int, ...]
    label: str
    tooltip: str
    flagged: bool
    ongoing: bool


def format_duration(seconds: float | None) -> str:
    """Seconds as m:ss (or h:mm:ss), e.g. ``1:40``; "?" when unknown."""
    if seconds is None or not np.isfinite(seconds):
        return "?"
    total = round(seconds)
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def local_time(moment: datetime | float | None, with_date: bool = False) -> str:
    """A host or device time in the lab's local time (``10:03:07``), "-" when unknown."""
    if moment is None or (isinstance(moment, float) and not np.isfinite(moment)):
        return "-"
    if isinstance(moment, (int, float)):
        moment = datetime.fromtimestamp(float(moment), tz=UTC)
    fmt = "%Y-%m-%d %H:%M:%S %Z" if with_date else "%H:%M:%S"
    return moment.astimezone(LAB_TZ).strftime(fmt)


def colour_slot(device: str, devices: list[Device], slots: int) -> int:
    """Which of `slots` colours a device's curves take: from its stable id in the registry (so
    the same in every session, whatever order its data arrives in and whatever its label is
    now), else, for a port that is not registered, from its label's CRC-32."""
    ref = next((d.id for d in devices if d.label == device and d.id is not None), None)
    key = ref - 1 if ref is not None else zlib.crc32(device.encode("utf-8"))
    return key % max(slots, 1)


def lanes_by_bench(lane_names: list[str], devices: list[Device]) -> dict[str, tuple[int, ...]]:
    """Bench -> the lanes of its devices (a lane named like a bench counts as that bench's)."""
    bench_of = {d.label: d.bench for d in devices if d.bench}
    out: dict[str, list[int]] = {}
    for i, name in enumerate(lane_names):
        out.setdefault(bench_of.get(name, name), []).append(i)
    return {b: tuple(v) for b, v in out.items()}


def _tooltip(o: Outage) -> str:
    lines = [f"Outage {o.id} on {o.bench}" + (f" (supply point {o.mpxn})" if o.mpxn else "")]
    source = "relay (ground truth)" if o.ground_truth else (o.start_source or "device")
    if o.end is None and o.recorded_until is not None:
        end = (f"not recorded (MeterLab stopped recording at {local_time(o.recorded_until)} "
               "with the supply off)")
    else:
        end = local_time(o.end) if o.end else "not yet"
    lines.append(f"Start {local_time(o.start)} from {source}; end {end}")
    lines.append(f"Duration {format_duration(o.duration_s)} on the bench's clock"
                 + (" (3 minutes or more)" if o.long else ""))
    if o.device_duration_s is not None:
        lines.append(f"Comms Hub reported {format_duration(o.device_duration_s)}, device times "
                     f"{local_time(o.device_start)} to {local_time(o.device_end)}")
    if o.restore_alert_code:
        latency = f", {o.latency_s:.2f} s after the supply came back" if o.latency_s is not None else ""
        lines.append(f"Restore alert {o.restore_alert_code} from {o.restore_alert_device or '?'} "
                     f"at {local_time(o.restore_alert_host_time)}{latency}")
    for flag in o.flags:
        lines.append(f"FLAG {flag.code}: {flag.message}")
    return "\n".join(lines)


def outage_spans(outages: list[Outage], bench_lanes: dict[str, tuple[int, ...]],
                 now_s: float) -> list[OutageSpan]:
    """The spans to shade for `outages` in the lanes of each outage's bench.

    Each part of an outage (:func:`app.domain.outages.outage_parts`: the relay's cut to restore,
    the device's reported duration) is a span, on the host's clock so they can be compared by
    eye. The relay's span carries the label (duration and restore alert); a device part has one
    only when the outage is known from device evidence alone.
    """
    now = datetime.fromtimestamp(now_s, UTC)
    spans: list[OutageSpan] = []
    for o in outages:
        lanes = bench_lanes.get(o.bench)
        if not lanes:
            continue
        parts = outage_parts(o, now)
        if not parts:
            continue
        tip, flagged = _tooltip(o), bool(o.flags)
        code = f" {o.restore_alert_code}" if o.restore_alert_code else ""
        label = ("! " if flagged else "") + format_duration(o.duration_s) + code
        if o.end is None and o.recorded_until is not None:
            label = "end not recorded"
        for i, part in enumerate(parts):
            x0, x1 = part.start.timestamp(), now_s if part.ongoing else part.end.timestamp()
            if part.ongoing and part.source == "relay":
                # On the bench's clock, as the finished outages' durations are.
                text = "off " + format_duration((now_s - x0) * o.time_scale)
            else:
                text = label if i == 0 else ""
            spans.append(OutageSpan(o.id, part.source, x0, x1, lanes, text, tip, flagged,
                                    part.ongoing))
    return spans


def label_rows(starts_px: list[float], widths_px: list[float], rows: int) -> list[int]:
    """Rows for labels placed left to right so none overlaps another; -1: no room (hidden)."""
    ends = [-np.inf] * max(rows, 1)
    order = sorted(range(len(starts_px)), key=lambda i: starts_px[i])
    out = [-1] * len(starts_px)
    for i in order:
        for row in range(len(ends)):
            if starts_px[i] >= ends[row]:
                out[i] = row
                ends[row] = starts_px[i] + widths_px[i]
                break
    return out


# --- notifications ---------------------------------------------------------------------------
@dataclass
class CriticalNotifier:
    """Decides when to raise a desktop notification for new critical alerts, rate-limited.

    Args:
        min_interval_s: least time between two notifications; alerts in between are summed
            into the next one.
    """

    min_interval_s: float = 10.0
    enabled: bool = True
    _seen_t: float = field(default=-np.inf, repr=False)
    _pending: int = field(default=0, repr=False)
    _pending_codes: list[int] = field(default_factory=list, repr=False)
    _last_shown: float = field(default=-np.inf, repr=False)

    def prime(self, alerts: np.ndarray) -> None:
        """Ignore the alerts already there (history is not news)."""
        if len(alerts):
            self._seen_t = float(alerts["t"][-1])

    def check(self, alerts: np.ndarray, now_monotonic_s: float) -> str | None:
        """Take a snapshot; return the message to show now, or None."""
        if len(alerts):
            t = alerts["t"]
            start = int(np.searchsorted(t, self._seen_t, side="right"))
            new = alerts[start:]
            self._seen_t = max(self._seen_t, float(t[-1]))
            crit = new[new["severity"] == CRITICAL]
            if self.enabled and len(crit):
                self._pending += len(crit)
                self._pending_codes.extend(int(c) for c in crit["code"][-5:])
        if not self.enabled:
            self._pending, self._pending_codes = 0, []
            return None
        if self._pending and now_monotonic_s - self._last_shown >= self.min_interval_s:
            codes = ", ".join(dict.fromkeys(f"{c:04X}" for c in self._pending_codes[-5:]))
            n, self._pending, self._pending_codes = self._pending, 0, []
            self._last_shown = now_monotonic_s
            return f"{n} critical alert{'s' if n != 1 else ''}: {codes}"
        return None
