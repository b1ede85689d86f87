"""Scrolling a pyqtgraph plot offscreen, with axis redraws on every step.

PySide6 6.12.0 with pyqtgraph 0.14.0 died in ``AxisItem.drawPicture`` with ``Fatal Python error:
none_dealloc``; a crash here fails the whole run, so an upgrade that brings it back is caught.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg


def test_plot_scrolls_with_axis_redraws(qtbot) -> None:
    widget = pg.PlotWidget(title="scroll")
    qtbot.addWidget(widget)
    widget.resize(640, 360)
    widget.show()
    qtbot.waitExposed(widget)
    plot = widget.getPlotItem()
    plot.setLabel("bottom", "time", units="s")
    plot.setLabel("left", "power", units="W")
    plot.showGrid(x=True, y=True)
    curve = plot.plot(pen="y")
    xs = np.arange(0, 20_000, dtype=float) * 0.01
    ys = np.sin(xs) * 1000 + np.random.default_rng(7).normal(0, 50, xs.size)
    bottom = plot.getAxis("bottom")
    for step in range(300):
        end = 200 + step * 60
        curve.setData(xs[:end], ys[:end])
        plot.setXRange(xs[max(end - 500, 0)], xs[end - 1], padding=0)
        plot.setYRange(-1200 - step, 1200 + step, padding=0)
        if step % 50 == 0:
            bottom.setStyle(tickLength=-5 - step // 50)  # forces the axis picture to be rebuilt
        widget.repaint()
        qtbot.wait(0)
    image = widget.grab().toImage()
    assert image.width() == 640
    left, right = plot.viewRange()[0]
    assert right - left > 4.9
