"""`meterlab run start PLAN --bench NAME`: execute a test plan on a bench and store its result.

Everything is checked before anything is written (plan, parameters, bench, booking, answers,
faults). The run's progress is one JSON line per finished step; the last line is the run's
record (the object `run show ID` prints). Ctrl-C aborts: the teardown runs, the supply is
restored, and the run is stored as ABORTED.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import sys
import threading
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.cli import (
    EXIT_NO_ANSWER,
    EXIT_OK,
    EXIT_RUN_ABORTED,
    EXIT_RUN_ERROR,
    EXIT_RUN_FAIL,
    EXIT_STORAGE,
    db_path_of,
    emit,
    fail,
)
from app.domain.clock import Clock, FixedClock, OffsetClock
from app.domain.devices import Device
from app.domain.errors import ValidationError
from app.domain.parsing import parse_positive_float
from app.domain.runs import MeasurementResult, StepResult, Verdict
from app.services.runs.api import NullObserver, PromptAnswer, PromptRequest, RunResult

if TYPE_CHECKING:
    from devices.emulator.bench import BenchConfig
    from devices.emulator.faults import Fault

#: How long the bench's devices have to connect before the run gives up (exit 4).
CONNECT_TIMEOUT_S = 15.0
#: Fastest emulated clock a run may ask for.
MAX_TIME_SCALE = 3600.0
DEFAULT_TIME_SCALE = 60.0
#: Routine alerts of a run's emulated bench, per minute of the bench's clock (on average; the
#: meter's at least every other one), so that a plan's wait for one means the same at any time
#: scale: the meter's next alert is at most 3 bench minutes away.
ROUTINE_ALERTS_PER_BENCH_MIN = 1.0

EXIT_BY_VERDICT = {Verdict.PASS: EXIT_OK, Verdict.MARGINAL: EXIT_OK, Verdict.FAIL: EXIT_RUN_FAIL,
                   Verdict.ERROR: EXIT_RUN_ERROR, Verdict.ABORTED: EXIT_RUN_ABORTED}


def parse_params(items: list[str] | None) -> dict[str, str]:
    """`--param K=V` options as a dict (the plan checks the values)."""
    out: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValidationError("param", f"--param must be NAME=VALUE, not {item!r}.")
        out[key.strip()] = value.strip()
    return out


def parse_answers(items: list[str] | None, prompt_steps: list[str]) -> dict[str, PromptAnswer]:
    """`--answer STEP=pass|fail[:note]` options, each naming a prompt step of the plan."""
    from app.services.runs.prompts import parse_step_answer

    out: dict[str, PromptAnswer] = {}
    for item in items or []:
        try:
            step, answer = parse_step_answer(item)
        except ValueError as exc:
            raise ValidationError("answer", str(exc)) from None
        if step not in prompt_steps:
            known = ", ".join(repr(s) for s in prompt_steps) or "none"
            raise ValidationError("answer", f"--answer names {step!r}, which is not a prompt "
                                            f"step of the plan (its prompt steps: {known}).")
        out[step] = answer
    return out


def emulated_devices(registry: list[Device], bench: str) -> list[Device]:
    """The devices of an emulated `bench`: the registry's if they are wired to the emulator,
    else the demo bench's devices under that bench's name (not added to the registry)."""
    from app.services.runtime import DEMO_DEVICES

    mine = [d for d in registry if d.bench.casefold() == bench.casefold()]
    if mine and all(d.connection.transport in ("emulator", "han") for d in mine):
        return mine
    if mine:
        raise ValidationError("bench", f"--emulate needs a bench wired to the emulator; {bench} "
                                       f"has real devices (run without --emulate, or name another "
                                       f"bench).")
    out = []
    for d in DEMO_DEVICES:
        label = d.label.replace("Bench 1", bench, 1)
        via = d.connection.via.replace("Bench 1", bench, 1) if d.connection.via else ""
        out.append(replace(d, label=label, bench=bench,
                           connection=replace(d.connection, via=via)))
    return out


def emulated_bench_config(scale: float, start: datetime, faults: tuple[Fault, ...]
                          ) -> BenchConfig:
    """The emulated bench of a run: the demo bench, its routine alerts on the bench's clock."""
    from app.services.device_manager import demo_bench_config

    return replace(demo_bench_config(scale, start=start), faults=faults,
                   alert_rate_per_min=ROUTINE_ALERTS_PER_BENCH_MIN * scale)


