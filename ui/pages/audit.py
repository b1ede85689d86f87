"""The Audit page (admins): the audit trail, newest first, filtered by kind, actor and time."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from PySide6.QtCore import QDate
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.storage.audit import AuditEntry, audit_actors, audit_entities, list_audit
from app.storage.timefmt import to_db
from ui.pages.registry import PageEnv
from ui.widgets.columns import fit_columns

#: The most rows the page shows at once (the newest).
PAGE_LIMIT = 2000
ANY = "(any)"
LONDON = ZoneInfo("Europe/London")
COLUMNS = ("Time", "Actor", "Action", "Kind", "Id", "Details")


class AuditPage(QWidget):
    """Filters above a table of audit rows; Refresh reads the trail again."""

    def __init__(self, env: PageEnv, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.env, self.ctx = env, env.ctx
        self.entity_combo = QComboBox()
        self.actor_combo = QComboBox()
        for combo in (self.entity_combo, self.actor_combo):
            combo.setMinimumWidth(140)
            combo.currentIndexChanged.connect(self.reload)
        self.since_check = QCheckBox("Since")
        self.since_edit = QDateEdit()
        self.since_edit.setCalendarPopup(True)
        self.since_edit.setDisplayFormat("ddd d MMM yyyy")
        today = self.ctx.clock.now().astimezone(LONDON).date()
        week_ago = today - timedelta(days=7)
        self.since_edit.setDate(QDate(week_ago.year, week_ago.month, week_ago.day))
        self.since_edit.setEnabled(False)
        self.since_check.toggled.connect(self.since_edit.setEnabled)
        self.since_check.toggled.connect(self.reload)
        self.since_edit.dateChanged.connect(self.reload)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh)
        self.count_label = QLabel()

        bar = QHBoxLayout()
        bar.addWidget(QLabel("Kind"))
        bar.addWidget(self.entity_combo)
        bar.addWidget(QLabel("Actor"))
        bar.addWidget(self.actor_combo)
        bar.addWidget(self.since_check)
        bar.addWidget(self.since_edit)
        bar.addStretch(1)
        bar.addWidget(self.count_label)
        bar.addWidget(self.refresh_button)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        fit_columns(self.table, stretch=COLUMNS.index("Details"))

        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.table, 1)
        self.entries: list[AuditEntry] = []
        self.refresh()

    def refresh(self) -> None:
        """Read the kinds and actors again (keeping the choices) and the rows."""
        for combo, values in ((self.entity_combo, audit_entities(self.ctx.lab_source)),
                              (self.actor_combo, audit_actors(self.ctx.lab_source))):
            chosen = combo.currentText()
            combo.blockSignals(True)
            combo.clear()
            combo.addItems([ANY, *values])
            combo.setCurrentIndex(max(combo.findText(chosen), 0))
            combo.blockSignals(False)
        self.reload()

    def since(self) -> datetime | None:
        """The start of the chosen day in London, or None when the time filter is off."""
        if not self.since_check.isChecked():
            return None
        day = self.since_edit.date().toPython()
        return datetime.combine(day, time(0, 0), tzinfo=LONDON).astimezone(UTC)

    def refresh_from_lab_store(self) -> None:
        """Another workstation changed the lab store: its audit rows are shown too."""
        self.reload()

    def reload(self) -> None:
        entity = self.entity_combo.currentText()
        actor = self.actor_combo.currentText()
        since = self.since()
        self.entries = list_audit(
            self.ctx.lab_source, entity=None if entity in ("", ANY) else entity,
            actor=None if actor in ("", ANY) else actor,
            since=to_db(since) if since else None, limit=PAGE_LIMIT)
        self.table.setRowCount(len(self.entries))
        for row, entry in enumerate(self.entries):
            at = datetime.fromisoformat(entry.at).astimezone(LONDON)
            cells = (f"{at:%a %d %b %Y %H:%M:%S}", entry.actor, entry.action, entry.entity,
                     "" if entry.entity_id is None else str(entry.entity_id),
                     json.dumps(entry.details, default=str))
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if col == len(cells) - 1:
                    item.setToolTip(json.dumps(entry.details, indent=2, default=str))
                self.table.setItem(row, col, item)
        more = " (the newest)" if len(self.entries) == PAGE_LIMIT else ""
        self.count_label.setText(f"{len(self.entries)} rows{more}")
