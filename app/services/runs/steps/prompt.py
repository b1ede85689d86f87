"""``prompt``: a question to the operator, answered Pass or Fail with a note."""

from __future__ import annotations

import asyncio

from app.domain.runs import MeasurementResult
from app.services.runs.api import PromptRequest
from app.services.runs.bench_link import BenchError
from app.services.runs.steps.base import BaseStep, StepContext


class PromptStep(BaseStep):
    """Ask through the run's :class:`Prompt`; the time limit is real seconds (a person answers
    in real time, however fast the bench runs). No answer (None, or none before the time limit)
    is the bench's failure: ERROR "no operator answer"."""

    kind = "prompt"
    real_time_limit = True
    time_limit_message = "No operator answer within {limit} s."

    async def run(self, ctx: StepContext) -> list[MeasurementResult]:
        picture = str(ctx.settings.get("picture") or "") or None
        request = PromptRequest(ctx.run_id, ctx.link.bench, ctx.index, ctx.name,
                                str(ctx.settings["question"]), picture, ctx.time_limit_s)
        ctx.on_prompt(request)
        future = ctx.prompt.ask(request)
        try:
            answer = await asyncio.shield(asyncio.wrap_future(future))
        except asyncio.CancelledError:
            future.cancel()  # the time limit passed or the run was aborted
            raise
        if answer is None:
            raise BenchError("No operator answer.")
        ctx.answer = answer.text + (f": {answer.note}" if answer.note else "") + (
            f" (answered by {answer.who})" if answer.who else "")
        ctx.measure("operator_answer", answer.text, answer.note)
        return ctx.measured()
