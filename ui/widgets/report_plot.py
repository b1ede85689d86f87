"""The report's two plots drawn with QPainter from the same geometry the PDF and HTML draw."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetricsF,
    QPainter,
    QPaintEvent,
    QPen,
    QPolygonF,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

from app.domain.reports import RunReport
from app.services.reports.plots import CHAR_W, FONT_SIZE

#: Text of the kind the figures hold, to measure a font's usual character width.
SAMPLE = "Bench 1 Comms Hub 10:00:05 relay (truth) 8F35"

TITLE_H = 16.0
GAP = 10.0


class ReportPlot(QWidget):
    """The alert timeline and the outage plot of a run's report, at the widget's width."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.report: RunReport | None = None
        self._figures: list[Any] = []
        self._width = 0.0
        self.setMinimumHeight(160)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def sizeHint(self) -> QSize:
        return QSize(700, 300)

    def set_report(self, report: RunReport | None) -> None:
        self.report = report
        self._width = 0.0
        self.update()

    def figures(self, width: float) -> list[Any]:
        """The figures at `width` (cached while the width stays the same)."""
        from app.services.reports.plots import alert_timeline, outage_plot

        if self.report is None:
            return []
        if width != self._width:
            self._figures = [alert_timeline(self.report, width), outage_plot(self.report, width)]
            self._width = width
        return self._figures

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), QColor("#ffffff"))
        if self.report is None:
            painter.setPen(QColor("#777777"))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter,
                             "The run's alerts and outages are drawn here.")
            return
        figures = self.figures(float(max(200, self.width() - 8)))
        natural = sum(f.height + TITLE_H + GAP for f in figures)
        scale = min(1.0, max(0.3, self.height() / natural)) if natural else 1.0
        painter.translate(4, 2)
        painter.scale(1.0, scale)
        y = 0.0
        for figure in figures:
            title = QFont(self.font())
            title.setBold(True)
            painter.setFont(title)
            painter.setPen(QColor("#222222"))
            painter.drawText(QPointF(0, y + 12), figure.title)
            y += TITLE_H
            painter.save()
            painter.translate(0, y)
            for item in figure.items:
                _draw(painter, item)
            painter.restore()
            y += figure.height + GAP
        painter.end()


def _draw(painter: QPainter, item: Any) -> None:
    kind = type(item).__name__
    if kind == "Rect":
        painter.setPen(QPen(QColor(item.stroke), item.stroke_width) if item.stroke
                       else Qt.PenStyle.NoPen)
        painter.setBrush(QBrush(QColor(item.fill)) if item.fill else Qt.BrushStyle.NoBrush)
        painter.drawRect(QRectF(item.x, item.y, item.w, item.h))
    elif kind == "Line":
        painter.setPen(QPen(QColor(item.stroke), item.width))
        painter.drawLine(QPointF(item.x1, item.y1), QPointF(item.x2, item.y2))
    elif kind == "Marker":
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QBrush(QColor(item.fill)))
        half = item.size / 2
        if item.shape == "circle":
            painter.drawEllipse(QPointF(item.x, item.y), half, half)
        elif item.shape == "triangle":
            painter.drawPolygon(QPolygonF([QPointF(item.x - half, item.y - half),
                                           QPointF(item.x + half, item.y - half),
                                           QPointF(item.x, item.y + half)]))
        else:
            painter.drawRect(QRectF(item.x - half, item.y - half, item.size, item.size))
    elif kind == "Text":
        font = QFont(painter.font())
        # The geometry is in pixels of the widget's width: a text of size 7 is about 9 px.
        font.setPixelSize(max(7, round(item.size * 1.3)))
        font.setBold(item.bold)
        painter.setFont(font)
        painter.setPen(QColor(item.fill))
        metrics = QFontMetricsF(font)
        width = metrics.horizontalAdvance(item.text)
        # The figure was laid out for CHAR_W a character (as the PDF's fonts are): a wider
        # screen font is narrowed to that room, so labels never run into their neighbours.
        # Every text of a size is narrowed alike; one still too wide, a little more.
        planned = CHAR_W * item.size / FONT_SIZE
        typical = metrics.horizontalAdvance(SAMPLE) / len(SAMPLE)
        squeeze = min(1.0, planned / typical)
        room = len(item.text) * planned
        if width * squeeze > room > 0:
            squeeze = room / width
        width *= squeeze
        x = item.x - (width if item.anchor == "end" else width / 2 if item.anchor == "middle"
                      else 0.0)
        painter.save()
        painter.translate(x, item.y)
        painter.scale(squeeze, 1.0)
        painter.drawText(QPointF(0, 0), item.text)
        painter.restore()
