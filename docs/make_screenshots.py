"""Remake the screenshots in docs/: `.venv/bin/python docs/make_screenshots.py`.

Everything is rendered offscreen on a fresh temporary database with the demo lab, at a fixed
"now" (Wed 25 Nov 2026 10:00 UTC), so the pictures come out the same each time.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QEventLoop, Qt, QTimer
from PySide6.QtWidgets import QApplication, QWidget

from app.cli import main as cli_main
from app.domain.bookings import Phase
from app.domain.clock import FixedClock, OffsetClock
from ui.dialogs.booking_dialog import to_qdatetime
from ui.launch import SCREENSHOT_SIZE, prepare_context
from ui.main_window import MainWindow

NOW = "2026-11-25T10:00+00:00"
DOCS = ROOT / "docs"


def settle(ms: int = 200) -> None:
    """Let layouts and paints happen (a local loop; this is a script, not a timer slot)."""
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def save(widget: QWidget, name: str) -> None:
    path = DOCS / name
    widget.grab().save(str(path), "PNG")
    print(f"wrote {path.relative_to(ROOT)}")


def _check(list_widget, text: str) -> None:
    for i in range(list_widget.count()):
        if text in list_widget.item(i).text():
            list_widget.item(i).setCheckState(Qt.CheckState.Checked)


def main() -> int:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    with tempfile.TemporaryDirectory() as tmp:
        # 1. The calendar, exactly as the command line renders it.
        code = cli_main(["--db", str(Path(tmp) / "cli.db"), "--now", NOW,
                         "--screenshot", str(DOCS / "bookings.png")])
        if code != 0:
            return code
        print("wrote docs/bookings.png")
        # The Devices and Live pages on the emulated bench, as the command line renders them
        # after letting it run (its first device selected, its alerts and outages in).
        for page, after in (("devices", "10"), ("live", "25")):
            code = cli_main(["--db", str(Path(tmp) / f"{page}.db"), "--now", NOW,
                             "--screenshot", str(DOCS / f"{page}.png"), "--page", page,
                             "--after", after])
            if code != 0:
                return code
            print(f"wrote docs/{page}.png")

        ctx, message = prepare_context(Path(tmp) / "lab.db",
                                       FixedClock(datetime.fromisoformat(NOW)), "lab.staff", True)
        window = MainWindow(ctx)
        window.show_status(message)
        window.resize(*SCREENSHOT_SIZE)
        window.show()
        page = window.pages["bookings"]

        # 2. The booking dialog with a request that breaks several rules at once.
        dialog = page.new_booking()
        assert dialog is not None
        dialog.org.setCurrentText("Brightside Power")
        dialog.start.setDateTime(to_qdatetime(datetime(2026, 11, 26, 7, 30)))
        dialog.end.setDateTime(to_qdatetime(datetime(2026, 11, 26, 18, 30)))
        dialog.spaces.setValue(16)
        dialog.phase.setCurrentIndex(dialog.phase.findData(Phase.E2E.value))
        dialog.roles.boxes["IS"].setChecked(True)
        dialog.roles.boxes["RSA"].setChecked(True)
        _check(dialog.attendees, "jo.walker@brightside.example")
        _check(dialog.benches, "Bench 5")
        dialog.devices.setText("Own SMETS2 ESME and IHD")
        dialog.recheck()
        settle()
        save(dialog, "booking-dialog.png")
        dialog.reject()

        # 3. Participants: organisations, people and inductions.
        page.tabs.setCurrentIndex(page.TAB_PARTICIPANTS)
        panel = page.participants
        panel.org_table.selectRow(1)
        settle()
        save(window, "participants.png")
        window.close()
        ctx.close()
        live_screenshot(Path(tmp))
        runs_screenshots(Path(tmp))
        induction_screenshots(Path(tmp))
    app.processEvents()
    return 0


def wait_until(condition, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the run did not get there in time")
        settle(50)


def live_screenshot(tmp: Path) -> None:
    """The Live page of the demo bench after its scripted outages (one under 3 minutes, one
    over), as `meterlab --screenshot live.png --page live --after 25` shows it, at NOW."""
    from app.services.runtime import DeviceRuntime
    from app.storage.devices import DeviceRepo

    ctx, _ = prepare_context(tmp / "live.db", OffsetClock(datetime.fromisoformat(NOW)),
                             "lab.staff", True)
    window = MainWindow(ctx)
    window.resize(*SCREENSHOT_SIZE)
    window.show()
    devices = DeviceRepo(ctx.db, ctx.clock).list()
    runtime = DeviceRuntime(ctx.clock, ctx.db_path, tmp / "live-captures", devices=devices)
    runtime.start(with_emulator=True)
    runtime.connect_all(devices)
    page = window.pages["live"]
    page.attach(runtime)
    window.show_page("live")
    try:
        wait_until(lambda: (h := runtime.manager.health("Bench 1 relay")) is not None
                   and h.state.value == "connected")
        runtime.start_demo_outages()
        settle(25_000)
        save(window, "live.png")
    finally:
        page.detach()
        runtime.stop()
        window.close()
        ctx.close()


def runs_screenshots(tmp: Path) -> None:
    """The Runs page on the emulated bench: a run going, a prompt, a FAIL, the history."""
    from app.services.runtime import DeviceRuntime
    from app.storage.devices import DeviceRepo
    from ui.launch import attach_runs

    ctx, _ = prepare_context(tmp / "runs.db", OffsetClock(datetime.fromisoformat(NOW)),
                             "lab.staff", True)
    window = MainWindow(ctx)
    window.resize(*SCREENSHOT_SIZE)
    window.show()
    devices = DeviceRepo(ctx.db, ctx.clock).list()
    runtime = DeviceRuntime(ctx.clock, ctx.db_path, tmp / "captures", devices=devices)
    runtime.start(with_emulator=True)
    runtime.connect_all(devices)
    window.pages["live"].attach(runtime)
    page = attach_runs(window, ctx, runtime)
    window.show_page("runs")
    try:
        def choose(plan: str, **params) -> None:
            page.plan_box.setCurrentIndex(page.plan_box.findData(plan))
            for name, value in params.items():
                page.params.set_value(name, value)

        # 1. A power-outage run after its outage, reading the meter.
        choose("power-outage", duration_s=179)
        page.start_run()
        wait_until(lambda: page.steps_model.rows[1].status == "RUNNING")
        page.steps_view.selectRow(0)
        settle()
        save(window, "runs-running.png")
        wait_until(lambda: page.handle is None)

        # 2. The IHD question, answered in the page.
        choose("ihd-outage-message")
        page.start_run()
        wait_until(lambda: page.prompt_panel.isVisible())
        page.prompt_panel.note.setText("Supply interruption shown at 10:04")
        settle()
        save(window, "runs-prompt.png")
        page.prompt_panel.pass_button.click()
        wait_until(lambda: page.handle is None)

        # 2b. The same question in a participant session, following its organisation's run.
        kiosk_run_screenshot(ctx, page, runtime, choose)

        # 3. A meter whose power-failure counter does not move: FAIL on that measurement.
        choose("power-outage", duration_s=240)
        page.faults_edit.setText("counter-stuck")
        page.start_run()
        wait_until(lambda: page.handle is None)
        page.faults_edit.clear()
        settle()
        save(window, "runs-fail.png")

        # 4. The history, the failed run opened.
        page.tabs.setCurrentIndex(1)
        page.refresh_history()
        page.history_view.selectRow(0)
        settle()
        save(window, "runs-history.png")

        # 5. The Reports page: the failed run's report previewed, its PDF checked.
        reports = window.pages["reports"]
        reports.reload()
        window.show_page("reports")
        reports.runs_view.selectRow(0)
        pdf = tmp / "run-3.pdf"
        reports.choose_path = lambda *_a: pdf
        reports.export("pdf")
        reports.wait_idle()
        wait_until(lambda: reports.task is None)
        reports.verify(pdf)
        settle()
        save(window, "reports.png")
    finally:
        page.shutdown()
        window.pages["live"].detach()
        runtime.stop()
        window.close()
        ctx.close()


def kiosk_run_screenshot(ctx, page, runtime, choose) -> None:
    """docs/kiosk-run.png: a participant session answering the question of its own run."""
    from app.services.demo import DEMO_LAB
    from app.services.principals import participant_principal
    from ui.kiosk import KioskWindow

    email = "tom.evans@southern-gas.example"
    now = ctx.clock.now()
    service = ctx.booking_service
    lab, req = service.build_request(DEMO_LAB, "Southern Gas Transport", now.replace(hour=9),
                                     now.replace(hour=17), 2, "device", attendees=[email],
                                     benches=["Bench 1"])
    booking = service.request(lab, req, override="Entered by lab staff").booking
    service.transition(booking.id, "approve", "agreed")
    booking = service.transition(booking.id, "checkin", "arrived")
    kiosk = KioskWindow(ctx, participant_principal(ctx.db, ctx.clock, email),
                        lambda _n, _p: None, booking=booking, person_name="Tom Evans",
                        staff_runs=page, runtime=runtime)
    kiosk.resize(*SCREENSHOT_SIZE)
    kiosk.start(full_screen=False)
    try:
        choose("ihd-outage-message")
        page.bench_box.setCurrentText("Bench 1")
        page.booking_box.setCurrentIndex(page.booking_box.findData(booking.id))
        page.start_run()
        runs = kiosk.pages["runs"]
        wait_until(lambda: runs.prompt_panel.isVisible())
        runs.prompt_panel.note.setText("The IHD showed 'Power cut' within seconds")
        settle()
        save(kiosk, "kiosk-run.png")
        runs.prompt_panel.pass_button.click()
        wait_until(lambda: page.handle is None)
    finally:
        kiosk.end("staff")
        settle()


def induction_screenshots(tmp: Path) -> None:
    """The induction wizard at the safety question, a wrong answer chosen."""
    from app.services.inductions import NoStaffAccounts
    from ui.pages.induction import InductionPage

    ctx, _ = prepare_context(tmp / "induction.db", FixedClock(datetime.fromisoformat(NOW)),
                             "lab.staff", True)
    lab, req = ctx.booking_service.build_request(
        "Demo Lab", "Brightside Power", datetime(2026, 11, 25, 11, 0),
        datetime(2026, 11, 25, 16, 0), 2, Phase.DEVICE, attendees=["jo.walker@brightside.example"],
        benches=["Bench 7"], devices="Own SMETS2 ESME and IHD")
    booking = ctx.booking_service.request(lab, req, override="Walk-in").booking
    ctx.booking_service.transition(booking.id, "approve", "Demo")
    ctx.booking_service.transition(booking.id, "checkin", "Demo")
    window = MainWindow(ctx)
    window.resize(*SCREENSHOT_SIZE)
    window.show()
    window.show_page("induction")
    page = window.stack.currentWidget()
    assert isinstance(page, InductionPage)
    page.accounts = NoStaffAccounts()
    page.reload()
    page.start_button.click()
    page.choice_buttons()[page.section.question.answer].click()
    page.next_button.click()
    page.choice_buttons()[0].click()
    settle()
    save(window, "induction-wizard.png")
    window.close()
    ctx.close()


def session_screenshots() -> int:
    """The lock screen and a participant session (docs/lock-screen.png, docs/kiosk.png)."""
    from ui.kiosk import KioskWindow, checked_in_participants
    from ui.lock_screen import LockScreen

    QApplication.instance() or QApplication(sys.argv[:1])

    def no_account(_name: str, _password: str) -> None:  # pictures only: nobody logs in
        return None

    with tempfile.TemporaryDirectory() as tmp:
        ctx, _ = prepare_context(Path(tmp) / "session.db",
                                 FixedClock(datetime.fromisoformat(NOW)), "lab.staff", True)
        try:
            lock = LockScreen(no_account, locked=())
            lock.resize(*SCREENSHOT_SIZE)
            lock.show()
            lock.name_edit.setText("sam.taylor")
            settle()
            save(lock, "lock-screen.png")
            lock.close()

            ctx.booking_service.transition(4, "approve", "induction visit")
            ctx.booking_service.transition(4, "checkin")
            person = checked_in_participants(ctx)[0]
            kiosk = KioskWindow(ctx, person.principal(), no_account, booking=person.booking,
                                person_name=person.name, locked=())
            kiosk.resize(*SCREENSHOT_SIZE)
            kiosk.start(full_screen=False)
            settle()
            save(kiosk, "kiosk.png")
            kiosk.end("staff")
        finally:
            ctx.close()
    return 0


def lab_store_screenshots() -> int:
    """File › Lab store… with a server that does not answer (docs/lab-store-dialog.png), and the
    window on a shared lab store whose server has just stopped (docs/lab-store-unreachable.png):
    a throwaway PostgreSQL server, as the tests start one, holding the demo lab."""
    from app.services.demo import create_demo_lab
    from app.storage.labstore import upgrade_lab_store
    from tests.pg import start_cluster
    from ui.database_dialog import LabStoreDialog
    from ui.lab_feed import attach_lab_feed

    QApplication.instance() or QApplication(sys.argv[:1])
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["XDG_CONFIG_HOME"] = tmp  # the dialog saves nothing of the reader's
        dialog = LabStoreDialog("")
        dialog.url_edit.setText("postgresql://meterlab@dbhost.invalid/meterlab")
        dialog.show()
        dialog.accept()  # refused: the server does not answer, said in the dialog
        settle()
        save(dialog, "lab-store-dialog.png")
        dialog.close()

        cluster = start_cluster()
        try:
            cluster.admin("CREATE DATABASE meterlab")
            url = cluster.url("meterlab")
            upgrade_lab_store(url)
            ctx, _ = prepare_context(Path(tmp) / "bench.db",
                                     OffsetClock(datetime.fromisoformat(NOW)), "lab.staff", False,
                                     lab_store_url=url)
            create_demo_lab(ctx.lab_service, ctx.booking_service)
            window = MainWindow(ctx)
            window.resize(*SCREENSHOT_SIZE)
            window.show()
            window.pages["bookings"].reload_labs()
            feed = attach_lab_feed(window, ctx, poll_s=0.2)
            wait_until(lambda: window.lab_store_state is not None)
            cluster.stop_server()
            wait_until(lambda: window.lab_store_banner.isVisible())
            settle()
            save(window, "lab-store-unreachable.png")
            feed.stop()
            window.close()
            ctx.close()
        finally:
            cluster.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main() or session_screenshots() or lab_store_screenshots())
