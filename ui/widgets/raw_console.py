"""A raw byte console: what went to and came from one device, as text or hex.

The console is fed by its page's display timer with the chunks logged since the last tick
(``RawLog.since(seq)``); it never receives a signal per chunk. It keeps a bounded number of
chunks so switching between text and hex can redraw what is on screen.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from datetime import tzinfo
from zoneinfo import ZoneInfo

from PySide6.QtCore import Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QKeySequence,
    QShortcut,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
    QTextOption,
)
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.services.device_manager import RawChunk

#: Lines kept on screen (and chunks kept for redrawing); older ones scroll away.
MAX_LINES = 2000
#: Colours telling received bytes from sent ones.
RX_COLOUR, TX_COLOUR = "#1b1b1b", "#1f5fbf"


#: Bytes per line in hex mode.
HEX_BYTES_PER_LINE = 32


def as_text(data: bytes) -> str:
    """Printable ASCII as is, a final CR LF dropped, any other byte as ``\\xNN``."""
    body = data[:-2] if data.endswith(b"\r\n") else data.rstrip(b"\n")
    return "".join(chr(b) if 0x20 <= b < 0x7F else f"\\x{b:02X}" for b in body)


def text_lines(data: bytes) -> list[str]:
    """One entry per line the chunk holds (a chunk often carries several log lines)."""
    parts = data.split(b"\n")
    if len(parts) > 1 and parts[-1] == b"":
        parts.pop()
    return [as_text(part[:-1] if part.endswith(b"\r") else part) for part in parts]


def as_hex(data: bytes) -> str:
    return data.hex(" ").upper()


def hex_lines(data: bytes) -> list[str]:
    return [as_hex(data[i:i + HEX_BYTES_PER_LINE])
            for i in range(0, max(len(data), 1), HEX_BYTES_PER_LINE)]


class RawConsole(QWidget):
    """Read-only console with text/hex toggle, pause, search and rx/tx colours."""

    def __init__(self, tz: tzinfo | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tz = tz or ZoneInfo("Europe/London")
        self._chunks: deque[RawChunk] = deque(maxlen=MAX_LINES)
        self.last_seq = 0

        self.hex_box = QCheckBox("&Hex")
        self.hex_box.setToolTip("Show bytes as hex instead of text")
        self.pause_box = QCheckBox("&Pause")
        self.pause_box.setToolTip("Stop scrolling; bytes keep being logged and appear on resume")
        self.search_edit = QLineEdit()
        self.search_edit.setPlaceholderText("Search…")
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.setMaximumWidth(220)
        self.prev_button = QPushButton("◀")
        self.prev_button.setToolTip("Previous match (Shift+F3)")
        self.prev_button.setAccessibleName("Previous match")
        self.next_button = QPushButton("▶")
        self.next_button.setToolTip("Next match (F3, or Enter in the search box)")
        self.next_button.setAccessibleName("Next match")
        for button in (self.prev_button, self.next_button):
            button.setFixedWidth(32)
        self.search_status = QLabel()
        self.search_status.setObjectName("searchStatus")
        self.clear_button = QPushButton("C&lear")
        legend = QLabel(f"<span style='color:{RX_COLOUR}'>◀ rx</span>&nbsp;&nbsp;"
                        f"<span style='color:{TX_COLOUR}'><b>▶ tx</b></span>")

        self.view = QPlainTextEdit()
        self.view.setObjectName("rawConsole")
        self.view.setReadOnly(True)
        # Long log lines wrap: nothing is hidden past the right edge.
        self.view.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.view.setWordWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        self.view.setMaximumBlockCount(MAX_LINES)
        self.view.setFont(QFont("monospace", 9))
        self.view.setPlaceholderText("Select a connected device to see the bytes on its link.")

        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        for w in (self.hex_box, self.pause_box, legend):
            bar.addWidget(w)
        bar.addStretch(1)
        for w in (self.search_edit, self.prev_button, self.next_button, self.search_status,
                  self.clear_button):
            bar.addWidget(w)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.view, 1)

        self.hex_box.toggled.connect(lambda _on: self.redraw())
        self.pause_box.toggled.connect(self._pause_toggled)
        self.clear_button.clicked.connect(self.clear)
        self.search_edit.returnPressed.connect(self.find_next)
        self.next_button.clicked.connect(self.find_next)
        self.prev_button.clicked.connect(self.find_previous)
        QShortcut(QKeySequence(Qt.Key.Key_F3), self, self.find_next)
        QShortcut(QKeySequence("Shift+F3"), self, self.find_previous)

    # --- feeding -------------------------------------------------------------------------------
    @property
    def paused(self) -> bool:
        return self.pause_box.isChecked()

    def reset(self) -> None:
        """Forget everything (another device was selected)."""
        self._chunks.clear()
        self.last_seq = 0
        self.view.clear()
        self.search_status.clear()

    def clear(self) -> None:
        """Empty the screen; chunks already logged are not shown again."""
        self._chunks.clear()
        self.view.clear()

    def append_chunks(self, chunks: Iterable[RawChunk]) -> None:
        """Show new chunks (the caller pulls them from ``RawLog.since(last_seq)``)."""
        new = [c for c in chunks if c.seq > self.last_seq]
        if not new:
            return
        self.last_seq = new[-1].seq
        self._chunks.extend(new)
        if not self.paused:
            self._write(new[-MAX_LINES:])

    def _pause_toggled(self, paused: bool) -> None:
        if not paused:
            self.redraw()

    def redraw(self) -> None:
        self.view.clear()
        self._write(list(self._chunks))

    def lines_for(self, chunk: RawChunk) -> list[str]:
        """``10:00:01.937 ◀ rx  text`` for each line of the chunk (hex: 32 bytes a line)."""
        when = chunk.at.astimezone(self.tz).strftime("%H:%M:%S.%f")[:-3]
        arrow = "◀ rx" if chunk.direction == "rx" else "▶ tx"
        bodies = hex_lines(chunk.data) if self.hex_box.isChecked() else text_lines(chunk.data)
        return [f"{when} {arrow}  {body}" for body in bodies]

    def _write(self, chunks: list[RawChunk]) -> None:
        if not chunks:
            return
        bar = self.view.verticalScrollBar()
        at_bottom = bar.value() >= bar.maximum() - 2
        cursor = QTextCursor(self.view.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        rx, tx = QTextCharFormat(), QTextCharFormat()
        rx.setForeground(QColor(RX_COLOUR))
        tx.setForeground(QColor(TX_COLOUR))
        tx.setFontWeight(QFont.Weight.Bold)
        cursor.beginEditBlock()
        for chunk in chunks:
            for line in self.lines_for(chunk):
                if not self.view.document().isEmpty():
                    cursor.insertBlock()
                cursor.insertText(line, tx if chunk.direction == "tx" else rx)
        cursor.endEditBlock()
        if at_bottom:
            bar.setValue(bar.maximum())

    def text(self) -> str:
        return self.view.toPlainText()

    # --- search --------------------------------------------------------------------------------
    def find_next(self) -> bool:
        return self._find(backward=False)

    def find_previous(self) -> bool:
        return self._find(backward=True)

    def _find(self, backward: bool) -> bool:
        needle = self.search_edit.text()
        if not needle:
            self.search_status.clear()
            return False
        flags = QTextDocument.FindFlag.FindBackward if backward else QTextDocument.FindFlag(0)
        if self.view.find(needle, flags):
            self.search_status.clear()
            return True
        # Wrap around once from the other end.
        cursor = self.view.textCursor()
        cursor.movePosition(QTextCursor.MoveOperation.End if backward
                            else QTextCursor.MoveOperation.Start)
        self.view.setTextCursor(cursor)
        found = self.view.find(needle, flags)
        self.search_status.setText("" if found else "not found")
        return found
