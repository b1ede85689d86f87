"""New booking: a form that re-checks the lab's rules as the user types and lists every reason."""

from __future__ import annotations

from datetime import date, datetime, time

from PySide6.QtCore import QDate, QDateTime, Qt, QTime, QTimer, QTimeZone
from PySide6.QtGui import QColor, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateTimeEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.domain.bookings import Phase
from app.domain.lab import Lab
from app.main import AppContext
from app.services.bookings import RequestOutcome
from app.services.calendar_view import default_window, opening_hours_between
from ui.dialogs.booking_form import BookingForm, FormCheck, evaluate, submit
from ui.errors import ErrorReporter
from ui.theme import PHASE_LABELS
from ui.widgets.participants import RolePicker

DEBOUNCE_MS = 150
_UTC = QTimeZone.utc()


def to_qdatetime(moment: datetime) -> QDateTime:
    """A naive (lab local) datetime shown as-is: Qt's own zone handling is kept out of it."""
    return QDateTime(QDate(moment.year, moment.month, moment.day),
                     QTime(moment.hour, moment.minute), _UTC)


def from_qdatetime(value: QDateTime) -> datetime:
    return datetime.combine(value.date().toPython(), value.time().toPython())


def _checked(widget: QListWidget) -> tuple[str, ...]:
    return tuple(
        widget.item(i).data(Qt.ItemDataRole.UserRole) for i in range(widget.count())
        if widget.item(i).checkState() == Qt.CheckState.Checked
    )


