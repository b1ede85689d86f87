"""``expect_alert``: an alert from a device within a time limit, optionally after an action."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from app.domain.events import DeviceEvent, EventKind
from app.domain.outages import MAINS_CHANNEL  # the relay_off / relay_on actions switch the mains
from app.domain.runs import MeasurementResult
from app.services.runs.bench_link import BenchLink
from app.services.runs.steps.base import BaseStep, StepContext

ACK_TIMEOUT_S = 3.0


def alert_from(link: BenchLink, ev: DeviceEvent, device_kind: str) -> bool:
    """Whether `ev` is an alert raised by the bench's device of `device_kind`: a hub relays
    meters' alerts, so the originator's EUI-64 decides where it is known."""
    if ev.kind is not EventKind.ALERT:
        return False
    labels = link.labels(device_kind)
    if ev.device in labels:
        return True
    originator = str(ev.fields.get("originator", "")).upper()
    if device_kind == "ESME" and link.esme_eui:
        return originator == link.esme_eui
    if device_kind == "CHF":
        return ev.device in link.labels("CHF") and not originator
    return False


class ExpectAlertStep(BaseStep):
    """Wait up to ``within_s`` bench seconds for an alert (``code``, or any) from ``device``.
    ``alert_delay_s`` is from the step's start (after the action) to the host's receipt, in bench
    seconds. No alert: both UNSET."""

    kind = "expect_alert"

    def host_wait_s(self, settings: Mapping[str, Any]) -> float:
        return ACK_TIMEOUT_S if settings["action"] != "none" else 0.0

    async def run(self, ctx: StepContext) -> list[MeasurementResult]:
        s = ctx.settings
        code = str(s["code"] or "").upper()
        device = str(s["device"])
        loop = asyncio.get_running_loop()
        with ctx.link.subscribe() as stream:
            if s["action"] in ("relay_off", "relay_on"):
                started = await ctx.switch(MAINS_CHANNEL, s["action"] == "relay_on",
                                           ACK_TIMEOUT_S)
            else:
                started = ctx.link.now()
            deadline = loop.time() + ctx.link.clock.real_s(float(s["within_s"]))
            while (left := deadline - loop.time()) > 0:
                ev = await stream.next(left)
                if ev is None:
                    break
                if not alert_from(ctx.link, ev, device):
                    continue
                seen = str(ev.fields.get("alert_code", "")).upper()
                if code and seen != code:
                    continue
                ctx.measure("alert_code", seen, f"from {ev.device}")
                ctx.measure("alert_delay_s",
                            round(max(0.0, ctx.link.clock.span_s(started, ev.host_time)), 3))
                return ctx.measured()
        why = f"no {code or 'alert'} from the {device} within {float(s['within_s']):g} s"
        ctx.measure("alert_code", None, why)
        ctx.measure("alert_delay_s", None, why)
        return ctx.measured()
