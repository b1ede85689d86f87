"""The participant session on the demo database: participant pages only, no close without a
staff password, staff shortcuts swallowed, the idle time-out."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QLabel, QMenuBar

from ui.kiosk import (
    PARTICIPANT_PAGES,
    KioskWindow,
    StaffPasswordDialog,
    checked_in_participants,
)
from ui.lock_screen import WRONG_LOGIN


@pytest.fixture
def jo(ctx):
    """The demo's Brightside Power visitor, her booking of today approved and checked in."""
    assert checked_in_participants(ctx) == []
    ctx.booking_service.transition(4, "approve", "for the session")
    ctx.booking_service.transition(4, "checkin")
    (person,) = checked_in_participants(ctx)
    return person


def open_kiosk(qtbot, ctx, jo, accounts, idle_ms: int = 60_000, full_screen: bool = True):
    kiosk = KioskWindow(ctx, jo.principal(), accounts.verify, booking=jo.booking,
                        person_name=jo.name, idle_ms=idle_ms)
    qtbot.addWidget(kiosk)
    kiosk.start(full_screen=full_screen)
    qtbot.waitExposed(kiosk)
    return kiosk


def test_checked_in_participant_gets_only_participant_pages(qtbot, ctx, jo, accounts) -> None:
    assert (jo.name, jo.email, jo.org_name) == ("Jo Walker", "jo.walker@brightside.example",
                                                "Brightside Power")
    principal = jo.principal()
    assert principal.is_participant and principal.org_id == jo.booking.org_id
    kiosk = open_kiosk(qtbot, ctx, jo, accounts)
    assert kiosk.isFullScreen() and kiosk.active
    titles = [kiosk.tabs.tabText(i) for i in range(kiosk.tabs.count())]
    assert titles == ["Bookings", "Live", "Runs", "Reports", "Induction"]
    assert list(kiosk.pages) == list(PARTICIPANT_PAGES)
    assert "devices" not in kiosk.pages and "audit" not in kiosk.pages
    assert kiosk.findChild(QMenuBar) is None
    assert kiosk.selection.name == "Demo Lab"
    assert "Welcome, Jo Walker (Brightside Power)" in kiosk.findChild(QLabel, "kioskTitle").text()
    kiosk.end("staff")


def test_close_is_refused_without_a_staff_password(qtbot, ctx, jo, accounts) -> None:
    kiosk = open_kiosk(qtbot, ctx, jo, accounts)
    ended: list[str] = []
    kiosk.sig_ended.connect(ended.append)
    kiosk.ask_staff_password = lambda: None  # the dialog cancelled
    assert kiosk.close() is False
    assert kiosk.isVisible() and kiosk.active and ended == []
    assert kiosk.notice.text() == "Only staff can end the session."
    kiosk.ask_staff_password = lambda: ("sam", "guess")
    kiosk.end_button.click()
    assert kiosk.isVisible() and kiosk.active and ended == []
    assert kiosk.notice.text() == WRONG_LOGIN
    kiosk.ask_staff_password = lambda: ("sam", "staff pw")
    assert kiosk.close() is True
    assert not kiosk.isVisible() and not kiosk.active and ended == ["staff"]
    assert kiosk.ended_by is not None and kiosk.ended_by.name == "sam"


def test_the_staff_password_dialog_ends_the_session(qtbot, ctx, jo, accounts) -> None:
    kiosk = open_kiosk(qtbot, ctx, jo, accounts)

    def answer() -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, StaffPasswordDialog):
            QTimer.singleShot(20, answer)
            return
        dialog.name_edit.setText("sam")
        dialog.password_edit.setText("staff pw")
        dialog.accept()

    QTimer.singleShot(0, answer)
    with qtbot.waitSignal(kiosk.sig_ended, timeout=5000) as got:
        kiosk.end_button.click()
    assert got.args == ["staff"] and not kiosk.isVisible()


def test_staff_shortcuts_are_swallowed_while_the_session_is_up(qtbot, window, ctx, jo,
                                                                accounts) -> None:
    window.show()
    qtbot.waitExposed(window)
    window.show_page("live")
    kiosk = open_kiosk(qtbot, ctx, jo, accounts, full_screen=False)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    qtbot.keyClick(window, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(window.nav, Qt.Key.Key_4, Qt.KeyboardModifier.ControlModifier)
    assert window.current_page_name() == "live"
    qtbot.keyClick(window, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)
    assert window.isVisible()
    assert kiosk.guard.swallowed >= 3
    kiosk.ask_staff_password = lambda: ("sam", "staff pw")
    kiosk.close()
    # Without the session the same key switches the staff window's page again.
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    qtbot.keyClick(window, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    assert window.current_page_name() == "bookings"


def test_idle_time_out_ends_the_session(qtbot, ctx, jo, accounts) -> None:
    kiosk = open_kiosk(qtbot, ctx, jo, accounts, idle_ms=200)
    asked: list[int] = []
    kiosk.ask_staff_password = lambda: asked.append(1)  # type: ignore[func-returns-value]
    with qtbot.waitSignal(kiosk.sig_ended, timeout=10_000) as got:
        pass
    assert got.args == ["idle"] and asked == []
    assert not kiosk.isVisible() and not kiosk.active


def test_a_staff_principal_cannot_open_a_participant_session(qtbot, ctx, accounts) -> None:
    from app.domain.principals import staff

    with pytest.raises(ValueError, match="participant principal"):
        KioskWindow(ctx, staff("sam"), accounts.verify)
