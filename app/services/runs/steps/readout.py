"""``readout``: an IEC 62056-21 readout of the meter, with measurements on OBIS values."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from app.domain.events import DeviceEvent
from app.domain.runs import MeasurementResult
from app.services.runs.bench_link import BenchError, BenchLink, NoReadingError
from app.services.runs.steps.base import BaseStep, StepContext

#: Real seconds one readout may take on the host's side: the meter's two reaction times and the
#: session's reply timeout (IEC 62056-21 allows 1.5 s per reaction; the session waits 3 s).
READOUT_HOST_WAIT_S = 6.0


def values_by_obis(readings: list[DeviceEvent]) -> dict[str, Any]:
    """OBIS code -> value of a readout's READING events (the last wins)."""
    return {str(e.fields.get("obis")): e.fields.get("value") for e in readings}


def meter_label(link: BenchLink, kind: str) -> str:
    """The bench's meter of `kind` read through an optical port, or a BenchError."""
    labels = link.labels(kind)
    if not labels:
        raise BenchError(f"{link.bench} has no {kind} in the device registry.")
    return labels[0]


def meter_clock(values: Mapping[str, Any]) -> datetime | None:
    """The meter's date and time from OBIS 0.9.2 (YYMMDD) and 0.9.1 (hhmmss), read as UTC."""
    date, time = values.get("0.9.2"), values.get("0.9.1")
    if date is None or time is None:
        return None
    try:
        d = f"{int(float(date)):06d}"
        t = f"{int(float(time)):06d}"
        return datetime.strptime(d + t, "%y%m%d%H%M%S").replace(tzinfo=UTC)
    except (TypeError, ValueError):
        return None


def count_value(value: Any) -> int | None:
    """A counter register's value as a whole number, or None."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if number.is_integer() else None


class ReadoutStep(BaseStep):
    """Read the meter now (through its session, so the readings are in the event stream like any
    other) and measure each OBIS value the plan names: a measurement's name is the OBIS code
    (``1.8.0``, ``C.7.0``). ``clock_offset_s`` is ``|meter clock - host receipt on the bench
    clock|`` in bench seconds; on a fast bench it includes the meter's reaction time times the
    time scale. A meter that gives no readout leaves the values UNSET (the step FAILs)."""

    kind = "readout"

    def host_wait_s(self, settings: Mapping[str, Any]) -> float:
        return READOUT_HOST_WAIT_S

    async def run(self, ctx: StepContext) -> list[MeasurementResult]:
        label = meter_label(ctx.link, str(ctx.settings["device"]))
        try:
            readings = await ctx.link.read_now(label, READOUT_HOST_WAIT_S)
        except NoReadingError as exc:
            for spec in ctx.specs:
                ctx.measure(spec.name, None, str(exc))
            return ctx.measured()
        values = values_by_obis(readings)
        for spec in ctx.specs:
            if spec.name == "clock_offset_s":
                continue
            note = "" if spec.name in values else f"the readout has no {spec.name}"
            ctx.measure(spec.name, values.get(spec.name), note)
        if ctx.settings.get("clock_tolerance_s") is not None:
            clock = meter_clock(values)
            if clock is None or not readings:
                ctx.measure("clock_offset_s", None, "the readout has no 0.9.1/0.9.2 time")
            else:
                host = ctx.link.clock.to_bench(readings[-1].host_time)
                ctx.measure("clock_offset_s", round(abs((clock - host).total_seconds()), 3),
                            f"meter {clock:%Y-%m-%d %H:%M:%S}")
        return ctx.measured()
