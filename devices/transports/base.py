"""The one async interface every transport implements, its error type and serial line settings.

Transports run on the I/O thread (:mod:`devices.io_loop`). A device session owns one transport,
feeds what :meth:`Transport.read` returns to a codec and turns a :class:`TransportError` into a
device state the user sees ("failed: port /dev/ttyUSB0 is busy (used by another program)").
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Protocol, runtime_checkable

# One definition of what a UART accepts, shared with the registry's connection settings.
from app.domain.devices import MAX_BAUD, VALID_BYTESIZES, VALID_PARITIES, VALID_STOPBITS

#: How long a read waits for bytes by default before returning b"".
DEFAULT_READ_TIMEOUT_S = 0.1

class TransportErrorReason(str, Enum):
    """Why a transport failed, as a device state reason."""

    MISSING = "missing"
    BUSY = "busy"
    PERMISSION_DENIED = "permission_denied"
    DISCONNECTED = "disconnected"
    UNAVAILABLE = "unavailable"
    TIMEOUT = "timeout"
    IO_ERROR = "io_error"


class TransportError(Exception):
    """A hardware fault, with a machine-readable reason and one sentence for the user.

    Args:
        reason: why it failed.
        message: one sentence naming the port or device, e.g.
            "port /dev/ttyUSB0 is busy (used by another program)".
    """

    def __init__(self, reason: TransportErrorReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message

    def __repr__(self) -> str:
        return f"TransportError({self.reason.value!r}, {self.message!r})"


class InvalidSettingError(ValueError):
    """A line setting is out of range.

    Args:
        field: the setting's name (``baud``, ``parity`` ...).
        message: one sentence naming the field and what was expected.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class LineSettings:
    """Baud rate and character framing of a serial line, validated on creation.

    Attributes:
        baud: bits per second (IEC 62056-21 mode C starts at 300).
        bytesize: data bits per character, one of 5, 6, 7, 8.
        parity: one of N, E, O, M, S.
        stopbits: one of 1, 1.5, 2.

    Raises:
        InvalidSettingError: naming the first field that is out of range.
    """

    baud: int = 9600
    bytesize: int = 8
    parity: str = "N"
    stopbits: float = 1

    def __post_init__(self) -> None:
        validate_line(self.baud, self.bytesize, self.parity, self.stopbits)

    def describe(self) -> str:
        """Short form such as ``300 7E1``."""
        stop = int(self.stopbits) if float(self.stopbits).is_integer() else self.stopbits
        return f"{self.baud} {self.bytesize}{self.parity}{stop}"


@dataclass(frozen=True, slots=True)
class SerialSettings:
    """A serial port and its line settings, validated on creation.

    Attributes:
        port: device path or name (``/dev/ttyUSB0``, ``/dev/pts/7``, ``COM3``); any path is
            accepted because pseudo-terminals are not listed by the operating system.
        baud, bytesize, parity, stopbits: as in :class:`LineSettings`.

    Raises:
        InvalidSettingError: naming the first field that is out of range.
    """

    port: str
    baud: int = 9600
    bytesize: int = 8
    parity: str = "N"
    stopbits: float = 1

    def __post_init__(self) -> None:
        if not isinstance(self.port, str) or not self.port.strip():
            raise InvalidSettingError(
                "port", "port must be a device path or name such as /dev/ttyUSB0 or COM3."
            )
        validate_line(self.baud, self.bytesize, self.parity, self.stopbits)

    @property
    def line(self) -> LineSettings:
        """The line settings without the port."""
        return LineSettings(self.baud, self.bytesize, self.parity, self.stopbits)


def validate_line(baud: object, bytesize: object, parity: object, stopbits: object) -> None:
    """Check serial line settings.

    Raises:
        InvalidSettingError: one sentence naming the first bad field and what was expected.
    """
    if isinstance(baud, bool) or not isinstance(baud, int) or not 1 <= baud <= MAX_BAUD:
        raise InvalidSettingError(
            "baud", f"baud must be a whole number from 1 to {MAX_BAUD}, got {baud!r}."
        )
    if isinstance(bytesize, bool) or bytesize not in VALID_BYTESIZES:
        raise InvalidSettingError(
            "bytesize",
            f"bytesize must be one of {', '.join(map(str, VALID_BYTESIZES))}, got {bytesize!r}.",
        )
    if not isinstance(parity, str) or parity not in VALID_PARITIES:
        raise InvalidSettingError(
            "parity", f"parity must be one of {', '.join(VALID_PARITIES)}, got {parity!r}."
        )
    if isinstance(stopbits, bool) or stopbits not in VALID_STOPBITS:
        raise InvalidSettingError(
            "stopbits", f"stopbits must be one of 1, 1.5, 2, got {stopbits!r}."
        )


@runtime_checkable
class Transport(Protocol):
    """A byte pipe to one device. All methods run on the I/O thread.

    ``read`` never blocks the event loop; every method that waits on hardware has a timeout.
    Errors are raised as :class:`TransportError` only.
    """

    @property
    def description(self) -> str:
        """What this transport talks to, for logs and the UI (e.g. ``serial /dev/ttyUSB0``)."""
        ...

    @property
    def is_open(self) -> bool:
        """True between a successful :meth:`open` and :meth:`close` (or a disconnect)."""
        ...

    async def open(self) -> None:
        """Open the link.

        Raises:
            TransportError: missing, busy, permission_denied, unavailable or timeout.
        """
        ...

    async def close(self) -> None:
        """Close the link; safe to call twice or after a disconnect. Never raises."""
        ...

    async def read(self, max_bytes: int = 4096, timeout_s: float = DEFAULT_READ_TIMEOUT_S) -> bytes:
        """Return up to ``max_bytes`` received bytes, or b"" if none arrived within ``timeout_s``.

        Raises:
            TransportError: disconnected (the device vanished) or io_error.
        """
        ...

    async def write(self, data: bytes) -> int:
        """Send ``data``; returns the number of bytes sent.

        Raises:
            TransportError: disconnected, timeout or io_error.
        """
        ...

    async def set_line(
        self, baud: int, bytesize: int = 8, parity: str = "N", stopbits: float = 1
    ) -> None:
        """Change the serial line settings while open (IEC 62056-21 switches baud after 300).

        Links without a UART (BLE, in-process) accept and ignore the call after validation.

        Raises:
            InvalidSettingError: if a setting is out of range.
            TransportError: if the port rejected the change.
        """
        ...
