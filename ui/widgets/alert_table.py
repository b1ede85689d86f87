"""The alert table beside the Live plots: stored alerts, filtered, acknowledged with a note.

It is refreshed by the page about once a second with one limited query (never per event). Rows
never move under the user: while the pointer is over the table, a row is selected or the table is
scrolled away from its top, new alerts are held behind an "N new alerts" bar (the rows shown still
get their acknowledgements); when they are shown, the selection stays on the same alert (by its
event id) and the selected row stays where it was on screen. Acknowledge acts on the alert
selected, by its id, whatever arrived since.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from PySide6.QtCore import QEvent, QModelIndex, QObject, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.services.live_alerts import AlertFilter, AlertQuery, AlertRow
from app.services.live_view import local_time
from ui.widgets.columns import fit_columns
from ui.widgets.table_model import ColumnsTableModel

COLUMNS = ("Time", "Device", "Code", "Alert", "Severity", "Device time", "Acknowledged")
SEVERITY_COLOUR = {"critical": "#f8d0d0", "non-critical": "#fde3c8", "info": "#dbe6f3"}
#: Time filter choices -> seconds back from now (None: any time; "view": the plots' range).
TIME_CHOICES: dict[str, float | str | None] = {
    "Any time": None, "Last 5 min": 300.0, "Last hour": 3600.0, "Last 24 h": 86400.0,
    "In view": "view",
}
ModelIndex = QModelIndex | QPersistentModelIndex


class AlertTableModel(ColumnsTableModel):
    """Rows of :class:`AlertRow`, newest first."""

    columns = COLUMNS

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[AlertRow] = []

    def set_rows(self, rows: list[AlertRow]) -> bool:
        """Replace the rows; returns False (and does nothing) when nothing changed."""
        if rows == self.rows:
            return False
        self.beginResetModel()
        self.rows = rows
        self.endResetModel()
        return True

    def update_rows(self, rows: list[AlertRow]) -> None:
        """Take the new state (an acknowledgement) of rows already shown; no row moves."""
        by_id = {r.event_id: r for r in rows}
        for i, old in enumerate(self.rows):
            new = by_id.get(old.event_id)
            if new is not None and new != old:
                self.rows[i] = new
                self.dataChanged.emit(self.index(i, 0), self.index(i, len(self.columns) - 1))

    def row_total(self) -> int:
        return len(self.rows)

    def row_of(self, event_id: int) -> int:
        return next((i for i, r in enumerate(self.rows) if r.event_id == event_id), -1)

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid():
            return None
        r, col = self.rows[index.row()], index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            ack = f"✓ {r.ack_actor}" if r.acknowledged else ""  # the note: in the tooltip
            return (local_time(r.host_time), r.origin_label, r.code, r.name, r.severity,
                    local_time(r.device_time), ack)[col]
        if role == Qt.ItemDataRole.ToolTipRole:
            lines = [f"{r.code} {r.name} ({r.severity})", f"from {r.shown_device}",
                     f"host time {local_time(r.host_time, with_date=True)}",
                     f"device time {local_time(r.device_time, with_date=True)}"]
            if r.acknowledged:
                lines.append(f"acknowledged by {r.ack_actor} at {local_time(r.ack_at, True)}: "
                             f"{r.ack_note}")
            return "\n".join(lines)
        if role == Qt.ItemDataRole.BackgroundRole and col == 4:
            colour = SEVERITY_COLOUR.get(r.severity)
            return QBrush(QColor(colour)) if colour else None
        if role == Qt.ItemDataRole.ForegroundRole and r.acknowledged:
            return QBrush(QColor("#7a7a7a"))
        if role == Qt.ItemDataRole.FontRole and r.severity == "critical" and not r.acknowledged:
            font = QFont()
            font.setBold(True)
            return font
        return None


class AlertTablePanel(QWidget):
    """Filters, the table and the acknowledge row.

    Args:
        query: reads and acknowledges alerts.
        actor: who acknowledges (the workstation's user).
        now: the current time (the lab clock).
        view_range: the plots' visible range in POSIX seconds (for the "In view" filter).
    """

    def __init__(self, query: AlertQuery, actor: str, now: Callable[[], datetime],
                 view_range: Callable[[], tuple[float, float]],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.query, self.actor, self.now, self.view_range = query, actor, now, view_range
        self.device_filter = QComboBox()
        self.device_filter.setToolTip("Alerts raised by or delivered through this device")
        self.code_filter = QLineEdit()
        self.code_filter.setPlaceholderText("code, e.g. 8F36 or 8F3")
        self.code_filter.setClearButtonEnabled(True)
        self.severity_filter = QComboBox()
        self.severity_filter.addItems(["All severities", "critical", "non-critical", "info"])
        self.time_filter = QComboBox()
        self.time_filter.addItems(list(TIME_CHOICES))
        self.unacked = QCheckBox("Unacknowledged only")
        grid = QGridLayout()
        grid.addWidget(QLabel("Device"), 0, 0)
        grid.addWidget(self.device_filter, 0, 1)
        grid.addWidget(QLabel("Code"), 0, 2)
        grid.addWidget(self.code_filter, 0, 3)
        grid.addWidget(QLabel("Severity"), 1, 0)
        grid.addWidget(self.severity_filter, 1, 1)
        grid.addWidget(QLabel("Time"), 1, 2)
        grid.addWidget(self.time_filter, 1, 3)
        grid.addWidget(self.unacked, 2, 0, 1, 4)

        self.model = AlertTableModel()
        self.view = QTableView()
        self.view.setModel(self.model)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        # Scrolled by pixels, so a row can be kept exactly where it was when rows are added.
        self.view.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.view.verticalHeader().hide()
        self.view.setWordWrap(False)
        self.view.setAlternatingRowColors(True)
        fit_columns(self.view, stretch=COLUMNS.index("Alert"))

        self.note = QLineEdit()
        self.note.setPlaceholderText("Note: what was done about the selected alert")
        self.ack_button = QPushButton("Acknowledge")
        self.ack_button.setToolTip("Acknowledge the selected alert with the note (Ctrl+Return)")
        QShortcut(QKeySequence("Ctrl+Return"), self, self.acknowledge_key)
        self.message = QLabel()
        self.message.setWordWrap(True)
        ack_row = QHBoxLayout()
        ack_row.addWidget(self.note, 1)
        ack_row.addWidget(self.ack_button)

        # New alerts held while the user is at work on the table (see the module's docstring).
        self.new_bar = QPushButton()
        self.new_bar.setObjectName("newAlertsBar")
        self.new_bar.setToolTip("Show the alerts that arrived while you were working on the table;"
                                " the selected alert stays selected")
        self.new_bar.setStyleSheet("QPushButton#newAlertsBar { background: #e3eefc; color: #0d47a1;"
                                   " border: 1px solid #90b4e8; padding: 1px 8px; }")
        # Its place is kept while it is hidden: the table must not move when it appears.
        policy = self.new_bar.sizePolicy()
        policy.setRetainSizeWhenHidden(True)
        self.new_bar.setSizePolicy(policy)
        self.new_bar.setVisible(False)
        self.held = 0  # alerts held behind the bar

        self.title = QLabel("<b>Alerts</b> (stored, newest first)")
        title_row = QHBoxLayout()
        title_row.addWidget(self.title)
        title_row.addStretch(1)
        title_row.addWidget(self.new_bar)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(title_row)
        layout.addLayout(grid)
        layout.addWidget(self.view, 1)
        layout.addLayout(ack_row)
        layout.addWidget(self.message)

        for combo in (self.device_filter, self.severity_filter, self.time_filter):
            combo.currentIndexChanged.connect(self.refresh)
        self.code_filter.textChanged.connect(self.refresh)
        self.unacked.toggled.connect(self.refresh)
        self.ack_button.clicked.connect(self._acknowledge_clicked)
        self.note.returnPressed.connect(self._acknowledge_clicked)
        self.new_bar.clicked.connect(self.show_new)
        self.view.selectionModel().selectionChanged.connect(self._selection_changed)
        self._selected_id: int | None = None
        self._shown_key: tuple[object, ...] | None = None
        self._pointer_inside = False
        self.view.viewport().installEventFilter(self)
        self._update_actions()

    def set_devices(self, labels: list[str]) -> None:
        current = self.device_filter.currentText()
        self.device_filter.blockSignals(True)
        self.device_filter.clear()
        self.device_filter.addItem("All devices")
        self.device_filter.addItems(labels)
        index = self.device_filter.findText(current)
        self.device_filter.setCurrentIndex(max(index, 0))
        self.device_filter.blockSignals(False)

    def current_filter(self) -> AlertFilter:
        device = self.device_filter.currentText() if self.device_filter.currentIndex() > 0 else ""
        severity = (self.severity_filter.currentText()
                    if self.severity_filter.currentIndex() > 0 else "")
        choice = TIME_CHOICES[self.time_filter.currentText()]
        since = until = None
        if choice == "view":
            x0, x1 = self.view_range()
            since = datetime.fromtimestamp(x0, UTC)
            until = datetime.fromtimestamp(x1, UTC)
        elif isinstance(choice, float):
            since = self.now() - timedelta(seconds=choice)
        return AlertFilter(device=device, code=self.code_filter.text(), severity=severity,
                           since=since, until=until, unacknowledged=self.unacked.isChecked())

    # --- refreshing ----------------------------------------------------------------------------
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.view.viewport():
            if event.type() in (QEvent.Type.Enter, QEvent.Type.MouseMove):
                self._pointer_inside = True
            elif event.type() == QEvent.Type.Leave:
                self._pointer_inside = False
        return super().eventFilter(watched, event)

    @property
    def user_busy(self) -> bool:
        """The user is at work on the table: pointer over it, a row selected, or scrolled down."""
        return (self._pointer_inside or self._selected_id is not None
                or self.view.verticalScrollBar().value() > 0)

    def refresh(self, *_args: object) -> None:
        """Query the database again (about once a second, and when a filter changes).

        While the user is at work on the table the rows shown stay where they are (only their
        acknowledgements change) and new alerts are counted on the bar above the table.
        """
        flt = self.current_filter()
        rows = self.query.list(flt)
        if self._filter_key() != self._shown_key or not self.model.rows or not self.user_busy:
            self._show(rows)
        else:
            self.model.update_rows(rows)
            shown = {r.event_id for r in self.model.rows}
            newest = max(shown)
            self._set_held(sum(1 for r in rows if r.event_id > newest and r.event_id not in shown))
        self._update_actions()

    def show_new(self) -> None:
        """Show the alerts held behind the bar (the selection and its place on screen stay)."""
        self._show(self.query.list(self.current_filter()))
        self._update_actions()

    def _filter_key(self) -> tuple[object, ...]:
        """The filters as chosen (a time filter's moving bounds are not a change of filter)."""
        return (self.device_filter.currentText(), self.code_filter.text().strip().upper(),
                self.severity_filter.currentText(), self.time_filter.currentText(),
                self.unacked.isChecked())

    def _show(self, rows: list[AlertRow]) -> None:
        """Show `rows`, keeping the selected alert selected and its row where it was on screen
        (or, with nothing selected, the top row shown where it was unless the view was at the
        top)."""
        self._shown_key = self._filter_key()
        self._set_held(0)
        bar = self.view.verticalScrollBar()
        anchor_id = self._selected_id
        if anchor_id is None and bar.value() > 0 and self.model.rows:
            top = self.view.rowAt(0)
            anchor_id = self.model.rows[top].event_id if top >= 0 else None
        anchor_row = self.model.row_of(anchor_id) if anchor_id is not None else -1
        anchor_y = self.view.rowViewportPosition(anchor_row) if anchor_row >= 0 else None
        selected = self._selected_id
        if not self.model.set_rows(rows):
            return
        self._selected_id = None
        if selected is not None:
            row = self.model.row_of(selected)
            if row >= 0:
                self.view.selectRow(row)
            else:  # the alert left the table (a filter): nothing is selected any more
                self.view.clearSelection()
                self._selected_id = None
        row = self.model.row_of(anchor_id) if anchor_id is not None else -1
        if anchor_y is not None and row >= 0:
            self.view.updateGeometries()  # the scroll range for the new rows
            # Scroll so the anchor row is at the same place in the viewport as before.
            bar.setValue(bar.value() + self.view.rowViewportPosition(row) - anchor_y)

    def _set_held(self, count: int) -> None:
        self.held = count
        self.new_bar.setText(f"{count} new alert{'s' if count != 1 else ''} \u2013 show")
        self.new_bar.setVisible(count > 0)

    def selected(self) -> AlertRow | None:
        """The alert selected (found by its event id), or None."""
        if self._selected_id is None:
            return None
        row = self.model.row_of(self._selected_id)
        return self.model.rows[row] if row >= 0 else None

    def select_event(self, event_id: int) -> bool:
        row = self.model.row_of(event_id)
        if row >= 0:
            self.view.selectRow(row)
        return row >= 0

    def _selection_changed(self, *_args: object) -> None:
        rows = self.view.selectionModel().selectedRows()
        if rows and rows[0].row() < len(self.model.rows):
            self._selected_id = self.model.rows[rows[0].row()].event_id
        else:
            self._selected_id = None
        self._update_actions()

    def acknowledge_selected(self, note: str) -> bool:
        """Acknowledge the selected alert with `note`; the outcome is shown under the table."""
        row = self.selected()
        if row is None:
            self._say("Select an alert to acknowledge.", error=True)
            return False
        try:
            self.query.acknowledge(row.event_id, note, self.actor, self.now())
        except ValueError as exc:
            self._say(str(exc), error=True)
            return False
        self._say(f"{row.code} at {local_time(row.host_time)} from {row.origin_label} "
                  f"acknowledged by {self.actor}.")
        self.note.clear()
        self.model.update_rows(self.query.list(self.current_filter()))
        self._update_actions()
        return True

    def acknowledge_key(self) -> None:
        """Ctrl+Return: acknowledge the selected alert, or go to the note when it is empty."""
        if self.selected() is not None and not self.note.text().strip():
            self.note.setFocus(Qt.FocusReason.ShortcutFocusReason)
            self._say("Write a note saying what was done about the alert, then press Enter.",
                      error=True)
            return
        self._acknowledge_clicked()

    def _acknowledge_clicked(self) -> None:
        self.acknowledge_selected(self.note.text())

    def _say(self, text: str, error: bool = False) -> None:
        self.message.setStyleSheet("color: #b00020;" if error else "color: #2e7d32;")
        self.message.setText(text)

    def _update_actions(self, *_args: object) -> None:
        row = self.selected()
        self.ack_button.setEnabled(row is not None)
        self.ack_button.setText("Update note" if row is not None and row.acknowledged
                                else "Acknowledge")
