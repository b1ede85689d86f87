"""The report's plots as plain geometry: rectangles, lines, markers and texts in a box.

The PDF (reportlab shapes), the HTML (inline SVG) and the Reports page's preview draw the same
primitives, so the three show the same picture. Coordinates are in points (or pixels) with the
origin at the top left and y growing downwards, as in SVG and Qt; a text's y is its baseline.

Two plots of the run's window, on the same time axis so that they line up on the page:
- :func:`alert_timeline`: one lane per device, a marker per alert coloured by severity;
- :func:`outage_plot`: the steps, the relay's ground truth and what the Comms Hub recorded, with
  the restore alerts.
Thousands of alerts are thinned to one marker per column, lane and severity, and the figure says
so: the picture stays readable and the PDF small.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from app.domain.reports import AlertRow, OutageRow, RunReport
from app.services.reports.sections import (
    OUTCOME_COLOUR,
    SEVERITY_COLOUR,
    duration_text,
    lab_zone,
    severity_name,
)

FONT_SIZE = 7.0
#: an estimate of a character's width at FONT_SIZE, for fitting labels (every renderer agrees)
CHAR_W = 0.56 * FONT_SIZE
LANE_H = 16.0
TOP = 16.0  # room for the key
AXIS_H = 28.0
#: more alerts than this are thinned
MAX_MARKERS = 1500
THIN_COLUMN = 2.0
GRID = "#e2e4e8"
AXIS = "#555555"
TEXT = "#222222"
LANE_BG = "#f5f6f8"
RELAY_FILL, RELAY_STROKE = "#c9cff0", "#3b4cc0"
HUB_FILL, HUB_STROKE = "#ecd593", "#b8860b"
FLAG_STROKE = "#c0392b"
RESTORE_MARK = "#7b1fa2"

#: severity -> (shape, size, offset within the lane as a fraction of LANE_H); worst first
SEVERITY_STYLE = {
    "critical": ("square", 5.0, -0.22),
    "non-critical": ("circle", 5.0, 0.0),
    "info": ("circle", 3.6, 0.22),
    "unknown": ("square", 3.2, 0.22),
}

#: tick spacings to choose from, in seconds
TICK_STEPS_S = (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200,
                10800, 21600, 43200, 86400, 172800, 604800)


@dataclass(frozen=True, slots=True)
class Rect:
    x: float
    y: float
    w: float
    h: float
    fill: str | None
    stroke: str | None = None
    stroke_width: float = 0.5


@dataclass(frozen=True, slots=True)
class Line:
    x1: float
    y1: float
    x2: float
    y2: float
    stroke: str
    width: float = 0.5
    dash: tuple[float, ...] = ()


@dataclass(frozen=True, slots=True)
class Marker:
    """A marker centred on (x, y); `shape` is "circle", "square" or "triangle" (pointing down);
    `size` is its width."""

    x: float
    y: float
    shape: str
    size: float
    fill: str


@dataclass(frozen=True, slots=True)
class Text:
    """`anchor` is "start", "middle" or "end" (as in SVG); y is the baseline."""

    x: float
    y: float
    text: str
    size: float = FONT_SIZE
    fill: str = TEXT
    anchor: str = "start"
    bold: bool = False


Primitive = Rect | Line | Marker | Text


@dataclass(frozen=True)
class Figure:
    """A plot: its size, what to draw (in order, later on top), a title and a note below it."""

    width: float
    height: float
    items: tuple[Primitive, ...]
    title: str
    note: str = ""


@dataclass(frozen=True)
class TimeAxis:
    """Instants to x: the window [t0, t1] (POSIX seconds) across [x0, x1]."""

    t0: float
    t1: float
    x0: float
    x1: float

    def x(self, moment: datetime | float) -> float:
        t = moment.timestamp() if isinstance(moment, datetime) else moment
        return self.x0 + (t - self.t0) / (self.t1 - self.t0) * (self.x1 - self.x0)

    def clip(self, x: float) -> float:
        return min(max(x, self.x0), self.x1)


def window(report: RunReport) -> tuple[float, float]:
    """The plots' span: the report's window, else the run's, else what the data covers."""
    start = report.window_start or report.record.started
    end = report.window_end or report.record.ended
    moments = [a.host_time for a in report.alerts]
    if start is None:
        start = min(moments, default=datetime(1970, 1, 1, tzinfo=UTC))
    if end is None:
        end = max(moments, default=start)
    t0, t1 = start.timestamp(), end.timestamp()
    return (t0, t1) if t1 - t0 >= 1.0 else (t0, t0 + 1.0)


