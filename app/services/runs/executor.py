"""Runs a plan on a bench: steps with time and repeat limits, teardown always, a verdict.

A run is one asyncio task on the I/O loop; the caller gets a :class:`RunHandle` at once (never
waits), one run per bench at a time (:class:`BenchBusyError`), any number of benches at once.

- Each step's settings and limits come from :func:`app.domain.step_kinds.resolve_step`. Its time
  limit is on the bench's clock (``time_limit_s / time_scale`` real seconds, plus the real
  seconds of its host-side waits that a fast bench cannot speed up, see
  :meth:`Step.host_wait_s`), except for a prompt, whose limit is real seconds. Past the limit
  the step ends ERROR ("took longer than N s").
- A step that does not PASS or MARGINAL runs again up to its repeat limit (not when aborted).
- ERROR is the bench's failure (:class:`BenchError`: a relay with no acknowledgement, a port
  gone, no operator answer) or a fault inside the step (one line, logged with its traceback);
  FAIL is a measurement out of its limits or never given (UNSET). Never mixed.
- ``on_fail = "stop"``: the remaining steps are SKIPPED (their measurements SKIPPED).
- Abort: the current step ends ABORTED, the rest SKIPPED, the verdict is ABORTED.
- Teardown always runs (``finally``), each teardown step with its own time limit, abort or not;
  then, strictly, every relay channel this run switched off and did not switch back on is
  restored by the executor itself (a "restore supply" teardown result records it), so a run
  never leaves a bench with its supply cut.
- Recorder and observer are called on the I/O thread; one that raises is logged and ignored.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.domain.clock import Clock
from app.domain.errors import ValidationError
from app.domain.plans import OnFail, Plan, StepSpec
from app.domain.runs import (
    MeasurementOutcome,
    MeasurementResult,
    MeasurementSpec,
    StepOutcome,
    StepResult,
    Verdict,
    step_outcome_of,
    verdict_of,
)
from app.domain.step_kinds import resolve_step, step_kind
from app.services.runs.api import (
    Prompt,
    PromptRequest,
    RunEvidenceItem,
    RunObserver,
    RunRecorder,
    RunResult,
    RunStart,
)
from app.services.runs.bench_link import BenchError, BenchLink, EventStream
from app.services.runs.steps import Step, StepContext, SupplyBook, make_step
from devices.io_loop import IoLoop
from devices.sessions import failure_reason

logger = logging.getLogger(__name__)

#: Real seconds the strict restore waits for each acknowledgement (twice per channel).
RESTORE_ACK_TIMEOUT_S = 3.0
#: Real seconds allowed to list the run's evidence at its end.
EVIDENCE_TIMEOUT_S = 10.0
RESTORE_STEP_NAME = "restore supply"
#: Real seconds a run waits for what must finish before it (see :meth:`Executor.start`).
BEFORE_TIMEOUT_S = 20.0


class BenchBusyError(Exception):
    """A run is already going on that bench."""


class RunHandle:
    """A started run, from any thread.

    Attributes:
        bench: the bench it runs on.
        future: gets the :class:`RunResult` when the run (teardown included) has ended.
        started: gets the run's id once the recorder has it.
    """

    def __init__(self, bench: str, io: IoLoop) -> None:
        self.bench = bench
        self._io = io
        self.future: concurrent.futures.Future[RunResult] = concurrent.futures.Future()
        self.started: concurrent.futures.Future[int] = concurrent.futures.Future()
        self._run: _Run | None = None

    @property
    def run_id(self) -> int:
        """The recorded run's id (0 until the recorder has given it)."""
        return self.started.result() if self.started.done() else 0

    def abort(self) -> None:
        """Abort the run (any thread): the current step ends ABORTED, teardown runs."""
        run = self._run
        if run is not None and not self.future.done():
            self._io.call_soon_threadsafe(run.abort)

    def result(self, timeout: float | None = None) -> RunResult:
        """Wait for the run's result (not on the GUI thread)."""
        return self.future.result(timeout)

    def done(self) -> bool:
        return self.future.done()


@dataclass
class _Run:
    plan: Plan
    parameters: Mapping[str, Any]
    link: BenchLink
    prompt: Prompt
    recorder: RunRecorder
    observer: RunObserver
    start: RunStart
    handle: RunHandle
    run_id: int = 0
    aborted: bool = False
    current: asyncio.Future[Any] | None = None
    supply: SupplyBook = field(default_factory=SupplyBook)
    results: list[StepResult] = field(default_factory=list)
    stopped_by: str = ""
    started_at: datetime | None = None
    events: EventStream | None = None
    before: concurrent.futures.Future[Any] | None = None

    def abort(self) -> None:
        """On the loop: mark the run aborted and cancel the step in progress (not teardown)."""
        if self.aborted:
            return
        self.aborted = True
        if self.current is not None and not self.current.done():
            self.current.cancel()


