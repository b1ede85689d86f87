"""``wait``: wait, on the bench's clock."""

from __future__ import annotations

from app.domain.runs import MeasurementResult
from app.services.runs.steps.base import BaseStep, StepContext


class WaitStep(BaseStep):
    """Wait ``seconds`` bench seconds (``seconds / time_scale`` real seconds)."""

    kind = "wait"

    async def run(self, ctx: StepContext) -> list[MeasurementResult]:
        await ctx.sleep(float(ctx.settings["seconds"]))
        return ctx.measured()
