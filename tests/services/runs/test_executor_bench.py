"""The executor running plans on the emulated demo bench: real runtime, real ptys, time scale 60."""

from __future__ import annotations

import re

import pytest

from app.domain.devices import ConnectionSettings, Device, DeviceKind
from app.domain.plans import OnFail, Plan
from app.domain.runs import MeasurementOutcome, StepOutcome, Verdict
from app.services.runs import steps as step_classes
from app.services.runs.api import InMemoryRecorder, PromptAnswer
from app.services.runs.bench_link import RuntimeBenchLink
from app.services.runs.executor import BenchBusyError
from app.services.runs.prompts import NoAnswerPrompt, QueuePrompt, ScriptedPrompt
from app.services.runs.steps.base import BaseStep
from tests.services.runs.executor_bench import (
    Bench,
    Recording,
    bench,
    by_name,
    limits,
    power_outage_plan,
    run_plan,
    step,
    values,
    wait_for,
)

pytestmark = pytest.mark.timeout(120)
__all__ = ["bench"]  # the module-scoped fixture


def plan_of(*steps, teardown=()) -> Plan:
    return Plan("test", "1", "", ("ESME",), (), tuple(steps), tuple(teardown))


@pytest.mark.parametrize(("duration_s", "code"), [(179, "8F35"), (181, "8F36")])
def test_power_outage_passes_with_the_restore_alert_for_its_length(bench, duration_s,
                                                                   code) -> None:
    recorder, observer = InMemoryRecorder(), Recording()
    handle = run_plan(bench, power_outage_plan(), observer=observer, recorder=recorder,
                      duration_s=duration_s)
    result = handle.result(60)
    assert result.verdict is Verdict.PASS, result.to_dict()
    outage = values(by_name(result)["outage"])
    assert outage["restore_alert"] == (code, "PASS")
    assert outage["ch_outage_logged"] == (True, "PASS")
    assert outage["power_fail_count_delta"] == (1, "PASS")
    for name in ("ch_outage_start_error_s", "ch_outage_end_error_s", "restore_alert_latency_s",
                 "readable_after_restore_s"):
        assert outage[name][0] >= 0 and outage[name][1] == "PASS"
    assert by_name(result)["supply on"].teardown and bench.powered()
    # Recorded as it went, and every device's capture is evidence, hashed.
    assert result.run_id == handle.run_id == 1 + len(recorder.starts) - 1
    assert [s.name for _, s in recorder.steps] == ["outage", "readout after restore", "supply on"]
    assert recorder.results == [result]
    assert {e.device for e in result.evidence} >= {"Bench 1 ESME", "Bench 1 Comms Hub",
                                                    "Bench 1 relay"}
    assert all(re.fullmatch("[0-9a-f]{64}", e.sha256) and e.bytes > 0 for e in result.evidence)
    calls = [c for c, _ in observer.calls]
    assert calls[0] == "run_started" and calls[-1] == "run_finished"
    assert calls.count("measurement") == 7 + 2
    # No stream is left open on the event queue.
    assert bench.links.fanout.open_streams == 0


def test_abort_in_the_middle_of_an_outage_leaves_the_supply_on(bench) -> None:
    handle = run_plan(bench, power_outage_plan(), duration_s=3600)  # a minute of real time
    wait_for(lambda: not bench.powered())
    handle.abort()
    result = handle.result(30)
    assert result.verdict is Verdict.ABORTED
    steps = by_name(result)
    assert steps["outage"].outcome is StepOutcome.ABORTED
    assert steps["readout after restore"].outcome is StepOutcome.SKIPPED
    assert all(m.outcome is MeasurementOutcome.SKIPPED
               for m in steps["readout after restore"].measurements)
    assert steps["supply on"].outcome is StepOutcome.PASS
    assert "restore supply" not in steps  # the teardown restored it
    assert bench.powered() and bench.relay_on(1)


def test_without_teardown_the_executor_restores_the_supply_itself(bench) -> None:
    handle = run_plan(bench, power_outage_plan(teardown=False), duration_s=3600)
    wait_for(lambda: not bench.powered())
    handle.abort()
    result = handle.result(30)
    restored = by_name(result)["restore supply"]
    assert restored.teardown and restored.outcome is StepOutcome.PASS
    assert result.verdict is Verdict.ABORTED
    assert bench.powered() and bench.relay_on(1)


