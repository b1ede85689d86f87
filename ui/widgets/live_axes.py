"""Axes of the Live page's plots: host time in the lab's local time, and device lanes."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pyqtgraph as pg

from app.services.live_view import LAB_TZ


class LabTimeAxis(pg.DateAxisItem):
    """A date axis for POSIX seconds, labelled in the lab's time zone (Europe/London by default).

    pyqtgraph's DateAxisItem uses one fixed offset or the machine's zone; the lab's zone is what
    staff read, whatever the workstation is set to. Tick positions use the offset in force at the
    middle of the view, and every label is converted on its own, so labels stay right across the
    clock changes in March and October.
    """

    def __init__(self, tz: ZoneInfo = LAB_TZ, **kwargs: object) -> None:
        super().__init__(orientation="bottom", **kwargs)
        self.tz = tz

    def tickValues(self, minVal, maxVal, size):  # noqa: ANN001, ANN201, N802, N803 - pyqtgraph API
        mid = (minVal + maxVal) / 2
        try:
            offset = datetime.fromtimestamp(mid, timezone.utc).astimezone(self.tz).utcoffset()
            self.utcOffset = -int(offset.total_seconds()) if offset is not None else 0
        except (OverflowError, OSError, ValueError):
            self.utcOffset = 0
        return super().tickValues(minVal, maxVal, size)

    def tickStrings(self, values, scale, spacing):  # noqa: ANN001, ANN201, N802 - pyqtgraph API
        spec = next((s for s in self.zoomLevel.tickSpecs if s.spacing == spacing), None)
        fmt = spec.format if spec is not None else "%H:%M:%S"
        out = []
        for v in values:
            try:
                moment = datetime.fromtimestamp(v, timezone.utc).astimezone(self.tz)
            except (OverflowError, OSError, ValueError):
                out.append("")
                continue
            text = moment.strftime(fmt)
            if "%f" in fmt:
                text = text[:-3]  # milliseconds are enough
            out.append(text)
        return out


class LaneAxis(pg.AxisItem):
    """The timeline's left axis: one tick per lane, named after its device."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(orientation="left", **kwargs)
        self.names: list[str] = []

    def set_lanes(self, names: list[str]) -> None:
        self.names = list(names)
        self.setTicks([[(float(i), n) for i, n in enumerate(self.names)], []])
