"""The Live page's plots: alert timeline, alert rate and reading curves, sharing one time axis.

:meth:`LivePlots.refresh` is the whole display path: called by a timer (30-60 Hz), it takes new
snapshots of the ring buffers only when their version changed, works out the visible range and
redraws only what is inside it. No signal per event reaches this widget.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF
from PySide6.QtGui import QCursor
from PySide6.QtWidgets import QToolTip, QWidget

from app.domain.devices import Device
from app.domain.outages import Outage, outages_in_view
from app.services.live import ALERT_DTYPE, LiveData
from app.services.live_snapshots import Snapshot, SnapshotThread
from app.services.live_view import (
    RANGE_PRESETS,
    Markers,
    OutageSpan,
    RangeState,
    ViewMode,
    colour_slot,
    lanes_by_bench,
    local_time,
    markers_in_view,
    outage_spans,
    rate_from_markers,
)
from devices.codecs.alert_catalogue import AlertCatalogue, default_catalogue
from ui.widgets.alert_timeline import AlertTimeline
from ui.widgets.live_axes import LabTimeAxis, ValueAxis
from ui.widgets.live_readings import ReadingLayer

#: Reading curves drawn under the timeline: (OBIS code, title, unit).
READING_PLOTS = (("1.7.0", "Power 1.7.0", "kW"), ("1.8.0", "Import register 1.8.0", "kWh"))
OBIS_PLOTTED = frozenset(obis for obis, _title, _unit in READING_PLOTS)
RATE_BINS = 60
LEFT_AXIS_PX = 150
#: While following now, the rate and reading plots are moved and redrawn at this period, or
#: sooner once their time axis would be SMALL_PLOTS_MAX_SHIFT_PX off the timeline's; the
#: timeline above them moves every frame. Following the 5 min view, "now" advances 0.2 s, under
#: a pixel, between two of their redraws, and a frame that repaints only the timeline costs
#: half as much with 64 lanes. While the followed range still grows from the first data (the
#: first minutes of a capture) the scale changes every frame, which the shift limit bounds.
#: Browsing, pausing or changing the range moves all at once.
SMALL_PLOTS_PERIOD_S = 0.2
SMALL_PLOTS_MAX_SHIFT_PX = 8.0


@dataclass
class LiveSource:
    """What the plots draw: ring buffers, outages, the registry and the current time.

    Attributes:
        live: the ring buffers.
        outages: returns (version, outages); None when there is no outage tracker.
        devices: the registry (lanes of each bench).
        now_s: host time now in POSIX seconds; None follows the newest data (replay).
        name: what the page says it is showing.
    """

    live: LiveData
    outages: Callable[[], tuple[int, list[Outage]]] | None = None
    devices: list[Device] = field(default_factory=list)
    now_s: Callable[[], float] | None = None
    name: str = "live"


class LivePlots(pg.GraphicsLayoutWidget):
    """Timeline, alert rate and readings with a shared X axis, crosshair and hover read-out."""

    def __init__(self, source: LiveSource, catalogue: AlertCatalogue | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setBackground("w")
        self.catalogue = catalogue or default_catalogue()
        self.state = RangeState()
        self._titles: dict[int, str] = {}
        self.readout = self.addLabel("", row=0, col=0, justify="left", size="9pt")
        self.timeline = AlertTimeline(self.catalogue)
        self.addItem(self.timeline.plot, row=1, col=0)
        self.rate_plot = self._small_plot(2, "Alert rate", "alerts/min", show_time=False)
        self.rate_curve = self.rate_plot.plot(stepMode="center", fillLevel=0,
                                              pen=pg.mkPen("#555", width=1),
                                              brush=pg.mkBrush(90, 90, 90, 90))
        self.reading_plots: dict[str, pg.PlotItem] = {}
        self.reading_layers: dict[str, ReadingLayer] = {}
        for i, (obis, title, unit) in enumerate(READING_PLOTS):
            last = i == len(READING_PLOTS) - 1
            plot = self._small_plot(3 + i, title, unit, show_time=last)
            self.reading_plots[obis] = plot
            self.reading_layers[obis] = ReadingLayer(
                plot, obis, lambda device, obis=obis: self.source.live.units.get((device, obis), ""),
                lambda device, slots: colour_slot(device, self.source.devices, slots))
        layout = self.ci.layout
        layout.setRowStretchFactor(1, 6)
        for row in (2, 3, 4):
            layout.setRowStretchFactor(row, 2)
        self.crosshair = [pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen("#999", width=1))
                          for _ in range(2 + len(READING_PLOTS))]
        for line, plot in zip(self.crosshair, self.plots()):
            line.setVisible(False)
            plot.addItem(line, ignoreBounds=True)
        for plot in self.plots():
            plot.getViewBox().sigRangeChangedManually.connect(
                lambda *_args, plot=plot: self._user_moved(plot))
        self._mouse = pg.SignalProxy(self.scene().sigMouseMoved, rateLimit=60, slot=self._moved)
        self.source = source
        self._snapshots: SnapshotThread | None = None
        # The snapshot thread ends with the widget, however the widget goes away.
        self._snapshot_box: list[SnapshotThread | None] = [None]
        box = self._snapshot_box
        self.destroyed.connect(lambda *_a: box[0].stop() if box[0] is not None else None)
        self.frames = 0  # redraws done (for the fps measure and tests)
        self.hover_text = ""
        self._reset_cache()

    def _small_plot(self, row: int, title: str, unit: str, show_time: bool) -> pg.PlotItem:
        plot = pg.PlotItem(axisItems={"bottom": LabTimeAxis(), "left": ValueAxis("left")})
        plot.setMenuEnabled(False)
        plot.hideButtons()
        # No grid here: translucent grid lines cost more to paint than the data (the timeline
        # above carries the time grid).
        plot.setMouseEnabled(x=True, y=False)
        # Y ranges are set from the visible data in _draw: pyqtgraph's auto-range would change
        # the range while painting and cost a second repaint per frame.
        plot.disableAutoRange()
        plot.setTitle(f"{title} ({unit})", size="9pt")
        self._titles[id(plot)] = f"{title} ({unit})"
        left = plot.getAxis("left")
        left.enableAutoSIPrefix(False)
        left.setWidth(LEFT_AXIS_PX)
        if not show_time:
            plot.hideAxis("bottom")
        # Not X-linked to the timeline: refresh and _user_moved keep the time axes in step, so
        # that following now can move these plots less often than the timeline.
        self.addItem(plot, row=row, col=0)
        return plot

    def stop(self) -> None:
        """Stop taking snapshots (the widget is going away)."""
        if self._snapshots is not None:
            self._snapshots.stop()

    def latest_snapshot(self) -> Snapshot | None:
        """The newest snapshot of the source (taken even while the view is paused)."""
        return self._snapshots.latest() if self._snapshots is not None else None

    def plots(self) -> list[pg.PlotItem]:
        return [self.timeline.plot, self.rate_plot, *self.reading_plots.values()]

    # --- source and range ----------------------------------------------------------------------
    def _reset_cache(self) -> None:
        if self._snapshots is not None:
            self._snapshots.stop()
        self._snapshots = SnapshotThread(self.source.live, OBIS_PLOTTED)
        self._snapshot_box[0] = self._snapshots
        self._seq = -1
        self._outage_version = -1
        self._alerts = np.zeros(0, ALERT_DTYPE)
        self._alert_t = np.zeros(0)
        self._alert_key = np.zeros(0, dtype=np.int32)
        self._readings: dict[tuple[str, str], np.ndarray] = {}
        self._outages: list[Outage] = []
        self._spans: list[OutageSpan] = []
        self._spans_key: tuple[object, ...] | None = None
        self._settled_spans: list[OutageSpan] = []
        self._open_outages: list[Outage] = []
        self._now_drawn = 0.0
        self._drawn_key: tuple[float, float, float] | None = None
        self._small_range: tuple[float, float] | None = None
        self._small_drawn_s = -np.inf
        self._dirty = True

    def set_source(self, source: LiveSource) -> None:
        """Show another source (the live runtime, or a replay)."""
        self.source = source
        for obis, layer in self.reading_layers.items():
            layer.clear()
            self._retitle(obis)
        self._reset_cache()
        self.state.mode = ViewMode.FOLLOW
        self.refresh()

    def set_preset(self, label: str) -> None:
        """Show the preset's width (5 min, 1 h, 24 h, All): following now unless paused."""
        self.state.span_s = RANGE_PRESETS[label]
        if self.state.mode is ViewMode.PAUSED:
            end = self.state.x_range[1]
            start = self._first_t() if self.state.span_s is None else end - self.state.span_s
            self._set_range(start if start is not None else end - 60.0, end)
        else:
            self.state.mode = ViewMode.FOLLOW
        self._dirty = True
        self.refresh()

    def follow(self) -> None:
        """Follow now (leaves pause and browsing)."""
        self.state.mode = ViewMode.FOLLOW
        self._dirty = True
        self.refresh()

    def set_paused(self, paused: bool) -> None:
        """Freeze the view (range and data) or let it move again; capture is not affected."""
        if paused:
            self.state.mode = ViewMode.PAUSED
            self.state.x_range = tuple(self.timeline.plot.getViewBox().viewRange()[0])  # type: ignore[assignment]
        else:
            self.state.mode = ViewMode.FOLLOW
            self._dirty = True
            self.refresh()

    def show_window(self, x0: float, x1: float) -> None:
        """Browse the range [x0, x1] (POSIX seconds), e.g. the span of a test run, with a small
        margin either side; data keeps arriving and Follow goes back to now."""
        margin = max(5.0, (x1 - x0) * 0.05)
        self.state.mode = ViewMode.BROWSE
        self._set_range(x0 - margin, x1 + margin)
        for plot in self.plots():
            if plot is not self.timeline.plot:
                plot.getViewBox().setXRange(x0 - margin, x1 + margin, padding=0)
        self._small_range = (x0 - margin, x1 + margin)
        self._dirty = True
        self.refresh()

    def _user_moved(self, moved: pg.PlotItem) -> None:
        # Zooming or panning by mouse stops following (a paused view stays paused).
        if self.state.mode is ViewMode.FOLLOW:
            self.state.mode = ViewMode.BROWSE
        x0, x1 = moved.getViewBox().viewRange()[0]
        for plot in self.plots():
            if plot is not moved:
                plot.getViewBox().setXRange(x0, x1, padding=0)
        self._small_range = (float(x0), float(x1))
        self.state.x_range = tuple(self.timeline.plot.getViewBox().viewRange()[0])  # type: ignore[assignment]

    def _set_range(self, x0: float, x1: float) -> None:
        self.state.x_range = (x0, x1)
        self.timeline.plot.getViewBox().setXRange(x0, x1, padding=0)

    def _first_t(self) -> float | None:
        firsts = [float(r["t"][0]) for r in self._readings.values() if len(r)]
        if len(self._alerts):
            firsts.append(float(self._alerts["t"][0]))
        return min(firsts) if firsts else None

    def _newest_t(self) -> float:
        lasts = [float(r["t"][-1]) for r in self._readings.values() if len(r)]
        if len(self._alerts):
            lasts.append(float(self._alerts["t"][-1]))
        return max(lasts) if lasts else time.time()

    def view_range(self) -> tuple[float, float]:
        x0, x1 = self.timeline.plot.getViewBox().viewRange()[0]
        return float(x0), float(x1)

    def outages_in_view(self) -> list[Outage]:
        """The outages the view shows (and the page counts): see
        :func:`app.domain.outages.outages_in_view`."""
        x0, x1 = self.view_range()
        benches = frozenset(lanes_by_bench(self.timeline.lane_names, self.source.devices))
        return outages_in_view(self._outages, benches, datetime.fromtimestamp(x0, UTC),
                               datetime.fromtimestamp(x1, UTC),
                               datetime.fromtimestamp(self._now_drawn, UTC))

    # --- the display path ----------------------------------------------------------------------
    def refresh(self) -> bool:
        """Take new snapshots if the data changed, then redraw what is in view.

        Returns:
            True when something was redrawn.
        """
        src = self.source
        changed = self._dirty
        if self.state.mode is not ViewMode.PAUSED:
            snap = self._snapshots.latest()
            if snap is not None and snap.seq != self._seq:
                self._seq = snap.seq
                self._alerts, self._alert_t, self._readings = snap.alerts, snap.t, snap.readings
                self._alert_key = snap.key
                self.timeline.set_lanes(snap.lanes)
                changed = True
            if src.outages is not None:
                o_version, outages = src.outages()
                if o_version != self._outage_version:
                    self._outage_version, self._outages = o_version, outages
                    changed = True
            now = src.now_s() if src.now_s is not None else self._newest_t()
            x0, x1 = self.state.update(now, self._first_t())
            if self.state.mode is ViewMode.FOLLOW:
                self._set_range(x0, x1)
        else:
            now = self.state.x_range[1]
        x0, x1 = self.view_range()
        width = float(self.timeline.plot.getViewBox().width()) or 1000.0
        key = (x0, x1, width)
        if not changed and key == self._drawn_key:
            return False
        self._drawn_key, self._dirty = key, False
        moved = self._draw(x0, x1, width, now)
        # Apply the new view transforms now, not while painting: items whose bounds depend on
        # the pixel size (curves) would otherwise ask for a second repaint of every frame. Only
        # for plots that moved: updating a matrix repaints the whole plot even when unchanged.
        for plot in moved:
            plot.getViewBox().updateMatrix()
        self.frames += 1
        return True

    def _draw(self, x0: float, x1: float, width: float, now: float) -> list[pg.PlotItem]:
        """Redraw the timeline, and the smaller plots when due; returns the plots redrawn."""
        markers = markers_in_view(self._alerts, x0, x1, int(width), t=self._alert_t,
                                  key=self._alert_key)
        self.timeline.set_markers(markers, self._alerts, self._alert_t)
        bench_lanes = lanes_by_bench(self.timeline.lane_names, self.source.devices)
        ongoing_now = now if self.state.mode is not ViewMode.PAUSED else self.state.x_range[1]
        self._now_drawn = ongoing_now
        # Spans of outages that are over do not move: made again only when the outages or the
        # lanes change (a day of them is thousands); those still going on end at now.
        key = (self._outage_version, tuple(self.timeline.lane_names))
        if key != self._spans_key:
            self._spans_key = key
            self._open_outages = [o for o in self._outages if _open(o)]
            self._settled_spans = outage_spans([o for o in self._outages if not _open(o)],
                                               bench_lanes, ongoing_now)
        self._spans = self._settled_spans + outage_spans(self._open_outages, bench_lanes,
                                                         ongoing_now)
        self.timeline.set_spans(self._spans, x0, x1, width)
        if self._small_plots_due(x0, x1, width):
            self._draw_small_plots(markers, x0, x1)
            return self.plots()
        return [self.timeline.plot]

    def _small_plots_due(self, x0: float, x1: float, width_px: float) -> bool:
        if self._small_range is None or self.state.mode is not ViewMode.FOLLOW:
            return self._small_range != (x0, x1)
        s0, s1 = self._small_range
        shift_px = max(abs(x0 - s0), abs(x1 - s1)) * width_px / max(x1 - x0, 1e-9)
        return (shift_px >= SMALL_PLOTS_MAX_SHIFT_PX
                or time.monotonic() - self._small_drawn_s >= SMALL_PLOTS_PERIOD_S)

    def _draw_small_plots(self, markers: Markers, x0: float, x1: float) -> None:
        self._small_range, self._small_drawn_s = (x0, x1), time.monotonic()
        for plot in self.plots()[1:]:
            plot.getViewBox().setXRange(x0, x1, padding=0)
        edges, counts, bin_s = rate_from_markers(markers, x0, x1, RATE_BINS)
        rates = counts * (60.0 / bin_s)
        self.rate_curve.setData(edges, rates)
        _set_y(self.rate_plot, 0.0, float(rates.max()) if len(rates) else 0.0)
        by_obis: dict[str, dict[str, np.ndarray]] = {obis: {} for obis in self.reading_layers}
        for (device, obis), ring in self._readings.items():
            if obis in by_obis:
                by_obis[obis][device] = ring
        for obis, layer in self.reading_layers.items():
            known = len(layer.colour_of)
            span = layer.set_data(by_obis[obis], self.timeline.lane_names, x0, x1)
            if len(layer.colour_of) != known:
                self._retitle(obis)
            if span is not None:
                _set_y(self.reading_plots[obis], *span)

    def _retitle(self, obis: str) -> None:
        # Which curve is which goes in the title (a legend box would cover data).
        layer = self.reading_layers[obis]
        names = [f"<span style='color:{layer.colour(d).name()}'>●</span> {d}"
                 for d in layer.devices[:4]]
        plot = self.reading_plots[obis]
        title = self._titles[id(plot)]
        plot.setTitle(title + (" &nbsp; " + " &nbsp; ".join(names) if names else ""), size="9pt")

    # --- crosshair and hover -------------------------------------------------------------------
    def _moved(self, event: tuple[QPointF]) -> None:
        pos = event[0]
        self.show_crosshair_at(pos)

    def show_crosshair_at(self, scene_pos: QPointF) -> str:
        """Move the crosshair to a scene position; returns the read-out shown."""
        over = next((p for p in self.plots() if p.sceneBoundingRect().contains(scene_pos)), None)
        if over is None:
            for line in self.crosshair:
                line.setVisible(False)
            return ""
        point = over.getViewBox().mapSceneToView(scene_pos)
        for line in self.crosshair:
            line.setPos(point.x())
            line.setVisible(True)
        text = local_time(point.x(), with_date=True)
        hover = ""
        if over is self.timeline.plot:
            vb = self.timeline.plot.getViewBox()
            (vx0, vx1), (vy0, vy1) = vb.viewRange()
            hover = self.timeline.describe_near(
                point.x(), point.y(), vb.width() / max(vx1 - vx0, 1e-9),
                vb.height() / max(vy1 - vy0, 1e-9))
        self.hover_text = hover
        self.readout.setText(text + ("   |   " + hover.replace("\n", "  ·  ") if hover else ""))
        if hover:
            QToolTip.showText(QCursor.pos(), hover, self)
        return text


def _open(o: Outage) -> bool:
    """The outage is still going on: its span ends at now."""
    return o.end is None and o.recorded_until is None


def _set_y(plot: pg.PlotItem, lo: float, hi: float) -> None:
    """Show [lo, hi] with a margin (a flat line gets a band around it); only when it changed."""
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return
    pad = (hi - lo) * 0.08 or max(abs(hi) * 0.02, 0.5)
    want = (lo - pad, hi + pad)
    (y0, y1) = plot.getViewBox().viewRange()[1]
    if abs(y0 - want[0]) > 1e-9 * max(1.0, abs(y0)) or abs(y1 - want[1]) > 1e-9 * max(1.0, abs(y1)):
        plot.getViewBox().setYRange(*want, padding=0)