def test_a_relay_that_does_not_acknowledge_is_an_error_not_a_fail(bench) -> None:
    # Stand-in for a silent relay board: bench "Bench 9"'s "relay" is the hub's debug port,
    # which takes commands and answers nothing.
    silent = Device(label="Bench 1 Comms Hub", kind=DeviceKind.RELAY, bench="Bench 9",
                    connection=ConnectionSettings(transport="emulator", endpoint="ch_debug"))
    link = RuntimeBenchLink(bench.runtime, "Bench 9", [silent], bench.links.fanout)
    plan = plan_of(step("cut", "relay", state="off", ack_timeout_s=0.3))
    result = run_plan(bench, plan, link=link, bench_name="Bench 9").result(30)
    cut = by_name(result)["cut"]
    assert cut.outcome is StepOutcome.ERROR and result.verdict is Verdict.ERROR
    assert cut.message == "Bench 1 Comms Hub did not acknowledge within 0.3 s."
    # The executor still tried to restore what the board may have cut, and says it could not.
    restore = by_name(result)["restore supply"]
    assert restore.outcome is StepOutcome.ERROR
    assert "may still be cut" in restore.message and "may still be cut" in result.message


class Exploding(BaseStep):
    kind = "wait"

    async def run(self, ctx):
        raise ZeroDivisionError("division by zero\nsecond line")


def test_a_crash_inside_a_step_is_an_error_and_teardown_still_runs(bench, monkeypatch) -> None:
    monkeypatch.setitem(step_classes.STEP_CLASSES, "wait", Exploding)
    plan = plan_of(step("cut", "relay", state="off"), step("boom", "wait", seconds=1),
                   step("after", "readout", measurements=(limits("C.7.0", range=[0, 9999]),)),
                   teardown=(step("supply on", "relay", state="on"),))
    result = run_plan(bench, plan).result(30)
    steps = by_name(result)
    assert steps["boom"].outcome is StepOutcome.ERROR
    assert steps["boom"].message == ("The step failed: internal error: ZeroDivisionError: "
                                     "division by zero.")
    # on_fail continue: the next step ran; with the supply cut the meter cannot answer.
    assert steps["after"].outcome is StepOutcome.FAIL
    assert values(steps["after"]) == {"C.7.0": (None, "UNSET")}
    assert steps["supply on"].outcome is StepOutcome.PASS and bench.powered()
    assert result.verdict is Verdict.ERROR


def test_prompts_no_answer_is_an_error_and_answers_are_judged(bench) -> None:
    ask = step("ihd", "prompt", time_limit_s=0.5, question="Did the IHD show it?")
    nobody = run_plan(bench, plan_of(ask), prompt=NoAnswerPrompt()).result(30)
    assert by_name(nobody)["ihd"].outcome is StepOutcome.ERROR
    assert by_name(nobody)["ihd"].message == "No operator answer."
    queue = QueuePrompt()
    late = run_plan(bench, plan_of(ask), prompt=queue).result(30)
    assert by_name(late)["ihd"].message == "No operator answer within 0.5 s."
    assert queue.pending() == []  # the time limit withdrew the question
    answers = ScriptedPrompt({"ihd": PromptAnswer(False, "blank screen")})
    observer = Recording()
    failed = run_plan(bench, plan_of(ask), prompt=answers, observer=observer).result(30)
    ihd = by_name(failed)["ihd"]
    assert ihd.outcome is StepOutcome.FAIL and ihd.answer == "fail: blank screen"
    assert values(ihd) == {"operator_answer": ("fail", "FAIL")}
    assert ("prompt", "ihd") in observer.calls and answers.asked[0].time_limit_s == 0.5


def test_a_person_answers_through_the_queue(bench) -> None:
    queue = QueuePrompt()
    handle = run_plan(bench, plan_of(step("ihd", "prompt", time_limit_s=20, question="OK?")),
                      prompt=queue)
    wait_for(lambda: queue.pending())
    assert queue.answer(queue.pending()[0], PromptAnswer(True, "seen"))
    result = handle.result(30)
    assert result.verdict is Verdict.PASS and by_name(result)["ihd"].answer == "pass: seen"


def test_on_fail_stop_skips_the_rest_but_not_the_teardown(bench) -> None:
    plan = plan_of(
        step("registers", "readout", on_fail=OnFail.STOP,
             measurements=(limits("1.8.0", "kWh", range=[0, 1]),)),
        step("later", "wait", seconds=1),
        teardown=(step("supply on", "relay", state="on"),))
    result = run_plan(bench, plan).result(30)
    steps = by_name(result)
    assert steps["registers"].outcome is StepOutcome.FAIL
    assert steps["registers"].message.startswith("1.8.0 = ")
    assert steps["later"].outcome is StepOutcome.SKIPPED
    assert "stops the run" in steps["later"].message
    assert steps["supply on"].outcome is StepOutcome.PASS
    assert result.verdict is Verdict.FAIL


def test_repeat_limit_and_time_limit(bench) -> None:
    plan = plan_of(
        step("registers", "readout", repeat_limit=3,
             measurements=(limits("1.8.0", "kWh", range=[0, 1]),)),
        step("slow", "wait", time_limit_s=30, seconds=3600))
    result = run_plan(bench, plan).result(30)
    steps = by_name(result)
    assert steps["registers"].attempts == 3 and steps["registers"].outcome is StepOutcome.FAIL
    assert steps["slow"].outcome is StepOutcome.ERROR
    assert steps["slow"].message == ("The step took longer than its time limit of 30 s on the "
                                     "bench's clock.")


