"""Turning exceptions into one clear sentence in one dialog at a time."""

from __future__ import annotations

import contextlib
import logging
import traceback
from collections.abc import Iterator

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from app.domain.errors import NotFoundError, RuleRefusal, ValidationError
from app.storage.db import DatabaseError

log = logging.getLogger(__name__)

#: How many further messages one dialog lists before it just counts them.
_MAX_LISTED = 5


def sentence_for(exc: BaseException) -> str:
    """The sentence a person sees for `exc`."""
    if isinstance(exc, (ValidationError, NotFoundError)):
        return exc.message
    if isinstance(exc, (RuleRefusal, DatabaseError)):
        return str(exc)
    return f"Something went wrong that MeterLab did not expect ({type(exc).__name__}: {exc})."


class ErrorReporter(QObject):
    """Shows errors in a single non-blocking dialog; repeats while it is open are folded into it.

    A fault that recurs on every timer tick therefore produces one dialog, not a flood.
    """

    sig_error_reported = Signal(str)

    def __init__(self, parent_widget: QWidget | None = None) -> None:
        super().__init__(parent_widget)
        self._parent_widget = parent_widget
        self._box: QMessageBox | None = None
        self._extra: list[str] = []
        self._suppressed = 0
        self.last_message = ""

    @property
    def dialog(self) -> QMessageBox | None:
        return self._box

    def report(self, message: str, title: str = "MeterLab") -> None:
        """Show `message`; when a dialog is already open, add it there instead."""
        self.last_message = message
        self.sig_error_reported.emit(message)
        if self._box is not None:
            first = self._box.text()
            if message != first and message not in self._extra:
                if len(self._extra) < _MAX_LISTED:
                    self._extra.append(message)
                else:
                    self._suppressed += 1
                self._refresh_informative()
            return
        box = QMessageBox(QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok,
                          self._parent_widget)
        box.setObjectName("errorDialog")
        box.finished.connect(self._closed)
        self._box = box
        box.open()

    def report_exception(self, exc: BaseException, title: str = "MeterLab") -> None:
        if not isinstance(exc, (ValidationError, NotFoundError, RuleRefusal, DatabaseError)):
            log.error("Unexpected error:\n%s", "".join(traceback.format_exception(exc)))
        self.report(sentence_for(exc), title)

    @contextlib.contextmanager
    def guard(self, title: str = "MeterLab") -> Iterator[None]:
        """Run a block; any exception becomes a dialog instead of reaching Qt's event loop."""
        try:
            yield
        except Exception as exc:
            self.report_exception(exc, title)

    def _refresh_informative(self) -> None:
        if self._box is None:
            return
        lines = [f"Also: {m}" for m in self._extra]
        if self._suppressed:
            lines.append(f"… and {self._suppressed} more.")
        self._box.setInformativeText("\n".join(lines))

    def _closed(self) -> None:
        if self._box is not None:
            self._box.deleteLater()
        self._box = None
        self._extra = []
        self._suppressed = 0
