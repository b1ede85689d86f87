"""Turning pyserial and operating-system errors into :class:`TransportError` reasons.

pyserial reports most failures as ``SerialException`` and keeps the errno only sometimes (on open
it does; on read and write it folds the OSError into the message), so the errno is recovered from
the message when the attribute is missing.
"""

from __future__ import annotations

import errno
import re
import sys
from enum import Enum

from devices.transports.base import TransportError, TransportErrorReason

_ERRNO_PATTERNS = (
    re.compile(r"\[Errno (\d+)\]"),  # str(OSError)
    re.compile(r"\((\d+), '"),  # str(termios.error) and Windows "PermissionError(13, '...')"
)

#: pyserial's words when select() reports data but read() returns nothing: the other end hung up.
_HANGUP_TEXT = "returned no data"


class SerialPhase(str, Enum):
    """What the transport was doing when the error happened."""

    OPEN = "open"
    READ = "read"
    WRITE = "write"
    CONFIGURE = "configure"


def error_number(exc: BaseException) -> int | None:
    """The errno carried by ``exc``, from its attribute, its args or its message."""
    value = getattr(exc, "errno", None)
    if isinstance(value, int):
        return value
    args = getattr(exc, "args", ())
    if args and isinstance(args[0], int) and not isinstance(args[0], bool):
        return args[0]
    text = str(exc)
    for pattern in _ERRNO_PATTERNS:
        match = pattern.search(text)
        if match:
            return int(match.group(1))
    return None


_MISSING = {errno.ENOENT, errno.ENODEV, errno.ENOTDIR}
_DENIED = {errno.EACCES, errno.EPERM}
_BUSY = {errno.EBUSY, errno.EAGAIN, errno.EWOULDBLOCK}
_GONE = {errno.EIO, errno.ENXIO, errno.ENODEV, errno.EBADF, errno.EPIPE}


def map_serial_error(
    exc: BaseException, port: str, phase: SerialPhase, *, windows: bool | None = None
) -> TransportError:
    """Classify an exception from pyserial or the OS into a :class:`TransportError`.

    Args:
        exc: what pyserial, termios or the OS raised.
        port: the port path or name, for the sentence.
        phase: what was being done.
        windows: whether Windows rules apply (default: the running platform). Windows opens
            serial ports exclusively and reports a port held by another program as
            "access denied", so there that means busy.

    Returns:
        The error to raise; its ``__cause__`` is left for the caller to set with ``from``.
    """
    if windows is None:
        windows = sys.platform == "win32"
    if isinstance(exc, TransportError):
        return exc
    number = error_number(exc)
    detail = str(exc)
    if phase is SerialPhase.OPEN:
        if number in _MISSING or number == errno.ENXIO:
            return TransportError(
                TransportErrorReason.MISSING, f"port {port} does not exist (is it plugged in?)"
            )
        if number in _DENIED:
            if windows:
                return TransportError(
                    TransportErrorReason.BUSY,
                    f"port {port} is busy or access was denied (used by another program?)",
                )
            return TransportError(
                TransportErrorReason.PERMISSION_DENIED,
                f"permission denied opening port {port} "
                "(on Linux, add the user to the dialout group)",
            )
        if number in _BUSY or "exclusively lock" in detail:
            return TransportError(
                TransportErrorReason.BUSY, f"port {port} is busy (used by another program)"
            )
        return TransportError(
            TransportErrorReason.IO_ERROR, f"port {port} could not be opened: {detail}"
        )
    if number in _GONE or _HANGUP_TEXT in detail:
        return TransportError(
            TransportErrorReason.DISCONNECTED,
            f"port {port} disconnected (the device or adapter went away)",
        )
    return TransportError(
        TransportErrorReason.IO_ERROR, f"port {port} failed during {phase.value}: {detail}"
    )
