"""The Runs page driving the real executor on the emulated bench (real ptys), as an operator."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from app.domain.clock import OffsetClock
from app.main import AppContext
from app.services.runtime import DeviceRuntime
from app.storage.devices import DeviceRepo
from app.storage.runs import RunRepo
from ui.launch import attach_runs, prepare_context

pytestmark = pytest.mark.timeout(120)

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


@pytest.fixture
def runs_ctx(tmp_path: Path) -> Iterator[AppContext]:
    ctx, _ = prepare_context(tmp_path / "runs.db", OffsetClock(NOW), "tester", demo=True)
    yield ctx
    ctx.close()


@pytest.fixture
def window(qtbot, runs_ctx):
    from ui.main_window import MainWindow

    win = MainWindow(runs_ctx)
    qtbot.addWidget(win)
    win.resize(1440, 900)
    win.show_page("runs")
    win.show()
    yield win
    win.pages["live"].detach()


@pytest.fixture
def runtime(window, runs_ctx, tmp_path) -> Iterator[DeviceRuntime]:
    devices = DeviceRepo(runs_ctx.db, runs_ctx.clock).list()
    rt = DeviceRuntime(runs_ctx.clock, runs_ctx.db_path, tmp_path / "captures", devices=devices)
    rt.start(with_emulator=True)
    rt.connect_all(devices)
    window.pages["live"].attach(rt)
    yield rt
    rt.stop()


@pytest.fixture
def page(window, runs_ctx, runtime):
    page = attach_runs(window, runs_ctx, runtime)
    assert page is window.pages["runs"]
    yield page
    page.shutdown()


def choose(page, plan: str, **params) -> None:
    page.plan_box.setCurrentIndex(page.plan_box.findData(plan))
    page.bench_box.setCurrentText("Bench 1")
    for name, value in params.items():
        page.params.set_value(name, value)


def statuses(page) -> list[str]:
    return [r.status for r in page.steps_model.rows]


def test_a_power_outage_run_from_the_page_passes_and_lands_in_the_history(qtbot, window,
                                                                           page, runs_ctx):
    choose(page, "power-outage", duration_s=179)
    assert page.start_button.isEnabled(), page.form_error.text()
    qtbot.mouseClick(page.start_button, Qt.MouseButton.LeftButton)
    assert page.abort_button.isEnabled() and not page.start_button.isEnabled()
    qtbot.waitUntil(lambda: page.verdict_label.text() == "PASS", timeout=60_000)
    assert statuses(page) == ["PASS", "PASS", "PASS"]
    assert page.progress.value() == page.progress.maximum() == 3
    assert page.start_button.isEnabled() and not page.abort_button.isEnabled()
    # The outage step's measurements, as the operator sees them after clicking it.
    page.steps_view.selectRow(0)
    shown = {m.name: (m.value, m.outcome.value) for m in page.meas_model.rows}
    assert shown["restore_alert"] == ("8F35", "PASS")
    assert shown["power_fail_count_delta"] == (1, "PASS")
    # Stored, and in the history with the same verdict.
    runs = RunRepo(runs_ctx.db.conn).list()
    assert [(r.plan_name, r.verdict.value, r.emulated) for r in runs] == [
        ("power-outage", "PASS", True)]
    page.tabs.setCurrentIndex(1)
    assert page.history_model.rowCount() == 1
    page.history_view.selectRow(0)
    assert page.h_verdict.text() == "PASS"
    assert [r.status for r in page.h_steps_model.rows] == ["PASS", "PASS", "PASS"]
    # The run's window on the Live page.
    qtbot.mouseClick(page.h_live, Qt.MouseButton.LeftButton)
    assert window.current_page_name() == "live"
    x0, x1 = window.pages["live"].plots.view_range()
    assert x0 <= runs[0].started.timestamp() and x1 >= runs[0].ended.timestamp()


def test_the_prompt_is_answered_in_the_page_and_a_fail_is_a_fail(qtbot, page, runs_ctx):
    choose(page, "ihd-outage-message")
    page.start_run()
    qtbot.waitUntil(lambda: page.prompt_panel.isVisible(), timeout=60_000)
    assert "IHD" in page.prompt_panel.question.text()
    assert page.prompt_panel.isVisibleTo(page) and not page.start_button.isEnabled()
    page.prompt_panel.note.setText("display stayed blank")
    qtbot.mouseClick(page.prompt_panel.fail_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.verdict_label.text() == "FAIL", timeout=30_000)
    assert not page.prompt_panel.isVisible()
    prompt_row = next(r for r in page.steps_model.rows if r.kind == "prompt")
    assert prompt_row.status == "FAIL"
    record = RunRepo(runs_ctx.db.conn).get(RunRepo(runs_ctx.db.conn).list()[0].id)
    step = next(s for s in record.steps if s.kind == "prompt")
    assert step.outcome.value == "FAIL" and "fail" in step.answer
    assert "display stayed blank" in step.answer + step.message + "".join(
        m.note for m in step.measurements)
    assert "Step" in page.run_status.text() and "FAIL" in page.run_status.text()


def test_abort_in_the_middle_of_an_outage_restores_the_supply(qtbot, page, runtime):
    choose(page, "power-outage", duration_s=3600)
    page.start_run()
    qtbot.waitUntil(lambda: page.steps_model.rows[0].status == "RUNNING", timeout=30_000)
    qtbot.waitUntil(lambda: not runtime.emulator.bench.power.is_on(time.monotonic()), timeout=30_000)
    qtbot.mouseClick(page.abort_button, Qt.MouseButton.LeftButton)
    # The page says so at once; on a busy machine the teardown may already have started.
    assert "Aborting" in page.run_status.text() or "Teardown" in page.run_status.text()
    qtbot.waitUntil(lambda: page.verdict_label.text() == "ABORTED", timeout=60_000)
    assert statuses(page)[0] == "ABORTED"
    assert statuses(page)[-1] == "PASS"  # the teardown: supply on
    assert runtime.emulator.bench.power.is_on(time.monotonic())


def test_without_device_io_the_page_shows_the_history_and_says_why_it_cannot_run(
        qtbot, window, runs_ctx):
    page = attach_runs(window, runs_ctx, None)
    assert not page.start_button.isEnabled()
    assert "Device I/O is not running" in page.form_error.text()
    page.start_run()  # Ctrl+Return with nothing to run on: nothing happens
    assert page.handle is None
    page.shutdown()


def test_a_run_takes_the_relay_from_the_demo_outages_and_gives_it_back(qtbot, page, runtime):
    runtime.start_demo_outages(repeat_s=3.0)
    assert runtime.demo_outages_on("Bench 1")
    choose(page, "power-outage", duration_s=60)
    page.start_run()
    qtbot.waitUntil(lambda: page.verdict_label.text() not in ("RUNNING", ""), timeout=60_000)
    # The demo's own outages did not cut across the run's: its measurements hold.
    assert page.verdict_label.text() == "PASS", page.run_status.text()
    qtbot.waitUntil(lambda: runtime.demo_outages_on("Bench 1"), timeout=5_000)


def test_a_fault_set_for_one_run_fails_it_on_its_measurement_and_is_recorded(qtbot, page,
                                                                            runtime, runs_ctx):
    choose(page, "power-outage", duration_s=100)
    assert page.faults_edit.isVisibleTo(page)
    page.faults_edit.setText("counter-stuck")
    page.start_run()
    qtbot.waitUntil(lambda: page.verdict_label.text() == "FAIL", timeout=60_000)
    assert page.steps_view.currentIndex().row() == 0  # the failed step is shown
    failed = [m.name for m in page.meas_model.rows if m.outcome.value != "PASS"]
    assert failed == ["power_fail_count_delta"]
    assert "fault" in page.run_title.text()
    record = RunRepo(runs_ctx.db.conn).list()[0]
    assert RunRepo(runs_ctx.db.conn).get(record.id).faults == ("counter-stuck",)
    assert runtime.emulator.bench.faults.all() == ()  # healthy again after the run


def test_a_result_the_database_cannot_take_is_said_not_lost_silently(qtbot, page, runs_ctx,
                                                                   tmp_path):
    from app.services.runs.store import StoreRunRecorder

    reported: list[str] = []
    page.env.errors.report = lambda message, *_a, **_k: reported.append(message)
    # A database file that is not there: the recorder refuses to create one and counts.
    page.service.recorder = StoreRunRecorder(tmp_path / "gone" / "runs.db", runs_ctx.clock)
    choose(page, "power-outage", duration_s=30)
    page.start_run()
    qtbot.waitUntil(lambda: page.handle is None, timeout=60_000)
    assert page.verdict_label.text() == "PASS"
    assert "could not be stored" in page.run_status.text()
    assert reported and "only copy" in reported[0]


def _open_kiosk(runs_ctx, email: str, staff_page, runtime=None):
    from app.services.principals import participant_principal
    from ui.kiosk import KioskWindow

    principal = participant_principal(runs_ctx.db, runs_ctx.clock, email)
    kiosk = KioskWindow(runs_ctx, principal, lambda _n, _p: None, person_name=email,
                        locked=(), staff_runs=staff_page, runtime=runtime)
    kiosk.start(full_screen=False)
    return kiosk


def test_a_participant_session_follows_its_run_and_answers_its_question(qtbot, page, runs_ctx):
    """The run is started on the staff window for a booking of one organisation: that
    organisation's participant session follows it and answers its question (recorded as theirs);
    another organisation's session sees neither."""
    booking = _book_bench_1(runs_ctx, "Southern Gas Transport", "tom.evans@southern-gas.example")
    choose(page, "ihd-outage-message")
    page._bench_chosen()
    assert page.booking_box.currentData() == booking.id  # checked in now: chosen for the run
    ours = next(p for p in runs_ctx.people.list() if p.org_id == booking.org_id)
    theirs = next(p for p in runs_ctx.people.list() if p.org_id != booking.org_id)
    mine, other = _open_kiosk(runs_ctx, ours.email, page), _open_kiosk(runs_ctx, theirs.email, page)
    try:
        followed, stranger = mine.pages["runs"], other.pages["runs"]
        assert followed.tabs.isTabVisible(0) and not followed.run_form.isVisible()
        assert not followed.abort_button.isVisible()
        page.start_run()
        qtbot.waitUntil(lambda: followed.prompt_panel.isVisible(), timeout=60_000)
        assert mine.tabs.currentWidget() is followed  # the question brings the Runs page forward
        assert followed.run_id == page.run_id and "IHD" in followed.prompt_panel.question.text()
        assert [r.status for r in followed.steps_model.rows][:1] == ["PASS"]
        # The other organisation's session neither follows the run nor sees its question.
        assert stranger.handle is None and not stranger.prompt_panel.isVisible()
        assert stranger.service.pending_prompts() == []
        followed.prompt_panel.note.setText("message shown")
        qtbot.mouseClick(followed.prompt_panel.pass_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: page.verdict_label.text() == "PASS", timeout=30_000)
        qtbot.waitUntil(lambda: followed.verdict_label.text() == "PASS", timeout=5_000)
        assert not page.prompt_panel.isVisible()  # the staff window's copy is withdrawn
        assert stranger.verdict_label.text() == ""
        record = RunRepo(runs_ctx.db.conn).get(page.run_id or RunRepo(runs_ctx.db.conn).list()[0].id)
        step = next(s for s in record.steps if s.kind == "prompt")
        assert step.answer == f"pass: message shown (answered by {ours.email})"
    finally:
        for kiosk in (mine, other):
            kiosk.end("staff")