def _call(what: str, fn: Callable[..., Any], *args: Any) -> Any:
    """Call an observer's or recorder's method; a fault in it must not end the run."""
    try:
        return fn(*args)
    except Exception:
        logger.exception("run %s failed; the run goes on", what)
        return None


class Executor:
    """Starts runs of plans on benches.

    Args:
        links: the link of each bench (``RuntimeLinks``), or one link for every run, or None
            when every :meth:`start` is given its link.
        clock: host time for the results' start and end times.
        io: the I/O loop the runs go on (started).
    """

    def __init__(self, links: Callable[[str], BenchLink] | BenchLink | None, clock: Clock,
                 io: IoLoop) -> None:
        self.links = links
        self.clock = clock
        self.io = io
        self._lock = threading.Lock()
        self._busy: dict[str, RunHandle] = {}

    def running(self) -> dict[str, RunHandle]:
        """The runs going on, by bench."""
        with self._lock:
            return dict(self._busy)

    def _link_for(self, bench: str) -> BenchLink:
        if self.links is None:
            raise ValueError("No link was given for the run and the executor has no link factory.")
        if callable(self.links) and not hasattr(self.links, "switch"):
            return self.links(bench)
        return self.links  # type: ignore[return-value]

    def start(self, plan: Plan, parameters: Mapping[str, Any], link: BenchLink | None,
              prompt: Prompt, recorder: RunRecorder, observer: RunObserver,
              start_info: RunStart,
              before: concurrent.futures.Future[Any] | None = None) -> RunHandle:
        """Start a run of `plan` with resolved `parameters`; returns at once (any thread).

        `before`: the run waits (at most BEFORE_TIMEOUT_S) until it is done, e.g. until the
        demo's scripted outages have released the bench's relay.

        Raises:
            BenchBusyError: a run is already going on that bench.
        """
        bench = start_info.bench
        handle = RunHandle(bench, self.io)
        with self._lock:
            if bench in self._busy:
                raise BenchBusyError(f"{bench} is busy with another run; wait for it to end or "
                                     f"abort it.")
            self._busy[bench] = handle
        try:
            run = _Run(plan, dict(parameters), link or self._link_for(bench), prompt, recorder,
                       observer, start_info, handle, before=before)
            handle._run = run
            self.io.submit(self._main(run))
        except BaseException:
            with self._lock:
                self._busy.pop(bench, None)
            raise
        return handle

    # --- the run -------------------------------------------------------------------------------
    async def _main(self, run: _Run) -> None:
        handle = run.handle
        result: RunResult | None = None
        try:
            result = await self._run(run)
        except BaseException as exc:  # the last net: a result is always given
            logger.exception("run on %s ended by an internal error", run.start.bench)
            result = RunResult(run.run_id, Verdict.ERROR, self.clock.now(), tuple(run.results),
                               message=failure_reason(exc))
            if isinstance(exc, asyncio.CancelledError):
                raise
        finally:
            with self._lock:
                if self._busy.get(run.start.bench) is handle:
                    del self._busy[run.start.bench]
            if not handle.started.done():
                handle.started.set_result(run.run_id)
            if result is not None and not handle.future.done():
                handle.future.set_result(result)

    async def _run(self, run: _Run) -> RunResult:
        if run.before is not None:
            try:
                await asyncio.wait_for(asyncio.wrap_future(run.before), BEFORE_TIMEOUT_S)
            except TimeoutError:
                raise BenchError(f"{run.start.bench}'s relay was still busy after "
                                 f"{BEFORE_TIMEOUT_S:g} s.") from None
            except Exception:  # what ran before ended badly: the run goes on all the same
                logger.exception("before the run on %s", run.start.bench)
        run.started_at = self.clock.now()
        run_id = _call("recorder", run.recorder.started, run.start)
        run.run_id = run_id if isinstance(run_id, int) else 0
        run.handle.started.set_result(run.run_id)
        _call("observer", run.observer.run_started, run.run_id, run.start)
        messages: list[str] = []
        run.events = run.link.subscribe(keep=False)
        try:
            for index, spec in enumerate(run.plan.steps):
                if run.aborted or run.stopped_by:
                    why = ("the run was aborted" if run.aborted else
                           f"step {run.stopped_by!r} did not pass and stops the run")
                    self._finish_step(run, self._skipped(run, index, spec, why))
                    continue
                result = await self._step(run, index, spec, teardown=False)
                self._finish_step(run, result)
                if (result.outcome not in (StepOutcome.PASS, StepOutcome.MARGINAL)
                        and spec.on_fail is OnFail.STOP):
                    run.stopped_by = spec.name
        finally:
            offset = len(run.plan.steps)
            for number, spec in enumerate(run.plan.teardown):
                self._finish_step(run, await self._step(run, offset + number, spec,
                                                        teardown=True))
            restored = await self._restore_supply(run, offset + len(run.plan.teardown))
            if restored is not None:
                self._finish_step(run, restored)
                if restored.outcome is StepOutcome.ERROR:
                    messages.append(restored.message)
            run.events.close()
        evidence: tuple[RunEvidenceItem, ...] = ()
        try:
            evidence = tuple(await asyncio.wait_for(run.link.evidence(run.started_at),
                                                    EVIDENCE_TIMEOUT_S))
        except Exception as exc:
            messages.append(f"The run's capture sessions could not be listed: "
                            f"{failure_reason(exc)}.")
        verdict = verdict_of(r.outcome for r in run.results)
        if run.aborted:
            verdict = Verdict.ABORTED
            messages.insert(0, "Aborted by the operator.")
        result = RunResult(run.run_id, verdict, self.clock.now(), tuple(run.results), evidence,
                           " ".join(messages))
        _call("recorder", run.recorder.finished, result)
        _call("observer", run.observer.run_finished, result)
        return result

    def _finish_step(self, run: _Run, result: StepResult) -> None:
        run.results.append(result)
        _call("recorder", run.recorder.step_finished, run.run_id, result)
        _call("observer", run.observer.step_finished, run.run_id, result)

    def _where(self, index: int, spec: StepSpec) -> str:
        return f"step {index + 1} ({spec.name})"

    def _specs(self, run: _Run, index: int, spec: StepSpec
               ) -> tuple[dict[str, Any], tuple[MeasurementSpec, ...]]:
        kind = step_kind(spec.kind, f"{self._where(index, spec)}.kind")
        resolved = resolve_step(kind, run.plan.settings_for(spec, run.parameters),
                                spec.measurements, self._where(index, spec))
        return dict(resolved.settings), resolved.measurements

    def _skipped(self, run: _Run, index: int, spec: StepSpec, why: str) -> StepResult:
        try:
            _, specs = self._specs(run, index, spec)
        except ValidationError:
            specs = spec.measurements
        return StepResult(index, spec.name, spec.kind, StepOutcome.SKIPPED, None, None,
                          tuple(MeasurementResult.skipped(m) for m in specs),
                          f"Skipped: {why}.", attempts=0)

    @staticmethod
    def _limit_s(spec: StepSpec, settings: Mapping[str, Any]) -> float:
        """The plan's limit, or what the kind needs for this run's settings (an outage of
        3600 s needs longer than one of 120 s)."""
        return spec.time_limit_s if spec.time_limit_given else \
            step_kind(spec.kind).time_limit_s(settings)

    def _real_limit_s(self, run: _Run, step: Step, spec: StepSpec,
                      settings: Mapping[str, Any]) -> float:
        limit = self._limit_s(spec, settings)
        if step.real_time_limit:
            return limit
        clock = run.link.clock
        host_s = step.host_wait_s(settings)
        # Host waits take the same real time at any scale; the bench limit covers 1/scale of it.
        return clock.real_s(limit) + max(0.0, host_s * (1 - 1 / clock.time_scale))

    async def _step(self, run: _Run, index: int, spec: StepSpec, teardown: bool) -> StepResult:
        _call("observer", run.observer.step_started, run.run_id, index, spec.name, spec.kind,
              teardown)
        started = self.clock.now()
        try:
            settings, specs = self._specs(run, index, spec)
            step = make_step(spec.kind)
        except (ValidationError, KeyError) as exc:
            message = exc.message if isinstance(exc, ValidationError) else (
                f"{self._where(index, spec)}: no step class for kind {spec.kind!r}.")
            return StepResult(index, spec.name, spec.kind, StepOutcome.ERROR, started,
                              self.clock.now(), message=message, teardown=teardown)
        limit_s = self._real_limit_s(run, step, spec, settings)
        attempts = 0
        while True:
            attempts += 1
            ctx = StepContext(
                run.link, run.prompt, run.run_id, index, spec.name, spec.kind, settings, specs,
                self._limit_s(spec, settings), run.started_at or started,
                run.events,  # type: ignore[arg-type]
                run.supply,
                on_measurement=lambda m: _call("observer", run.observer.measurement, run.run_id,
                                               index, m),
                on_prompt=lambda r: _call("observer", run.observer.prompt, r)
                if isinstance(r, PromptRequest) else None)
            outcome, message = await self._attempt(run, step, ctx, limit_s, teardown)
            measurements = _complete(specs, ctx, outcome)
            if outcome is StepOutcome.PASS:  # ran to its end: judged by its measurements
                outcome = step_outcome_of(m.outcome for m in measurements)
                message = _fail_message(measurements) if outcome is StepOutcome.FAIL else ""
            if (outcome in (StepOutcome.PASS, StepOutcome.MARGINAL, StepOutcome.ABORTED)
                    or attempts >= max(1, spec.repeat_limit)
                    or (run.aborted and not teardown)):
                break
        return StepResult(index, spec.name, spec.kind, outcome, started, self.clock.now(),
                          measurements, message, attempts, teardown, ctx.answer)

    async def _attempt(self, run: _Run, step: Step, ctx: StepContext, limit_s: float,
                       teardown: bool) -> tuple[StepOutcome, str]:
        """Run a step once: (outcome, message); PASS stands for "ran to its end"."""
        if run.aborted and not teardown:
            return StepOutcome.ABORTED, "Aborted by the operator."
        task = asyncio.ensure_future(step.run(ctx))
        if not teardown:
            run.current = task
        try:
            done, _ = await asyncio.wait({task}, timeout=limit_s)
        except asyncio.CancelledError:
            task.cancel()
            raise
        finally:
            run.current = None
        if not done:
            task.cancel()
            await asyncio.wait({task})
            if step.time_limit_message:
                return StepOutcome.ERROR, step.time_limit_message.replace(
                    "{limit}", f"{ctx.time_limit_s:g}")
            clock = "" if step.real_time_limit else " on the bench's clock"
            return StepOutcome.ERROR, (f"The step took longer than its time limit of "
                                       f"{ctx.time_limit_s:g} s{clock}.")
        if task.cancelled():
            if run.aborted and not teardown:
                return StepOutcome.ABORTED, "Aborted by the operator."
            return StepOutcome.ERROR, "The step was cancelled."
        exc = task.exception()
        if isinstance(exc, BenchError):
            return StepOutcome.ERROR, _sentence(str(exc))
        if exc is not None:
            logger.error("step %s of the run on %s failed", ctx.name, run.start.bench,
                         exc_info=exc)
            return StepOutcome.ERROR, _sentence(f"The step failed: {failure_reason(exc)}")
        return StepOutcome.PASS, ""

    async def _restore_supply(self, run: _Run, index: int) -> StepResult | None:
        """Switch back on every channel this run left off (after teardown)."""
        if not run.supply.cut:
            return None
        started = self.clock.now()
        channels = sorted(run.supply.cut)
        _call("observer", run.observer.step_started, run.run_id, index, RESTORE_STEP_NAME,
              "relay", True)
        failures = []
        for channel in channels:
            why = ""
            for _attempt in range(2):
                try:
                    await run.link.switch(channel, True, RESTORE_ACK_TIMEOUT_S)
                    run.supply.switched(channel, True)
                    why = ""
                    break
                except Exception as exc:
                    why = str(exc) if isinstance(exc, BenchError) else failure_reason(exc)
            if why:
                failures.append(f"channel {channel}: {why.rstrip('.')}")
        listed = ", ".join(str(c) for c in channels)
        if failures:
            logger.error("the supply of %s may still be cut: %s", run.start.bench, failures)
            return StepResult(index, RESTORE_STEP_NAME, "relay", StepOutcome.ERROR, started,
                              self.clock.now(),
                              message=f"The supply of {run.start.bench} may still be cut "
                                      f"({'; '.join(failures)}).", teardown=True)
        return StepResult(index, RESTORE_STEP_NAME, "relay", StepOutcome.PASS, started,
                          self.clock.now(),
                          message=f"Relay channel(s) {listed} switched back on by the executor.",
                          teardown=True)


