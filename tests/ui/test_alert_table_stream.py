"""The Live page's alert table while alerts keep arriving: nothing moves under the user."""

from __future__ import annotations

from datetime import timedelta

import pytest
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QEnterEvent
from PySide6.QtWidgets import QApplication

from app.domain.events import DeviceEvent, EventKind
from app.storage.devices import EventStore
from app.storage.outages import AckRepo
from tests.ui.conftest import NOW

pytestmark = pytest.mark.timeout(60)

HUB = "Bench 1 Comms Hub"
CODES = ("8F01", "8F35", "8F36", "8F0A", "8F57", "8015")


class AlertStream:
    """Stores one alert at a time into the page's database, as the writer thread would."""

    def __init__(self, ctx) -> None:
        self.store = EventStore(ctx.db.conn)
        self.n = 0

    def one(self) -> None:
        code = CODES[self.n % len(CODES)]
        self.store.insert_many([DeviceEvent(
            HUB, EventKind.ALERT, NOW + timedelta(seconds=self.n),
            {"alert_code": code, "severity": "non-critical", "alert_name": f"alert {self.n}"})])
        self.n += 1


@pytest.fixture
def live_table(qtbot, ctx, window):
    window.show_page("live")
    window.show()
    page = window.pages["live"]
    page.table_timer.setInterval(40)  # the page's own timer, refreshing faster than its 1 s
    stream = AlertStream(ctx)
    for _ in range(40):
        stream.one()
    page.alerts.refresh()
    yield page.alerts, stream
    page.detach()


def row_rect(table, row: int):
    return table.view.visualRect(table.model.index(row, 1))


def test_rows_hold_still_under_a_stream_and_acknowledge_takes_the_row_clicked(
        qtbot, live_table, ctx) -> None:
    table, stream = live_table
    assert len(table.model.rows) == 40 and not table.new_bar.isVisible()
    # New alerts go straight to the top while nobody is working on the table.
    stream.one()
    table.refresh()
    assert len(table.model.rows) == 41 and not table.new_bar.isVisible()

    # The pointer comes over the table: from then on rows stay where they are.
    QApplication.sendEvent(table.view.viewport(),
                           QEnterEvent(QPointF(20, 20), QPointF(20, 20), QPointF(20, 20)))
    row_under_pointer = 5
    rect = row_rect(table, row_under_pointer)
    table_at = table.view.mapTo(table.window(), table.view.rect().topLeft())
    target = table.model.rows[row_under_pointer]
    for _ in range(10):  # alerts arrive while the user moves towards a row
        stream.one()
        qtbot.wait(45)
    assert table.model.rows[row_under_pointer].event_id == target.event_id
    assert table.view.indexAt(rect.center()).row() == row_under_pointer
    qtbot.waitUntil(lambda: table.held == 10, timeout=2000)
    assert table.new_bar.isVisible() and table.new_bar.text() == "10 new alerts \u2013 show"
    # The bar appearing does not move the table either.
    assert table.view.mapTo(table.window(), table.view.rect().topLeft()) == table_at

    # Click the row, and alerts keep coming while the note is typed.
    qtbot.mouseClick(table.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert table.selected().event_id == target.event_id
    for _ in range(5):
        stream.one()
        qtbot.wait(45)
    qtbot.keyClicks(table.note, "Seen on the bench")
    for _ in range(5):
        stream.one()
        qtbot.wait(45)
    qtbot.waitUntil(lambda: table.held == 20, timeout=2000)
    assert table.view.indexAt(rect.center()).row() == row_under_pointer
    table.ack_button.click()
    acks = AckRepo(ctx.db.conn).for_events(list(range(1, stream.n + 1)))
    assert list(acks) == [target.event_id]
    assert f"{target.code} at" in table.message.text()
    # The acknowledgement shows on the row, which has not moved.
    row = table.model.rows[row_under_pointer]
    assert row.event_id == target.event_id and row.acknowledged

    # Showing the held alerts keeps the selection on the same alert, at the same place.
    y_before = table.view.rowViewportPosition(row_under_pointer)
    table.new_bar.click()
    assert not table.new_bar.isVisible() and table.held == 0
    assert len(table.model.rows) == 61
    assert table.selected().event_id == target.event_id
    new_row = table.model.row_of(target.event_id)
    assert new_row == row_under_pointer + 20
    assert table.view.rowViewportPosition(new_row) == y_before
    assert table.view.indexAt(rect.center()).row() == new_row


def test_a_filter_change_shows_new_rows_and_keeps_the_selected_alert(qtbot, live_table) -> None:
    table, stream = live_table
    target = table.model.rows[3]
    assert table.select_event(target.event_id)
    for _ in range(3):
        stream.one()
    table.refresh()
    assert table.held == 3 and table.model.rows[3].event_id == target.event_id
    table.code_filter.setText(target.code)  # a new filter is a new list: no rows held
    assert table.held == 0 and not table.new_bar.isVisible()
    assert all(r.code == target.code for r in table.model.rows)
    assert table.selected().event_id == target.event_id
    # Once the alert is no longer listed nothing is selected, and acknowledging says so.
    table.code_filter.setText("FFFF")
    assert table.selected() is None and not table.ack_button.isEnabled()
    assert not table.acknowledge_selected("note")
    assert "Select" in table.message.text()
    # With no selection, the pointer away and the view at the top, new alerts appear at once.
    table.code_filter.clear()
    QApplication.sendEvent(table.view.viewport(), QEvent(QEvent.Type.Leave))
    stream.one()
    table.refresh()
    assert table.held == 0 and table.model.rows[0].event_id == stream.n
