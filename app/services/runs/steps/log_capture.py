"""``log_capture``: the Comms Hub's log was captured during the run."""

from __future__ import annotations

from app.domain.runs import MeasurementResult
from app.services.runs.bench_link import BenchError
from app.services.runs.steps.base import BaseStep, StepContext


class LogCaptureStep(BaseStep):
    """``log_lines``: events decoded from the hub's debug port since the run started (every line
    of its log becomes one event: matched lines as alerts, readings, outages..., the rest as
    ``log``), counted from the run's own event stream. ``log_sha256``: the SHA-256 of the hub's
    capture file as the link's evidence gives it (of the bytes so far while it is open)."""

    kind = "log_capture"

    async def run(self, ctx: StepContext) -> list[MeasurementResult]:
        hubs = ctx.link.labels("CHF")
        if not hubs:
            raise BenchError(f"{ctx.link.bench} has no Comms Hub in the device registry.")
        counts = ctx.run_events.counts
        lines = sum(n for (device, _kind), n in counts.items() if device in hubs)
        ctx.measure("log_lines", lines)
        evidence = [e for e in await ctx.link.evidence(ctx.run_started) if e.device in hubs]
        if not evidence:
            ctx.measure("log_sha256", None, "no capture session of the hub during the run")
        else:
            latest = evidence[-1]
            ctx.measure("log_sha256", latest.sha256 or None,
                        f"capture session {latest.capture_session_id}, {latest.bytes} bytes")
        return ctx.measured()