def _complete(specs: tuple[MeasurementSpec, ...], ctx: StepContext,
              outcome: StepOutcome) -> tuple[MeasurementResult, ...]:
    """Every measurement of the step: what it measured; the rest UNSET when it ran to its end,
    SKIPPED when it did not (an error, the time limit, an abort)."""
    return tuple(
        ctx.results.get(m.name)
        or (MeasurementResult.judged(m, None, "not measured") if outcome is StepOutcome.PASS
            else MeasurementResult.skipped(m))
        for m in specs)


def _sentence(text: str) -> str:
    text = text.strip().splitlines()[0] if text.strip() else "The bench failed"
    return text if text.endswith((".", "!", "?")) else text + "."


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".")
    return repr(value) if isinstance(value, str) else str(value)


def _fail_message(measurements: tuple[MeasurementResult, ...]) -> str:
    failed = [m for m in measurements
              if m.outcome in (MeasurementOutcome.FAIL, MeasurementOutcome.UNSET)]
    parts = []
    for m in failed:
        if m.outcome is MeasurementOutcome.UNSET:
            parts.append(f"{m.name} was not measured" + (f" ({m.note})" if m.note else ""))
        else:
            unit = f" {m.unit}" if m.unit else ""
            parts.append(f"{m.name} = {_shown(m.value)}{unit}, expected {m.limits}")
    return _sentence("; ".join(parts))
