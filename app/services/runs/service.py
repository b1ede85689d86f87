"""Plans, runs and their history for a front end: the Runs page or the `run` commands.

:meth:`RunsService.prepare` checks everything a run needs (plan, parameters, bench, booking,
organisation) and writes nothing; :meth:`RunsService.start` then hands the run to the executor
on the I/O loop and returns at once. Results go to the database through the storage recorder,
progress to the caller's observer, questions to the caller's prompt.
"""

from __future__ import annotations

import concurrent.futures
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from app.domain.clock import Clock
from app.domain.devices import Device, DeviceKind
from app.domain.errors import NotFoundError, ValidationError
from app.domain.parsing import check_text
from app.domain.plans import Plan
from app.domain.principals import WORKSTATION_ADMIN, Action, Principal
from app.domain.run_records import RunRecord, RunSummary
from app.domain.runs import Verdict
from app.services.runs.api import (
    Prompt,
    PromptAnswer,
    PromptRequest,
    RunDeviceInfo,
    RunObserver,
    RunResult,
    RunStart,
)
from app.services.runs.bench_link import RuntimeLinks
from app.services.runs.bookings import (
    booking_for_run,
    bookings_on_bench,
    default_booking,
    describe,
)
from app.services.runs.executor import BenchBusyError, Executor, RunHandle
from app.services.runs.plans import PlanEntry, check_run_values, find_plans, get_plan
from app.services.runs.prompts import QueuePrompt
from app.services.runs.store import StoreRunRecorder
from app.services.runtime import DeviceRuntime
from app.storage.bookings import BookingRepo
from app.storage.db import Database
from app.storage.devices import DeviceRepo
from app.storage.labstore import LabStore, lab_store
from app.storage.people import OrgRepo
from app.storage.runs import RunRepo

logger = logging.getLogger(__name__)

#: How long a run waits for the demo's scripted outages to release the bench's relay.
DEMO_RELEASE_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class PreparedRun:
    """A run checked and ready to start: nothing has been written yet."""

    plan: Plan
    values: Mapping[str, Any]
    start: RunStart
    devices: tuple[Device, ...] = field(default_factory=tuple)


def bench_devices(devices: Iterable[Device], bench: str) -> list[Device]:
    return [d for d in devices if d.bench.casefold() == bench.casefold()]


def device_info(device: Device) -> RunDeviceInfo:
    return RunDeviceInfo(label=device.label, kind=device.kind.value, device_id=device.device_id,
                         mpxn=device.mpxn, manufacturer=device.manufacturer, model=device.model,
                         firmware=device.firmware, device_ref=device.id)


