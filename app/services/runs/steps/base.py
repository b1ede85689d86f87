"""The step interface and what a step is given to run."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Protocol

from app.domain.runs import MeasurementResult, MeasurementSpec
from app.services.runs.api import Prompt
from app.services.runs.bench_link import BenchLink, EventStream


class Step(Protocol):
    """One step kind's behaviour.

    Attributes:
        kind: the step kind's name.
        real_time_limit: True when the step's time limit is real seconds (a person answering),
            False when it is bench seconds (the default: it runs on the bench's clock).
        time_limit_message: the ERROR's sentence when the time limit passes ("{limit}" is
            replaced by the limit); "" for the executor's own.
    """

    kind: ClassVar[str]
    real_time_limit: ClassVar[bool]
    #: What the step's ERROR says when its time limit passes ({limit} is the limit), or "".
    time_limit_message: ClassVar[str]

    def host_wait_s(self, settings: Mapping[str, Any]) -> float:
        """Real seconds the step may spend waiting on the host's side (a relay's
        acknowledgement, a readout's replies): these do not run fast on an emulated bench."""
        ...

    async def run(self, ctx: StepContext) -> list[MeasurementResult]:
        """Run once; the measurements made (also recorded through ``ctx.measure``)."""
        ...


class SupplyBook:
    """The relay channels this run may have switched off and not yet back on.

    A channel is entered before the OFF command goes (a board that acted but did not answer has
    still cut it) and leaves only on an acknowledged ON; the executor restores what is left.
    """

    def __init__(self) -> None:
        self.cut: set[int] = set()

    def switching(self, channel: int, on: bool) -> None:
        if not on:
            self.cut.add(channel)

    def switched(self, channel: int, on: bool) -> None:
        if on:
            self.cut.discard(channel)


@dataclass
class StepContext:
    """Everything a step runs with.

    Attributes:
        settings: the kind's settings, resolved (every one present, parameters substituted).
        specs: the measurements it makes, with their limits (the kind's, as the plan changed them).
        time_limit_s: the step's time limit (bench seconds, or real for a real-time step).
        run_started: host time the run started.
        run_events: the run's own stream (counts of the bench's events since the run started).
        on_measurement: told of each measurement as it is made.
    """

    link: BenchLink
    prompt: Prompt
    run_id: int
    index: int
    name: str
    kind: str
    settings: Mapping[str, Any]
    specs: tuple[MeasurementSpec, ...]
    time_limit_s: float
    run_started: datetime
    run_events: EventStream
    supply: SupplyBook
    on_measurement: Callable[[MeasurementResult], None] = lambda _m: None
    on_prompt: Callable[[Any], None] = lambda _r: None
    results: dict[str, MeasurementResult] = field(default_factory=dict)
    answer: str = ""

    def spec(self, name: str) -> MeasurementSpec:
        for spec in self.specs:
            if spec.name == name:
                return spec
        raise KeyError(f"step {self.name} has no measurement {name!r}")

    def measure(self, name: str, value: Any, note: str = "") -> MeasurementResult:
        """Judge `value` against the named measurement's limits and record it."""
        result = MeasurementResult.judged(self.spec(name), value, note)
        self.results[name] = result
        self.on_measurement(result)
        return result

    def measured(self) -> list[MeasurementResult]:
        """What has been measured so far, in the order of the specs."""
        return [self.results[s.name] for s in self.specs if s.name in self.results]

    async def sleep(self, bench_s: float) -> None:
        """Wait `bench_s` seconds of the bench's clock."""
        await asyncio.sleep(max(0.0, self.link.clock.real_s(bench_s)))

    async def switch(self, channel: int, on: bool, timeout_s: float = 3.0) -> datetime:
        """Switch a relay channel through the link, keeping the supply book."""
        self.supply.switching(channel, on)
        ack = await self.link.switch(channel, on, timeout_s)
        self.supply.switched(channel, on)
        return ack


class BaseStep:
    """Defaults for a step: bench-clock time limit, no host waits."""

    kind: ClassVar[str] = ""
    real_time_limit: ClassVar[bool] = False
    time_limit_message: ClassVar[str] = ""

    def host_wait_s(self, settings: Mapping[str, Any]) -> float:
        return 0.0
