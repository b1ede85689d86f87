"""``relay``: switch a bench relay channel and wait for the board's acknowledgement."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.domain.runs import MeasurementResult
from app.services.runs.steps.base import BaseStep, StepContext


class RelayStep(BaseStep):
    """Switch ``channel`` ``on`` or ``off``; no acknowledgement within ``ack_timeout_s`` (real
    seconds: the board answers at the host's pace whatever the bench's) is a BenchError."""

    kind = "relay"

    def host_wait_s(self, settings: Mapping[str, Any]) -> float:
        return float(settings["ack_timeout_s"])

    async def run(self, ctx: StepContext) -> list[MeasurementResult]:
        s = ctx.settings
        await ctx.switch(int(s["channel"]), s["state"] == "on", float(s["ack_timeout_s"]))
        return ctx.measured()
