"""Each built-in plan through `meterlab run start --emulate`: it passes on a healthy emulated bench
and fails, on the measurement concerned, for each fault of the emulated bench that concerns it.

Every run is the real command in its own process: the real executor, the emulated bench on real
ptys at time scale 60, its own SQLite file. The runs are independent, so they are started together
(a few at a time) when the first test needs one, and each test reads its own.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

EXE = Path(sys.executable).with_name("meterlab")
ENV = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
#: Runs at once: each mostly waits on the emulated clock (little CPU), and the measured delays
#: include host time, so not more than the machine keeps up with.
PARALLEL = 4

pytestmark = pytest.mark.timeout(180)

OUTAGE = "Cut and restore the supply"
READ_AFTER = "Read the meter after restore"
PROMPT = "IHD shows the interruption"
SUPPLY_ON = "Supply on"

#: name -> (plan, arguments after the plan)
CASES: dict[str, tuple[str, tuple[str, ...]]] = {
    "power-outage 179 s": ("power-outage", ("--param", "duration_s=179")),
    "power-outage 181 s": ("power-outage", ("--param", "duration_s=181")),
    "wrong-restore-alert": ("power-outage", ("--param", "duration_s=181",
                                             "--fault", "wrong-restore-alert")),
    "late-alert=30": ("power-outage", ("--param", "duration_s=30", "--fault", "late-alert=30")),
    "no-restore-alert": ("power-outage", ("--param", "duration_s=30",
                                          "--fault", "no-restore-alert")),
    "no-outage-log": ("power-outage", ("--param", "duration_s=30", "--fault", "no-outage-log")),
    "counter-stuck": ("power-outage", ("--param", "duration_s=30", "--fault", "counter-stuck")),
    "silent-after-restore": ("power-outage", ("--param", "duration_s=30",
                                              "--fault", "silent-after-restore")),
    "ihd pass": ("ihd-outage-message", ("--param", "duration_s=30",
                                        "--answer", f"{PROMPT}=pass")),
    "ihd fail": ("ihd-outage-message", ("--param", "duration_s=30",
                                        "--answer", f"{PROMPT}=fail:the display stayed blank")),
    "ihd no answer": ("ihd-outage-message", ("--param", "duration_s=30")),
    "ihd wrong-restore-alert": ("ihd-outage-message", ("--param", "duration_s=30",
                                                       "--answer", f"{PROMPT}=pass",
                                                       "--fault", "wrong-restore-alert")),
    "readout-sanity": ("readout-sanity", ()),
    "readout-sanity clock": ("readout-sanity", ("--param", "clock_tolerance_s=0")),
    "readout-sanity silent-after-restore": ("readout-sanity",
                                            ("--fault", "silent-after-restore")),
    "alert-smoke": ("alert-smoke", ()),
}


@dataclass(frozen=True)
class Done:
    code: int
    lines: list[dict[str, Any]]  # the step lines, then the run's record
    err: str
    db: Path

    @property
    def record(self) -> dict[str, Any]:
        return self.lines[-1]

    def step(self, name: str) -> dict[str, Any]:
        return next(s for s in self.record["steps"] if s["name"] == name)

    def outcomes(self, name: str) -> dict[str, str]:
        return {m["name"]: m["outcome"] for m in self.step(name)["measurements"]}

    def value(self, step: str, measurement: str) -> Any:
        return next(m for m in self.step(step)["measurements"] if m["name"] == measurement)


def meterlab(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(EXE), "--db", str(db), *args], capture_output=True, text=True,
                          timeout=120, env=ENV, stdin=subprocess.DEVNULL)


def start_run(root: Path, plan: str, args: tuple[str, ...]) -> Done:
    root.mkdir(parents=True)
    db = root / "lab.db"
    res = meterlab(db, "run", "start", plan, "--bench", "Bench 1", "--emulate", *args)
    lines = [json.loads(line) for line in res.stdout.splitlines() if line.strip()]
    return Done(res.returncode, lines, res.stderr, db)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp("plan-faults")
    pool = ThreadPoolExecutor(PARALLEL)
    futures: dict[str, Future[Done]] = {
        name: pool.submit(start_run, root / f"run{i}", plan, args)
        for i, (name, (plan, args)) in enumerate(CASES.items())}

    def get(name: str) -> Done:
        return futures[name].result(timeout=150)

    yield get
    pool.shutdown(wait=True, cancel_futures=True)


def assert_ran(done: Done, verdict: str, code: int) -> None:
    assert done.code == code and done.record["verdict"] == verdict, (done.err, done.lines)
    # One JSON line per finished step, then the record (as stored) naming every step.
    steps = done.record["steps"]
    assert [line["name"] for line in done.lines[:-1]] == [s["name"] for s in steps]
    assert [line["outcome"] for line in done.lines[:-1]] == [s["outcome"] for s in steps]
    assert done.record["emulated"] is True and done.record["bench"] == "Bench 1"
    # Whatever happened, the teardown put the supply back on.
    if any(s["name"] == SUPPLY_ON for s in steps):
        assert done.step(SUPPLY_ON)["outcome"] == "PASS" and done.step(SUPPLY_ON)["teardown"]


def assert_outage_failed_on(done: Done, expected: dict[str, str]) -> None:
    """The run FAILs on the outage step, on exactly the `expected` measurements (name -> outcome);
    the step's other measurements passed, and the rest of the plan was skipped."""
    assert_ran(done, "FAIL", 5)
    outage = done.step(OUTAGE)
    assert outage["outcome"] == "FAIL", outage
    outcomes = done.outcomes(OUTAGE)
    assert {k: v for k, v in outcomes.items() if v != "PASS"} == expected, outage
    assert len(outcomes) == 7  # every measurement of the outage step was made
    later = [s for s in done.record["steps"] if s["index"] > outage["index"] and not s["teardown"]]
    assert later and all(s["outcome"] == "SKIPPED" for s in later)


