"""The Live page's status line (ingest counters, drops, database errors) and tray notifications."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QStyle, QSystemTrayIcon, QWidget

from app.services.ingest import IngestStats


def status_html(source_name: str, stats: IngestStats | None, outages: int,
                extra: str = "") -> str:
    """The status line: what is shown, events queued/stored, drops, events the database
    refused and write errors loud, and the outages the view shows
    (:func:`app.domain.outages.outages_in_view`)."""
    parts = [f"<b>{source_name}</b>"]
    if stats is not None:
        parts.append(f"events queued {stats.queued:,} · stored {stats.stored:,}")
        if stats.dropped:
            parts.append(f"<span style='color:#ffffff; background:#c62828; font-weight:bold'>"
                         f"&nbsp;DROPPED {stats.dropped:,} events (queue full; the capture files "
                         f"keep every byte)&nbsp;</span>")
        else:
            parts.append("dropped 0")
        unstored = getattr(stats, "unstored", 0)
        if unstored:
            parts.append(f"<span style='color:#ffffff; background:#c62828; font-weight:bold'>"
                         f"&nbsp;NOT STORED {unstored:,} events (the database refused them; "
                         f"replay the capture sessions to restore them)&nbsp;</span>")
        if stats.write_error:
            parts.append(f"<span style='color:#c62828; font-weight:bold'>Database: "
                         f"{stats.write_error}</span>")
    parts.append(f"{outages} outage{'s' if outages != 1 else ''} in view")
    if extra:
        parts.append(extra)
    return " · ".join(parts)


class StatusLine(QLabel):
    """One line of rich text, updated by the page's timer (a few times a second)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setWordWrap(True)

    def show_status(self, html: str) -> None:
        if html != self.text():
            self.setText(html)


class TrayNotifier:
    """Desktop notifications through the system tray; does nothing where there is no tray."""

    def __init__(self, parent: QWidget) -> None:
        self.parent = parent
        self._tray: QSystemTrayIcon | None = None
        self.shown: list[str] = []  # messages shown (most recent last), for the record

    @property
    def available(self) -> bool:
        return QSystemTrayIcon.isSystemTrayAvailable()

    def notify(self, title: str, message: str) -> bool:
        """Show a critical notification; False (silently) when there is no tray."""
        if not self.available:
            return False
        if self._tray is None:
            icon = self.parent.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
            self._tray = QSystemTrayIcon(icon, self.parent)
            self._tray.setToolTip("MeterLab")
            self._tray.show()
        self._tray.showMessage(title, message, QSystemTrayIcon.MessageIcon.Critical, 8000)
        self.shown.append(message)
        return True
