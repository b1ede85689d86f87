"""Everything by keyboard: page shortcuts, New booking, Find slot, Acknowledge, visible focus and
names for buttons that show only a symbol."""

from __future__ import annotations

import re
from datetime import timedelta

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractButton, QApplication

from app.domain.events import DeviceEvent, EventKind
from app.storage.devices import EventStore
from app.storage.outages import AckRepo
from tests.ui.conftest import NOW
from ui.dialogs.find_slot import FindSlotDialog
from ui.pages.registry import PAGES

CTRL = Qt.KeyboardModifier.ControlModifier


def _active(qtbot, window) -> None:
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)


def test_ctrl_and_a_number_opens_each_page_in_order(qtbot, window) -> None:
    _active(qtbot, window)
    assert len(PAGES) == 7  # Ctrl+1 ... Ctrl+7, in the navigation's order
    for number, spec in reversed(list(enumerate(PAGES, start=1))):
        qtbot.keyClick(window, getattr(Qt.Key, f"Key_{number}"), CTRL)
        assert window.current_page_name() == spec.name
        assert window.nav.item(number - 1).toolTip() == f"{spec.title} (Ctrl+{number})"


def test_new_booking_and_find_slot_by_keyboard(qtbot, window) -> None:
    _active(qtbot, window)
    page = window.pages["bookings"]
    qtbot.keyClick(window, Qt.Key.Key_N, CTRL)
    dialog = page.booking_dialog
    assert dialog is not None and dialog.isVisible()
    dialog.reject()
    qtbot.keyClick(window, Qt.Key.Key_F, CTRL)
    finder = page.findChild(FindSlotDialog)
    assert finder is not None and finder.isVisible()
    finder.reject()
    assert "Ctrl+F" in page.find_button.toolTip() and "Ctrl+N" in page.new_button.toolTip()


def test_acknowledge_by_keyboard_acknowledges_the_selected_alert(qtbot, ctx, window) -> None:
    EventStore(ctx.db.conn).insert_many([
        DeviceEvent("Bench 1 Comms Hub", EventKind.ALERT, NOW - timedelta(seconds=10 - i),
                    {"alert_code": code, "severity": "non-critical", "alert_name": code})
        for i, code in enumerate(("8F35", "8F36", "8F01"))])
    _active(qtbot, window)
    qtbot.keyClick(window, Qt.Key.Key_3, CTRL)
    panel = window.pages["live"].alerts
    panel.refresh()
    assert [r.code for r in panel.model.rows] == ["8F01", "8F36", "8F35"]
    panel.view.setFocus()
    panel.view.selectRow(0)
    qtbot.keyClick(panel.view, Qt.Key.Key_Down)  # the second: 8F36
    target = panel.selected()
    assert target is not None and target.code == "8F36"
    qtbot.keyClick(panel.view, Qt.Key.Key_Return, CTRL)  # no note yet: the note field is next
    assert panel.note.hasFocus() and "note" in panel.message.text()
    qtbot.keyClicks(panel.note, "Restore alert seen on the IHD")
    qtbot.keyClick(panel.note, Qt.Key.Key_Return, CTRL)
    acks = AckRepo(ctx.db.conn).for_events([r.event_id for r in panel.model.rows])
    assert list(acks) == [target.event_id]
    assert acks[target.event_id]["note"] == "Restore alert seen on the IHD"


def test_the_calendar_shows_focus_and_works_by_arrows_and_enter(qtbot, window) -> None:
    _active(qtbot, window)
    calendar = window.pages["bookings"].calendar
    calendar.clearFocus()
    qtbot.waitUntil(lambda: not calendar.hasFocus())
    unfocused = calendar.grab().toImage()
    calendar.setFocus()
    qtbot.waitUntil(calendar.hasFocus)
    assert calendar.grab().toImage() != unfocused  # the focus frame is drawn
    qtbot.keyClick(calendar, Qt.Key.Key_Right)
    first = calendar.selected_id()
    assert first is not None
    with qtbot.waitSignal(calendar.sig_booking_activated) as opened:
        qtbot.keyClick(calendar, Qt.Key.Key_Return)
    assert opened.args == [first]


def test_buttons_showing_only_a_symbol_have_a_name(qtbot, window) -> None:
    _active(qtbot, window)
    unnamed = []
    for spec in PAGES:
        window.show_page(spec.name)
        QApplication.processEvents()
        for button in window.findChildren(QAbstractButton):
            if button.isVisible() and not re.search("[A-Za-z]", button.text()) \
                    and not button.accessibleName():
                unnamed.append(f"{spec.name}: {button.text()!r} ({button.toolTip()})")
    assert unnamed == []