class RunsService:
    """What the Runs page and the `run` commands use.

    Args:
        db: the front end's database: the workstation's bench store (its own thread), and its
            lab store unless `store` is given.
        db_path: the database file (on the file's lab store, the recorder writes through its
            own connection).
        clock: host time.
        actor: the operator recorded with each run.
        plan_dirs: folders of the lab's own plans (None: the data directory's ``plans``).
        runtime: the running device runtime; without one, runs cannot start (history only).
        devices: the device registry the runs use (default: read from `db`).
        principal: who acts (default: the workstation admin): a participant sees only its
            organisation's runs, organisations and bookings, and may not start a run.
        prompts: the questions of running runs, shared with the service that starts them (a
            participant session answers its organisation's questions of the staff window's runs).
        store: the lab store holding the history, the run records, bookings, organisations and
            the devices registry (None: the one in the file `db`). The caller closes it.
    """

    def __init__(self, db: Database, db_path: Path, clock: Clock, actor: str,
                 plan_dirs: Iterable[Path] | None = None, runtime: DeviceRuntime | None = None,
                 devices: Iterable[Device] | None = None,
                 principal: Principal = WORKSTATION_ADMIN,
                 prompts: QueuePrompt | None = None, store: LabStore | None = None) -> None:
        self.db, self.db_path, self.clock, self.actor = db, Path(db_path), clock, actor
        self.store = store if store is not None else lab_store(db)
        self.principal = principal
        self.plan_dirs = list(plan_dirs) if plan_dirs is not None else None
        self.runtime = runtime
        self.devices = (list(devices) if devices is not None
                        else DeviceRepo(self.store, clock).list())
        self.recorder = StoreRunRecorder(self.db_path, clock, store=self.store)
        self.prompts = prompts if prompts is not None else QueuePrompt()
        self.executor: Executor | None = None
        if runtime is not None:
            self.executor = Executor(RuntimeLinks(runtime, self.devices), clock, runtime.io)

    # --- what can be chosen --------------------------------------------------------------------
    def plans(self) -> list[PlanEntry]:
        return find_plans(self.plan_dirs)

    def benches(self) -> list[str]:
        """Benches that have a relay board (a plan's supply steps need one), by name."""
        names = {d.bench for d in self.devices if d.bench and d.kind is DeviceKind.RELAY}
        return sorted(names, key=str.casefold)

    def organisations(self) -> list[tuple[int, str]]:
        return [(o.id, o.name)
                for o in OrgRepo(self.store, self.clock).list(self.principal.org_scope())]

    def booking_choices(self, bench: str) -> list[tuple[int, str]]:
        repo = BookingRepo(self.store, self.clock)
        scope = self.principal.org_scope()
        return [(b.id, describe(b)) for b in bookings_on_bench(repo, bench, self.clock.now())
                if scope is None or b.org_id == scope]

    def default_booking(self, bench: str) -> int | None:
        found = default_booking(BookingRepo(self.store, self.clock), bench, self.clock.now())
        return found.id if found else None

    def is_emulated(self, bench: str) -> bool:
        return any(d.connection.transport == "emulator"
                   for d in bench_devices(self.devices, bench))

    def time_scale(self, bench: str) -> float:
        if self.is_emulated(bench) and self.runtime is not None and \
                self.runtime.emulator is not None:
            return float(self.runtime.emulator.bench.clock.time_scale)
        return 1.0

    def bench_note(self, bench: str) -> str:
        """A line under the form saying what kind of bench this is."""
        if self.is_emulated(bench):
            scale = self.time_scale(bench)
            return (f"Emulated bench: the plan's durations run {scale:g} times fast on the "
                    f"emulator's clock." if scale != 1 else "Emulated bench.")
        return "Real bench: the plan's durations are real time."

    def can_run(self) -> bool:
        return self.executor is not None

    def why_not_run(self) -> str:
        return "" if self.can_run() else ("Device I/O is not running, so no run can start. "
                                          "Stored runs are under History.")

    # --- a run ---------------------------------------------------------------------------------
    def prepare(self, plan: str, bench: str, parameters: Mapping[str, str] | None = None,
                booking_id: int | None = None, org: str | int | None = None,
                faults: tuple[str, ...] = ()) -> PreparedRun:
        """Check a run (plan, parameters, bench and its devices, booking, organisation).

        Raises:
            NotFoundError / ValidationError: bad input (field named); RuleRefusal: a booking
            that does not hold the bench or is not open, or a principal that may not start runs.
        """
        self.principal.require(Action.RUNS, "start runs")
        check_text(bench, "bench", 200)
        if not bench.strip():
            raise ValidationError("bench", "Name the bench the run is on.")
        bench = bench.strip()
        the_plan = get_plan(plan, self.plan_dirs)
        values = check_run_values(the_plan, dict(parameters or {}))
        devices = bench_devices(self.devices, bench)
        if not devices:
            known = ", ".join(self.benches()) or "none"
            raise NotFoundError("bench", f"No devices are registered on bench {bench!r} "
                                         f"(benches with a relay board: {known}).")
        bench = devices[0].bench
        kinds = {d.kind.value for d in devices}
        missing = [k for k in the_plan.device_kinds if k not in kinds]
        if missing:
            raise ValidationError("bench", f"Plan {the_plan.name} needs {', '.join(missing)} on "
                                           f"the bench; {bench} has {', '.join(sorted(kinds))}.")
        booking = booking_for_run(BookingRepo(self.store, self.clock), booking_id, bench,
                                  self.clock.now())
        org_id = booking.org_id if booking is not None else None
        lab_id = booking.lab_id if booking is not None else None
        if org is not None:
            found = OrgRepo(self.store, self.clock).resolve(org, "org")
            if org_id is not None and found.id != org_id:
                raise ValidationError("org", f"Booking {booking.id} is "  # type: ignore[union-attr]
                                             f"{booking.org_name}'s, not {found.name}'s.")  # type: ignore[union-attr]
            org_id = found.id
        start = RunStart(
            plan_name=the_plan.name, plan_version=the_plan.version,
            plan_sha256=the_plan.sha256, plan_source=the_plan.source, parameters=dict(values),
            bench=bench, started=self.clock.now(), emulated=self.is_emulated(bench),
            operator=self.actor, booking_id=booking.id if booking is not None else None,
            org_id=org_id, lab_id=lab_id,
            devices=tuple(device_info(d) for d in devices),
            step_names=tuple(s.name for s in (*the_plan.steps, *the_plan.teardown)),
            faults=tuple(faults), time_scale=self.time_scale(bench))
        return PreparedRun(the_plan, values, start, tuple(devices))

    def start(self, plan: str, bench: str, parameters: Mapping[str, str] | None = None,
              booking_id: int | None = None, org: str | int | None = None,
              observer: RunObserver | None = None, prompt: Prompt | None = None,
              prompt_ui: bool = False, faults: tuple[str, ...] = ()) -> RunHandle:
        """Check and start a run; returns at once with its handle (BenchBusyError if the bench
        is running one). With `prompt_ui`, questions wait for :meth:`answer`."""
        self.principal.require(Action.RUNS, "start runs")
        if self.executor is None or self.runtime is None:
            raise ValidationError("bench", self.why_not_run())
        parsed = self._faults(bench, faults)
        prepared = self.prepare(plan, bench, parameters, booking_id, org,
                                tuple(str(f) for f in parsed))
        emulator = self.runtime.emulator
        if prepared.start.bench in self.executor.running():
            raise BenchBusyError(f"{prepared.start.bench} is busy with another run; wait for it "
                                 f"to end or abort it.")
        if parsed and emulator is not None:
            # The faults last for this run; the emulated bench is healthy again after it.
            emulator.set_faults(parsed)
        handle = self.start_prepared(prepared, observer, self.prompts if prompt_ui else prompt)
        if parsed and emulator is not None:
            handle.future.add_done_callback(lambda _f: emulator.set_faults(()))
        return handle

    def _faults(self, bench: str, faults: Iterable[str]) -> tuple[Any, ...]:
        """Faults for a run on the emulated bench (none on a real one)."""
        from devices.emulator.faults import parse_faults

        texts = [t for t in faults if t.strip()]
        if not texts:
            return ()
        if not self.is_emulated(bench) or self.runtime is None or self.runtime.emulator is None:
            raise ValidationError("fault", f"Faults can only be set on an emulated bench; "
                                           f"{bench} is real.")
        try:
            return parse_faults(texts)
        except ValueError as exc:
            raise ValidationError("fault", str(exc).removeprefix("--fault: ")) from None

    def start_prepared(self, prepared: PreparedRun, observer: RunObserver | None,
                       prompt: Prompt | None) -> RunHandle:
        self.principal.require(Action.RUNS, "start runs")
        from app.services.runs.api import NullObserver
        from app.services.runs.prompts import NoAnswerPrompt

        assert self.executor is not None and self.runtime is not None
        release = self._release_demo(prepared.start.bench)
        start = replace(prepared.start, started=self.clock.now())
        handle = self.executor.start(prepared.plan, prepared.values, None,
                                     prompt or NoAnswerPrompt(), self.recorder,
                                     observer or NullObserver(), start, before=release)
        if release is not None:
            handle.future.add_done_callback(lambda _f: self._resume_demo())
        return handle

    def _release_demo(self, bench: str) -> concurrent.futures.Future[None] | None:
        """Stop the demo's scripted outages on `bench` (between two outages) for a run."""
        runtime = self.runtime
        if runtime is None or not runtime.demo_outages_on(bench):
            return None
        return runtime.stop_demo_outages()

    def _resume_demo(self) -> None:
        if self.runtime is not None and not self.executor.running():  # type: ignore[union-attr]
            self.runtime.resume_demo_outages()

    def answer(self, handle: RunHandle | None, request: PromptRequest,
               answer: PromptAnswer) -> bool:
        """Answer a run's question, recording who answered; a participant only the questions of
        its organisation's runs. False when the question no longer waits.

        Raises:
            RuleRefusal: the principal may not answer this run's questions.
        """
        self.principal.require(Action.ANSWER_PROMPT, "answer a run's questions")
        if not self.may_answer(request):
            self.principal.require(Action.READ_ALL, "answer another organisation's run")
        if not answer.who:
            answer = replace(answer, who=self.principal.name)
        return self.prompts.answer(request, answer)

    def may_answer(self, request: PromptRequest) -> bool:
        """Whether the principal may see and answer `request` (a participant: a question of a
        run of its organisation, once the run is stored)."""
        if self.principal.org_scope() is None:
            return True
        return request.run_id > 0 and self.get(request.run_id) is not None

    def pending_prompts(self) -> list[PromptRequest]:
        """The questions waiting for an answer that the principal may answer, oldest first."""
        return [r for r in self.prompts.pending() if self.may_answer(r)]

    # --- history -------------------------------------------------------------------------------
    def history(self, org_id: int | None = None, bench: str | None = None,
                device: str | None = None, plan: str | None = None,
                verdict: str | None = None, limit: int = 500) -> list[RunSummary]:
        """Stored runs, newest first (a participant's: only its organisation's)."""
        v = Verdict(verdict) if verdict else None
        return RunRepo(self.store).list(org_id=org_id, bench=bench, device=device, plan=plan,
                                          verdict=v, limit=limit,
                                          org_scope=self.principal.org_scope())

    def get(self, run_id: int) -> RunRecord | None:
        """Run `run_id`'s record; None when there is none, or it is another organisation's."""
        return RunRepo(self.store).get(run_id, self.principal.org_scope())

    def close(self, timeout_s: float = 5.0) -> None:
        """Write what the recorder still holds (call before the database closes)."""
        self.recorder.close(timeout_s)


def result_exit_code(result: RunResult) -> int:
    """The command line's exit code for a run's verdict: 0 PASS/MARGINAL, 5, 6, 7."""
    return {Verdict.PASS: 0, Verdict.MARGINAL: 0, Verdict.FAIL: 5, Verdict.ERROR: 6,
            Verdict.ABORTED: 7}[result.verdict]
