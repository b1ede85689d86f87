"""The participant session: a full-screen window with only a checked-in participant's pages.

Staff open it for someone attending a checked-in booking. While it is up an application-wide
event filter swallows every shortcut and the staff key sequences, the window closes only with a
staff password, and an idle time-out ends it (the workstation goes back to the lock screen).

This is a convenience of the front end, not an operating-system lock; what a participant may see
is decided by the services and repositories acting for the participant principal.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.domain.bookings import Booking, BookingStatus
from app.domain.principals import Principal, participant
from app.main import AppContext
from ui.errors import ErrorReporter
from ui.lock_screen import Verifier, check_staff, locked_errors
from ui.pages.registry import PAGES, LabSelection, PageEnv, PageSpec

#: The pages of a participant session, in this order.
PARTICIPANT_PAGES = ("bookings", "live", "runs", "reports", "induction")
#: Idle time after which a participant session ends (milliseconds).
DEFAULT_IDLE_MS = 10 * 60 * 1000
#: Input that counts as someone at the workstation.
_ACTIVITY = frozenset({QEvent.Type.KeyPress, QEvent.Type.MouseButtonPress, QEvent.Type.MouseMove,
                       QEvent.Type.Wheel, QEvent.Type.TouchBegin, QEvent.Type.TouchUpdate})
#: The staff window's key sequences: page switching, quitting, closing the window.
STAFF_KEYS = (*(QKeySequence(f"Ctrl+{n}") for n in range(1, 10)), QKeySequence("Ctrl+Q"),
              QKeySequence("Ctrl+W"), QKeySequence("Alt+F4"))


@dataclass(frozen=True)
class CheckedIn:
    """A participant attending a booking checked in now."""

    name: str
    email: str
    org_id: int
    org_name: str
    person_id: int | None
    booking: Booking

    def principal(self) -> Principal:
        return participant(self.email, self.org_id, self.person_id)

    def label(self) -> str:
        benches = ", ".join(self.booking.benches) or "no bench"
        return f"{self.name} ({self.org_name}), {self.booking.lab_name}, {benches}"


def checked_in_participants(ctx: AppContext) -> list[CheckedIn]:
    """Everyone named on a booking that is checked in and under way now, in booking order."""
    now = ctx.clock.now()
    out: list[CheckedIn] = []
    seen: set[str] = set()
    for booking in ctx.bookings_repo.list(statuses=(BookingStatus.CHECKED_IN,), start=now,
                                          end=now):
        for email in booking.attendees:
            person = ctx.people.find_by_email(email)
            if person is None or person.org_id != booking.org_id or email in seen:
                continue
            seen.add(email)
            out.append(CheckedIn(person.name, person.email, booking.org_id, booking.org_name,
                                 person.id, booking))
    return out


def participant_context(ctx: AppContext, principal: Principal) -> AppContext | None:
    """A context whose services act for `principal`, or None when the composition root cannot
    build one yet (then no data page is shown in the session)."""
    from app.main import build_context

    if "principal" not in inspect.signature(build_context).parameters:
        return None
    scoped: AppContext = build_context(ctx.db_path, ctx.clock, principal.name,  # type: ignore[call-arg]
                                       principal=principal, lab_store_url=ctx.lab_store_url)
    return scoped


def _is_staff_key(event: QKeyEvent) -> bool:
    combo = QKeySequence(event.keyCombination())
    return any(combo.matches(key) == QKeySequence.SequenceMatch.ExactMatch for key in STAFF_KEYS)


def _not_in_session(title: str) -> QWidget:
    label = QLabel(f"{title} is not available in a participant session yet.\n"
                   "A member of staff can show it on the staff window.")
    label.setObjectName("notInSession")
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    label.setStyleSheet("font-size: 12pt; color: palette(mid);")
    return label


class KioskGuard(QObject):
    """Application event filter of a participant session.

    Swallows shortcut events (the override query and the shortcut itself, so no QAction or
    QShortcut of any window fires) and the staff key sequences, and reports user input so the
    idle time-out can start again.
    """

    sig_activity = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.swallowed = 0
        self._app: QApplication | None = None

    def install(self) -> None:
        app = QApplication.instance()
        if isinstance(app, QApplication) and self._app is None:
            self._app = app
            app.installEventFilter(self)

    def remove(self) -> None:
        if self._app is not None:
            self._app.removeEventFilter(self)
            self._app = None

    @property
    def installed(self) -> bool:
        return self._app is not None

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind == QEvent.Type.ShortcutOverride:
            # Accepted: the key goes to the focused widget as a plain key press, not a shortcut.
            event.accept()
            if isinstance(event, QKeyEvent) and _is_staff_key(event):
                self.swallowed += 1
            return True
        if kind == QEvent.Type.Shortcut:
            self.swallowed += 1
            return True
        if kind in _ACTIVITY:
            self.sig_activity.emit()
        if kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease) and isinstance(event, QKeyEvent) \
                and _is_staff_key(event):
            if kind == QEvent.Type.KeyPress:
                self.swallowed += 1
            return True
        return False


class StaffPasswordDialog(QDialog):
    """A staff member's name and password, to end a participant session."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("End the participant session")
        self.name_edit = QLineEdit()
        self.password_edit = QLineEdit()
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("End session")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow(QLabel("Staff only: your MeterLab name and password."))
        form.addRow("Name", self.name_edit)
        form.addRow("Password", self.password_edit)
        form.addRow(buttons)

    def credentials(self) -> tuple[str, str]:
        return self.name_edit.text(), self.password_edit.text()


