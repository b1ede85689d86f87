"""``outage``: cut the bench's supply, restore it, and measure what the devices reported.

Sequence (times as in :mod:`app.services.runs.bench_link`):

1. read the meter (C.7.0 before);
2. cut the relay channel: its acknowledgement (host time) is the ground truth of the start;
3. ``duration_s`` bench seconds after the cut was commanded, restore it: the acknowledgement is
   the ground truth of the end (timing both from the commands keeps the relay's round trip out of
   the outage's length, so 179 s stays under the 3-minute line on a bench running 60 times fast);
4. for up to ``alert_wait_s`` bench seconds after the restore, collect from the event stream the
   hub's outage record (OUTAGE_START and OUTAGE_END from the Comms Hub, not the relay) and the
   meter's restore alert (8F35/8F36 whose originator is the bench's ESME);
5. meanwhile read the meter again and again until a readout succeeds or ``readable_within_s``
   bench seconds have passed since the restore (C.7.0 after).

Measurements (limits from :func:`app.domain.step_kinds.resolve_step`):

- ``ch_outage_start_error_s`` / ``ch_outage_end_error_s``: ``|hub's start= (bench time) -
  relay acknowledgement placed on the bench clock|``, bench seconds;
- ``restore_alert_latency_s``: bench seconds from the alert's own time to its hand-over (the
  hub's log time), plus the real seconds from there to the host's receipt (see the link's
  "Clocks": host delays do not run fast);
- ``readable_after_restore_s``: from the restore's acknowledgement to the good readout's data
  (both host times), times the time scale.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from app.domain.events import DeviceEvent, EventKind
from app.domain.parsing import aware_datetime
from app.domain.runs import MeasurementResult
from app.services.runs.bench_link import BenchClock, BenchError, BenchLink, NoReadingError
from app.services.runs.steps.base import BaseStep, StepContext
from app.services.runs.steps.expect_alert import alert_from
from app.services.runs.steps.readout import (
    READOUT_HOST_WAIT_S,
    count_value,
    meter_label,
    values_by_obis,
)

RESTORE_ALERTS = ("8F35", "8F36")
ACK_TIMEOUT_S = 3.0
POWER_FAIL_COUNTER = "C.7.0"


def alert_latency_s(clock: BenchClock, ev: DeviceEvent) -> float | None:
    """An alert's latency in bench seconds (see the module docstring); None without its time."""
    if ev.device_time is None:
        return None
    handed_over = aware_datetime(ev.fields.get("log_time"))
    if handed_over is None:
        return (clock.to_bench(ev.host_time) - ev.device_time).total_seconds()
    on_device = (handed_over - ev.device_time).total_seconds()
    to_host = (ev.host_time - clock.to_host(handed_over)).total_seconds()
    return on_device + max(0.0, to_host)


