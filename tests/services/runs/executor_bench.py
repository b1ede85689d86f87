"""The real device runtime with the emulated demo bench on pseudo-terminals, for executor tests."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from app.domain.clock import SystemClock
from app.domain.plans import OnFail, ParameterSpec, ParamType, Plan, StepSpec
from app.domain.runs import MeasurementResult, MeasurementSpec, StepResult, Validator
from app.domain.step_kinds import resolve_step, step_kind
from app.services.runs.api import InMemoryRecorder, NullObserver, PromptRequest, RunStart
from app.services.runs.bench_link import RuntimeLinks
from app.services.runs.executor import Executor
from app.services.runtime import DEMO_DEVICES, DeviceRuntime
from app.storage.db import open_database
from devices.emulator.relay import RelayState

BENCH = "Bench 1"
SCALE = 60.0  # the demo emulator's time scale


def wait_for(cond: Any, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


class Bench:
    """A started runtime, its links and an executor over them."""

    def __init__(self, root: Path) -> None:
        db = root / "runs.db"
        open_database(db).conn.close()
        self.clock = SystemClock()
        self.runtime = DeviceRuntime(self.clock, db, root / "cap", devices=list(DEMO_DEVICES))
        self.runtime.start(with_emulator=True)
        self.runtime.connect_all(list(DEMO_DEVICES))
        self.links = RuntimeLinks(self.runtime, DEMO_DEVICES)
        self.executor = Executor(self.links, self.clock, self.runtime.io)
        manager = self.runtime.manager
        for label in ("Bench 1 relay", "Bench 1 ESME", "Bench 1 Comms Hub"):
            wait_for(lambda label=label: manager.health(label) is not None
                     and manager.health(label).state.value == "connected")
        # The first periodic readout of the meter (at connect) has answered.
        wait_for(lambda: manager.health("Bench 1 ESME").frames > 0)

    @property
    def emulator(self) -> Any:
        assert self.runtime.emulator is not None
        return self.runtime.emulator.bench

    def powered(self) -> bool:
        return self.emulator.power.is_on(time.monotonic())

    def relay_on(self, channel: int = 1) -> bool:
        return self.emulator.relay.state(channel) is RelayState.ON

    def stop(self) -> None:
        self.runtime.stop()


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bench]:
    b = Bench(tmp_path_factory.mktemp("bench"))
    try:
        yield b
    finally:
        b.stop()


def start_info(plan: Plan, bench: str = BENCH, **params: Any) -> RunStart:
    return RunStart(plan.name, plan.version, plan.sha256, plan.source, params, bench,
                    datetime.now(UTC), emulated=True, time_scale=SCALE,
                    step_names=tuple(s.name for s in plan.steps))


def step(name: str, kind: str, time_limit_s: float | None = None,
         measurements: tuple[MeasurementSpec, ...] = (), on_fail: OnFail = OnFail.CONTINUE,
         repeat_limit: int = 1, **settings: Any) -> StepSpec:
    """A step whose time limit, when not given, is its kind's (as the plan loader gives it)."""
    given = time_limit_s is not None
    if time_limit_s is None:
        resolved = resolve_step(step_kind(kind), settings, measurements, name)
        time_limit_s = step_kind(kind).time_limit_s(resolved.settings)
    return StepSpec(name, kind, settings, measurements, time_limit_s, repeat_limit, on_fail,
                    time_limit_given=given)


def limits(name: str, unit: str = "", **raw: Any) -> MeasurementSpec:
    return MeasurementSpec(name, unit, Validator.from_dict(raw, name))


def power_outage_plan(duration_s: float = 120.0, teardown: bool = True) -> Plan:
    """Like the built-in power-outage plan: the outage, a readout after it, supply on."""
    outage_limit = step_kind("outage").time_limit_s(
        {"duration_s": 86_400.0, "alert_wait_s": 60.0, "readable_within_s": 60.0})
    return Plan(
        "power-outage", "1", "Cut the supply and check what the devices report.",
        ("ESME", "CHF"),
        (ParameterSpec("duration_s", ParamType.FLOAT, duration_s, 1.0, 86_400.0, "s"),),
        (StepSpec("outage", "outage", {"duration_s": "$duration_s"}, (), outage_limit),
         step("readout after restore", "readout",
              measurements=(limits("C.7.0", range=[0, 9999]),
                            limits("1.8.0", "kWh", range=[0, 1e9])))),
        (step("supply on", "relay", state="on"),) if teardown else (),
        sha256="0" * 64, source="test")


class Recording(NullObserver):
    """An observer that keeps what it is told (and can be made to raise)."""

    def __init__(self, raise_in: str = "") -> None:
        self.calls: list[tuple[str, Any]] = []
        self.raise_in = raise_in

    def _note(self, what: str, value: Any) -> None:
        self.calls.append((what, value))
        if what == self.raise_in:
            raise RuntimeError(f"observer broke in {what}")

    def run_started(self, run_id: int, start: RunStart) -> None:
        self._note("run_started", run_id)

    def step_started(self, run_id: int, index: int, name: str, kind: str,
                     teardown: bool) -> None:
        self._note("step_started", name)

    def measurement(self, run_id: int, index: int, result: MeasurementResult) -> None:
        self._note("measurement", result.name)

    def prompt(self, request: PromptRequest) -> None:
        self._note("prompt", request.step_name)

    def step_finished(self, run_id: int, result: StepResult) -> None:
        self._note("step_finished", result.name)

    def run_finished(self, result: Any) -> None:
        self._note("run_finished", result.verdict)


def run_plan(bench: Bench, plan: Plan, prompt: Any = None, observer: Any = None,
             recorder: InMemoryRecorder | None = None, link: Any = None,
             bench_name: str = BENCH, **params: Any) -> Any:
    from app.services.runs.prompts import NoAnswerPrompt

    values = plan.resolve_parameters(params)
    return bench.executor.start(plan, values, link, prompt or NoAnswerPrompt(),
                                recorder or InMemoryRecorder(), observer or NullObserver(),
                                start_info(plan, bench_name, **values))


def by_name(result: Any) -> dict[str, StepResult]:
    return {s.name: s for s in result.steps}


def values(step_result: StepResult) -> dict[str, Any]:
    return {m.name: (m.value, m.outcome.value) for m in step_result.measurements}
