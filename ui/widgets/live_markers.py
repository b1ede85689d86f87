"""A marker layer for many points of one style, drawn in one QPainter call.

pyqtgraph's ScatterPlotItem keeps per-point style records and builds them in Python on every
setData, which costs milliseconds per thousand points; the timeline replaces its data 30-60 times
a second. All markers of one severity share one style, so this item maps the coordinates with
numpy and draws them as wide round- or square-capped points with ``QPainter.drawPoints``.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pyqtgraph.functions as fn
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen


class MarkerItem(pg.GraphicsObject):
    """Markers at (x, y) in plot coordinates, `size_px` wide, outlined in a darker colour.

    Args:
        colour: fill colour.
        size_px: marker width in pixels.
        square: square markers (else round).
    """

    def __init__(self, colour: str, size_px: float, square: bool = False) -> None:
        super().__init__()
        cap = Qt.PenCapStyle.SquareCap if square else Qt.PenCapStyle.RoundCap
        self._outline = QPen(QColor("#202020"), size_px + 2.0)
        self._fill = QPen(QColor(colour), size_px)
        for pen in (self._outline, self._fill):
            pen.setCapStyle(cap)
            pen.setCosmetic(True)
        self.size_px = size_px
        self.x = np.zeros(0)
        self.y = np.zeros(0)
        self._bounds = QRectF()

    def __len__(self) -> int:
        return len(self.x)

    def setData(self, x: np.ndarray, y: np.ndarray) -> None:  # noqa: N802 - pyqtgraph naming
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

    def dataBounds(self, ax: int, frac: float = 1.0, orthoRange=None):  # noqa: ANN001, ANN201, N803
        data = self.x if ax == 0 else self.y
        if len(data) == 0:
            return None, None
        return float(data.min()), float(data.max())

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt naming
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
        t = p.transform()
        dev_x = t.m11() * self.x + t.m21() * self.y + t.dx()
        dev_y = t.m12() * self.x + t.m22() * self.y + t.dy()
        poly = fn.create_qpolygonf(n)
        arr = fn.ndarray_from_qpolygonf(poly)
        arr[:, 0] = dev_x
        arr[:, 1] = dev_y
        p.save()
        p.resetTransform()
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        p.setPen(self._outline)
        p.drawPoints(poly)
        p.setPen(self._fill)
        p.drawPoints(poly)
        p.restore()
