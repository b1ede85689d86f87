"""The lock screen: Enter logs in; a wrong login says one sentence without saying what was wrong."""

from __future__ import annotations

from PySide6.QtCore import Qt

from app.domain.principals import Role
from tests.ui.standin_accounts import StandInAccountLocked, StandInAccounts
from ui.lock_screen import WRONG_LOGIN, LockScreen


def make(qtbot, accounts: StandInAccounts) -> LockScreen:
    screen = LockScreen(accounts.verify, locked=(StandInAccountLocked,))
    qtbot.addWidget(screen)
    screen.show()
    qtbot.waitExposed(screen)
    return screen


def test_enter_logs_in_and_emits_the_staff_principal(qtbot) -> None:
    accounts = StandInAccounts({"sam": ("correct horse", Role.STAFF)})
    screen = make(qtbot, accounts)
    qtbot.keyClicks(screen.name_edit, "sam")
    qtbot.keyClick(screen.name_edit, Qt.Key.Key_Return)  # Enter on the name goes to the password
    assert accounts.calls == []
    qtbot.keyClicks(screen.password_edit, "correct horse")
    with qtbot.waitSignal(screen.sig_unlocked, timeout=2000) as got:
        qtbot.keyClick(screen.password_edit, Qt.Key.Key_Return)
    principal = got.args[0]
    assert principal.name == "sam" and principal.role is Role.STAFF
    assert screen.password_edit.text() == "" and screen.name_edit.text() == ""
    assert screen.message.text() == ""


def test_wrong_password_and_unknown_name_say_the_same_sentence(qtbot) -> None:
    accounts = StandInAccounts({"sam": ("correct horse", Role.STAFF)})
    screen = make(qtbot, accounts)
    unlocked: list[object] = []
    screen.sig_unlocked.connect(unlocked.append)
    messages = []
    for name, password in (("sam", "wrong"), ("nobody", "correct horse")):
        screen.name_edit.setText(name)
        screen.password_edit.setText(password)
        qtbot.keyClick(screen.password_edit, Qt.Key.Key_Return)
        messages.append(screen.message.text())
        assert screen.password_edit.text() == ""
    assert messages == [WRONG_LOGIN, WRONG_LOGIN] and unlocked == []
    assert "name" in WRONG_LOGIN and "password" in WRONG_LOGIN


def test_a_locked_account_says_so(qtbot) -> None:
    accounts = StandInAccounts({"sam": ("pw", Role.ADMIN)}, lock_after=2)
    screen = make(qtbot, accounts)
    for _ in range(2):
        screen.name_edit.setText("sam")
        screen.password_edit.setText("nope")
        screen.try_login()
    screen.name_edit.setText("sam")
    screen.password_edit.setText("pw")
    assert screen.try_login() is None
    assert screen.message.text() == "The account sam is locked for a minute after 2 failed attempts."


def test_empty_fields_are_not_sent(qtbot) -> None:
    accounts = StandInAccounts({"sam": ("pw", Role.STAFF)})
    screen = make(qtbot, accounts)
    screen.login_button.click()
    assert screen.message.text() == "Enter your name and password." and accounts.calls == []


def test_locking_the_staff_window_and_logging_in_again(qtbot, window, ctx) -> None:
    from ui.launch import Sessions

    accounts = StandInAccounts({"sam": ("pw", Role.STAFF), "ada": ("pw2", Role.ADMIN)})
    lock = LockScreen(accounts.verify, locked=(StandInAccountLocked,))
    qtbot.addWidget(lock)
    sessions = Sessions(window, ctx, accounts, lock)
    window.show()
    audit_row = [spec.name for spec in window.specs].index("audit")
    sessions.lock()
    assert not window.isVisible() and lock.isVisible()
    lock.name_edit.setText("sam")
    lock.password_edit.setText("pw")
    lock.try_login()
    assert window.isVisible() and not lock.isVisible()
    assert window.nav.isRowHidden(audit_row)  # staff are not offered the audit trail
    sessions.lock()
    lock.name_edit.setText("ada")
    lock.password_edit.setText("pw2")
    lock.try_login()
    assert window.isVisible() and not window.nav.isRowHidden(audit_row)
