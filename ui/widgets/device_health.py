"""A device session's health counters, refreshed by the Devices page's display timer."""

from __future__ import annotations

from datetime import tzinfo
from zoneinfo import ZoneInfo

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFormLayout, QGroupBox, QLabel, QWidget

from devices.sessions import SessionHealth

#: (attribute of SessionHealth, label)
COUNTERS: tuple[tuple[str, str], ...] = (
    ("bytes_in", "Bytes in"),
    ("bytes_out", "Bytes out"),
    ("frames", "Frames"),
    ("errors", "Errors"),
    ("resyncs", "Resyncs"),
    ("dropped_bytes", "Dropped bytes"),
    ("events", "Events"),
    ("reconnects", "Reconnects"),
    ("last_seen", "Last seen"),
)


class HealthPanel(QGroupBox):
    """Counters of the selected device's session (or dashes when it has none)."""

    def __init__(self, tz: tzinfo | None = None, parent: QWidget | None = None) -> None:
        super().__init__("Health", parent)
        self.tz = tz or ZoneInfo("Europe/London")
        self.values: dict[str, QLabel] = {}
        form = QFormLayout(self)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        form.setHorizontalSpacing(10)
        form.setVerticalSpacing(3)
        for name, text in COUNTERS:
            value = QLabel("—")
            value.setObjectName(f"health_{name}")
            value.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            value.setMinimumWidth(90)
            self.values[name] = value
            form.addRow(text, value)
        self._shown: tuple[object, ...] = ()

    def show_health(self, health: SessionHealth | None) -> None:
        snapshot = tuple(getattr(health, n) for n, _ in COUNTERS) if health else ()
        if snapshot == self._shown:
            return  # nothing changed since the last tick: leave the labels alone
        self._shown = snapshot
        for name, _text in COUNTERS:
            self.values[name].setText(self._format(name, health))

    def _format(self, name: str, health: SessionHealth | None) -> str:
        if health is None:
            return "—"
        value = getattr(health, name)
        if name == "last_seen":
            return value.astimezone(self.tz).strftime("%H:%M:%S") if value else "never"
        return f"{value:,}"
