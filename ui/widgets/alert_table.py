"""The alert table beside the Live plots: stored alerts, filtered, acknowledged with a note.

It is refreshed by the page about once a second with one limited query (never per event); the
selection survives refreshes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
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

        self.title = QLabel("<b>Alerts</b> (stored, newest first)")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
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
        self.view.selectionModel().selectionChanged.connect(self._update_actions)
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

    def refresh(self, *_args: object) -> None:
        """Query the database again (about once a second, and when a filter changes)."""
        selected = self.selected()
        if self.model.set_rows(self.query.list(self.current_filter())) and selected is not None:
            row = self.model.row_of(selected.event_id)
            if row >= 0:
                self.view.selectRow(row)
        self._update_actions()

    def selected(self) -> AlertRow | None:
        rows = self.view.selectionModel().selectedRows()
        if not rows or rows[0].row() >= len(self.model.rows):
            return None
        return self.model.rows[rows[0].row()]

    def select_event(self, event_id: int) -> bool:
        row = self.model.row_of(event_id)
        if row >= 0:
            self.view.selectRow(row)
        return row >= 0

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
        self._say(f"{row.code} at {local_time(row.host_time)} acknowledged by {self.actor}.")
        self.note.clear()
        self.refresh()
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
