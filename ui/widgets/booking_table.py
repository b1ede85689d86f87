"""The List tab: bookings in a sortable table with filters for lab, organisation, status, dates."""

from __future__ import annotations

from datetime import date

from PySide6.QtCore import (
    QDate,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDateEdit,
    QHBoxLayout,
    QLabel,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.domain.bookings import Booking, BookingStatus
from app.domain.lab import Lab
from ui.theme import PHASE_LABELS, status_fill, status_label, status_text
from ui.widgets.columns import fit_columns
from ui.widgets.table_model import ColumnsTableModel

COLUMNS = ("#", "Day", "Start", "End", "Lab", "Organisation", "Spaces", "Phase", "Status",
           "Benches", "Attendees")


class BookingTableModel(ColumnsTableModel):
    """Bookings as rows; times in each booking's lab local time; sorts on the raw values."""

    columns = COLUMNS

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows: list[Booking] = []
        self._labs: dict[int, Lab] = {}

    def set_bookings(self, bookings: list[Booking], labs: dict[int, Lab]) -> None:
        self.beginResetModel()
        self._rows = list(bookings)
        self._labs = labs
        self.endResetModel()

    def booking(self, row: int) -> Booking:
        return self._rows[row]

    def row_of(self, booking_id: int) -> int | None:
        for i, b in enumerate(self._rows):
            if b.id == booking_id:
                return i
        return None

    def row_total(self) -> int:
        return len(self._rows)

    def _values(self, b: Booking) -> tuple[tuple[object, object], ...]:
        """(display, sort key) per column."""
        lab = self._labs.get(b.lab_id)
        start = lab.local(b.start) if lab else b.start
        end = lab.local(b.end) if lab else b.end
        same_day = start.date() == end.date()
        return (
            (str(b.id), b.id),
            (f"{start:%a %d %b %Y}", start.timestamp()),
            (f"{start:%H:%M}", start.timestamp()),
            (f"{end:%H:%M}" if same_day else f"{end:%a %d %b %H:%M}", end.timestamp()),
            (b.lab_name, b.lab_name.casefold()),
            (b.org_name, b.org_name.casefold()),
            (str(b.spaces), b.spaces),
            (PHASE_LABELS.get(b.phase.value, b.phase.value), b.phase.value),
            (status_label(b.status), list(BookingStatus).index(b.status)),
            (", ".join(b.benches), ", ".join(b.benches)),
            (", ".join(b.attendees), ", ".join(b.attendees)),
        )

    def data(self, index: QModelIndex | QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid():
            return None
        b = self._rows[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._values(b)[col][0]
        if role == Qt.ItemDataRole.UserRole:
            return self._values(b)[col][1]
        if role == Qt.ItemDataRole.BackgroundRole and COLUMNS[col] == "Status":
            return status_fill(b.status)
        if role == Qt.ItemDataRole.ForegroundRole and COLUMNS[col] == "Status":
            return status_text(b.status)
        if role == Qt.ItemDataRole.TextAlignmentRole and COLUMNS[col] in ("#", "Spaces"):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole and b.override:
            return f"Booked with an override: {b.override}"
        return None


class BookingListPanel(QWidget):
    """Filters above a sortable table. Asks its owner for rows through `sig_filters_changed`."""

    sig_filters_changed = Signal()
    sig_booking_selected = Signal(int)
    sig_booking_activated = Signal(int)

    def __init__(self, today: date, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.lab_combo = QComboBox()
        self.org_combo = QComboBox()
        self.status_combo = QComboBox()
        self.status_combo.addItem("Any status", None)
        self.status_combo.addItem("Active (requested, scheduled, checked in)", "active")
        for status in BookingStatus:
            self.status_combo.addItem(status_label(status), status.value)
        self.from_check = QCheckBox("From")
        self.to_check = QCheckBox("To")
        self.from_edit = QDateEdit(QDate(today.year, today.month, today.day))
        self.to_edit = QDateEdit(QDate(today.year, today.month, today.day).addDays(28))
        for edit in (self.from_edit, self.to_edit):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("ddd dd MMM yyyy")
            edit.setEnabled(False)
        self.from_check.toggled.connect(self.from_edit.setEnabled)
        self.to_check.toggled.connect(self.to_edit.setEnabled)
        self.count_label = QLabel()

        for combo in (self.lab_combo, self.org_combo, self.status_combo):
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(14)
        filters = QHBoxLayout()
        filters.addWidget(QLabel("Lab"))
        filters.addWidget(self.lab_combo)
        filters.addWidget(QLabel("Organisation"))
        filters.addWidget(self.org_combo)
        filters.addWidget(QLabel("Status"))
        filters.addWidget(self.status_combo)
        filters.addStretch(1)
        dates = QHBoxLayout()
        for w in (self.from_check, self.from_edit, self.to_check, self.to_edit):
            dates.addWidget(w)
        dates.addStretch(1)
        dates.addWidget(self.count_label)

        self.model = BookingTableModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(Qt.ItemDataRole.UserRole)
        self.table = QTableView()
        self.table.setObjectName("bookingTable")
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(1, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setVisible(False)
        self.fitter = fit_columns(self.table, stretch=COLUMNS.index("Attendees"))
        self.table.selectionModel().currentRowChanged.connect(self._row_changed)
        self.table.doubleClicked.connect(
            lambda idx: self.sig_booking_activated.emit(self._id_at(idx.row())))

        layout = QVBoxLayout(self)
        layout.addLayout(filters)
        layout.addLayout(dates)
        layout.addWidget(self.table, 1)
        for combo in (self.lab_combo, self.org_combo, self.status_combo):
            combo.currentIndexChanged.connect(self.sig_filters_changed)
        for check in (self.from_check, self.to_check):
            check.toggled.connect(self.sig_filters_changed)
        for edit in (self.from_edit, self.to_edit):
            edit.dateChanged.connect(self.sig_filters_changed)

    def set_choices(self, labs: list[str], orgs: list[str]) -> None:
        """Refill the lab and organisation filters, keeping the current choice when it remains.

        With one lab the Lab column says nothing and is left out.
        """
        self.table.setColumnHidden(COLUMNS.index("Lab"), len(labs) <= 1)
        self.fitter.schedule()
        for combo, names, any_text in ((self.lab_combo, labs, "All labs"),
                                       (self.org_combo, orgs, "All organisations")):
            current = combo.currentData()
            combo.blockSignals(True)
            combo.clear()
            combo.addItem(any_text, None)
            for name in names:
                combo.addItem(name, name)
            found = combo.findData(current)
            combo.setCurrentIndex(max(found, 0))
            combo.blockSignals(False)

    def filters(self) -> dict[str, object]:
        """The filters as keyword arguments for BookingService.list (statuses as a tuple)."""
        status = self.status_combo.currentData()
        statuses: tuple[BookingStatus, ...] | None
        if status is None:
            statuses = None
        elif status == "active":
            statuses = (BookingStatus.REQUESTED, BookingStatus.SCHEDULED, BookingStatus.CHECKED_IN)
        else:
            statuses = (BookingStatus(status),)
        return {
            "lab_ref": self.lab_combo.currentData(),
            "org_ref": self.org_combo.currentData(),
            "day_from": self.from_edit.date().toPython() if self.from_check.isChecked() else None,
            "day_to": self.to_edit.date().toPython() if self.to_check.isChecked() else None,
            "statuses": statuses,
        }

    def set_bookings(self, bookings: list[Booking], labs: dict[int, Lab]) -> None:
        selected = self.selected_id()
        self.model.set_bookings(bookings, labs)
        self.count_label.setText(f"{len(bookings)} booking{'s' if len(bookings) != 1 else ''}")
        if selected is not None:
            self.select(selected)

    def _id_at(self, proxy_row: int) -> int:
        source = self.proxy.mapToSource(self.proxy.index(proxy_row, 0))
        return self.model.booking(source.row()).id

    def selected_id(self) -> int | None:
        index = self.table.currentIndex()
        return self._id_at(index.row()) if index.isValid() else None

    def select(self, booking_id: int) -> None:
        row = self.model.row_of(booking_id)
        if row is None:
            return
        index = self.proxy.mapFromSource(self.model.index(row, 0))
        self.table.blockSignals(True)
        self.table.selectionModel().blockSignals(True)
        self.table.setCurrentIndex(index)
        self.table.selectionModel().blockSignals(False)
        self.table.blockSignals(False)

    def _row_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid():
            self.sig_booking_selected.emit(self._id_at(current.row()))