class KioskWindow(QWidget):
    """The participant session window.

    Call :meth:`start` to show it full screen and put the guard in place. It ends (emitting
    :attr:`sig_ended` with "staff" or "idle") when a staff member gives their password or when
    nobody touched the workstation for `idle_ms`.
    """

    sig_ended = Signal(str)

    def __init__(self, ctx: AppContext, principal: Principal, verify: Verifier, *,
                 booking: Booking | None = None, person_name: str = "",
                 pages: tuple[PageSpec, ...] = PAGES, idle_ms: int = DEFAULT_IDLE_MS,
                 locked: tuple[type[BaseException], ...] | None = None,
                 context: AppContext | bool | None = True,
                 staff_runs: Any = None,
                 runtime: Any = None,
                 parent: QWidget | None = None) -> None:
        """
        Args:
            ctx: the staff workstation's context (the session builds its own for `principal`).
            principal: the participant.
            verify: checks a staff name and password (the account service's verify).
            booking: the checked-in booking the session is for (its lab is selected).
            context: the participant's context; True (default) builds one with
                :func:`participant_context`; None shows no data page.
            staff_runs: the staff window's Runs page: the session follows the runs it starts
                that are the participant's organisation's, and answers their questions.
            runtime: the workstation's device runtime: the Live page shows the participant's
                benches as their data arrives (else only what is stored).
        """
        super().__init__(parent)
        if not principal.is_participant:
            raise ValueError("a participant session is for a participant principal")
        self.setWindowTitle("MeterLab: participant session")
        self.setObjectName("kiosk")
        self.principal, self.booking = principal, booking
        self._verify = verify
        self._locked = locked_errors() if locked is None else locked
        self._end_reason = ""
        self.ended_by: Principal | None = None
        #: Asks for a staff name and password (None: cancelled); replaceable in tests.
        self.ask_staff_password: Callable[[], tuple[str, str] | None] = self._ask_staff_password
        self.errors = ErrorReporter(self)
        self.selection = LabSelection(self)
        self.scoped_ctx = participant_context(ctx, principal) if context is True else (
            context or None)
        self.guard = KioskGuard(self)
        self.idle = QTimer(self)
        self.idle.setSingleShot(True)
        self.idle.setInterval(idle_ms)
        self.idle.timeout.connect(self._idle_timeout)
        self.guard.sig_activity.connect(self._activity)

        who = person_name or principal.name
        org = booking.org_name if booking else ""
        title = QLabel(f"Welcome, {who}" + (f" ({org})" if org else ""))
        title.setObjectName("kioskTitle")
        title.setStyleSheet("font-size: 16pt; font-weight: bold;")
        detail = QLabel(self._booking_text(ctx))
        detail.setObjectName("kioskBooking")
        self.notice = QLabel()
        self.notice.setObjectName("kioskNotice")
        self.notice.setStyleSheet("color: #b00020;")
        self.end_button = QPushButton("End session (staff)")
        self.end_button.clicked.connect(self.close)
        head = QHBoxLayout()
        text = QVBoxLayout()
        text.addWidget(title)
        text.addWidget(detail)
        head.addLayout(text, 1)
        head.addWidget(self.notice)
        head.addWidget(self.end_button, 0, Qt.AlignmentFlag.AlignTop)

        self.tabs = QTabWidget()
        self.tabs.setObjectName("kioskPages")
        self.pages: dict[str, QWidget] = {}
        self.missing: list[str] = []
        if booking is not None:
            self.selection.set_name(booking.lab_name)
        env = PageEnv(self.scoped_ctx, self.errors, self.selection, self.notice.setText) \
            if self.scoped_ctx is not None else None
        specs = {spec.name: spec for spec in pages}
        for name in PARTICIPANT_PAGES:
            spec = specs.get(name)
            if spec is None or not spec.visible(principal):
                continue
            if env is not None and spec.factory is not None:
                page = spec.factory(env)
            else:
                self.missing.append(name)
                page = _not_in_session(spec.title)
            self.pages[name] = page
            self.tabs.addTab(page, spec.title)
        self._attach_runs(principal, staff_runs)
        live = self.pages.get("live")
        if runtime is not None and callable(getattr(live, "attach", None)):
            live.attach(runtime)  # type: ignore[union-attr]

        layout = QVBoxLayout(self)
        layout.addLayout(head)
        layout.addWidget(self.tabs, 1)

    def _booking_text(self, ctx: AppContext) -> str:
        booking = self.booking
        if booking is None:
            return "Participant session"
        tz = ctx.labs.get(booking.lab_id).tz
        start, end = booking.start.astimezone(tz), booking.end.astimezone(tz)
        benches = ", ".join(booking.benches) or "no bench booked"
        return (f"{booking.lab_name}: {benches}, {start:%a %d %b %H:%M}–{end:%H:%M} "
                f"(booking {booking.id})")

    # --- the session -------------------------------------------------------------------------
    def start(self, full_screen: bool = True) -> None:
        """Show the window (full screen) and put the guard and the idle time-out in place."""
        self.guard.install()
        self.idle.start()
        if full_screen:
            self.showFullScreen()
        else:
            self.show()
        self.raise_()
        self.activateWindow()

    @property
    def active(self) -> bool:
        return self.guard.installed

    def _activity(self) -> None:
        if self.idle.isActive() or self.active:
            self.idle.start()

    def _idle_timeout(self) -> None:
        self.end("idle")

    def _attach_runs(self, principal: Principal, staff_runs: Any) -> None:
        """The participant's own runs in the Runs page's history (a participant starts none),
        and, with the staff window's Runs page, its organisation's runs followed as they go and
        their questions answered here."""
        from ui.pages.runs import RunsPage
        from ui.runs_service import runs_service

        page, ctx = self.pages.get("runs"), self.scoped_ctx
        if not isinstance(page, RunsPage) or ctx is None:
            return
        staff_service = getattr(staff_runs, "service", None)
        prompts = staff_service.prompts if staff_service is not None else None
        page.attach(runs_service(ctx, principal.name, principal=principal, prompts=prompts))
        if staff_service is not None:
            page.sig_question.connect(lambda: self.tabs.setCurrentWidget(page))
            page.follow(staff_runs.bridge)

    def end(self, reason: str) -> None:
        """End the session without asking (the idle time-out; staff already verified)."""
        self._end_reason = reason
        self.close()

    def _ask_staff_password(self) -> tuple[str, str] | None:
        dialog = StaffPasswordDialog(self)
        try:
            if dialog.exec() != QDialog.DialogCode.Accepted:
                return None
            return dialog.credentials()
        finally:
            dialog.deleteLater()

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._end_reason:
            answer = self.ask_staff_password()
            if answer is None:
                self.notice.setText("Only staff can end the session.")
                event.ignore()
                return
            staff_principal, message = check_staff(self._verify, *answer, self._locked)
            if staff_principal is None:
                self.notice.setText(message)
                event.ignore()
                return
            self.ended_by = staff_principal
            self._end_reason = "staff"
        self.idle.stop()
        self.guard.remove()
        for page in self.pages.values():
            for name in ("shutdown", "detach"):
                stop = getattr(page, name, None)
                if callable(stop):
                    stop()
        if self.scoped_ctx is not None:
            self.scoped_ctx.close()
            self.scoped_ctx = None
        event.accept()
        self.sig_ended.emit(self._end_reason)


