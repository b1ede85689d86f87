"""Qt's own messages: the ones that say nothing to a MeterLab user are dropped, the rest go on.

Qt's offscreen platform (used by `--screenshot` and the tests) warns "This plugin does not support
propagateSizeHints()" every time a window is shown. It is logged in Qt's default category, so a
logging rule cannot single it out: a message handler drops that exact text and hands every other
message to the handler that was there before (Qt's own, which writes to stderr, or pytest-qt's).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from PySide6.QtCore import QMessageLogContext, QtMsgType, qFormatLogMessage, qInstallMessageHandler

#: Messages dropped as they are: they describe the platform plugin, not MeterLab.
SILENCED = frozenset({
    "This plugin does not support propagateSizeHints()",
    "This plugin does not support raise()",
    "This plugin does not support grabbing the keyboard",
})

Handler = Callable[[QtMsgType, QMessageLogContext, str], Any]


def _default(kind: QtMsgType, context: QMessageLogContext, message: str) -> None:
    """What Qt's default handler does: the formatted message on stderr."""
    try:
        text = qFormatLogMessage(kind, context, message)
    except Exception:  # a context PySide cannot format: the message alone
        text = message
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def make_filter(previous: Handler | None) -> Handler:
    """A handler that drops the :data:`SILENCED` messages and passes the rest to `previous`."""
    forward = previous or _default

    def handler(kind: QtMsgType, context: QMessageLogContext, message: str) -> None:
        if message.strip() in SILENCED:
            return
        forward(kind, context, message)

    return handler


@contextmanager
def silenced_platform_noise() -> Iterator[None]:
    """Drop the :data:`SILENCED` messages while the block runs; the previous handler after."""
    previous = qInstallMessageHandler(None)
    qInstallMessageHandler(make_filter(previous))
    try:
        yield
    finally:
        qInstallMessageHandler(previous)
