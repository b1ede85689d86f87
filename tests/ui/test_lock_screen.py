"""The lock screen: Enter logs in; a wrong login says one sentence without saying what was wrong."""

from __future__ import annotations

from PySide6.QtCore import Qt

from app.domain.principals import Role
from app.services.accounts import MAX_FAILED_LOGINS
from ui.lock_screen import WRONG_LOGIN, LockScreen


def make(qtbot, accounts) -> tuple[LockScreen, list[str]]:
    """A lock screen on the real account service; the names it asked the service about."""
    calls: list[str] = []

    def verify(name: str, password: str):
        calls.append(name)
        return accounts.verify(name, password)

    screen = LockScreen(verify)
    qtbot.addWidget(screen)
    screen.show()
    qtbot.waitExposed(screen)
    return screen, calls


def test_enter_logs_in_and_emits_the_staff_principal(qtbot, accounts) -> None:
    screen, calls = make(qtbot, accounts)
    qtbot.keyClicks(screen.name_edit, "sam")
    qtbot.keyClick(screen.name_edit, Qt.Key.Key_Return)  # Enter on the name goes to the password
    assert calls == []
    qtbot.keyClicks(screen.password_edit, "staff pw")
    with qtbot.waitSignal(screen.sig_unlocked, timeout=2000) as got:
        qtbot.keyClick(screen.password_edit, Qt.Key.Key_Return)
    principal = got.args[0]
    assert principal.name == "sam" and principal.role is Role.STAFF
    assert screen.password_edit.text() == "" and screen.name_edit.text() == ""
    assert screen.message.text() == ""


def test_wrong_password_and_unknown_name_say_the_same_sentence(qtbot, accounts) -> None:
    screen, _ = make(qtbot, accounts)
    unlocked: list[object] = []
    screen.sig_unlocked.connect(unlocked.append)
    messages = []
    for name, password in (("sam", "wrong"), ("nobody", "staff pw")):
        screen.name_edit.setText(name)
        screen.password_edit.setText(password)
        qtbot.keyClick(screen.password_edit, Qt.Key.Key_Return)
        messages.append(screen.message.text())
        assert screen.password_edit.text() == ""
    assert messages == [WRONG_LOGIN, WRONG_LOGIN] and unlocked == []
    assert "name" in WRONG_LOGIN and "password" in WRONG_LOGIN


def test_a_locked_account_says_so(qtbot, accounts) -> None:
    screen, _ = make(qtbot, accounts)
    for _ in range(MAX_FAILED_LOGINS - 1):
        screen.name_edit.setText("sam")
        screen.password_edit.setText("nope")
        screen.try_login()
        assert screen.message.text() == WRONG_LOGIN
    screen.name_edit.setText("sam")
    screen.password_edit.setText("nope")
    screen.try_login()  # the fifth wrong password locks the account
    screen.name_edit.setText("sam")
    screen.password_edit.setText("staff pw")
    assert screen.try_login() is None  # even the right password, while it is locked
    assert screen.message.text().startswith(
        f"The staff account sam is locked after {MAX_FAILED_LOGINS} wrong passwords in a row")


def test_empty_fields_are_not_sent(qtbot, accounts) -> None:
    screen, calls = make(qtbot, accounts)
    screen.login_button.click()
    assert screen.message.text() == "Enter your name and password." and calls == []


def test_locking_the_staff_window_and_logging_in_again(qtbot, window, ctx, accounts) -> None:
    from ui.launch import Sessions

    lock = LockScreen(accounts.verify)
    qtbot.addWidget(lock)
    sessions = Sessions(window, ctx, accounts, lock)
    window.show()
    audit_row = [spec.name for spec in window.specs].index("audit")
    sessions.lock()
    assert not window.isVisible() and lock.isVisible()
    lock.name_edit.setText("sam")
    lock.password_edit.setText("staff pw")
    lock.try_login()
    assert window.isVisible() and not lock.isVisible()
    assert window.nav.isRowHidden(audit_row)  # staff are not offered the audit trail
    sessions.lock()
    lock.name_edit.setText("ada")
    lock.password_edit.setText("admin pw")
    lock.try_login()
    assert window.isVisible() and not window.nav.isRowHidden(audit_row)
