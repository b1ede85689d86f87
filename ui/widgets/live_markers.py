"""A marker layer for many points of one style, drawn in one QPainter call.

pyqtgraph's ScatterPlotItem keeps per-point style records and builds them in Python on every
setData, which costs milliseconds per thousand points; the timeline replaces its data 30-60 times
a second. All markers of one severity share one style, so this item renders the marker once into
a pixmap, maps the coordinates with numpy and stamps the pixmap at every point with
``QPainter.drawPixmapFragments`` (a numpy-backed fragment array, no per-point Python).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from pyqtgraph.Qt import internals
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QPainter, QPen, QPixmap


def marker_pixmap(colour: str, size_px: float, square: bool, dpr: float = 1.0) -> QPixmap:
    """One marker: filled with `colour`, outlined in a darker shade, `size_px` across."""
    side = int(np.ceil((size_px + 2) * dpr))
    pm = QPixmap(side, side)
    pm.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pm)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    # Outlined in a darker shade of the fill: dense stretches stay readable as their colour.
    painter.setPen(QPen(QColor(colour).darker(170), 1.0 * dpr))
    painter.setBrush(QBrush(QColor(colour)))
    r = QRectF(0.5 * dpr, 0.5 * dpr, side - dpr, side - dpr)
    if square:
        painter.drawRect(r)
    else:
        painter.drawEllipse(r.center(), r.width() / 2, r.height() / 2)
    painter.end()
    return pm


class MarkerItem(pg.GraphicsObject):
    """Markers at (x, y) in plot coordinates, `size_px` wide.

    Args:
        colour: fill colour.
        size_px: marker width in pixels.
        square: square markers (else round).
    """

    def __init__(self, colour: str, size_px: float, square: bool = False) -> None:
        super().__init__()
        self.colour, self.size_px, self.square = colour, size_px, square
        self._pixmap: QPixmap | None = None
        self._dpr = 0.0
        self._frags = internals.PrimitiveArray(QPainter.PixmapFragment, 10)
        self.x = np.zeros(0)
        self.y = np.zeros(0)
        self._bounds = QRectF()

    def __len__(self) -> int:
        return len(self.x)

    def setData(self, x: np.ndarray, y: np.ndarray) -> None:
        self.prepareGeometryChange()
        self.x = np.asarray(x, dtype=np.float64)
        self.y = np.asarray(y, dtype=np.float64)
        if len(self.x):
            x0, x1 = float(self.x.min()), float(self.x.max())
            y0, y1 = float(self.y.min()), float(self.y.max())
            self._bounds = QRectF(x0, y0, max(x1 - x0, 1e-9), max(y1 - y0, 1e-9))
        else:
            self._bounds = QRectF()
        self.update()

    def dataBounds(self, ax: int, frac: float = 1.0, orthoRange=None):
        data = self.x if ax == 0 else self.y
        if len(data) == 0:
            return None, None
        return float(data.min()), float(data.max())

    def boundingRect(self) -> QRectF:
        if self._bounds.isNull():
            return QRectF()
        # Markers stick out of the data's rectangle by half their width in pixels.
        px, py = self.pixelVectors()
        if px is None or py is None:
            return self._bounds
        pad_x = abs(px.x()) * (self.size_px + 4)
        pad_y = abs(py.y()) * (self.size_px + 4)
        return self._bounds.adjusted(-pad_x, -pad_y, pad_x, pad_y)

    def paint(self, p: QPainter, *_args: object) -> None:
        n = len(self.x)
        if n == 0:
            return
        dpr = p.device().devicePixelRatioF() if p.device() is not None else 1.0
        if self._pixmap is None or dpr != self._dpr:
            self._pixmap, self._dpr = marker_pixmap(self.colour, self.size_px, self.square, dpr), dpr
        t = p.transform()
        self._frags.resize(n)
        frags = self._frags.ndarray()
        frags[:, 0] = t.m11() * self.x + t.m21() * self.y + t.dx()
        frags[:, 1] = t.m12() * self.x + t.m22() * self.y + t.dy()
        side = self._pixmap.width()
        frags[:, 2:6] = (0.0, 0.0, side, side)
        frags[:, 6:10] = (1.0 / dpr, 1.0 / dpr, 0.0, 1.0)
        p.save()
        p.resetTransform()
        p.drawPixmapFragments(*self._frags.drawargs(), self._pixmap)
        p.restore()