def test_one_run_per_bench_and_several_benches_at_once(bench) -> None:
    long_wait = plan_of(step("hold", "wait", seconds=600))  # 10 s of real time
    first = run_plan(bench, long_wait)
    with pytest.raises(BenchBusyError, match="Bench 1 is busy"):
        run_plan(bench, long_wait)
    other = RuntimeBenchLink(bench.runtime, "Bench 2", [], bench.links.fanout)  # real time
    second = run_plan(bench, plan_of(step("short", "wait", seconds=0.5)), link=other,
                      bench_name="Bench 2").result(30)
    assert second.verdict is Verdict.PASS and not first.done()
    first.abort()
    assert first.result(30).verdict is Verdict.ABORTED
    # The bench is free again.
    assert run_plan(bench, plan_of(step("w", "wait", seconds=1))).result(30).verdict is (
        Verdict.PASS)


def test_a_raising_observer_does_not_stop_the_run(bench) -> None:
    observer = Recording(raise_in="step_finished")
    plan = plan_of(step("w", "wait", seconds=1), step("w2", "wait", seconds=1))
    result = run_plan(bench, plan, observer=observer).result(30)
    assert result.verdict is Verdict.PASS and len(result.steps) == 2


def test_log_capture_and_an_alert_after_an_action(bench) -> None:
    plan = plan_of(
        step("cut", "relay", state="off"), step("dark", "wait", seconds=10),
        step("restore alert", "expect_alert", code="8F35", action="relay_on", within_s=60),
        step("hub log", "log_capture", min_lines=3))
    result = run_plan(bench, plan).result(30)
    steps = by_name(result)
    assert result.verdict is Verdict.PASS, result.to_dict()
    alert = values(steps["restore alert"])
    assert alert["alert_code"] == ("8F35", "PASS") and alert["alert_delay_s"][1] == "PASS"
    log = values(steps["hub log"])
    assert log["log_lines"][0] >= 3
    assert re.fullmatch("[0-9a-f]{64}", log["log_sha256"][0])
    assert bench.powered()


def test_a_port_gone_is_an_error_of_the_bench_not_a_fail(tmp_path) -> None:
    own = Bench(tmp_path)  # this one loses a port: not the shared bench
    try:
        assert own.runtime.emulator is not None and own.runtime.emulator.host is not None
        own.runtime.emulator.host.close_port("esme_optical")
        wait_for(lambda: own.runtime.manager.health("Bench 1 ESME").state.value != "connected")
        plan = plan_of(step("registers", "readout",
                            measurements=(limits("C.7.0", range=[0, 9999]),)))
        result = run_plan(own, plan).result(30)
    finally:
        own.stop()
    registers = by_name(result)["registers"]
    assert registers.outcome is StepOutcome.ERROR and result.verdict is Verdict.ERROR
    assert registers.message.startswith("Bench 1 ESME ")
    assert "/dev/pts/" in registers.message
    assert values(registers) == {"C.7.0": (None, "SKIPPED")}


def test_a_meter_sending_bad_data_after_the_restore_fails_on_being_readable(bench) -> None:
    optical = bench.emulator.esme_optical.settings
    handle = run_plan(bench, power_outage_plan(), duration_s=120)
    wait_for(lambda: not bench.powered())
    optical.corrupt_bcc = True  # every data message from now on fails its check
    try:
        result = handle.result(60)
    finally:
        optical.corrupt_bcc = False
    outage = values(by_name(result)["outage"])
    assert outage["readable_after_restore_s"] == (None, "UNSET")
    assert outage["power_fail_count_delta"] == (None, "UNSET")
    assert outage["restore_alert"] == ("8F35", "PASS")
    assert outage["ch_outage_logged"] == (True, "PASS")
    assert by_name(result)["outage"].outcome is StepOutcome.FAIL
    assert "readable_after_restore_s was not measured" in by_name(result)["outage"].message
    assert result.verdict is Verdict.FAIL and bench.powered()


def test_a_hub_gone_during_the_outage_is_an_error_not_a_fail(tmp_path) -> None:
    own = Bench(tmp_path)
    try:
        handle = run_plan(own, power_outage_plan(), duration_s=120)
        wait_for(lambda: not own.powered())
        own.runtime.manager.disconnect("Bench 1 Comms Hub")
        result = handle.result(60)
        assert own.powered()
    finally:
        own.stop()
    outage = by_name(result)["outage"]
    assert outage.outcome is StepOutcome.ERROR
    assert outage.message == "Bench 1 Comms Hub is not connected."
    assert result.verdict is Verdict.ERROR
