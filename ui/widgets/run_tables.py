"""Tables of a run: its steps with their status, and a step's measurements against their limits.

Both pages that show a run (the run in progress and a stored run from the history) use these, so a
step looks the same while it runs and afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtWidgets import QAbstractItemView, QTableView, QWidget

from ui.theme import outcome_fill, outcome_text
from ui.widgets.columns import fit_columns
from ui.widgets.table_model import ColumnsTableModel


@dataclass
class StepRow:
    """One step as the table shows it: WAITING, RUNNING, then its outcome."""

    index: int
    name: str
    kind: str
    teardown: bool = False
    status: str = "WAITING"
    started: datetime | None = None
    ended: datetime | None = None
    message: str = ""
    answer: str = ""
    measurements: list[Any] = field(default_factory=list)  # MeasurementResult or record rows


def format_value(value: Any) -> str:
    """A measured value as a person reads it (True/False as yes/no, floats to 3 places)."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".") if abs(value) < 1e9 else f"{value:.6g}"
    return str(value)


def _duration(start: datetime | None, end: datetime | None) -> str:
    if start is None or end is None:
        return ""
    seconds = max(0.0, (end - start).total_seconds())
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


class StepsModel(ColumnsTableModel):
    columns = ("#", "Step", "Kind", "Status", "Time", "Note")

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[StepRow] = []

    def row_total(self) -> int:
        return len(self.rows)

    def set_rows(self, rows: list[StepRow]) -> None:
        self.beginResetModel()
        self.rows = rows
        self.endResetModel()

    def row_of(self, index: int) -> int | None:
        for i, row in enumerate(self.rows):
            if row.index == index:
                return i
        return None

    def changed(self, index: int) -> None:
        i = self.row_of(index)
        if i is not None:
            self.dataChanged.emit(self.index(i, 0), self.index(i, len(self.columns) - 1))

    def data(self, index: QModelIndex | QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid():
            return None
        row, col = self.rows[index.row()], index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if col == 0:
                return str(row.index + 1)
            if col == 1:
                return f"{row.name} (teardown)" if row.teardown else row.name
            if col == 2:
                return row.kind
            if col == 3:
                return row.status.capitalize() if row.status in ("WAITING", "RUNNING") else row.status
            if col == 4:
                return _duration(row.started, row.ended)
            if col == 5:
                return row.message or (f"operator: {row.answer}" if row.answer else "")
        if role == Qt.ItemDataRole.ToolTipRole and col in (1, 5):
            return "\n".join(t for t in (row.name, row.message, row.answer) if t)
        if col == 3 and role == Qt.ItemDataRole.BackgroundRole:
            return outcome_fill(row.status)
        if col == 3 and role == Qt.ItemDataRole.ForegroundRole:
            return outcome_text(row.status)
        if col == 3 and role == Qt.ItemDataRole.TextAlignmentRole:
            return Qt.AlignmentFlag.AlignCenter
        return None


def _m(m: Any, name: str) -> Any:
    return m.get(name) if isinstance(m, dict) else getattr(m, name, None)


class MeasurementsModel(ColumnsTableModel):
    columns = ("Measurement", "Value", "Unit", "Limits", "Outcome")

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[Any] = []

    def row_total(self) -> int:
        return len(self.rows)

    def set_rows(self, rows: list[Any]) -> None:
        self.beginResetModel()
        self.rows = list(rows)
        self.endResetModel()

    def append(self, measurement: Any) -> None:
        self.beginInsertRows(QModelIndex(), len(self.rows), len(self.rows))
        self.rows.append(measurement)
        self.endInsertRows()

    def data(self, index: QModelIndex | QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid():
            return None
        m, col = self.rows[index.row()], index.column()
        outcome = str(getattr(_m(m, "outcome"), "value", _m(m, "outcome")))
        if role == Qt.ItemDataRole.DisplayRole:
            return (_m(m, "name"), format_value(_m(m, "value")), _m(m, "unit") or "",
                    _m(m, "limits"), outcome)[col]
        if role == Qt.ItemDataRole.ToolTipRole:
            note = _m(m, "note") or ""
            return f"{_m(m, 'name')}: {format_value(_m(m, 'value'))} {_m(m, 'unit') or ''}\n" \
                   f"limits: {_m(m, 'limits')}\n{outcome}" + (f"\n{note}" if note else "")
        if col == 4 and role == Qt.ItemDataRole.BackgroundRole:
            return outcome_fill(outcome)
        if col == 4 and role == Qt.ItemDataRole.ForegroundRole:
            return outcome_text(outcome)
        if col == 4 and role == Qt.ItemDataRole.TextAlignmentRole:
            return Qt.AlignmentFlag.AlignCenter
        return None


def make_table(model: ColumnsTableModel, stretch: int, parent: QWidget | None = None) -> QTableView:
    """A read-only, row-selecting table whose `stretch` column takes the spare width."""
    view = QTableView(parent)
    view.setModel(model)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.verticalHeader().setVisible(False)
    view.setAlternatingRowColors(True)
    view.setWordWrap(False)
    fit_columns(view, stretch)
    return view
