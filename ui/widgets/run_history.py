"""The run history table: one stored run a row, newest first, its verdict in colour."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt

from app.domain.run_records import RunRecord, RunSummary
from ui.theme import outcome_fill, outcome_text
from ui.widgets.table_model import ColumnsTableModel


class RunHistoryModel(ColumnsTableModel):
    columns = ("Run", "Started", "Plan", "Bench", "Organisation", "Devices", "Verdict")

    def __init__(self, tz: ZoneInfo) -> None:
        super().__init__()
        self.tz = tz
        self.rows: list[RunSummary] = []

    def row_total(self) -> int:
        return len(self.rows)

    def set_rows(self, rows: list[RunSummary]) -> None:
        self.beginResetModel()
        self.rows = list(rows)
        self.endResetModel()

    def _when(self, moment: Any) -> str:
        return moment.astimezone(self.tz).strftime("%a %d %b %Y %H:%M") if moment else ""

    def describe(self, record: RunRecord) -> str:
        """The detail panel's heading for a stored run."""
        ended = f" to {record.ended.astimezone(self.tz):%H:%M:%S}" if record.ended else \
            " (still running)"
        parts = [f"Run {record.id}: {record.plan_name} {record.plan_version} on {record.bench}",
                 f"{self._when(record.started)}{ended}"]
        if record.org_name:
            parts.append(record.org_name)
        if record.booking_id:
            parts.append(f"booking #{record.booking_id}")
        if record.operator:
            parts.append(f"operator {record.operator}")
        if record.emulated:
            parts.append("emulated bench" + (f", faults: {', '.join(record.faults)}"
                                             if record.faults else ""))
        text = " · ".join(parts)
        return f"{text}\n{record.message}" if record.message else text

    def data(self, index: QModelIndex | QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid():
            return None
        r, col = self.rows[index.row()], index.column()
        verdict = r.verdict.value if r.verdict is not None else "RUNNING"
        if role == Qt.ItemDataRole.DisplayRole:
            return (str(r.id), self._when(r.started),
                    f"{r.plan_name} {r.plan_version}", r.bench + (" (emulated)" if r.emulated
                                                                  else ""),
                    r.org_name or "—", ", ".join(r.devices), verdict)[col]
        if role == Qt.ItemDataRole.ToolTipRole:
            return r.message or None
        if col == 6 and role == Qt.ItemDataRole.BackgroundRole:
            return outcome_fill(verdict)
        if col == 6 and role == Qt.ItemDataRole.ForegroundRole:
            return outcome_text(verdict)
        if col == 6 and role == Qt.ItemDataRole.TextAlignmentRole:
            return Qt.AlignmentFlag.AlignCenter
        return None
