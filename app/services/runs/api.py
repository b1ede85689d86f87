"""How a run talks to the people and the records around it: prompts, observers, recorders.

All of these are Qt-free. The executor calls observers and recorders on the I/O thread: they must
return at once (the GUI's observer posts to the Qt thread; the storage recorder queues to its
writer). A prompt is asked on the I/O thread and answered from any thread.
"""

from __future__ import annotations

import concurrent.futures
from dataclasses import dataclass, field
from typing import Protocol

from app.domain.run_records import RunDevice, RunEvidence, RunResult, RunStart
from app.domain.runs import MeasurementResult, StepResult


@dataclass(frozen=True)
class PromptRequest:
    """A question to the operator.

    Attributes:
        run_id: the run asking (0 before it is recorded).
        step_index, step_name: the prompt step.
        question: the plan's text.
        picture: an image file to show beside it, or None.
        time_limit_s: after this (real seconds), the step ends ERROR "no operator answer".
    """

    run_id: int
    bench: str
    step_index: int
    step_name: str
    question: str
    picture: str | None
    time_limit_s: float


@dataclass(frozen=True)
class PromptAnswer:
    passed: bool
    note: str = ""
    who: str = ""

    @property
    def text(self) -> str:
        return "pass" if self.passed else "fail"


class Prompt(Protocol):
    """Asks the operator. The returned future gets a PromptAnswer, or None if nobody can answer
    (the step then ends ERROR at once); it is cancelled when the step's time limit passes or the
    run is aborted."""

    def ask(self, request: PromptRequest) -> concurrent.futures.Future[PromptAnswer | None]: ...


#: A device under test as it was when the run started (the stored record's own type).
RunDeviceInfo = RunDevice


#: A capture session of the run (the stored record's own type).
RunEvidenceItem = RunEvidence


class RunRecorder(Protocol):
    """Where a run's results go. `started` returns the run's id. None of these may block the
    I/O loop for long; a recorder that cannot write counts and reports it, it does not raise."""

    def started(self, start: RunStart) -> int: ...

    def step_finished(self, run_id: int, result: StepResult) -> None: ...

    def finished(self, result: RunResult) -> None: ...


class RunObserver(Protocol):
    """Live progress of a run (the Runs page, the CLI's JSON lines). Called on the I/O thread."""

    def run_started(self, run_id: int, start: RunStart) -> None: ...

    def step_started(self, run_id: int, index: int, name: str, kind: str,
                     teardown: bool) -> None: ...

    def measurement(self, run_id: int, index: int, result: MeasurementResult) -> None: ...

    def prompt(self, request: PromptRequest) -> None: ...

    def step_finished(self, run_id: int, result: StepResult) -> None: ...

    def run_finished(self, result: RunResult) -> None: ...


class NullObserver:
    """An observer that ignores everything (a base to override only what is needed)."""

    def run_started(self, run_id: int, start: RunStart) -> None:
        pass

    def step_started(self, run_id: int, index: int, name: str, kind: str,
                     teardown: bool) -> None:
        pass

    def measurement(self, run_id: int, index: int, result: MeasurementResult) -> None:
        pass

    def prompt(self, request: PromptRequest) -> None:
        pass

    def step_finished(self, run_id: int, result: StepResult) -> None:
        pass

    def run_finished(self, result: RunResult) -> None:
        pass


@dataclass
class InMemoryRecorder:
    """A recorder that keeps everything in lists (for tests and dry runs)."""

    starts: list[RunStart] = field(default_factory=list)
    steps: list[tuple[int, StepResult]] = field(default_factory=list)
    results: list[RunResult] = field(default_factory=list)

    def started(self, start: RunStart) -> int:
        self.starts.append(start)
        return len(self.starts)

    def step_finished(self, run_id: int, result: StepResult) -> None:
        self.steps.append((run_id, result))

    def finished(self, result: RunResult) -> None:
        self.results.append(result)
