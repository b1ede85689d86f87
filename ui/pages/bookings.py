"""The Bookings page: week calendar, list, participants and the selected booking's details."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMenu,
    QPushButton,
    QSplitter,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.domain.bookings import ACTIVE_STATUSES, Booking, BookingStatus
from app.domain.lab import Lab
from app.services.calendar_view import build_week, week_label, week_start
from app.services.export import to_csv, to_ics, write_atomically
from ui.dialogs.booking_dialog import BookingDialog, default_times_for
from ui.dialogs.find_slot import FindSlotDialog
from ui.pages.registry import PageEnv
from ui.theme import ACTION_LABELS
from ui.widgets.booking_detail import BookingDetailPanel
from ui.widgets.booking_table import BookingListPanel
from ui.widgets.participants import ParticipantsPanel
from ui.widgets.week_calendar import CalendarLegend, WeekCalendar

#: Asks for an optional reason: (dialog title, prompt) -> text, or None when the user backs out.
ReasonPrompt = Callable[[str, str], "str | None"]


class BookingsPage(QWidget):
    """Everything about lab space: who comes when, and the rules behind it."""

    TAB_CALENDAR, TAB_LIST, TAB_PARTICIPANTS = 0, 1, 2

    def __init__(self, env: PageEnv, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.env = env
        self.ctx, self.errors = env.ctx, env.errors
        self.ask_reason: ReasonPrompt = self._ask_reason
        self.booking_dialog: BookingDialog | None = None
        self._lab: Lab | None = None
        self._monday = week_start(self._today())

        self.lab_combo = QComboBox()
        self.lab_combo.setMinimumWidth(160)
        self.prev_button = QPushButton("◀")
        self.today_button = QPushButton("Today")
        self.next_button = QPushButton("▶")
        for button in (self.prev_button, self.next_button):
            button.setFixedWidth(36)
        self.prev_button.setToolTip("Previous week (Alt+Left)")
        self.prev_button.setAccessibleName("Previous week")
        self.today_button.setToolTip("This week (Ctrl+T)")
        self.next_button.setToolTip("Next week (Alt+Right)")
        self.next_button.setAccessibleName("Next week")
        self.week_title = QLabel()
        self.week_title.setObjectName("weekTitle")
        self.week_title.setStyleSheet("font-size: 12pt; font-weight: bold; padding: 0 10px;")
        self.show_closed = QCheckBox("Show cancelled && rejected")
        self.find_button = QPushButton("Find slot…")
        self.find_button.setToolTip("Find the next free slot for a booking (Ctrl+F)")
        self.export_button = QToolButton()
        self.export_button.setText("Export  ")  # room for the menu arrow the style draws
        self.export_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.export_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        export_menu = QMenu(self.export_button)
        export_menu.addAction("Calendar file (ICS)…", lambda: self.export("ics"))
        export_menu.addAction("Spreadsheet (CSV)…", lambda: self.export("csv"))
        self.export_button.setMenu(export_menu)
        self.export_button.setToolTip("Export the bookings matching the List tab's filters")
        self.new_button = QPushButton("New booking…")
        self.new_button.setToolTip("Request a booking (Ctrl+N)")
        self.new_button.setStyleSheet("font-weight: bold; padding: 4px 12px;")

        bar = QHBoxLayout()
        bar.addWidget(QLabel("Lab"))
        bar.addWidget(self.lab_combo)
        bar.addSpacing(12)
        for w in (self.prev_button, self.today_button, self.next_button, self.week_title):
            bar.addWidget(w)
        bar.addStretch(1)
        for w in (self.find_button, self.export_button, self.new_button):
            bar.addWidget(w)

        self.calendar = WeekCalendar()
        calendar_tab = QWidget()
        cl = QVBoxLayout(calendar_tab)
        cl.setContentsMargins(0, 4, 0, 0)
        cl.addWidget(self.calendar, 1)
        legend = CalendarLegend()
        if self.ctx.principal.is_participant:  # its own bookings only: no count of the lab's use
            self.calendar.show_capacity = legend.show_capacity = False
        legend_row = QHBoxLayout()
        legend_row.addWidget(legend, 1)
        legend_row.addWidget(self.show_closed)
        cl.addLayout(legend_row)
        self.list_panel = BookingListPanel(self._today())
        self.participants = ParticipantsPanel(self.ctx, self.errors)
        self.tabs = QTabWidget()
        self.tabs.addTab(calendar_tab, "&Calendar")
        self.tabs.addTab(self.list_panel, "&List")
        self.tabs.addTab(self.participants, "&Participants")
        self.detail = BookingDetailPanel()
        # Booking details mean nothing next to the participants' tables.
        self.tabs.currentChanged.connect(
            lambda index: self.detail.setVisible(index != self.TAB_PARTICIPANTS))

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.tabs)
        self.splitter.addWidget(self.detail)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setSizes([1000, 320])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(self.splitter, 1)

        self._shortcut("Alt+Left", self.previous_week)
        self._shortcut("Alt+Right", self.next_week)
        self._shortcut("Ctrl+T", self.this_week)
        self._shortcut("Ctrl+N", self.new_booking)
        self._shortcut("Ctrl+F", self.find_slot)
        self.prev_button.clicked.connect(self.previous_week)
        self.today_button.clicked.connect(self.this_week)
        self.next_button.clicked.connect(self.next_week)
        self.new_button.clicked.connect(lambda: self.new_booking())
        self.find_button.clicked.connect(self.find_slot)
        if self.ctx.principal.is_participant:
            # A participant reads its own bookings here; nothing on this page changes lab data
            # for them, so the staff tools are not offered (the services refuse them anyway).
            self.new_button.setVisible(False)
            self.find_button.setVisible(False)
            self.tabs.removeTab(self.tabs.indexOf(self.participants))
        self.lab_combo.currentIndexChanged.connect(self._lab_chosen)
        self.show_closed.toggled.connect(self._show_closed_toggled)
        self.calendar.sig_booking_selected.connect(self.select_booking)
        self.calendar.sig_booking_activated.connect(self.open_booking)
        self.calendar.sig_new_booking_requested.connect(self._new_at)
        self.list_panel.sig_booking_selected.connect(self.select_booking)
        self.list_panel.sig_booking_activated.connect(self.open_booking)
        self.list_panel.sig_filters_changed.connect(self.refresh_list)
        self.detail.sig_action_requested.connect(self.perform_action)
        self.participants.sig_participants_changed.connect(self.refresh)
        self.reload_labs()

    def _shortcut(self, keys: str, slot: Callable[[], object]) -> None:
        action = QAction(self)
        action.setShortcut(QKeySequence(keys))
        action.triggered.connect(lambda _=False: slot())
        self.addAction(action)

    # --- state -------------------------------------------------------------------------------------
    def lab(self) -> Lab | None:
        return self._lab

    def week_monday(self) -> date:
        return self._monday

    def _today(self) -> date:
        now = self.ctx.clock.now()
        return self._lab.local(now).date() if self._lab else now.date()

    def reload_labs(self) -> None:
        """Refill the lab selector from the database and show the chosen lab."""
        labs = self.ctx.labs.list()
        wanted = self.env.selection.name or (self._lab.name if self._lab else "")
        self.lab_combo.blockSignals(True)
        self.lab_combo.clear()
        for lab in labs:
            self.lab_combo.addItem(lab.name, lab.id)
        index = self.lab_combo.findText(wanted)
        self.lab_combo.setCurrentIndex(index if index >= 0 else (0 if labs else -1))
        self.lab_combo.blockSignals(False)
        self._lab_chosen()

    def _lab_chosen(self) -> None:
        lab_id = self.lab_combo.currentData()
        self._lab = self.ctx.labs.get(lab_id) if lab_id is not None else None
        self.env.selection.set_name(self._lab.name if self._lab else "")
        for w in (self.new_button, self.find_button, self.prev_button, self.next_button,
                  self.today_button):
            w.setEnabled(self._lab is not None)
        self._monday = week_start(self._today())
        self.refresh()

    # --- navigation --------------------------------------------------------------------------------
    def set_week(self, day: date) -> None:
        self._monday = week_start(day)
        self.refresh_calendar()

    def previous_week(self) -> None:
        self.set_week(self._monday - timedelta(days=7))

    def next_week(self) -> None:
        self.set_week(self._monday + timedelta(days=7))

    def this_week(self) -> None:
        self.set_week(self._today())

    # --- refreshing --------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Reload calendar, list and details from the database."""
        with self.errors.guard("Bookings"):
            self.list_panel.set_choices([lab.name for lab in self.ctx.labs.list()],
                                        [o.name for o in self.ctx.orgs.list()])
            self.refresh_calendar()
            self.refresh_list()
            self._refresh_today()
            self.select_booking(self.detail.booking().id if self.detail.booking() else None)

    def refresh_from_lab_store(self) -> None:
        """Another workstation changed the lab store: reload labs, calendar, list, details and
        participants, keeping the lab, the week and the selected booking, organisation and
        person."""
        if [lab.name for lab in self.ctx.labs.list()] != [
                self.lab_combo.itemText(i) for i in range(self.lab_combo.count())]:
            monday = self._monday
            self.reload_labs()  # keeps the chosen lab (by name) when it is still there
            if self._lab is not None:
                self.set_week(monday)
        else:
            self.refresh()
        if self.tabs.indexOf(self.participants) >= 0:
            self.participants.refresh()

    def _week_bookings(self) -> list[Booking]:
        assert self._lab is not None
        return self.ctx.booking_service.list(
            str(self._lab.id), day_from=self._monday, day_to=self._monday + timedelta(days=6))

    def refresh_calendar(self) -> None:
        self.week_title.setText(week_label(self._monday))
        if self._lab is None:
            return
        with self.errors.guard("Calendar"):
            view = build_week(self._lab, self._week_bookings(), self._monday, self.ctx.clock.now())
            self.calendar.set_view(view)

    def _refresh_today(self) -> None:
        if self._lab is None:
            self.detail.set_today(None, "", [])
            return
        today = self._today()
        bookings = self.ctx.booking_service.list(str(self._lab.id), day_from=today, day_to=today)
        self.detail.set_today(self._lab, f"{today:%a %d %b}",
                              [b for b in bookings if b.status in ACTIVE_STATUSES
                               or b.status is BookingStatus.COMPLETED])

    def list_bookings(self) -> list[Booking]:
        """Bookings matching the List tab's filters (also what Export writes)."""
        return self.ctx.booking_service.list(**self.list_panel.filters())  # type: ignore[arg-type]

    def refresh_list(self) -> None:
        with self.errors.guard("Booking list"):
            labs = {lab.id: lab for lab in self.ctx.labs.list() if lab.id is not None}
            self.list_panel.set_bookings(self.list_bookings(), labs)

    def _show_closed_toggled(self, on: bool) -> None:
        self.calendar.show_inactive = on
        self.refresh_calendar()

    # --- selection ---------------------------------------------------------------------------------
    def select_booking(self, booking_id: int | None) -> None:
        """Show `booking_id` in the detail panel and mark it in calendar and list."""
        if booking_id is None:
            self.detail.show_booking(None, None, [])
            self.calendar.select(None)
            return
        with self.errors.guard("Booking"):
            booking = self.ctx.bookings_repo.get(booking_id)
            lab = self.ctx.labs.get(booking.lab_id)
            self.detail.show_booking(booking, lab, self.ctx.bookings_repo.audit_for(booking_id))
            if self.ctx.principal.is_participant:
                self.detail.hide_actions()
            self.calendar.select(booking_id)
            self.list_panel.select(booking_id)

    def open_booking(self, booking_id: int) -> None:
        """Double-click: show the booking, its week, and bring the details into view."""
        self.select_booking(booking_id)
        booking = self.detail.booking()
        if booking is not None and self._lab is not None and booking.lab_id == self._lab.id:
            self.set_week(self._lab.local(booking.start).date())
            self.calendar.select(booking_id)
        self.detail.setFocus()

    # --- actions -----------------------------------------------------------------------------------
    @staticmethod
    def _ask_reason(title: str, prompt: str) -> str | None:
        text, ok = QInputDialog.getMultiLineText(None, title, prompt)
        return text if ok else None

    def perform_action(self, booking_id: int, action: str) -> None:
        """Move a booking along its life cycle after asking for an optional reason."""
        label = ACTION_LABELS.get(action, action)
        why = self.ask_reason(f"{label} booking #{booking_id}",
                              f"{label} booking #{booking_id}.\nReason (optional, kept in the "
                              "audit trail):")
        if why is None:
            return
        with self.errors.guard(label):
            booking = self.ctx.booking_service.transition(booking_id, action, why.strip())
            self.refresh()
            self.select_booking(booking.id)
            self.env.show_status(f"Booking #{booking.id} is now {booking.status.value.replace('_', ' ')}.")

    def new_booking(self, start: datetime | None = None, end: datetime | None = None) -> BookingDialog | None:
        """Open the booking dialog (non-blocking); returns it so callers can drive it."""
        if self._lab is None:
            self.errors.report("Add a lab first: there is no lab to book.")
            return None
        if not self.ctx.orgs.list():
            self.errors.report("Add an organisation under Participants first: bookings are for "
                               "a participant organisation.")
            return None
        dialog = BookingDialog(self.ctx, self._lab, self.errors, start, end, self)
        dialog.accepted.connect(lambda: self._booked(dialog))
        dialog.finished.connect(dialog.deleteLater)
        self.booking_dialog = dialog
        dialog.open()
        return dialog

    def _new_at(self, day: date, hour: int) -> None:
        if self._lab is not None:
            self.new_booking(*default_times_for(self._lab, day, hour))

    def _booked(self, dialog: BookingDialog) -> None:
        outcome = dialog.outcome
        self.booking_dialog = None
        if outcome is None or outcome.booking is None:
            return
        booking = outcome.booking
        if self._lab is not None:
            self._monday = week_start(self._lab.local(booking.start).date())
        self.refresh()
        self.select_booking(booking.id)
        how = " with an override" if outcome.status == "overridden" else ""
        self.env.show_status(f"Booking #{booking.id} requested{how} for {booking.org_name}.")

    def find_slot(self) -> None:
        if self._lab is None:
            return
        dialog = FindSlotDialog(self.ctx, self._lab, self.errors, self)
        dialog.accepted.connect(lambda: dialog.slot and self.new_booking(*dialog.slot))
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()

    def export(self, fmt: str) -> None:
        suffix = {"ics": "Calendar (*.ics)", "csv": "CSV (*.csv)"}[fmt]
        name = f"bookings.{fmt}"
        path, _ = QFileDialog.getSaveFileName(self, "Export bookings", name, suffix)
        if path:
            self.export_to(Path(path), fmt)

    def export_to(self, path: Path, fmt: str) -> int:
        """Write the List tab's bookings to `path` as ICS or CSV; returns how many."""
        with self.errors.guard("Export"):
            bookings = self.list_bookings()
            if fmt == "ics":
                title = f"{self._lab.name} bookings" if self._lab else "MeterLab bookings"
                data = to_ics(bookings, title, self.ctx.clock.now())
            else:
                data = to_csv(bookings, lambda lab_id: self.ctx.labs.get(lab_id).tz).encode("utf-8")
            write_atomically(path, data)
            self.env.show_status(f"Exported {len(bookings)} bookings to {path}.")
            return len(bookings)
        return 0