class OutageStep(BaseStep):
    kind = "outage"

    def host_wait_s(self, settings: Mapping[str, Any]) -> float:
        # Two relay acknowledgements and two readouts (before and after).
        return 2 * ACK_TIMEOUT_S + 2 * READOUT_HOST_WAIT_S

    async def run(self, ctx: StepContext) -> list[MeasurementResult]:
        s = ctx.settings
        link, clock = ctx.link, ctx.link.clock
        channel = int(s["channel"])
        esme = meter_label(link, "ESME")
        hubs = link.labels("CHF")
        if not hubs:
            raise BenchError(f"{link.bench} has no Comms Hub in the device registry.")
        loop = asyncio.get_running_loop()
        with link.subscribe() as stream:
            try:
                before = count_value(values_by_obis(
                    await link.read_now(esme, READOUT_HOST_WAIT_S)).get(POWER_FAIL_COUNTER))
                before_note = "" if before is not None else f"no {POWER_FAIL_COUNTER} before the cut"
            except NoReadingError as exc:
                before, before_note = None, f"no readout before the cut: {exc}"
            commanded = loop.time()
            cut_ack = await ctx.switch(channel, False, ACK_TIMEOUT_S)
            await asyncio.sleep(max(0.0, commanded + clock.real_s(float(s["duration_s"]))
                                    - loop.time()))
            restore_ack = await ctx.switch(channel, True, ACK_TIMEOUT_S)
            restored = loop.time()
            relay_s = clock.span_s(cut_ack, restore_ack)
            reading = asyncio.ensure_future(self._readable(
                link, esme, restored + clock.real_s(float(s["readable_within_s"]))))
            try:
                start, end, alert = await self._collect(
                    link, stream, hubs, cut_ack,
                    restored + clock.real_s(float(s["alert_wait_s"])))
                if start is None or end is None or alert is None:
                    # Silence from a hub whose port is gone is the bench's failure.
                    for hub in hubs:
                        link.ensure_connected(hub)
            except BaseException:
                reading.cancel()
                raise
            self._judge_record(ctx, start, end, cut_ack, restore_ack)
            relay_note = f"relay outage {relay_s:.1f} s"
            if alert is None:
                why = f"no restore alert within {float(s['alert_wait_s']):g} s; {relay_note}"
                ctx.measure("restore_alert", None, why)
                ctx.measure("restore_alert_latency_s", None, why)
            else:
                code = str(alert.fields.get("alert_code", "")).upper()
                ctx.measure("restore_alert", code, relay_note)
                latency = alert_latency_s(clock, alert)
                ctx.measure("restore_alert_latency_s",
                            None if latency is None else round(latency, 3),
                            "" if latency is not None else "the alert carries no time")
            readings, read_note = await reading
        if readings is None:
            ctx.measure("readable_after_restore_s", None, read_note)
            ctx.measure("power_fail_count_delta", None, read_note)
            return ctx.measured()
        read_at = readings[-1].host_time if readings else link.now()
        ctx.measure("readable_after_restore_s", round(clock.span_s(restore_ack, read_at), 3))
        after = count_value(values_by_obis(readings).get(POWER_FAIL_COUNTER))
        if before is None or after is None:
            ctx.measure("power_fail_count_delta", None,
                        before_note or f"no {POWER_FAIL_COUNTER} after the restore")
        else:
            ctx.measure("power_fail_count_delta", after - before, f"{before} -> {after}")
        return ctx.measured()

    def _judge_record(self, ctx: StepContext, start: DeviceEvent | None,
                      end: DeviceEvent | None, cut_ack: datetime, restore_ack: datetime) -> None:
        clock = ctx.link.clock
        ctx.measure("ch_outage_logged", start is not None and end is not None,
                    "" if start and end else "the Comms Hub did not log "
                    + ("the outage" if not start and not end else
                       "its start" if not start else "its end"))
        for name, ev, ack in (("ch_outage_start_error_s", start, cut_ack),
                              ("ch_outage_end_error_s", end, restore_ack)):
            if ev is None or ev.device_time is None:
                ctx.measure(name, None, "not in the Comms Hub's log")
                continue
            error = abs((ev.device_time - clock.to_bench(ack)).total_seconds())
            ctx.measure(name, round(error, 3), f"hub {ev.device_time:%H:%M:%S.%f}"[:-3])

    async def _collect(self, link: BenchLink, stream: Any, hubs: tuple[str, ...],
                       cut_ack: datetime, deadline: float
                       ) -> tuple[DeviceEvent | None, DeviceEvent | None, DeviceEvent | None]:
        loop = asyncio.get_running_loop()
        start = end = alert = None
        while (left := deadline - loop.time()) > 0 and not (start and end and alert):
            ev = await stream.next(left)
            if ev is None:
                break
            if ev.host_time < cut_ack:
                continue
            from_hub = ev.device in hubs and ev.fields.get("source") != "relay"
            if from_hub and ev.kind is EventKind.OUTAGE_START:
                start = start or ev
            elif from_hub and ev.kind is EventKind.OUTAGE_END:
                end = end or ev
            elif (alert is None and alert_from(link, ev, "ESME")
                  and str(ev.fields.get("alert_code", "")).upper() in RESTORE_ALERTS):
                alert = ev
        return start, end, alert

    async def _readable(self, link: BenchLink, esme: str, deadline: float
                        ) -> tuple[list[DeviceEvent] | None, str]:
        """The readings of the first good readout before `deadline` (loop time), or None and
        why not. A bench failure (port gone) raises BenchError."""
        loop = asyncio.get_running_loop()
        why = "no readout attempted"
        while (left := deadline - loop.time()) > 0:
            try:
                return await link.read_now(esme, left), ""
            except NoReadingError as exc:
                why = str(exc)
                await asyncio.sleep(min(0.05, max(0.0, deadline - loop.time())))
        return None, f"not readable in time after the restore: {why}"
