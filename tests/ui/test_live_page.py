"""The Live page against the real device runtime and the emulated bench on real ptys."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import QPointF, Qt

from app.domain.events import DeviceEvent, EventKind
from app.main import AppContext
from app.services.live_view import ViewMode
from app.services.runtime import DeviceRuntime, ScriptedOutage
from app.storage.devices import DeviceRepo, EventStore
from app.storage.outages import AckRepo

pytestmark = pytest.mark.timeout(90)

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
HUB, ESME = "Bench 1 Comms Hub", "Bench 1 ESME"


@pytest.fixture
def window(qtbot, live_ctx):
    from ui.main_window import MainWindow

    win = MainWindow(live_ctx)
    qtbot.addWidget(win)
    win.resize(1440, 900)
    win.show_page("live")
    win.show()
    yield win
    win.pages["live"].detach()


@pytest.fixture
def runtime(window, live_ctx, tmp_path) -> Iterator[DeviceRuntime]:
    devices = DeviceRepo(live_ctx.db, live_ctx.clock).list()
    rt = DeviceRuntime(live_ctx.clock, live_ctx.db_path, tmp_path / "captures", devices=devices)
    rt.start(with_emulator=True)
    window.pages["live"].attach(rt)
    yield rt
    rt.stop()


def stored_alerts(ctx: AppContext, rows: list[tuple[str, str, str, str]]) -> None:
    """Store alerts (device, code, severity, originator EUI) a second apart."""
    events = [DeviceEvent(HUB, EventKind.ALERT, NOW + timedelta(seconds=i),
                          {"alert_code": code, "severity": sev, "originator": eui,
                           "alert_name": f"name of {code}"})
              for i, (_d, code, sev, eui) in enumerate(rows)]
    EventStore(ctx.db.conn).insert_many(events)


def test_page_follows_the_emulator_draws_outages_and_keeps_capturing_while_paused(
        qtbot, window, runtime, live_ctx) -> None:
    page = window.pages["live"]
    devices = DeviceRepo(live_ctx.db, live_ctx.clock).list()
    runtime.connect_all(devices)
    qtbot.waitUntil(lambda: (h := runtime.manager.health("Bench 1 relay")) is not None
                    and h.state.value == "connected", timeout=15_000)
    # 100 s and 240 s on the emulator's clock (60 times fast): under 2 s and 4 s of real time.
    runtime.start_demo_outages(plan=(ScriptedOutage(0.3, 100.0), ScriptedOutage(2.5, 240.0)),
                               repeat_s=None)
    timeline = page.plots.timeline
    qtbot.waitUntil(lambda: timeline.marker_count() >= 3, timeout=20_000)
    qtbot.waitUntil(lambda: timeline.spans_drawn > 0, timeout=20_000)
    relay_spans = [s for s in page.plots._spans if s.source == "relay"]
    assert relay_spans and set(relay_spans[0].lanes) == set(range(len(timeline.lane_names)))
    qtbot.waitUntil(lambda: any(s.label.endswith(("8F35", "8F36")) for s in page.plots._spans),
                    timeout=20_000)
    # Relayed meter alerts are in the meter's lane, not the hub's.
    esme_lane = timeline.lane_names.index(ESME)
    qtbot.waitUntil(lambda: (timeline.markers.lane == esme_lane).any(), timeout=20_000)
    # Hovering a marker names it.
    m = timeline.markers
    text = timeline.describe_near(float(m.x[-1]), float(m.lane[-1]) + _offset(m, -1), 10.0, 40.0)
    assert "host" in text and "device" in text and len(text.split()[0]) == 4
    # The crosshair reads out the time under the mouse.
    vb = timeline.plot.getViewBox()
    centre = vb.mapViewToScene(QPointF(sum(page.plots.view_range()) / 2, 1.0))
    assert page.plots.show_crosshair_at(centre).startswith("2026-11-25 10:")

    # Pause: the view freezes while events keep being stored.
    page.set_paused(True)
    assert page.paused and page.plots.state.mode is ViewMode.PAUSED
    frozen, drawn = page.plots.view_range(), timeline.marker_count()
    stored = runtime.events.stats.stored
    qtbot.waitUntil(lambda: runtime.events.stats.stored >= stored + 5, timeout=20_000)
    qtbot.wait(300)
    assert page.plots.view_range() == frozen and timeline.marker_count() == drawn
    assert "paused" in page.status.text() and "stored" in page.status.text()
    page.follow()
    assert not page.paused
    qtbot.waitUntil(lambda: page.plots.view_range()[1] > frozen[1], timeout=5_000)

    # Presets change the width followed.
    page.set_preset("1 h")
    qtbot.waitUntil(lambda: page.plots.state.span_s == 3600.0)
    page.set_preset("5 min")

    # Replay the hub's capture file into the same page, then go back to live.
    path = live_ctx.db.conn.execute(
        "SELECT capture_path FROM capture_sessions WHERE device = ?", (HUB,)).fetchone()[0]
    replay = page.start_replay(Path(path))
    assert replay is not None and replay.protocol == "profile:emulator"
    qtbot.waitUntil(lambda: replay.state.value == "done", timeout=20_000)
    qtbot.waitUntil(lambda: timeline.marker_count() > 0 and "Replay" in page.status.text(),
                    timeout=10_000)
    assert replay.events > 0 and replay.snapshot()[1]  # the hub's outage lines became outages
    page.back_to_live()
    assert page.plots.source.name == "Live" and not page.back_button.isVisible()


def _offset(markers, i: int) -> float:
    from ui.widgets.alert_timeline import _OFFSETS

    return float(_OFFSETS[int(markers.severity[i]) + 1])


def test_alert_table_filters_and_acknowledges(qtbot, window, live_ctx) -> None:
    page = window.pages["live"]
    esme = DeviceRepo(live_ctx.db, live_ctx.clock).find(ESME).device_id
    hub = DeviceRepo(live_ctx.db, live_ctx.clock).find(HUB).device_id
    # 8F01 as an earlier version stored a non-critical alert ("warning"), 8F35 as today.
    stored_alerts(live_ctx, [(ESME, "8F01", "warning", esme), (ESME, "8F36", "critical", esme),
                             (HUB, "8F0A", "info", hub), (ESME, "8F35", "non-critical", esme)])
    table = page.alerts
    table.refresh()
    assert [r.code for r in table.model.rows] == ["8F35", "8F0A", "8F36", "8F01"]
    table.device_filter.setCurrentText(ESME)  # filters refresh at once
    assert [r.code for r in table.model.rows] == ["8F35", "8F36", "8F01"]
    table.severity_filter.setCurrentText("critical")
    assert [r.code for r in table.model.rows] == ["8F36"]
    table.severity_filter.setCurrentText("non-critical")  # either word, one name
    assert [(r.code, r.severity) for r in table.model.rows] == [
        ("8F35", "non-critical"), ("8F01", "non-critical")]
    table.severity_filter.setCurrentIndex(0)
    table.device_filter.setCurrentIndex(0)
    table.code_filter.setText("8F3")
    assert [r.code for r in table.model.rows] == ["8F35", "8F36"]
    table.time_filter.setCurrentText("Last 5 min")
    assert len(table.model.rows) == 2
    table.code_filter.clear()

    # Nothing selected, or no note: nothing is stored, and the reason is shown.
    assert not table.acknowledge_selected("looked at it")
    assert "Select" in table.message.text()
    target = next(r for r in table.model.rows if r.code == "8F36")
    assert table.select_event(target.event_id)
    assert not table.acknowledge_selected("")
    assert AckRepo(live_ctx.db.conn).for_events([target.event_id]) == {}
    table.note.setText("Long outage on bench 1, expected")
    table.ack_button.click()
    ack = AckRepo(live_ctx.db.conn).for_events([target.event_id])[target.event_id]
    assert ack == {"note": "Long outage on bench 1, expected", "actor": "tester", "at": ack["at"]}
    row = table.model.row_of(target.event_id)
    assert table.model.rows[row].acknowledged
    cell = table.model.index(row, 6)
    assert table.model.data(cell) == "✓ tester"  # the note is in the row's tooltip
    assert "tester" in table.model.data(cell, Qt.ItemDataRole.ToolTipRole)
    assert "Long outage on bench 1, expected" in table.model.data(cell, Qt.ItemDataRole.ToolTipRole)
    assert table.selected() is not None and table.selected().event_id == target.event_id
    table.unacked.setChecked(True)
    assert target.event_id not in [r.event_id for r in table.model.rows]


def test_status_line_shows_drops_and_write_errors_and_no_tray_is_silent(window) -> None:
    from app.services.ingest import IngestStats
    from ui.widgets.live_status import status_html

    page = window.pages["live"]
    assert "device I/O is not running" in page.status.text()
    quiet = status_html("Live", IngestStats(queued=10, stored=9), 0)
    assert "dropped 0" in quiet and "DROPPED" not in quiet
    loud = status_html("Live", IngestStats(queued=10, stored=9, dropped=1234,
                                           write_error="disk full"), 2)
    assert "DROPPED 1,234" in loud and "disk full" in loud and "2 outages" in loud
    # The offscreen platform has no system tray: a notification is skipped quietly, not recorded.
    assert page.tray.available is False
    assert page.tray.notify("MeterLab", "1 critical alert: 8F36") is False
    assert page.tray.shown == []


class TrayPresentStandIn:
    """Stand-in for a desktop with a system tray (the offscreen platform has none)."""

    available = True


def test_critical_alert_is_shown_in_the_tray_where_there_is_one(window) -> None:
    from ui.widgets.live_status import TrayNotifier

    class TrayNotifierWithTray(TrayPresentStandIn, TrayNotifier):
        pass

    tray = TrayNotifierWithTray(window.pages["live"])
    assert tray.notify("MeterLab: critical alert", "1 critical alert: 8F36") is True
    assert tray.notify("MeterLab: critical alert", "2 critical alerts: 8F36") is True
    assert tray.shown == ["1 critical alert: 8F36", "2 critical alerts: 8F36"]