def _book_bench_1(ctx, org: str, email: str):
    """A booking of `org` on Bench 1 today, checked in."""
    from app.services.demo import DEMO_LAB

    service = ctx.booking_service
    lab, req = service.build_request(DEMO_LAB, org, NOW.replace(hour=9), NOW.replace(hour=17),
                                     2, "device", attendees=[email], benches=["Bench 1"])
    booking = service.request(lab, req, override="entered by staff for the test").booking
    service.transition(booking.id, "approve", "test")
    return service.transition(booking.id, "checkin", "test")


def test_the_session_live_page_shows_its_bench_as_it_arrives_and_no_other(qtbot, window,
                                                                          runtime, runs_ctx):
    _book_bench_1(runs_ctx, "Southern Gas Transport", "tom.evans@southern-gas.example")
    lanes_before = runtime.live.lane_names()
    ours = _open_kiosk(runs_ctx, "tom.evans@southern-gas.example", None, runtime=runtime)
    # Northern Energy holds no bench today (the demo's Wednesday).
    theirs = _open_kiosk(runs_ctx, "alex.morgan@northern-energy.example", None, runtime=runtime)
    try:
        live, empty = ours.pages["live"], theirs.pages["live"]
        ours.tabs.setCurrentWidget(live)
        bench_1 = {d.label for d in DeviceRepo(runs_ctx.db, runs_ctx.clock).list()
                   if d.bench == "Bench 1"}
        assert live.feed is not None and {d.bench for d in live.devices} == {"Bench 1"}
        qtbot.waitUntil(lambda: live.feed.live.version > 0, timeout=60_000)
        shown = set(live.feed.live.lane_names())
        assert shown == {d.label for d in live.devices}
        assert shown == bench_1
        assert not live.alerts.ack_button.isVisible() and not live.open_button.isVisible()
        assert live.stats is None  # the lab's ingest figures are not the participant's
        # The other session watches nothing; everything it was offered was withheld.
        assert empty.devices == [] and empty.feed.live.version == 0
        qtbot.waitUntil(lambda: empty.feed.withheld > 0, timeout=30_000)
        # The lab's own buffers are untouched by the sessions.
        assert runtime.live.lane_names() == lanes_before
    finally:
        for kiosk in (ours, theirs):
            kiosk.end("staff")
    assert live.feed._closed and empty.feed._closed


def test_closing_the_window_during_a_run_asks_first(qtbot, window, page, runs_ctx) -> None:
    asked: list[str] = []
    answer = [False]

    def ask(title: str) -> bool:
        asked.append(title)
        return answer[0]

    window.ask_abort_run = ask
    choose(page, "power-outage", duration_s=600)
    page.start_run()
    assert not window.close()  # "No": the window stays and the run goes on
    assert window.isVisible() and page.handle is not None and window.requested_database is None
    assert asked and "power-outage" in asked[0]
    answer[0] = True
    assert window.close()
    page.shutdown()  # what the launcher does once the window has closed: abort, teardown
    [run] = RunRepo(runs_ctx.db.conn).list()
    assert run.verdict.value == "ABORTED"
