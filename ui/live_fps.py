"""How fast the Live page's plots redraw on this machine, offscreen (for benchmarks).

The plots are built as the page builds them and driven by a 60 Hz timer calling the same
``refresh`` as the page; a frame counts when it is actually painted (a paint event of the plot's
viewport after a redraw), so frames Qt coalesces or skips are not counted.
"""

from __future__ import annotations

import os
import time

from app.services.live import LiveData
from app.services.outages import OutageService

#: The page's display timer period.
FRAME_MS = 16
PLOT_SIZE = (1100, 760)


def measure_live_fps(live: LiveData, outages: OutageService | None, seconds: float,
                     preset: str = "5 min") -> float:
    """Redraw the live plots of `live` (and `outages`) for `seconds`; return frames per second.

    Creates an offscreen QApplication when there is none. The Qt event loop runs on the calling
    thread for the whole time, so ingest under test must run on other threads.

    Args:
        live: the ring buffers drawn.
        outages: drawn as spans when given.
        seconds: how long to measure.
        preset: the time range followed ("5 min", "1 h", "24 h", "All").
    """
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QEvent, QEventLoop, QObject, QTimer
    from PySide6.QtWidgets import QApplication

    from ui.widgets.live_plots import LivePlots, LiveSource

    app = QApplication.instance() or QApplication([])
    plots = LivePlots(LiveSource(live, outages.snapshot if outages is not None else None,
                                 now_s=time.time, name="fps"))
    plots.set_preset(preset)
    plots.resize(*PLOT_SIZE)
    plots.show()

    class FrameCounter(QObject):
        """Counts paint events that show a new redraw."""

        def __init__(self) -> None:
            super().__init__()
            self.frames = 0
            self.drawn = plots.frames

        def eventFilter(self, obj: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Paint and plots.frames != self.drawn:
                self.drawn = plots.frames
                self.frames += 1
            return False

    counter = FrameCounter()
    plots.viewport().installEventFilter(counter)
    timer = QTimer()
    timer.setInterval(FRAME_MS)
    timer.timeout.connect(plots.refresh)
    # Let the first snapshot arrive and the layout settle before counting.
    warm = QEventLoop()
    QTimer.singleShot(300, warm.quit)
    timer.start()
    warm.exec()
    counter.frames = 0
    loop = QEventLoop()
    QTimer.singleShot(max(int(seconds * 1000), 1), loop.quit)
    started = time.perf_counter()
    loop.exec()
    elapsed = time.perf_counter() - started
    timer.stop()
    frames = counter.frames
    plots.viewport().removeEventFilter(counter)
    plots.stop()
    plots.close()
    plots.deleteLater()
    app.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    return frames / elapsed if elapsed > 0 else 0.0