# --- power-outage ----------------------------------------------------------------------------

@pytest.mark.parametrize(("case", "code"), [("power-outage 179 s", "8F35"),
                                            ("power-outage 181 s", "8F36")])
def test_power_outage_passes_with_the_restore_alert_for_its_length(runs, case, code) -> None:
    done = runs(case)
    assert_ran(done, "PASS", 0)
    assert set(done.outcomes(OUTAGE).values()) == {"PASS"}
    alert = done.value(OUTAGE, "restore_alert")
    assert alert["value"] == code and alert["limits"] == f"x == '{code}'"
    assert done.value(OUTAGE, "power_fail_count_delta")["value"] == 1
    assert done.value(OUTAGE, "ch_outage_logged")["value"] is True
    assert done.outcomes(READ_AFTER) == {"1.8.0": "PASS"}
    assert done.record["parameters"] == {"duration_s": int(case.split()[1])}
    assert done.record["faults"] == []
    assert {e["device"] for e in done.record["evidence"]} >= {"Bench 1 ESME", "Bench 1 Comms Hub",
                                                              "Bench 1 relay"}
    # The Live page's outage record agrees: the bench's clock, and nothing flagged.
    outages = json.loads(meterlab(done.db, "outages", "list").stdout)
    assert len(outages) == 1 and not outages[0]["flags"]
    assert outages[0]["restore_alert_code"] == code
    assert abs(outages[0]["duration_s"] - int(case.split()[1])) < 2


def test_wrong_restore_alert_fails_on_the_restore_alert(runs) -> None:
    done = runs("wrong-restore-alert")
    assert_outage_failed_on(done, {"restore_alert": "FAIL"})
    assert done.value(OUTAGE, "restore_alert")["value"] == "8F35"  # after 181 s: 8F36 expected
    assert done.record["faults"] == ["wrong-restore-alert"]


def test_a_late_restore_alert_fails_on_its_latency(runs) -> None:
    done = runs("late-alert=30")
    assert_outage_failed_on(done, {"restore_alert_latency_s": "FAIL"})
    latency = done.value(OUTAGE, "restore_alert_latency_s")
    assert latency["value"] >= 30 - 0.5 and latency["limits"].startswith("0 <= x <= 8")
    assert done.value(OUTAGE, "restore_alert")["value"] == "8F35"
    assert done.record["faults"] == ["late-alert=30"]


def test_no_restore_alert_leaves_the_alert_unset(runs) -> None:
    done = runs("no-restore-alert")
    assert_outage_failed_on(done, {"restore_alert": "UNSET", "restore_alert_latency_s": "UNSET"})
    alert = done.value(OUTAGE, "restore_alert")
    assert alert["value"] is None and "no restore alert" in alert["note"]


def test_no_outage_log_fails_on_the_hub_record(runs) -> None:
    done = runs("no-outage-log")
    assert_outage_failed_on(done, {"ch_outage_logged": "FAIL",
                                   "ch_outage_start_error_s": "UNSET",
                                   "ch_outage_end_error_s": "UNSET"})
    assert done.value(OUTAGE, "ch_outage_logged")["value"] is False


def test_a_stuck_counter_fails_on_the_power_failure_count(runs) -> None:
    done = runs("counter-stuck")
    assert_outage_failed_on(done, {"power_fail_count_delta": "FAIL"})
    assert done.value(OUTAGE, "power_fail_count_delta")["value"] == 0


def test_a_meter_silent_after_restore_fails_on_being_readable(runs) -> None:
    done = runs("silent-after-restore")
    # Without a readout after the restore the counter cannot be read either.
    assert_outage_failed_on(done, {"readable_after_restore_s": "UNSET",
                                   "power_fail_count_delta": "UNSET"})
    assert "not readable in time" in done.value(OUTAGE, "readable_after_restore_s")["note"]


# --- ihd-outage-message ----------------------------------------------------------------------

def test_ihd_outage_message_passes_on_the_operators_pass(runs) -> None:
    done = runs("ihd pass")
    assert_ran(done, "PASS", 0)
    assert done.outcomes(PROMPT) == {"operator_answer": "PASS"}
    assert set(done.outcomes(OUTAGE).values()) == {"PASS"}


