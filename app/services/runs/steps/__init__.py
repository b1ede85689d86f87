"""Step kinds: one small class per kind of :mod:`app.domain.step_kinds`, behind one interface.

A step reads its settings and the limits of its measurements from the resolved step
(:func:`app.domain.step_kinds.resolve_step`), never from defaults of its own; it talks to the
bench only through :class:`~app.services.runs.bench_link.BenchLink` and to people only through
:class:`~app.services.runs.api.Prompt`. It records each measurement as soon as it has it
(:meth:`StepContext.measure`), so a step cut short keeps what it measured.

A step raises :class:`~app.services.runs.bench_link.BenchError` when the bench fails (the step
ends ERROR); a device out of its limits is a measurement's FAIL, and a value the device never gave
is UNSET (the step FAILs). A new kind is one module here and one line in :data:`STEP_CLASSES`.
"""

from __future__ import annotations

from app.services.runs.steps.base import Step, StepContext, SupplyBook
from app.services.runs.steps.expect_alert import ExpectAlertStep
from app.services.runs.steps.log_capture import LogCaptureStep
from app.services.runs.steps.outage import OutageStep
from app.services.runs.steps.prompt import PromptStep
from app.services.runs.steps.readout import ReadoutStep
from app.services.runs.steps.relay import RelayStep
from app.services.runs.steps.wait import WaitStep

#: The class of each step kind, by the kind's name.
STEP_CLASSES: dict[str, type[Step]] = {
    "relay": RelayStep,
    "outage": OutageStep,
    "expect_alert": ExpectAlertStep,
    "readout": ReadoutStep,
    "prompt": PromptStep,
    "log_capture": LogCaptureStep,
    "wait": WaitStep,
}


def make_step(kind: str) -> Step:
    """A fresh step of `kind` (KeyError for a kind with no class: the plan check prevents it)."""
    return STEP_CLASSES[kind]()


__all__ = ["STEP_CLASSES", "Step", "StepContext", "SupplyBook", "make_step"]