class ParticipantChooser(QDialog):
    """Staff choose whom to open a participant session for: those checked in now."""

    def __init__(self, people: list[CheckedIn], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Participant session")
        self.people = people
        self.list = QListWidget()
        for person in people:
            self.list.addItem(QListWidgetItem(person.label()))
        if people:
            self.list.setCurrentRow(0)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Open session")
        buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(bool(people))
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.list.itemDoubleClicked.connect(lambda _item: self.accept())
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Participants of bookings checked in now:" if people else
                                "Nobody is checked in now: check a booking in first "
                                "(Bookings › Check in)."))
        layout.addWidget(self.list)
        layout.addWidget(buttons)

    def chosen(self) -> CheckedIn | None:
        row = self.list.currentRow()
        return self.people[row] if 0 <= row < len(self.people) else None


def add_session_menu(window: QMainWindow, open_session: Callable[[], Any],
                     lock: Callable[[], Any] | None = None) -> None:
    """A "Session" menu on the staff window: open a participant session, lock the workstation."""
    menu = window.menuBar().addMenu("&Session")
    act = QAction("&Participant session…", window)
    act.triggered.connect(lambda _=False: open_session())
    menu.addAction(act)
    if lock is not None:
        lock_act = QAction("&Lock", window)
        lock_act.setShortcut(QKeySequence("Ctrl+L"))
        lock_act.triggered.connect(lambda _=False: lock())
        menu.addAction(lock_act)