def test_ihd_outage_message_fails_on_the_operators_fail_and_keeps_the_note(runs) -> None:
    done = runs("ihd fail")
    assert_ran(done, "FAIL", 5)
    assert set(done.outcomes(OUTAGE).values()) == {"PASS"}
    answer = done.value(PROMPT, "operator_answer")
    assert (answer["value"], answer["outcome"]) == ("fail", "FAIL")
    assert answer["note"] == "the display stayed blank"
    shown = meterlab(done.db, "run", "show", str(done.record["run_id"]))
    assert shown.returncode == 0, shown.stderr
    stored = json.loads(shown.stdout)
    prompt = next(s for s in stored["steps"] if s["name"] == PROMPT)
    assert prompt["measurements"][0]["note"] == "the display stayed blank"


def test_ihd_outage_message_without_an_answer_is_an_error_of_the_bench(runs) -> None:
    done = runs("ihd no answer")  # stdin is not a terminal and no --answer
    assert_ran(done, "ERROR", 6)
    prompt = done.step(PROMPT)
    assert prompt["outcome"] == "ERROR" and "no operator answer" in prompt["message"].lower()
    assert set(done.outcomes(OUTAGE).values()) == {"PASS"}


def test_ihd_outage_message_fails_on_a_wrong_restore_alert_before_asking(runs) -> None:
    done = runs("ihd wrong-restore-alert")
    assert_outage_failed_on(done, {"restore_alert": "FAIL"})
    assert done.value(OUTAGE, "restore_alert")["value"] == "8F36"  # after 30 s: 8F35 expected


# --- readout-sanity --------------------------------------------------------------------------

def test_readout_sanity_passes_on_a_healthy_meter(runs) -> None:
    done = runs("readout-sanity")
    assert_ran(done, "PASS", 0)
    outcomes = done.outcomes("Read the meter")
    assert set(outcomes) == {"clock_offset_s", "0.0.0", "0.9.1", "0.9.2", "1.8.0", "2.8.0",
                             "1.7.0", "C.7.0"}
    assert set(outcomes.values()) == {"PASS"}


def test_readout_sanity_fails_on_the_clock_alone_when_its_tolerance_is_zero(runs) -> None:
    done = runs("readout-sanity clock")
    assert_ran(done, "FAIL", 5)
    outcomes = done.outcomes("Read the meter")
    assert {k: v for k, v in outcomes.items() if v != "PASS"} == {"clock_offset_s": "FAIL"}
    assert done.value("Read the meter", "clock_offset_s")["value"] > 0


def test_readout_sanity_is_not_concerned_by_a_fault_after_restore(runs) -> None:
    done = runs("readout-sanity silent-after-restore")  # no outage, so the port answers
    assert_ran(done, "PASS", 0)
    assert done.record["faults"] == ["silent-after-restore"]


# --- alert-smoke -----------------------------------------------------------------------------

def test_alert_smoke_passes_with_a_routine_alert_from_the_meter(runs) -> None:
    done = runs("alert-smoke")
    assert_ran(done, "PASS", 0)
    step = done.record["steps"][0]
    assert step["outcome"] == "PASS"
    code = done.value(step["name"], "alert_code")
    assert code["outcome"] == "PASS" and code["value"] not in ("8F35", "8F36")
    delay = done.value(step["name"], "alert_delay_s")
    assert delay["outcome"] == "PASS" and delay["value"] >= 0


@pytest.mark.parametrize("scale", [1.0, 60.0, 3600.0])
def test_the_meters_next_routine_alert_is_always_within_alert_smokes_wait(scale) -> None:
    """On a run's emulated bench the meter's routine alerts, random as they are, are never further
    apart on the bench clock than alert-smoke waits for one, whatever the time scale and seed: a
    healthy bench cannot fail it by chance. (The hub's log is read on a hand-driven clock.)"""
    from app.cli.run_start import emulated_bench_config
    from app.services.runs.plans import get_plan
    from devices.emulator.bench import EmulatedBench
    from devices.emulator.clock import ManualMonotonic

    plan = get_plan("alert-smoke")
    wait_s = float(plan.parameters[0].default)
    start = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    esme_alert = re.compile(rb"(\S+Z) \[INF\] GBCS alert rx eui=00-DB-12-34-56-78-90-A0 ")
    hour_real_s = 3600.0 / scale
    for seed in range(8):
        mono = ManualMonotonic(1000.0)
        config = replace(emulated_bench_config(scale, start, ()), seed=seed, noise_lines_per_s=0)
        bench = EmulatedBench(config, monotonic=mono)
        out = bytearray()
        for _ in range(2000):  # one bench hour
            out += bench.comms_hub.pending_output(mono.advance(hour_real_s / 2000))
        times = [start] + [datetime.fromisoformat(m.group(1).decode())
                           for m in esme_alert.finditer(bytes(out))]
        gaps = [(b - a).total_seconds() for a, b in pairwise(times)]
        assert len(gaps) >= 10 and max(gaps) <= 180.0 < wait_s, (seed, gaps)
