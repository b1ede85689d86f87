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
    ("dropped_bytes", "Skipped by decoder"),
    ("events", "Events"),
    ("reconnects", "Reconnects"),
    ("rx_dropped_bytes", "Receive overflow"),
    ("capture_bytes", "Captured"),
    ("not_captured_bytes", "Not captured"),
    ("last_seen", "Last seen"),
)
#: Counters that change what is shown without having a row of their own.
HIDDEN_COUNTERS = ("capture_lost_bytes",)
#: Rows shown in red while not zero: bytes the device sent that the capture file lacks.
LOSS_COUNTERS = ("rx_dropped_bytes", "not_captured_bytes")
LOSS_STYLE = "color: #c62828; font-weight: bold;"
BYTE_COUNTERS = ("rx_dropped_bytes", "capture_bytes", "not_captured_bytes")


def not_captured_tip(health: SessionHealth) -> str:
    """Why bytes are missing from the capture file ("" when none are)."""
    if health.capture_complete:
        return ""
    return (f"{health.rx_dropped_bytes:,} bytes dropped by the port's receive buffer before the "
            f"capture file; {health.capture_lost_bytes:,} bytes read but not written to it.")


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
        names = [n for n, _ in COUNTERS] + list(HIDDEN_COUNTERS)
        snapshot = (health.state, *(getattr(health, n) for n in names)) if health else ()
        if snapshot == self._shown:
            return  # nothing changed since the last tick: leave the labels alone
        self._shown = snapshot
        for name, _text in COUNTERS:
            self.values[name].setText(self._format(name, health))
        for name in LOSS_COUNTERS:
            lost = health is not None and getattr(health, name) > 0
            self.values[name].setStyleSheet(LOSS_STYLE if lost else "")
        self.values["not_captured_bytes"].setToolTip(not_captured_tip(health) if health else "")

    def _format(self, name: str, health: SessionHealth | None) -> str:
        if health is None:
            return "—"
        value = getattr(health, name)
        if name == "last_seen":
            return value.astimezone(self.tz).strftime("%H:%M:%S") if value else "never"
        if name in BYTE_COUNTERS:
            return f"{value:,} B"
        return f"{value:,}"