class LinePrinter(NullObserver):
    """Prints one JSON line per finished step (the I/O thread calls it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def step_finished(self, run_id: int, result: StepResult) -> None:
        line = {"run_id": run_id, "step": result.index + 1, "name": result.name,
                "kind": result.kind, "outcome": result.outcome.value,
                "measurements": [m.to_dict() for m in result.measurements]}
        if result.message:
            line["message"] = result.message
        if result.teardown:
            line["teardown"] = True
        with self._lock:
            emit(line)

    def measurement(self, run_id: int, index: int, result: MeasurementResult) -> None:
        pass


def terminal_prompt(request: PromptRequest) -> concurrent.futures.Future[PromptAnswer | None]:
    """Ask on the terminal (stderr/stdin): "p" or "f", an optional ": note"."""
    from app.services.runs.prompts import parse_answer

    future: concurrent.futures.Future[PromptAnswer | None] = concurrent.futures.Future()

    def ask() -> None:
        sys.stderr.write(f"\n{request.step_name}: {request.question}\n"
                         f"Answer pass or fail, optionally with a note (fail: display blank), "
                         f"within {request.time_limit_s:g} s: ")
        sys.stderr.flush()
        while not future.done():
            line = sys.stdin.readline()
            if not line:  # end of input: nobody to answer
                if not future.done():
                    future.set_result(None)
                return
            text = line.strip()
            text = {"p": "pass", "f": "fail"}.get(text.lower(), text)
            if text.lower().startswith(("p:", "f:")):
                text = ("pass" if text[0] in "pP" else "fail") + text[1:]
            try:
                answer = parse_answer(text)
            except ValueError as exc:
                sys.stderr.write(f"{exc} Try again: ")
                sys.stderr.flush()
                continue
            if not future.done():
                future.set_result(answer)
            return

    threading.Thread(target=ask, name="terminal prompt", daemon=True).start()
    return future


def run_start(args: argparse.Namespace, clock: Clock) -> int:
    from app.cli import cli_context
    from app.domain.devices import IEC_62056_21
    from app.domain.principals import Action
    from app.services.runs.bookings import check_booking_id
    from app.services.runs.prompts import ScriptedPrompt
    from app.services.runs.service import RunsService
    from app.services.runtime import DeviceRuntime
    from app.storage.db import capture_dir_for
    from app.storage.devices import DeviceRepo
    from devices.emulator.faults import parse_faults

    # The run takes time: a `--now` sets where the clock starts, then it runs.
    if isinstance(clock, FixedClock):
        clock = OffsetClock(clock.now())
    params = parse_params(args.param)
    if (args.fault or args.time_scale is not None) and not args.emulate:
        which = "--fault" if args.fault else "--time-scale"
        raise ValidationError("emulate", f"{which} needs --emulate (it sets up the emulated "
                                         f"bench).")
    try:
        faults = parse_faults(args.fault or [])
    except ValueError as exc:
        raise ValidationError("fault", str(exc).removeprefix("--fault: ")) from None
    scale = DEFAULT_TIME_SCALE
    if args.time_scale is not None:
        try:
            scale = parse_positive_float(args.time_scale, "time_scale", MAX_TIME_SCALE)
        except ValidationError:
            scale = 0.0
        if scale < 1:
            raise ValidationError("time_scale", f"--time-scale must be a number from 1 to "
                                                f"{MAX_TIME_SCALE:g}, not {args.time_scale!r}.")
    if not args.bench.strip():
        raise ValidationError("bench", "--bench must name a bench, e.g. \"Bench 1\".")
    booking_id = check_booking_id(args.booking)
    plan_dirs = [Path(p) for p in (args.plan_dir or [])] or None
    db_path = db_path_of(args)
    ctx = cli_context(args, clock)
    runtime: DeviceRuntime | None = None
    service: RunsService | None = None
    try:
        # Refused before the bench is looked at: a participant learns nothing of its devices.
        ctx.principal.require(Action.RUNS, "start runs")
        store = ctx.lab_source
        registry = DeviceRepo(store, clock).list()
        devices = emulated_devices(registry, args.bench) if args.emulate else registry
        checker = RunsService(ctx.db, db_path, clock, ctx.actor, plan_dirs, None, devices,
                              ctx.principal, store=store)
        prepared = checker.prepare(args.plan, args.bench, params, booking_id, args.org,
                                   tuple(str(f) for f in faults))
        checker.close()
        prompt_steps = [s.name for s in (*prepared.plan.steps, *prepared.plan.teardown)
                        if s.kind == "prompt"]
        answers = parse_answers(args.answer, prompt_steps)
        fallback = terminal_prompt if sys.stdin is not None and sys.stdin.isatty() else None
        prompt = ScriptedPrompt(answers, fallback)

        # Checked: from here on, things are written (capture sessions, the run).
        bench_devs = list(prepared.devices)
        emulated = any(d.connection.transport == "emulator" for d in bench_devs)
        capture_dir = Path(args.capture_dir) if args.capture_dir else capture_dir_for(
            db_path, bool(args.db))
        states: dict[str, tuple[str, str]] = {}
        changed = threading.Event()

        def on_state(label: str, state: Any, reason: str) -> None:
            states[label] = (getattr(state, "value", str(state)), reason)
            changed.set()

        # A lab store's device is recorded in the bench store under its stand-in, as `capture`
        # and the desktop record it.
        runtime = DeviceRuntime(clock, db_path, capture_dir, devices=devices, on_state=on_state,
                                device_refs=ctx.device_refs())
        config = None
        if emulated:
            config = emulated_bench_config(scale, clock.now(), faults)
        runtime.start(with_emulator=emulated, emulator_config=config)
        direct = [d for d in bench_devs if d.connection.is_direct]
        runtime.connect_all(direct)
        why = _wait_connected(direct, states, changed,
                              iec={d.label for d in direct
                                   if d.connection.protocol_or_default == IEC_62056_21})
        if why:
            return fail(why, EXIT_NO_ANSWER)
        service = RunsService(ctx.db, db_path, clock, ctx.actor, plan_dirs, runtime, devices,
                              ctx.principal, store=store)
        start = replace(prepared.start, time_scale=service.time_scale(prepared.start.bench),
                        emulated=emulated)
        prepared = replace(prepared, start=start)
        handle = service.start_prepared(prepared, LinePrinter(), prompt)
        result = _wait(handle)
        stored = service.recorder.flush(10.0)
        record = service.get(result.run_id) if result.run_id else None
        emit(record.to_dict() if record is not None else result.to_dict())
        if not stored or service.recorder.unstored or record is None:
            where = "the lab store" if ctx.shared else "the database"
            return fail(f"The run's result could not all be stored in {where} "
                        f"({service.recorder.unstored} writes lost: "
                        f"{service.recorder.last_error or 'no run record'}); the JSON above is "
                        f"the only full copy.", EXIT_STORAGE)
        return EXIT_BY_VERDICT[result.verdict]
    finally:
        if service is not None:
            service.close()
        if runtime is not None:
            runtime.stop()
        ctx.close()


def _wait_connected(devices: list[Device], states: dict[str, tuple[str, str]],
                    changed: threading.Event, iec: set[str]) -> str:
    """Wait until every device is connected; the sentence saying which one is not, or ""."""
    deadline = time.monotonic() + CONNECT_TIMEOUT_S
    while True:
        pending = []
        for d in devices:
            state, reason = states.get(d.label, ("connecting", ""))
            if state == "failed":
                return f"{d.label} could not be connected: {reason or 'no reason given'}."
            if state != "connected":
                pending.append((d, reason))
        if not pending:
            return ""
        left = deadline - time.monotonic()
        if left <= 0:
            d, reason = pending[0]
            what = "did not answer" if d.label in iec else "did not connect"
            return (f"{d.label} {what} within {CONNECT_TIMEOUT_S:g} s"
                    f"{': ' + reason if reason else ''}.")
        changed.wait(min(left, 0.2))
        changed.clear()


def _wait(handle: Any) -> RunResult:
    """The run's result; Ctrl-C aborts it and waits for its teardown."""
    aborted = False
    while True:
        try:
            return handle.result(timeout=0.5)
        except concurrent.futures.TimeoutError:
            continue
        except KeyboardInterrupt:
            if not aborted:
                aborted = True
                handle.abort()
                sys.stderr.write("meterlab: aborting the run; its teardown is restoring the "
                                 "bench (wait for it)...\n")
            else:
                sys.stderr.write("meterlab: the teardown is still running; the run ends when "
                                 "the supply is restored.\n")
            sys.stderr.flush()


