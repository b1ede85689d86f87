"""An outage made by hand, a relay command typed in the Devices page's raw console, is ground
truth like a scripted one: it is stored and its span appears on the Live page."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from PySide6.QtCore import Qt

from app.storage.outages import OutageRepo
from ui.device_runtime import DeviceRuntimeHandle, start_device_runtime

pytestmark = pytest.mark.timeout(90)

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
RELAY_BOARD = "Bench 1 relay"


@pytest.fixture
def window(qtbot, live_ctx):
    from ui.main_window import MainWindow

    win = MainWindow(live_ctx)
    qtbot.addWidget(win)
    win.resize(1440, 900)
    win.show()
    yield win
    win.pages["live"].detach()


@pytest.fixture
def handle(window, live_ctx, monkeypatch) -> Iterator[DeviceRuntimeHandle]:
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/meterlab-test-bus")
    h = start_device_runtime(live_ctx, window.pages, window.errors, db_given=True)
    assert h is not None
    window.pages["live"].attach(h.runtime)
    yield h
    h.stop()


def type_line(qtbot, page, text: str) -> None:
    page.send_edit.clear()
    qtbot.keyClicks(page.send_edit, text)
    qtbot.keyClick(page.send_edit, Qt.Key.Key_Return)


def test_relay_command_typed_in_the_console_is_an_outage_with_a_span_on_live(
        qtbot, window, handle, live_ctx) -> None:
    devices = window.pages["devices"]
    window.show_page("devices")
    qtbot.waitUntil(lambda: devices.model.state_of(RELAY_BOARD).state == "connected",
                    timeout=15_000)
    devices.select(RELAY_BOARD)
    type_line(qtbot, devices, "STATUS")  # a reply that is not a switch: no outage
    qtbot.waitUntil(lambda: "RELAY 1 ON" in devices.console.text(), timeout=5000)
    type_line(qtbot, devices, "RELAY 2 OFF")  # another channel than the mains: no outage
    qtbot.waitUntil(lambda: "◀ rx  OK" in devices.console.text(), timeout=5000)
    type_line(qtbot, devices, "relay 1 off")  # the board takes any case
    # The command is listed before the board's answer, however close together they came.
    qtbot.waitUntil(lambda: devices.console.text().count("◀ rx  OK") == 2, timeout=5000)
    lines = [line.split(None, 1)[1] for line in devices.console.text().splitlines()]
    assert lines == ["▶ tx  STATUS", "◀ rx  RELAY 1 ON", "▶ tx  RELAY 2 OFF", "◀ rx  OK",
                     "▶ tx  relay 1 off", "◀ rx  OK"]
    qtbot.wait(1500)  # 90 s on the emulator's clock: a long outage
    type_line(qtbot, devices, "RELAY 1 ON")
    qtbot.waitUntil(lambda: devices.console.text().count("◀ rx  OK") == 3, timeout=5000)

    # The Live page draws the relay's span on the bench's lanes.
    window.show_page("live")
    live = window.pages["live"]
    qtbot.waitUntil(lambda: any(s.source == "relay" and not s.ongoing
                                for s in live.plots._spans), timeout=10_000)
    span = next(s for s in live.plots._spans if s.source == "relay")
    assert 1.0 < span.x1 - span.x0 < 10.0
    assert set(span.lanes) == set(range(len(live.plots.timeline.lane_names)))
    assert "relay (ground truth)" in span.tooltip
    qtbot.waitUntil(lambda: "1 outage" in live.status.text(), timeout=5000)
    # It is stored like a scripted outage, once.
    stored = OutageRepo(live_ctx.db.conn).list(bench="Bench 1")
    relay = [o for o in stored if o["start_source"] == "relay"]
    assert len(relay) == 1 and relay[0]["end_source"] == "relay"
    assert relay[0]["duration_s"] == pytest.approx((span.x1 - span.x0) * 60.0, rel=1e-6)
