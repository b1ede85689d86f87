"""Clock conversions, alert latency, prompts and the event stream, without a bench."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from app.domain.clock import FixedClock
from app.domain.errors import ValidationError
from app.domain.events import DeviceEvent, EventKind
from app.services.ingest import EventQueue
from app.services.runs.api import PromptAnswer, PromptRequest
from app.services.runs.bench_link import BenchClock, EventFanout
from app.services.runs.prompts import (
    NoAnswerPrompt,
    QueuePrompt,
    ScriptedPrompt,
    parse_answer,
    parse_step_answer,
)
from app.services.runs.steps.outage import alert_latency_s

HOST = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
BENCH = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def test_bench_clock_scales_spans_and_places_host_moments_on_the_bench() -> None:
    clock = BenchClock(60.0, HOST, BENCH)
    assert clock.real_s(120.0) == 2.0 and clock.bench_s(2.0) == 120.0
    assert clock.span_s(HOST, HOST + timedelta(seconds=3)) == 180.0
    assert clock.to_bench(HOST + timedelta(seconds=1)) == BENCH + timedelta(seconds=60)
    assert clock.to_host(BENCH + timedelta(seconds=60)) == HOST + timedelta(seconds=1)
    real = BenchClock()
    assert real.to_bench(HOST) == HOST and real.span_s(HOST, HOST + timedelta(seconds=3)) == 3


def test_sampled_anchor_reads_both_clocks_together() -> None:
    host, bench = FixedClock(HOST), FixedClock(BENCH)
    clock = BenchClock.sampled(host, bench, 60.0)
    assert clock.to_bench(HOST) == BENCH


def alert(received: datetime, event_time: datetime, log_time: datetime | None) -> DeviceEvent:
    fields = {"alert_code": "8F35"}
    if log_time is not None:
        fields["log_time"] = log_time.isoformat().replace("+00:00", "Z")
    return DeviceEvent("hub", EventKind.ALERT, received, fields, event_time)


def test_alert_latency_counts_bench_time_on_the_bench_and_host_delay_unscaled() -> None:
    clock = BenchClock(60.0, HOST, BENCH)
    restored = BENCH + timedelta(seconds=600)  # the alert's own time
    logged = restored + timedelta(seconds=2)  # the hub handed it on 2 bench seconds later
    # ...which is 1/30 s of host time; the host read it 50 ms after that.
    received = clock.to_host(logged) + timedelta(milliseconds=50)
    assert alert_latency_s(clock, alert(received, restored, logged)) == pytest.approx(2.05, abs=1e-3)
    # Without the hub's log time, the host's delay is scaled with the rest: 2 + 0.05 * 60.
    assert alert_latency_s(clock, alert(received, restored, None)) == pytest.approx(5.0, abs=1e-3)
    # On a real bench both are host receipt minus the alert's time.
    real = BenchClock()
    at = HOST + timedelta(seconds=5)
    assert alert_latency_s(real, alert(at, HOST, HOST + timedelta(seconds=1))) == 5.0
    assert alert_latency_s(real, alert(at, HOST, None)) == 5.0
    assert alert_latency_s(real, DeviceEvent("hub", EventKind.ALERT, at, {})) is None


def test_parse_answer() -> None:
    assert parse_answer("pass") == PromptAnswer(True)
    assert parse_answer(" FAIL : no message shown ") == PromptAnswer(False, "no message shown")
    with pytest.raises(ValidationError, match="answer must be pass or fail"):
        parse_answer("maybe")
    assert parse_step_answer("ihd=fail:blank") == ("ihd", PromptAnswer(False, "blank"))
    with pytest.raises(ValueError, match="--answer must be STEP=pass"):
        parse_step_answer("pass")


def request(step: str = "ihd") -> PromptRequest:
    return PromptRequest(1, "Bench 1", 2, step, "Did the IHD show it?", None, 60.0)


def test_scripted_and_nobody() -> None:
    scripted = ScriptedPrompt({"ihd": PromptAnswer(True, "ok")})
    assert scripted.ask(request()).result(0) == PromptAnswer(True, "ok")
    assert scripted.ask(request("other")).result(0) is None
    assert NoAnswerPrompt().ask(request()).result(0) is None


def test_queue_prompt_answers_once_and_forgets_withdrawn_questions() -> None:
    asked: list[PromptRequest] = []
    queue = QueuePrompt(on_asked=asked.append)
    future = queue.ask(request())
    assert asked == [request()] and queue.pending() == [request()]
    assert queue.answer(request(), PromptAnswer(False, "blank"))
    assert future.result(0) == PromptAnswer(False, "blank")
    assert not queue.answer(request(), PromptAnswer(True)) and queue.pending() == []
    withdrawn = queue.ask(request("late"))
    withdrawn.cancel()
    assert queue.pending() == [] and not queue.answer(request("late"), PromptAnswer(True))


def test_event_streams_filter_count_and_close() -> None:
    events = EventQueue()
    fanout = EventFanout(events)

    async def scenario() -> tuple[list[str], int, int]:
        mine = fanout.open(("esme",))
        counting = fanout.open(None, keep=False)
        events.put_many([DeviceEvent("esme", EventKind.READING, HOST),
                         DeviceEvent("other", EventKind.LOG, HOST)])
        got = [e.device for e in mine.drain()]
        nothing = await mine.next(0.01)
        assert nothing is None
        total = sum(counting.counts.values())
        mine.close()
        counting.close()
        events.put(DeviceEvent("esme", EventKind.READING, HOST))
        return got, total, fanout.open_streams

    assert asyncio.run(scenario()) == (["esme"], 2, 0)
