"""What a section shows before it is available."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QLabel, QVBoxLayout, QWidget


class PlaceholderPage(QWidget):
    """A calm panel saying the section is not available yet and what it will hold."""

    def __init__(self, title: str, summary: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(f"placeholder-{title.lower()}")
        card = QFrame()
        card.setObjectName("placeholderCard")
        card.setStyleSheet(
            "#placeholderCard { background: palette(base); border: 1px solid palette(mid);"
            " border-radius: 8px; }"
        )
        card.setMaximumWidth(620)
        heading = QLabel(f"<h2>{title}</h2>")
        self.message = QLabel(f"The {title} section is not available yet.")
        self.message.setStyleSheet("font-size: 12pt;")
        detail = QLabel(f"It will hold: {summary}")
        detail.setWordWrap(True)
        detail.setStyleSheet("color: palette(dark);")
        inner = QVBoxLayout(card)
        inner.setContentsMargins(28, 24, 28, 28)
        for w in (heading, self.message, detail):
            inner.addWidget(w)
        outer = QVBoxLayout(self)
        outer.addStretch(1)
        outer.addWidget(card, 0, Qt.AlignmentFlag.AlignHCenter)
        outer.addStretch(2)