def _r(v: float) -> float:
    return round(v, 2)


def fit(text: str, width: float, size: float = FONT_SIZE) -> str:
    """`text` cut with an ellipsis to about `width`."""
    room = max(int(width / (0.56 * size)), 1)
    return text if len(text) <= room else text[:max(room - 1, 0)] + "…"


def ticks(t0: float, t1: float, width: float, zone: tzinfo) -> list[tuple[float, str]]:
    """Tick instants and labels for [t0, t1] over `width`: round lab-local times, about one per
    50 points, with the date where the day changes."""
    most = max(int(width / 50), 2)
    span = t1 - t0
    step = next((s for s in TICK_STEPS_S if span / s <= most), TICK_STEPS_S[-1])
    offset = datetime.fromtimestamp(t0, UTC).astimezone(zone).utcoffset() or timedelta()
    off = offset.total_seconds()
    first = math.ceil((t0 + off) / step - 1e-9) * step - off
    if step < 1:
        fmt = "%H:%M:%S.{tenth}"
    elif step < 60:
        fmt = "%H:%M:%S"
    else:
        fmt = "%H:%M"
    out, last_day = [], None
    t = first
    while t <= t1 + 1e-9:
        local = datetime.fromtimestamp(t, UTC).astimezone(zone)
        label = local.strftime(fmt).replace("{tenth}", str(local.microsecond // 100_000))
        if step >= 86400 or (last_day is not None and local.date() != last_day):
            label = local.strftime("%d %b ") + label if step < 86400 else local.strftime("%d %b")
        last_day = local.date()
        out.append((t, label))
        t = first + len(out) * step
    return out


def _axis(axis: TimeAxis, top: float, bottom: float, zone: tzinfo) -> list[Primitive]:
    """Grid lines through [top, bottom], the axis line, its ticks, labels and caption."""
    items: list[Primitive] = []
    for t, label in ticks(axis.t0, axis.t1, axis.x1 - axis.x0, zone):
        x = _r(axis.x(t))
        items.append(Line(x, top, x, bottom, GRID, 0.4))
        items.append(Line(x, bottom, x, bottom + 3, AXIS, 0.5))
        # A label at the right end is set flush right, so it stays inside the figure.
        flush = x + len(label) * CHAR_W / 2 > axis.x1 + 4
        items.append(Text(x, bottom + 11, label, anchor="end" if flush else "middle",
                          fill=AXIS))
    items.append(Line(axis.x0, bottom, axis.x1, bottom, AXIS, 0.6))
    start = datetime.fromtimestamp(axis.t0, UTC).astimezone(zone)
    end = datetime.fromtimestamp(axis.t1, UTC).astimezone(zone)
    offset = start.strftime("%z")
    caption = f"Lab time, {getattr(zone, 'key', str(zone))} (UTC{offset[:3]}:{offset[3:]})"
    caption += (f", {start.strftime('%Y-%m-%d')}" if start.date() == end.date()
                else f", {start.strftime('%Y-%m-%d')} to {end.strftime('%Y-%m-%d')}")
    items.append(Text(axis.x0, bottom + 23, caption, fill=AXIS))
    return items


def _lanes(names: list[str], top: float, label_w: float, width: float) -> list[Primitive]:
    items: list[Primitive] = []
    for i, name in enumerate(names):
        y = top + i * LANE_H
        if i % 2 == 0:
            items.append(Rect(label_w, _r(y), _r(width - label_w), LANE_H, LANE_BG))
        items.append(Text(label_w - 4, _r(y + LANE_H / 2 + 2.5), fit(name, label_w - 8),
                          anchor="end"))
    return items


def _label_width(width: float) -> float:
    return min(130.0, round(width * 0.26))


def _marker(x: float, lane_y: float, severity: str) -> Marker:
    shape, size, offset = SEVERITY_STYLE[severity]
    return Marker(_r(x), _r(lane_y + LANE_H / 2 + offset * LANE_H), shape, size,
                  SEVERITY_COLOUR[severity])


def _key(x: float, y: float) -> list[Primitive]:
    items: list[Primitive] = []
    for severity, (shape, size, _o) in SEVERITY_STYLE.items():
        if severity == "unknown":
            continue
        items.append(Marker(_r(x + 3), y - 2.5, shape, size, SEVERITY_COLOUR[severity]))
        items.append(Text(_r(x + 9), y, severity))
        x += 14 + len(severity) * CHAR_W
    return items


def alert_lanes(report: RunReport) -> list[str]:
    """The devices under test, in the record's order, then any other device that raised an
    alert."""
    names = [d.label for d in report.record.devices]
    seen = set(names)
    for a in report.alerts:
        if a.device not in seen:
            seen.add(a.device)
            names.append(a.device)
    return names


def thin(alerts: Iterable[AlertRow], lane_of: dict[str, int], axis: TimeAxis,
         column: float = THIN_COLUMN) -> list[tuple[float, int, str]]:
    """(x, lane, severity) to draw: one per `column` points, lane and severity."""
    seen: set[tuple[int, int, str]] = set()
    out = []
    for a in alerts:
        x = axis.x(a.host_time)
        if not axis.x0 - 1 <= x <= axis.x1 + 1:
            continue
        sev = severity_name(a.severity)
        sev = sev if sev in SEVERITY_STYLE else "unknown"
        key = (lane_of[a.device], int(x // column), sev)
        if key not in seen:
            seen.add(key)
            out.append((x, key[0], sev))
    return out


def alert_timeline(report: RunReport, width: float) -> Figure:
    """One lane per device, one marker per alert (thinned beyond MAX_MARKERS), relay outages
    shaded behind."""
    zone = lab_zone(report)
    names = alert_lanes(report) or ["(no device)"]
    label_w = _label_width(width)
    t0, t1 = window(report)
    axis = TimeAxis(t0, t1, label_w, width - 6)
    bottom = TOP + len(names) * LANE_H
    items: list[Primitive] = _key(label_w, 10)
    items += _lanes(names, TOP, label_w, width - 6)
    for o in report.outages:
        if o.start is not None and o.start_source == "relay":
            x0 = axis.clip(axis.x(o.start))
            x1 = axis.clip(axis.x(o.end)) if o.end else axis.x1
            if x1 > x0:
                items.append(Rect(_r(x0), TOP, _r(max(x1 - x0, 0.8)), bottom - TOP, "#e6e9f8"))
    items += _axis(axis, TOP, bottom, zone)
    lane_of = {n: i for i, n in enumerate(names)}
    n = len(report.alerts)
    if n > MAX_MARKERS:
        marks = thin(report.alerts, lane_of, axis)
        note = (f"{n:,} alerts drawn as {len(marks):,} markers (one per "
                f"{THIN_COLUMN:g} pt, lane and severity).")
    else:
        marks = [(axis.x(a.host_time), lane_of[a.device], s if s in SEVERITY_STYLE else "unknown")
                 for a in report.alerts for s in (severity_name(a.severity),)
                 if axis.x0 - 1 <= axis.x(a.host_time) <= axis.x1 + 1]
        note = f"{n:,} alert{'s' if n != 1 else ''}." if n else "No alert in the run's window."
    # The worst on top: draw info first, critical last.
    order = {s: i for i, s in enumerate(reversed(SEVERITY_STYLE))}
    marks.sort(key=lambda m: order[m[2]])
    items += [_marker(x, TOP + lane * LANE_H, sev) for x, lane, sev in marks]
    return Figure(width, bottom + AXIS_H, tuple(items), "Alert timeline", note)


def _restore_anchor(o: OutageRow, alerts: tuple[AlertRow, ...]) -> AlertRow | None:
    """The restore alert of `o`: its code, the first received after the relay's restore."""
    if not o.restore_alert or o.end is None:
        return None
    after = [a for a in alerts if a.code == o.restore_alert and a.host_time >= o.end]
    return min(after, key=lambda a: a.host_time, default=None)


def outage_plot(report: RunReport, width: float) -> Figure:
    """The run's steps, the relay's outages (ground truth) and the Comms Hub's record of them.

    The hub's span has the duration the hub reported (its own clock, divided by the bench's time
    scale) and ends when its restore alert arrived, as on the Live page: the two can be compared
    by eye. An outage known only from the hub is drawn on the hub's row alone.
    """
    zone = lab_zone(report)
    r = report.record
    bench = r.bench or "Bench"
    names = ["Steps", f"{bench} relay (truth)", f"{bench} hub record"]
    label_w = _label_width(width)
    t0, t1 = window(report)
    axis = TimeAxis(t0, t1, label_w, width - 6)
    bottom = TOP + len(names) * LANE_H
    items: list[Primitive] = _outage_key(label_w, 10)
    items += _lanes(names, TOP, label_w, width - 6)
    items += _axis(axis, TOP, bottom, zone)
    for s in r.steps:
        if s.started is None:
            continue
        x0 = axis.clip(axis.x(s.started))
        x1 = axis.clip(axis.x(s.ended)) if s.ended else axis.x1
        colour = OUTCOME_COLOUR.get(s.outcome.value, AXIS)
        items.append(Rect(_r(x0), TOP + 3, _r(max(x1 - x0, 1.0)), LANE_H - 6, colour))
        if x1 - x0 > CHAR_W * 3:
            items.append(Text(_r(x0 + 2), TOP + LANE_H / 2 + 2.5,
                              fit(f"{s.index + 1} {s.name}", x1 - x0 - 3), fill="#ffffff"))
    relay_y, hub_y = TOP + LANE_H, TOP + 2 * LANE_H
    scale = max(r.time_scale, 1e-9)
    for o in report.outages:
        stroke = FLAG_STROKE if o.flags else None
        alert = _restore_anchor(o, report.alerts)
        if o.start_source == "relay" and o.start is not None:
            x0 = axis.clip(axis.x(o.start))
            x1 = axis.clip(axis.x(o.end)) if o.end else axis.x1
            items.append(Rect(_r(x0), relay_y + 3, _r(max(x1 - x0, 1.0)), LANE_H - 6,
                              RELAY_FILL, stroke or RELAY_STROKE, 1.2 if stroke else 0.6))
            label = ("! " if o.flags else "") + (duration_text(o.duration_s) if o.end
                                                 else "ongoing")
            if o.restore_alert:
                label += f" {o.restore_alert}"
            room_end = min((axis.x(n.start) for n in report.outages
                            if n.start is not None and n.start_source == "relay"
                            and n.start > o.start), default=axis.x1)
            text_w = len(label) * CHAR_W
            if x1 - x0 >= text_w + 4:
                items.append(Text(_r((x0 + x1) / 2), relay_y + LANE_H / 2 + 2.5, label,
                                  anchor="middle"))
            elif x1 + 3 + text_w <= min(room_end, axis.x1) - 2:
                items.append(Text(_r(x1 + 3), relay_y + LANE_H / 2 + 2.5, label))
            if o.device_start and o.device_end and o.end is not None:
                hub_s = (o.device_end - o.device_start).total_seconds() / scale
                anchor = axis.x(alert.host_time) if alert else x1
                h0, h1 = axis.clip(anchor - hub_s / (t1 - t0) * (axis.x1 - axis.x0)), \
                    axis.clip(anchor)
                items.append(Rect(_r(h0), hub_y + 3, _r(max(h1 - h0, 1.0)), LANE_H - 6,
                                  HUB_FILL, stroke or HUB_STROKE, 1.2 if stroke else 0.6))
        elif o.start is not None or o.end is not None:
            x1 = axis.clip(axis.x(o.end)) if o.end else axis.x1
            x0 = axis.clip(axis.x(o.start)) if o.start else x1
            items.append(Rect(_r(x0), hub_y + 3, _r(max(x1 - x0, 1.0)), LANE_H - 6, HUB_FILL,
                              stroke or HUB_STROKE, 1.2 if stroke else 0.6))
        if alert is not None:
            x = _r(axis.x(alert.host_time))
            items.append(Line(x, relay_y, x, bottom, RESTORE_MARK, 0.6, (2, 1.5)))
            items.append(Marker(x, hub_y + 3, "triangle", 6, RESTORE_MARK))
    n = len(report.outages)
    note = (f"{n} outage{'s' if n != 1 else ''}; hub spans end at the restore alert and last "
            f"what the hub reported" + (f" (divided by the time scale {r.time_scale:g})"
                                        if r.time_scale != 1.0 else "") + "."
            if n else "No outage in the run's window.")
    return Figure(width, bottom + AXIS_H, tuple(items), "Outages: relay against hub record", note)


def _outage_key(x: float, y: float) -> list[Primitive]:
    items: list[Primitive] = []
    for label, fill, stroke in (("relay (ground truth)", RELAY_FILL, RELAY_STROKE),
                                ("hub record", HUB_FILL, HUB_STROKE)):
        items.append(Rect(_r(x), y - 6, 10, 6, fill, stroke, 0.6))
        items.append(Text(_r(x + 13), y, label))
        x += 20 + len(label) * CHAR_W
    items.append(Marker(_r(x + 3), y - 3, "triangle", 6, RESTORE_MARK))
    items.append(Text(_r(x + 9), y, "restore alert"))
    return items
