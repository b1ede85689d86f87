"""The lock screen: a staff member's name and password before the workstation opens."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.domain.principals import Principal

#: Checks a name and password: the principal, or None when they do not match an enabled account.
#: It may raise an "account locked" error (see :func:`locked_errors`).
Verifier = Callable[[str, str], Principal | None]

#: Said for a wrong name, a wrong password or a disabled account alike: no hint which.
WRONG_LOGIN = "That name and password do not match a staff account."


def locked_errors() -> tuple[type[BaseException], ...]:
    """The error types a verifier raises for a locked account (the account service's own)."""
    try:
        from app.services.accounts import AccountLocked
    except ImportError:
        return ()
    return (AccountLocked,)


def check_staff(verify: Verifier, name: str, password: str,
                locked: tuple[type[BaseException], ...]) -> tuple[Principal | None, str]:
    """Verify a staff login; returns the principal (or None) and the sentence to show."""
    if not name.strip() or not password:
        return None, "Enter your name and password."
    try:
        principal = verify(name.strip(), password)
    except locked as exc:
        return None, str(exc) or "This account is locked for a minute after failed attempts."
    if principal is None or principal.is_participant:
        return None, WRONG_LOGIN
    return principal, ""


class LockScreen(QWidget):
    """Name + password; Enter logs in. Emits :attr:`sig_unlocked` with the staff principal."""

    sig_unlocked = Signal(object)

    def __init__(self, verify: Verifier, *, locked: tuple[type[BaseException], ...] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("MeterLab: locked")
        self.setObjectName("lockScreen")
        self._verify = verify
        self._locked = locked_errors() if locked is None else locked

        title = QLabel("MeterLab")
        title.setStyleSheet("font-size: 24pt; font-weight: bold;")
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        subtitle = QLabel("This workstation is locked. Staff: log in with your MeterLab account.")
        subtitle.setAlignment(Qt.AlignmentFlag.AlignCenter)
        subtitle.setWordWrap(True)
        self.name_edit = QLineEdit()
        self.name_edit.setObjectName("name")
        self.name_edit.setPlaceholderText("your staff account name")
        self.password_edit = QLineEdit()
        self.password_edit.setObjectName("password")
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.login_button = QPushButton("Log in")
        self.login_button.setDefault(True)
        self.message = QLabel()
        self.message.setObjectName("loginMessage")
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #b00020;")
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)

        form = QFormLayout()
        form.addRow("Name", self.name_edit)
        form.addRow("Password", self.password_edit)
        box = QWidget()
        box.setFixedWidth(380)
        inner = QVBoxLayout(box)
        inner.addWidget(title)
        inner.addWidget(subtitle)
        inner.addSpacing(12)
        inner.addLayout(form)
        inner.addWidget(self.login_button)
        inner.addWidget(self.message)
        outer = QVBoxLayout(self)
        outer.addStretch(1)
        outer.addWidget(box, 0, Qt.AlignmentFlag.AlignHCenter)
        outer.addStretch(2)

        self.name_edit.returnPressed.connect(self._next_field)
        self.password_edit.returnPressed.connect(self.try_login)
        self.login_button.clicked.connect(self.try_login)

    def _next_field(self) -> None:
        if self.password_edit.text():
            self.try_login()
        else:
            self.password_edit.setFocus()

    def try_login(self) -> Principal | None:
        """Check the name and password; on success clear the form and emit the principal."""
        principal, message = check_staff(self._verify, self.name_edit.text(),
                                         self.password_edit.text(), self._locked)
        self.password_edit.clear()
        self.message.setText(message)
        if principal is None:
            self.password_edit.setFocus()
            return None
        self.name_edit.clear()
        self.sig_unlocked.emit(principal)
        return principal

    def reset(self) -> None:
        """Ready for the next person: empty fields, no message, focus on the name."""
        self.name_edit.clear()
        self.password_edit.clear()
        self.message.clear()
        self.name_edit.setFocus()