class BookingDialog(QDialog):
    """Request a booking for one lab; "Request" only when the rules pass or staff override."""

    def __init__(self, ctx: AppContext, lab: Lab, errors: ErrorReporter,
                 start: datetime | None = None, end: datetime | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx, self.lab, self.errors = ctx, lab, errors
        self.outcome: RequestOutcome | None = None
        self.last_check = FormCheck()
        self.setWindowTitle(f"New booking — {lab.name}")
        self.setObjectName("bookingDialog")
        if start is None or end is None:
            d_start, d_end = default_window(lab, ctx.clock.now())
            start, end = d_start.replace(tzinfo=None), d_end.replace(tzinfo=None)

        self.org = QComboBox()
        for org in ctx.orgs.list():
            self.org.addItem(org.name, org.id)
        self.start = self._datetime_edit(start)
        self._previous_start = start
        self.end = self._datetime_edit(end)
        self.duration = QLabel()
        self.duration.setStyleSheet("color: palette(dark);")
        self.spaces = QSpinBox()
        self.spaces.setRange(1, 9999)
        self.spaces.setSuffix(f"  of {lab.spaces}")
        self.phase = QComboBox()
        for phase in Phase:
            self.phase.addItem(PHASE_LABELS[phase.value], phase.value)
        self.phase.setCurrentIndex(list(Phase).index(Phase.DEVICE))
        self.roles = RolePicker()
        self.attendees = QListWidget()
        self.attendees.setObjectName("attendees")
        self.attendees.setMaximumHeight(96)
        self.benches = QListWidget()
        self.benches.setObjectName("benches")
        self.benches.setMaximumHeight(110)
        for bench in lab.benches:
            text = bench.name + (f" — {bench.equipment}" if bench.equipment else "")
            item = QListWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, bench.name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.benches.addItem(item)
        self.devices = QLineEdit()
        self.devices.setPlaceholderText("e.g. own ESME and IHD, two spare PPMIDs")
        self.notes = QPlainTextEdit()
        self.notes.setMaximumHeight(56)
        self.notes.setTabChangesFocus(True)

        form = QFormLayout()
        form.addRow("Lab:", QLabel(f"<b>{lab.name}</b> ({lab.spaces} spaces, times in {lab.timezone})"))
        form.addRow("&Organisation:", self.org)
        form.addRow("&Start:", self.start)
        form.addRow("&End:", self.end)
        form.addRow("", self.duration)
        form.addRow("S&paces:", self.spaces)
        form.addRow("P&hase:", self.phase)
        form.addRow("E2E roles:", self.roles)
        form.addRow("&Attendees:", self.attendees)
        form.addRow("&Benches:", self.benches)
        form.addRow("&Devices:", self.devices)
        form.addRow("&Notes:", self.notes)

        self.summary = QLabel()
        self.summary.setObjectName("checkSummary")
        self.summary.setWordWrap(True)
        self.reasons = QListWidget()
        self.reasons.setObjectName("reasons")
        self.reasons.setWordWrap(True)
        self.reasons.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.reasons.setStyleSheet("QListWidget#reasons::item { padding: 3px 2px;"
                                   " border-bottom: 1px solid #eadcdc; }")
        self.override = QCheckBox("O&verride as lab staff")
        self.justification = QPlainTextEdit()
        self.justification.setPlaceholderText("Why this booking should go ahead despite the rules "
                                              "(kept on the booking and in the audit trail).")
        self.justification.setMaximumHeight(70)
        self.justification.setTabChangesFocus(True)
        self.justification.setEnabled(False)
        checks = QGroupBox("Lab rules")
        cl = QVBoxLayout(checks)
        cl.addWidget(self.summary)
        cl.addWidget(self.reasons, 1)
        cl.addWidget(self.override)
        cl.addWidget(self.justification)

        self.find_slot_button = QPushButton("&Find slot")
        self.find_slot_button.setToolTip("Move start and end to the earliest slot that fits these "
                                         "spaces, this length and the chosen benches.")
        self.find_slot_button.clicked.connect(self.find_slot)
        self.buttons = QDialogButtonBox()
        self.request_button = self.buttons.addButton("&Request", QDialogButtonBox.ButtonRole.AcceptRole)
        self.request_button.setDefault(True)
        self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.request)
        self.buttons.rejected.connect(self.reject)
        bottom = QHBoxLayout()
        bottom.addWidget(self.find_slot_button)
        bottom.addStretch(1)
        bottom.addWidget(self.buttons)

        left = QWidget()
        left.setLayout(form)
        columns = QHBoxLayout()
        columns.addWidget(left, 3)
        columns.addWidget(checks, 2)
        layout = QVBoxLayout(self)
        layout.addLayout(columns, 1)
        layout.addLayout(bottom)
        self.resize(1040, 660)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DEBOUNCE_MS)
        self._timer.timeout.connect(self.recheck)
        QShortcut(QKeySequence("Ctrl+Return"), self, activated=self.request)
        self._wire()
        self._org_changed()
        self._phase_changed()
        self.recheck()

    # --- wiring ----------------------------------------------------------------------------------
    def _datetime_edit(self, value: datetime) -> QDateTimeEdit:
        edit = QDateTimeEdit()
        edit.setTimeZone(_UTC)
        edit.setDisplayFormat("ddd dd MMM yyyy  HH:mm")
        edit.setCalendarPopup(True)
        edit.setDateTime(to_qdatetime(value))
        return edit

    def _wire(self) -> None:
        self.org.currentIndexChanged.connect(self._org_changed)
        self.phase.currentIndexChanged.connect(self._phase_changed)
        self.start.dateTimeChanged.connect(self._start_changed)
        for signal in (self.end.dateTimeChanged, self.spaces.valueChanged,
                       self.attendees.itemChanged, self.benches.itemChanged,
                       self.devices.textChanged, self.notes.textChanged,
                       self.justification.textChanged):
            signal.connect(self.schedule_check)
        for box in self.roles.boxes.values():
            box.toggled.connect(self.schedule_check)
        self.override.toggled.connect(self._override_toggled)

    def _start_changed(self) -> None:
        # Keep the length when the start moves, as calendars do.
        new_start = from_qdatetime(self.start.dateTime())
        delta = new_start - self._previous_start
        self._previous_start = new_start
        if delta:
            self.end.setDateTime(to_qdatetime(from_qdatetime(self.end.dateTime()) + delta))
        self.schedule_check()

    def _org_changed(self) -> None:
        org_id = self.org.currentData()
        self.attendees.blockSignals(True)
        self.attendees.clear()
        if org_id is not None:
            day = self.form().start.date()
            for person in self.ctx.people.list(org_id):
                inducted = self.lab.id is not None and person.inducted_for(self.lab.id, [day])
                item = QListWidgetItem(f"{person.name} <{person.email}>"
                                       + ("" if inducted else "  (no valid induction)"))
                item.setData(Qt.ItemDataRole.UserRole, person.email)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(Qt.CheckState.Unchecked)
                self.attendees.addItem(item)
        if self.attendees.count() == 0:
            self.attendees.addItem(QListWidgetItem("No people recorded for this organisation."))
        self.attendees.blockSignals(False)
        self.schedule_check()

    def _phase_changed(self) -> None:
        self.roles.setEnabled(self.phase.currentData() == Phase.E2E.value)
        self.schedule_check()

    def _override_toggled(self, on: bool) -> None:
        self.justification.setEnabled(on)
        if on:
            self.justification.setFocus()
        self.schedule_check()

    # --- checking --------------------------------------------------------------------------------
    def form(self) -> BookingForm:
        return BookingForm(
            lab=str(self.lab.id), org=str(self.org.currentData() or self.org.currentText()),
            start=from_qdatetime(self.start.dateTime()), end=from_qdatetime(self.end.dateTime()),
            spaces=self.spaces.value(), phase=Phase(self.phase.currentData()),
            roles=tuple(self.roles.roles()), attendees=_checked(self.attendees),
            benches=_checked(self.benches), devices=self.devices.text(),
            notes=self.notes.toPlainText(), override=self.override.isChecked(),
            justification=self.justification.toPlainText(),
        )

    def schedule_check(self) -> None:
        """Re-check shortly after the last keystroke (debounced)."""
        self._update_request_button()
        self._timer.start()

    def recheck(self) -> FormCheck:
        """Check now and show the result."""
        self._timer.stop()
        form = self.form()
        with self.errors.guard("Checking the booking"):
            self.last_check = evaluate(self.ctx.booking_service, form)
        self._show_check(self.last_check, form)
        return self.last_check

    def _show_check(self, check: FormCheck, form: BookingForm) -> None:
        hours = opening_hours_between(self.lab, self.lab.localize(form.start), self.lab.localize(form.end))
        self.duration.setText(f"{hours:g} h of opening time" if form.end > form.start else "")
        self.reasons.clear()
        for code, message in check.lines():
            item = QListWidgetItem(f"✗  {code}: {message}")
            item.setForeground(QColor("#9b1c1c"))
            item.setData(Qt.ItemDataRole.UserRole, code)
            self.reasons.addItem(item)
        if check.error:
            self.summary.setText("<b style='color:#9b1c1c'>Fix this input first:</b>")
        elif check.reasons:
            n = len(check.reasons)
            self.summary.setText(f"<b style='color:#9b1c1c'>{n} rule{'s' if n > 1 else ''} "
                                 f"not met.</b> Change the request, or override as lab staff "
                                 f"with a written justification.")
        elif check.request is not None:
            self.summary.setText("<b style='color:#1e7a44'>✓ Every lab rule is met.</b> "
                                 "The request can be made.")
        self._update_request_button()

    def reason_codes(self) -> list[str]:
        return [self.reasons.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.reasons.count())]

    def _update_request_button(self) -> None:
        # Until the debounced check has run, judge by the last one: it is at most 150 ms old.
        self.request_button.setEnabled(self.last_check.can_request(
            self.override.isChecked(), self.justification.toPlainText()))

    # --- actions ---------------------------------------------------------------------------------
    def find_slot(self) -> None:
        form = self.form()
        hours = opening_hours_between(self.lab, self.lab.localize(form.start), self.lab.localize(form.end))
        with self.errors.guard("Find slot"):
            slot = self.ctx.booking_service.find_slot(str(self.lab.id), form.spaces, hours or 8.0,
                                                      form.phase, benches=form.benches)
            if slot is None:
                self.summary.setText("No slot within a year fits these spaces and benches.")
                return
            start, end = (self.lab.local(s).replace(tzinfo=None) for s in slot)
            self.start.setDateTime(to_qdatetime(start))
            self.end.setDateTime(to_qdatetime(end))
            self.recheck()

    def request(self) -> None:
        """Book (re-checking first); close on success, otherwise show why."""
        form = self.form()
        with self.errors.guard("Request booking"):
            check, outcome = submit(self.ctx.booking_service, form)
            self.last_check = check
            if outcome is None or outcome.status == "refused":
                self._show_check(check, form)
                return
            self.outcome = outcome
            self.accept()


def default_times_for(lab: Lab, day: date, hour: int) -> tuple[datetime, datetime]:
    """Start and end for a booking begun by double-clicking an hour: to closing time that day."""
    start = datetime.combine(day, time(hour))
    hours = lab.hours.get(day.weekday())
    closes = hours.closes if hours and hours.closes.hour > hour else time(min(hour + 1, 23))
    return start, datetime.combine(day, closes)
