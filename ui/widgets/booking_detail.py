"""The selected booking: every field, any override, the audit trail and the actions its status allows."""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from app.domain.bookings import Booking
from app.domain.lab import Lab
from app.services.calendar_view import actions_for
from ui.theme import ACTION_LABELS, PHASE_LABELS, STATUS_STYLE, spaces_text, status_label


def audit_line(entry: dict[str, Any], lab: Lab | None) -> str:
    """One audit entry as a line: when, who, what (and why)."""
    at = datetime.fromisoformat(entry["at"])
    when = f"{lab.local(at) if lab else at:%d %b %Y %H:%M}"
    details = entry.get("details") or {}
    action = str(entry["action"]).replace("_", " ")
    what = action
    if "from" in details and "to" in details:
        what = f"{action}: {details['from']} → {details['to']}"
    elif details.get("override"):
        what = f"{action} (override: {details['override']})"
    why = details.get("reason")
    return f"{when}  {entry['actor']}  {what}" + (f" — {why}" if why else "")


class BookingDetailPanel(QWidget):
    """Read-only view of one booking with its life-cycle buttons."""

    sig_action_requested = Signal(int, str)  # booking id, action name

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumWidth(300)
        self._booking: Booking | None = None
        self.title = QLabel("<h3>No booking selected</h3>")
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.hint = QLabel("Click a booking in the calendar or the list to see it here.")
        self.hint.setWordWrap(True)
        self.today = QLabel()
        self.today.setObjectName("todaySummary")
        self.today.setWordWrap(True)
        self.today.setTextFormat(Qt.TextFormat.RichText)
        self.today.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.status_chip = QLabel()
        self.fields: dict[str, QLabel] = {}
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        for key in ("Lab", "Organisation", "Start", "End", "Spaces", "Phase", "E2E roles",
                    "Attendees", "Benches", "Devices", "Notes", "Created"):
            label = QLabel()
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.fields[key] = label
            form.addRow(f"{key}:", label)
        self.fields_box = QWidget()
        self.fields_box.setLayout(form)

        self.override_box = QGroupBox("Booked with an override")
        self.override_text = QLabel()
        self.override_text.setWordWrap(True)
        self.override_reasons = QLabel()
        self.override_reasons.setWordWrap(True)
        self.override_reasons.setTextFormat(Qt.TextFormat.RichText)
        ob = QVBoxLayout(self.override_box)
        ob.addWidget(self.override_text)
        ob.addWidget(self.override_reasons)

        self.audit = QListWidget()
        self.audit.setObjectName("auditTrail")
        self.audit.setWordWrap(True)
        self.audit.setMinimumHeight(110)
        audit_box = QGroupBox("Audit trail")
        QVBoxLayout(audit_box).addWidget(self.audit)
        self.audit_box = audit_box

        self.buttons: dict[str, QPushButton] = {}
        actions = QHBoxLayout()
        actions.setSpacing(4)
        grid = QVBoxLayout()
        row: QHBoxLayout | None = None
        for i, (action, label) in enumerate(ACTION_LABELS.items()):
            if i % 3 == 0:
                row = QHBoxLayout()
                grid.addLayout(row)
            button = QPushButton(label + "…")
            button.setObjectName(f"action-{action}")
            button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            button.clicked.connect(lambda _=False, a=action: self._request(a))
            self.buttons[action] = button
            assert row is not None
            row.addWidget(button)
        actions.addLayout(grid)
        self.no_actions = QLabel("No further actions: this booking is closed.")
        self.no_actions.setStyleSheet("color: palette(dark);")

        body = QWidget()
        layout = QVBoxLayout(body)
        layout.addWidget(self.title)
        layout.addWidget(self.status_chip)
        layout.addWidget(self.hint)
        layout.addWidget(self.today)
        layout.addWidget(self.fields_box)
        layout.addWidget(self.override_box)
        layout.addLayout(actions)
        layout.addWidget(self.no_actions)
        layout.addWidget(audit_box, 10)
        layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(body)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)
        self.show_booking(None, None, [])

    def booking(self) -> Booking | None:
        return self._booking

    def hide_actions(self) -> None:
        """Read-only: no life-cycle actions, no override, no audit trail (a participant)."""
        for button in self.buttons.values():
            button.setVisible(False)
        self.override_box.setVisible(False)
        self.no_actions.setVisible(False)
        self.audit_box.setVisible(False)

    def show_booking(self, booking: Booking | None, lab: Lab | None,
                     audit: list[dict[str, Any]]) -> None:
        self._booking = booking
        has = booking is not None
        for w in (self.fields_box, self.status_chip, self.audit_box):
            w.setVisible(has)
        self.hint.setVisible(not has)
        self.today.setVisible(not has)
        if booking is None:
            self.title.setText("<h3>No booking selected</h3>")
            self.override_box.setVisible(False)
            for button in self.buttons.values():
                button.setVisible(False)
            self.no_actions.setVisible(False)
            return
        self.title.setText(f"<h3>Booking #{booking.id}</h3>")
        fill, text, label = STATUS_STYLE[booking.status]
        self.status_chip.setText(f"  {label}  ")
        self.status_chip.setStyleSheet(
            f"background: {fill}; color: {text}; border-radius: 4px; padding: 3px; font-weight: bold;")
        self.status_chip.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Fixed)
        start = lab.local(booking.start) if lab else booking.start
        end = lab.local(booking.end) if lab else booking.end
        values = {
            "Lab": booking.lab_name,
            "Organisation": booking.org_name,
            "Start": f"{start:%a %d %b %Y %H:%M %Z}",
            "End": f"{end:%a %d %b %Y %H:%M %Z}",
            "Spaces": f"{booking.spaces}" + (f" of {lab.spaces}" if lab else ""),
            "Phase": PHASE_LABELS.get(booking.phase.value, booking.phase.value),
            "E2E roles": ", ".join(booking.roles) or "—",
            "Attendees": "\n".join(booking.attendees) or "—",
            "Benches": ", ".join(booking.benches) or "—",
            "Devices": booking.devices or "—",
            "Notes": booking.notes or "—",
            "Created": f"{lab.local(booking.created_at) if lab else booking.created_at:%d %b %Y %H:%M}"
            if booking.created_at else "—",
        }
        for key, value in values.items():
            self.fields[key].setText(value)
        self.override_box.setVisible(bool(booking.override))
        if booking.override:
            self.override_text.setText(f"Justification: {booking.override}")
            items = "".join(f"<li><b>{escape(r.code)}</b>: {escape(r.message)}</li>"
                            for r in booking.override_reasons)
            self.override_reasons.setText(f"Rules it broke when booked:<ul>{items}</ul>"
                                          if items else "")
        allowed = actions_for(booking.status)
        for action, button in self.buttons.items():
            button.setVisible(action in allowed)
            button.setEnabled(action in allowed)
        self.no_actions.setVisible(not allowed)
        self.audit.clear()
        for entry in audit:
            self.audit.addItem(audit_line(entry, lab))

    def set_today(self, lab: Lab | None, day_label: str, bookings: list[Booking]) -> None:
        """What is on today, shown while no booking is selected."""
        if lab is None:
            self.today.setText("")
            return
        rows = []
        for b in sorted(bookings, key=lambda b: b.start):
            fill, text, label = STATUS_STYLE[b.status]
            start, end = lab.local(b.start), lab.local(b.end)
            rows.append(
                f"<tr><td>{start:%H:%M}–{end:%H:%M}&nbsp;</td><td>{escape(b.org_name)}<br>"
                f"<span style='color:#5b616b'>{spaces_text(b.spaces)} · "
                f"{PHASE_LABELS.get(b.phase.value)}</span></td>"
                f"<td>&nbsp;<span style='background:{fill}; color:{text}'>&nbsp;{label}&nbsp;</span>"
                "</td></tr>"
            )
        body = (f"<table cellspacing='4'>{''.join(rows)}</table>" if rows
                else "<p>No bookings today.</p>")
        self.today.setText(f"<h4>Today at {escape(lab.name)} · {day_label}</h4>{body}")

    def _request(self, action: str) -> None:
        if self._booking is not None:
            self.sig_action_requested.emit(self._booking.id, action)

    def status_text(self) -> str:
        return status_label(self._booking.status) if self._booking else ""
