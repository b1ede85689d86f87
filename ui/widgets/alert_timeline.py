"""The alert timeline: one lane per device, a marker per alert, outages as shaded spans.

Markers are four ScatterPlotItems (one per severity) whose data is replaced from the ring
snapshot by the display timer; spans are plain rectangles in the plot, with a label row above the
lanes. Nothing here is called per event.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QPen
from PySide6.QtWidgets import QGraphicsRectItem

from app.services.live_view import (
    CRITICAL,
    INFO,
    NON_CRITICAL,
    UNKNOWN,
    Markers,
    OutageSpan,
    alert_near,
    label_rows,
    local_time,
)
from devices.codecs.alert_catalogue import AlertCatalogue
from ui.widgets.live_axes import LabTimeAxis, LaneAxis
from ui.widgets.live_markers import MarkerItem

#: severity level -> (name, colour, square marker, size px, offset within the lane)
SEVERITY_STYLE = {
    CRITICAL: ("critical", "#d62728", True, 9, -0.22),
    NON_CRITICAL: ("non-critical", "#f28e2b", False, 9, 0.0),
    INFO: ("info", "#4e79a7", False, 6, 0.22),
    UNKNOWN: ("unknown", "#8c8c8c", True, 5, 0.22),
}

#: severity level + 1 -> the marker's offset within its lane
_OFFSETS = np.array([SEVERITY_STYLE[lv][4] for lv in (UNKNOWN, INFO, NON_CRITICAL, CRITICAL)])

RELAY_PEN, RELAY_FILL = QColor("#3b4cc0"), QColor(59, 76, 192, 45)
DEVICE_PEN, DEVICE_FILL = QColor("#b8860b"), QColor(184, 134, 11, 150)
FLAG_PEN = QColor("#c0392b")

#: The timeline's key, kept short: a title wider than the plot would widen the whole layout.
TITLE_HTML = (
    " &nbsp;".join(f"<span style='color:{c}'>{'■' if sq else '●'}</span> {n}"
                   for n, c, sq, _s, _o in (SEVERITY_STYLE[lv] for lv in (CRITICAL, NON_CRITICAL,
                                                                           INFO)))
    + f" &nbsp; <span style='color:{RELAY_PEN.name()}'>▭</span> outage: relay"
    + f" &nbsp;<span style='color:{DEVICE_PEN.name()}'>▨</span> device report"
)

#: Lane units above lane 0 kept for outage labels (two rows).
LABEL_ROW_H = 0.55
LABEL_ROWS = 2


class AlertTimeline:
    """The timeline plot's contents. `plot` is the PlotItem to add to a layout."""

    def __init__(self, catalogue: AlertCatalogue) -> None:
        self.catalogue = catalogue
        self.lane_axis = LaneAxis()
        self.plot = pg.PlotItem(axisItems={"bottom": LabTimeAxis(), "left": self.lane_axis})
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()
        self.plot.setMouseEnabled(x=True, y=False)
        # An opaque light grid: translucent lines are much slower to paint in the raster engine.
        self.plot.showGrid(x=True, y=False, alpha=1.0)
        bottom = self.plot.getAxis("bottom")
        bottom.setTickPen(pg.mkPen("#e3e3e3"))
        bottom.setTextPen(pg.mkPen("#303030"))
        self.plot.getViewBox().invertY(True)
        # The key is in the title, where it never covers data.
        self.plot.setTitle(TITLE_HTML, size="9pt")
        self.lane_axis.setWidth(150)
        self.scatters: dict[int, MarkerItem] = {}
        for level, (_name, colour, square, size, _off) in SEVERITY_STYLE.items():
            item = MarkerItem(colour, size, square)
            item.setZValue(10 + level)
            self.plot.addItem(item)
            self.scatters[level] = item
        self.markers: Markers | None = None
        self.snapshot: np.ndarray | None = None
        self.snapshot_t = np.zeros(0)
        self._span_items: list[QGraphicsRectItem] = []
        self._labels: list[pg.TextItem] = []
        self.lane_names: list[str] = []
        self.spans_drawn = 0
        self.set_lanes([])

    # --- lanes and markers ---------------------------------------------------------------------
    def set_lanes(self, names: list[str]) -> None:
        if names == self.lane_names and names:
            return
        self.lane_names = list(names)
        self.lane_axis.set_lanes(self.lane_names)
        n = max(len(names), 1)
        self.plot.getViewBox().setYRange(-0.5 - LABEL_ROWS * LABEL_ROW_H, n - 0.5, padding=0)

    def set_markers(self, markers: Markers, snapshot: np.ndarray, t: np.ndarray) -> None:
        """Show `markers` (indices refer to `snapshot`, kept for hover descriptions)."""
        self.markers, self.snapshot, self.snapshot_t = markers, snapshot, t
        for level, item in self.scatters.items():
            sel = markers.severity == level
            if level == UNKNOWN:
                sel = markers.severity < INFO
            item.setData(x=markers.x[sel], y=markers.lane[sel] + SEVERITY_STYLE[level][4])

    def marker_count(self) -> int:
        """Markers currently drawn (all severities)."""
        return sum(len(item) for item in self.scatters.values())

    def describe_near(self, x: float, y: float, px_per_s: float, px_per_lane: float,
                      radius_px: float = 9.0) -> str:
        """The alert under the point (x, y) in plot coordinates, as text; "" when none."""
        m, snap = self.markers, self.snapshot
        if m is None or snap is None or len(m.x) == 0:
            return ""
        off = _OFFSETS[np.clip(m.severity, UNKNOWN, CRITICAL) + 1]
        d2 = ((m.x - x) * px_per_s) ** 2 + ((m.lane + off - y) * px_per_lane) ** 2
        i = int(np.argmin(d2))
        if d2[i] > radius_px ** 2:
            return ""
        index = int(m.index[i])
        if index < 0:  # a thinned marker: find an alert it stands for
            half = m.column_s / 2
            index = alert_near(snap, self.snapshot_t, m.x[i] - half, m.x[i] + half,
                               int(m.lane[i]), int(m.severity[i]))
            if index < 0:
                return ""
        rec = snap[index]
        code = f"{int(rec['code']):04X}"
        lane = int(rec["lane"])
        device = self.lane_names[lane] if 0 <= lane < len(self.lane_names) else f"lane {lane}"
        severity = SEVERITY_STYLE.get(int(rec["severity"]), SEVERITY_STYLE[UNKNOWN])[0]
        text = (f"{code} {self.catalogue.name(code)}\n{severity}, {device}\n"
                f"host {local_time(float(rec['t']), with_date=True)}\n"
                f"device {local_time(float(rec['device_t']), with_date=True)}")
        if int(m.count[i]) > 1:
            text += f"\n(+{int(m.count[i]) - 1} more here: zoom in)"
        return text

    # --- outages -------------------------------------------------------------------------------
    def set_spans(self, spans: list[OutageSpan], x0: float, x1: float, width_px: float) -> None:
        """Draw the spans overlapping [x0, x1]; labels are staggered so they never overlap."""
        vb = self.plot.getViewBox()
        shown = [s for s in spans if s.x1 >= x0 and s.x0 <= x1]
        rects: list[tuple[QRectF, QPen, QBrush, str]] = []
        for s in shown:
            pen_colour = FLAG_PEN if s.flagged else (RELAY_PEN if s.source == "relay" else DEVICE_PEN)
            for lo, hi in _runs(s.lanes):
                if s.source == "relay":
                    pen = QPen(pen_colour, 2.5 if s.flagged else 1.6)
                    rect = QRectF(s.x0, lo - 0.46, max(s.x1 - s.x0, 1e-3), hi - lo + 0.92)
                    rects.append((rect, pen, QBrush(RELAY_FILL), s.tooltip))
                else:
                    pen = QPen(pen_colour, 1.6, Qt.PenStyle.DashLine)
                    for lane in range(lo, hi + 1):
                        rect = QRectF(s.x0, lane + 0.08, max(s.x1 - s.x0, 1e-3), 0.34)
                        rects.append((rect, pen, QBrush(DEVICE_FILL, Qt.BrushStyle.BDiagPattern),
                                      s.tooltip))
        while len(self._span_items) < len(rects):
            item = QGraphicsRectItem()
            item.setZValue(-5)
            vb.addItem(item)
            self._span_items.append(item)
        for item, (rect, pen, brush, tip) in zip(self._span_items, rects):
            pen.setCosmetic(True)
            item.setRect(rect)
            item.setPen(pen)
            item.setBrush(brush)
            item.setToolTip(tip)
            item.setVisible(True)
        for item in self._span_items[len(rects):]:
            item.setVisible(False)
        self.spans_drawn = len(rects)
        self._set_labels([s for s in shown if s.label], x0, x1, width_px)

    def _set_labels(self, spans: list[OutageSpan], x0: float, x1: float, width_px: float) -> None:
        px_per_s = width_px / max(x1 - x0, 1e-9)
        starts = [(s.x0 - x0) * px_per_s for s in spans]
        widths = [7.0 * len(s.label) + 8 for s in spans]
        rows = label_rows(starts, widths, LABEL_ROWS)
        while len(self._labels) < len(spans):
            label = pg.TextItem(anchor=(0, 0.5))
            self.plot.getViewBox().addItem(label)
            self._labels.append(label)
        for label, s, row in zip(self._labels, spans, rows):
            colour = FLAG_PEN if s.flagged else (RELAY_PEN if s.source == "relay" else DEVICE_PEN)
            label.setText(s.label, color=colour)
            label.setToolTip(s.tooltip)
            top = -0.5 - LABEL_ROW_H * (row + 0.5)
            label.setPos(s.x0, top)
            label.setVisible(row >= 0)
        for label in self._labels[len(spans):]:
            label.setVisible(False)


def _runs(lanes: tuple[int, ...]) -> list[tuple[int, int]]:
    """Contiguous runs of lane numbers: (0, 1, 2, 4) -> [(0, 2), (4, 4)]."""
    out: list[tuple[int, int]] = []
    for lane in sorted(lanes):
        if out and lane == out[-1][1] + 1:
            out[-1] = (out[-1][0], lane)
        else:
            out.append((lane, lane))
    return out