def add_start(actions: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = actions.add_parser(
        "start", parents=[common],
        help="execute a test plan on a bench; one JSON line per step, then the run's record "
             "(exit 0 PASS/MARGINAL, 5 FAIL, 6 ERROR, 7 ABORTED)")
    p.add_argument("plan", metavar="PLAN", help="the plan's name (see `meterlab plan list`)")
    p.add_argument("--bench", required=True, metavar="NAME", help="the bench to run on")
    p.add_argument("--booking", metavar="ID",
                   help="the booking (default: the one checked in on the bench now)")
    p.add_argument("--org", help="the participant organisation (default: the booking's)")
    p.add_argument("--param", action="append", metavar="NAME=VALUE",
                   help="a plan parameter (repeatable), e.g. duration_s=181")
    p.add_argument("--answer", action="append", metavar="STEP=pass|fail[:note]",
                   help="the operator's answer to a prompt step (repeatable)")
    p.add_argument("--emulate", action="store_true",
                   help="run against the emulated bench (the demo bench's devices, on ptys)")
    p.add_argument("--fault", action="append", metavar="NAME[=VALUE]",
                   help="with --emulate: make the emulated bench misbehave (repeatable; see "
                        "`meterlab emulate --help`)")
    p.add_argument("--time-scale", dest="time_scale", metavar="X",
                   help=f"with --emulate: the emulator's clock runs X times fast "
                        f"(default {DEFAULT_TIME_SCALE:g}, at most {MAX_TIME_SCALE:g})")
    p.add_argument("--plan-dir", dest="plan_dir", action="append", metavar="DIR",
                   help="a folder of the lab's own plans (repeatable)")
    p.add_argument("--capture-dir", dest="capture_dir", metavar="DIR",
                   help="where the run's capture files go (default: beside --db, else the "
                        "data directory)")
    p.set_defaults(handler=run_start)
