"""The demo lab's main window with real data on every page, shown page by page.

Used by the layout test (in this process at 100 % and in a child process at 200 %): the demo lab,
its emulated bench connected (device states, the raw console, live alerts), one outage run
on the Runs page (steps, measurements, history, reports) and an alert acknowledged with a note.

Run as a script it checks every page at the scale Qt was started with and prints one JSON line
(``{"device_pixel_ratio": 2.0, "faults": {view: [sentence, ...]}}``):
``QT_SCALE_FACTOR=2 python -m tests.ui.demo_pages [DIR]`` (screenshots of every view go to DIR).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
SIZE = (1440, 900)


def settle(ms: int = 50) -> None:
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def wait_until(condition: Callable[[], bool], timeout_s: float = 30.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what or condition}")
        settle(50)


@dataclass
class DemoWindow:
    window: Any
    ctx: Any
    runtime: Any
    runs: Any


@contextmanager
def demo_window(folder: Path) -> Iterator[DemoWindow]:
    """The main window at 1440x900 on a fresh demo lab, its bench connected, one run done."""
    from app.domain.clock import OffsetClock
    from app.services.runtime import DeviceRuntime
    from app.storage.devices import DeviceRepo
    from ui.bridge import DeviceBridge
    from ui.launch import add_no_accounts_note, attach_runs, prepare_context
    from ui.main_window import MainWindow

    ctx, message = prepare_context(folder / "lab.db", OffsetClock(NOW), "lab.staff", True)
    window = MainWindow(ctx)
    window.show_status(message)
    window.resize(*SIZE)
    window.show()
    devices = DeviceRepo(ctx.db, ctx.clock).list()
    bridge = DeviceBridge(window.pages["devices"])
    runtime = DeviceRuntime(ctx.clock, ctx.db_path, folder / "captures", devices=devices,
                            on_state=bridge.on_state, on_write_error=bridge.on_write_error)
    runs = None
    try:
        runtime.start(with_emulator=True)
        window.pages["devices"].attach(runtime, bridge)
        window.pages["live"].attach(runtime)
        runtime.connect_all(devices)
        runs = attach_runs(window, ctx, runtime)
        _one_run(runs)
        live = window.pages["live"]
        def three_alerts() -> bool:
            live.alerts.refresh()
            return live.alerts.model.rowCount() >= 3

        wait_until(three_alerts, what="three alerts on Live")
        live.alerts.view.selectRow(live.alerts.model.rowCount() - 1)
        live.alerts.note.setText("Checked the meter; restore seen on the IHD")
        live.alerts._acknowledge_clicked()
        live.alerts.refresh()
        add_no_accounts_note(window)
        window.show_status(message)  # the first start's message, as the GUI shows it
        yield DemoWindow(window, ctx, runtime, runs)
    finally:
        if runs is not None:
            runs.shutdown()
        window.pages["live"].detach()
        window.pages["devices"].detach()
        bridge.shutdown()
        runtime.stop()
        window.close()
        ctx.close()


def _one_run(page: Any) -> None:
    """The plan with the longest name, its operator's question answered in the page."""
    page.plan_box.setCurrentIndex(page.plan_box.findData("ihd-outage-message"))
    page.params.set_value("duration_s", 100)
    page.start_run()
    wait_until(lambda: page.prompt_panel.isVisibleTo(page), 60.0, "the run's question")
    page.prompt_panel.note.setText("Supply interruption shown on the IHD at 10:02")
    page.prompt_panel.pass_button.click()
    wait_until(lambda: page.handle is None, 60.0, "the ihd-outage-message run")


def views(demo: DemoWindow) -> Iterator[str]:
    """Show each page (and each tab of a page) in turn; yields its name while it is shown."""
    window = demo.window
    for spec in window.specs:
        window.show_page(spec.name)
        page = window.pages[spec.name]
        if spec.name == "bookings":
            for tab, name in ((page.TAB_CALENDAR, "calendar"), (page.TAB_LIST, "list"),
                              (page.TAB_PARTICIPANTS, "participants")):
                page.tabs.setCurrentIndex(tab)
                if tab == page.TAB_PARTICIPANTS:
                    page.participants.org_table.selectRow(0)
                settle()
                yield f"bookings-{name}"
            page.tabs.setCurrentIndex(page.TAB_CALENDAR)
        elif spec.name == "devices":
            page.select("Bench 1 Comms Hub")
            wait_until(lambda console=page.console: console.text().count("\n") >= 3,
                       what="the raw console")
            settle()
            yield "devices"
        elif spec.name == "runs":
            page.tabs.setCurrentIndex(0)
            page.steps_view.selectRow(0)
            settle()
            yield "runs-run"
            page.tabs.setCurrentIndex(1)
            page.refresh_history()
            page.history_view.selectRow(0)
            settle()
            yield "runs-history"
            page.tabs.setCurrentIndex(0)
        elif spec.name == "reports":
            page.reload()
            page.runs_view.selectRow(0)
            settle()
            yield "reports"
        else:
            settle()
            yield spec.name


def check_all(demo: DemoWindow, shots: Path | None) -> dict[str, list[str]]:
    """Every view's faults by name: elided headers and short values, long values without a
    tooltip, columns or text out of view, overlapping or clipped widgets, a cut status message,
    calendar blocks that cannot say everything."""
    from tests.ui import layout_check as lc

    faults: dict[str, list[str]] = {}
    for name in views(demo):
        root = demo.window
        found = lc.elided_headers(root) + lc.hidden_columns(root) + lc.overlaps(root) \
            + lc.scrolled_text(root) + lc.status_message_cut(root) \
            + lc.elided_values(root) + lc.elided_without_tooltip(root) \
            + lc.clipped_widgets(root)
        if name == "bookings-calendar":
            calendar = demo.window.pages["bookings"].calendar
            found += [f"calendar: booking #{i} cannot say everything"
                      for i in calendar.elided_blocks()]
        if found:
            faults[name] = found
        if shots is not None:
            demo.window.grab().save(str(shots / f"{name}.png"), "PNG")
    return faults


def main(argv: list[str]) -> int:
    import tempfile

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    shots = Path(argv[0]) if argv else None
    if shots is not None:
        shots.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, demo_window(Path(tmp)) as demo:
        faults = check_all(demo, shots)
        ratio = demo.window.devicePixelRatio()
    app.processEvents()
    print(json.dumps({"device_pixel_ratio": ratio, "faults": faults}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
