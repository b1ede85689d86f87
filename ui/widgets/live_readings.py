"""The reading curves of one Live plot (e.g. every device's 1.8.0), drawn as a few items.

A pyqtgraph PlotDataItem per device cost about a millisecond a frame each (its setData rebuilds
symbol records in Python, its scatter and curve are painted and bounded separately), so 64 Comms
Hubs alone took the page below 10 frames a second. Here the curves that share a colour are one
line item (devices separated by gaps) and one marker item, and their data is rebuilt only when
the part of some curve in view changed: following now moves the view every frame, but a curve's
visible points change only when a reading arrives or leaves the window.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QColor

from app.services.live_view import colour_slot, thin_curve, visible_slice
from ui.widgets.live_markers import MarkerItem

#: Curve colours; a device's is chosen from its stable id (see ``colour_slot``).
CURVE_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf")
#: A curve with fewer points than this in view also marks each point.
FEW_POINTS = 300
#: Devices named in a colour group's tooltip before "and N more".
TOOLTIP_NAMES = 6


class ReadingLayer:
    """Every device's curve of one OBIS code on one plot.

    Args:
        plot: the plot the items go in.
        obis: the OBIS code shown (for tooltips).
        unit_of: the unit of a device's curve ("" when unknown).
    """

    def __init__(self, plot: pg.PlotItem, obis: str, unit_of: Callable[[str], str],
                 slot_of: Callable[[str, int], int] | None = None) -> None:
        self.plot = plot
        self.obis = obis
        self._unit_of = unit_of
        #: device, number of colours -> its colour's index (stable across sessions)
        self._slot_of = slot_of or (lambda device, slots: colour_slot(device, [], slots))
        self._lines: dict[int, pg.PlotCurveItem] = {}
        self._marks: dict[int, MarkerItem] = {}
        self.colour_of: dict[str, int] = {}  # device -> index into CURVE_COLOURS
        self._key: tuple | None = None
        self._y_span: tuple[float, float] | None = None

    @property
    def devices(self) -> list[str]:
        """Devices with a curve, by label (the same order in every session)."""
        return sorted(self.colour_of)

    def colour(self, device: str) -> QColor:
        return pg.mkColor(CURVE_COLOURS[self.colour_of[device]])

    def clear(self) -> None:
        """Remove every curve (another source is shown)."""
        for item in (*self._lines.values(), *self._marks.values()):
            self.plot.removeItem(item)
        self._lines.clear()
        self._marks.clear()
        self.colour_of.clear()
        self._key = None
        self._y_span = None

    def set_data(self, rings: dict[str, np.ndarray], lanes: list[str], x0: float,
                 x1: float) -> tuple[float, float] | None:
        """Show the part of each device's readings inside [x0, x1].

        Args:
            rings: device -> reading records (fields ``t``, ``v``), oldest first.
            lanes: the timeline's lane names.
            x0, x1: the visible time range.

        Returns:
            The lowest and highest value in view, or None when nothing is.
        """
        slices: dict[str, slice] = {}
        key: list[object] = []
        for device, ring in rings.items():
            t = ring["t"]
            sl = visible_slice(t, x0, x1)
            slices[device] = sl
            key.append((device, sl.start, sl.stop, len(t), float(t[-1]) if len(t) else 0.0))
        signature = tuple(key)
        if signature == self._key:
            return self._y_span
        self._key = signature
        groups: dict[int, tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray],
                                list[np.ndarray], list[str]]] = {}
        lo, hi = np.inf, -np.inf
        gap = np.array([np.nan])
        for device, ring in rings.items():
            colour = self._colour_index(device, lanes)
            xs_all, ys_all, mx, my, names = groups.setdefault(colour, ([], [], [], [], []))
            names.append(device)
            sl = slices[device]
            xs, ys = thin_curve(ring["t"][sl], ring["v"][sl], -np.inf, np.inf)
            if not len(xs):
                continue
            xs_all.extend((xs, gap))
            ys_all.extend((ys, gap))
            if len(xs) < FEW_POINTS:
                mx.append(xs)
                my.append(ys)
            lo, hi = min(lo, float(ys.min())), max(hi, float(ys.max()))
        for colour in set(self._lines) - set(groups):
            self._lines[colour].setData([], [])
            self._marks[colour].setData(np.zeros(0), np.zeros(0))
        for colour, (xs_all, ys_all, mx, my, names) in groups.items():
            line, marks = self._items(colour)
            if xs_all:
                line.setData(np.concatenate(xs_all), np.concatenate(ys_all), connect="finite")
            else:
                line.setData([], [])
            marks.setData(np.concatenate(mx) if mx else np.zeros(0),
                          np.concatenate(my) if my else np.zeros(0))
            line.setToolTip(self._tooltip(names))
        self._y_span = (lo, hi) if lo <= hi else None
        return self._y_span

    def _colour_index(self, device: str, lanes: list[str]) -> int:
        index = self.colour_of.get(device)
        if index is None:
            index = self.colour_of[device] = self._slot_of(device, len(CURVE_COLOURS))
        return index

    def _items(self, colour: int) -> tuple[pg.PlotCurveItem, MarkerItem]:
        line = self._lines.get(colour)
        if line is None:
            name = CURVE_COLOURS[colour]
            line = self._lines[colour] = pg.PlotCurveItem(pen=pg.mkPen(name, width=1.5))
            marks = self._marks[colour] = MarkerItem(name, 5.0)
            self.plot.addItem(line)
            self.plot.addItem(marks)
        return line, self._marks[colour]

    def _tooltip(self, devices: list[str]) -> str:
        unit = self._unit_of(devices[0]) if devices else ""
        shown = ", ".join(devices[:TOOLTIP_NAMES])
        if len(devices) > TOOLTIP_NAMES:
            shown += f" and {len(devices) - TOOLTIP_NAMES} more"
        return f"{shown} {self.obis}" + (f" ({unit})" if unit else "")
