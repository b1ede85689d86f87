"""Axes of the Live page's plots: host time in the lab's local time, and device lanes."""

from __future__ import annotations

import math
from datetime import UTC, datetime
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

    def tickValues(self, minVal, maxVal, size):
        mid = (minVal + maxVal) / 2
        try:
            offset = datetime.fromtimestamp(mid, UTC).astimezone(self.tz).utcoffset()
            self.utcOffset = -int(offset.total_seconds()) if offset is not None else 0
        except (OverflowError, OSError, ValueError):
            self.utcOffset = 0
        return super().tickValues(minVal, maxVal, size)

    def tickStrings(self, values, scale, spacing):
        spec = next((s for s in self.zoomLevel.tickSpecs if s.spacing == spacing), None)
        fmt = spec.format if spec is not None else "%H:%M:%S"
        out = []
        for v in values:
            try:
                moment = datetime.fromtimestamp(v, UTC).astimezone(self.tz)
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


class ValueAxis(pg.AxisItem):
    """A reading axis that keeps the decimals the tick spacing needs, however large the value.

    pyqtgraph writes values of 10,000 or more with six significant digits, so an energy register
    of 12345.75 kWh with ticks 0.05 apart showed the same label twice.
    """

    def tickStrings(self, values, scale, spacing):
        places = max(0, math.ceil(-math.log10(spacing * scale))) if spacing > 0 else 0
        return [f"{v * scale:.{places}f}" for v in values]
