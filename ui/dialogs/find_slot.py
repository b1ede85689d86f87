"""Find slot: the earliest time a number of spaces is free for a given length of opening time."""

from __future__ import annotations

from datetime import datetime

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.domain.bookings import Phase
from app.domain.lab import Lab
from app.main import AppContext
from ui.errors import ErrorReporter
from ui.theme import PHASE_LABELS


class FindSlotDialog(QDialog):
    """Search, then offer to book the slot found."""

    def __init__(self, ctx: AppContext, lab: Lab, errors: ErrorReporter,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx, self.lab, self.errors = ctx, lab, errors
        self.slot: tuple[datetime, datetime] | None = None
        self.setWindowTitle(f"Find slot — {lab.name}")
        self.spaces = QSpinBox()
        self.spaces.setRange(1, lab.spaces)
        self.spaces.setSuffix(f"  of {lab.spaces}")
        self.hours = QDoubleSpinBox()
        self.hours.setRange(0.25, 400.0)
        self.hours.setSingleStep(0.5)
        self.hours.setValue(8.0)
        self.hours.setSuffix(" h of opening time")
        self.phase = QComboBox()
        for phase in Phase:
            self.phase.addItem(PHASE_LABELS[phase.value], phase.value)
        self.phase.setCurrentIndex(list(Phase).index(Phase.DEVICE))
        self.result = QLabel("Choose what is needed and press Search.")
        self.result.setWordWrap(True)
        form = QFormLayout()
        form.addRow("&Spaces:", self.spaces)
        form.addRow("&Length:", self.hours)
        form.addRow("&Phase:", self.phase)
        buttons = QDialogButtonBox()
        self.search_button = buttons.addButton("&Search", QDialogButtonBox.ButtonRole.ActionRole)
        self.search_button.setDefault(True)
        self.book_button = buttons.addButton("&Book this slot…", QDialogButtonBox.ButtonRole.AcceptRole)
        self.book_button.setEnabled(False)
        buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.search_button.clicked.connect(self.search)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.result)
        layout.addWidget(buttons)
        self.resize(440, 220)

    def search(self) -> None:
        self.slot = None
        self.book_button.setEnabled(False)
        with self.errors.guard("Find slot"):
            slot = self.ctx.booking_service.find_slot(
                str(self.lab.id), self.spaces.value(), self.hours.value(), Phase(self.phase.currentData()))
            if slot is None:
                self.result.setText("Nothing fits within the next year.")
                return
            start, end = (self.lab.local(s) for s in slot)
            self.slot = (start.replace(tzinfo=None), end.replace(tzinfo=None))
            self.result.setText(f"Earliest: <b>{start:%a %d %b %Y %H:%M}</b> to "
                                f"<b>{end:%a %d %b %Y %H:%M}</b> ({self.lab.timezone}).")
            self.book_button.setEnabled(True)
            self.book_button.setDefault(True)
