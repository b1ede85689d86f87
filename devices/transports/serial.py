"""Serial transport over pyserial: optical probes, Comms Hub debug ports, relay boards.

Design: received bytes go into a bounded :class:`~devices.transports.rx_buffer.RxBuffer` that
async reads wait on. On POSIX the I/O loop's selector watches the port itself
(:class:`~devices.transports.serial_readers.SelectorReader`), so any number of ports costs no
extra threads; on Windows, whose proactor loop cannot watch serial handles, one reader thread per
port does pyserial's blocking read (:class:`~devices.transports.serial_readers.ThreadReader`).
Either way a byte is handed on the moment it arrives. Writes and line changes run in the loop's
executor with timeouts so a stuck adapter cannot freeze the I/O thread.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Callable
from typing import TypeVar

import serial

from devices.transports.base import (
    DEFAULT_READ_TIMEOUT_S,
    LineSettings,
    SerialSettings,
    TransportError,
    TransportErrorReason,
)
from devices.transports.rx_buffer import DEFAULT_MAX_BUFFER_BYTES, RxBuffer
from devices.transports.serial_errors import SerialPhase, map_serial_error
from devices.transports.serial_readers import (
    READER_POLL_S,
    PortReader,
    SelectorReader,
    ThreadReader,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")

_PARITY = {
    "N": serial.PARITY_NONE,
    "E": serial.PARITY_EVEN,
    "O": serial.PARITY_ODD,
    "M": serial.PARITY_MARK,
    "S": serial.PARITY_SPACE,
}


#: Linux character-device majors of Unix98 pseudo-terminal slaves (/dev/pts/N).
_LINUX_PTY_SLAVE_MAJORS = range(136, 144)


def _is_linux_pseudo_terminal(port: serial.Serial) -> bool:
    """True for a Linux pty slave, whose driver only carries 8-bit characters without parity.

    Linux's pty driver forces CS8 and clears PARENB (drivers/tty/pty.c, pty_set_termios); recent
    kernels reject other framing with EINVAL. A pty has no wire, so framing means nothing there.
    """
    if not sys.platform.startswith("linux"):
        return False
    fd = getattr(port, "fd", None)
    if fd is None:
        return False
    try:
        return os.major(os.fstat(fd).st_rdev) in _LINUX_PTY_SLAVE_MAJORS
    except OSError:
        return False


def _apply_line(port: serial.Serial, line: LineSettings) -> bool:
    """Apply ``line`` to an open port; returns False when only the baud rate could be applied."""
    port.baudrate = line.baud
    if _is_linux_pseudo_terminal(port):
        return False
    port.bytesize = line.bytesize
    port.parity = _PARITY[line.parity]
    port.stopbits = line.stopbits
    return True


def _set_tty_exclusive(port: serial.Serial, exclusive: bool) -> None:
    """Set or clear TIOCEXCL, so programs that skip flock() get EBUSY too (POSIX, non-root)."""
    try:
        import fcntl
        import termios
    except ImportError:  # Windows opens serial ports exclusively anyway
        return
    request = getattr(termios, "TIOCEXCL" if exclusive else "TIOCNXCL", None)
    fd = getattr(port, "fd", None)
    if request is None or fd is None:
        return
    try:
        fcntl.ioctl(fd, request)
    except OSError as exc:  # a tty that does not support it is still usable
        logger.debug("TIOC%sXCL failed on %s: %s", "E" if exclusive else "N", port.port, exc)


class SerialTransport:
    """A serial port as a :class:`~devices.transports.base.Transport`.

    Args:
        settings: port and initial line settings.
        write_timeout_s: how long a write may wait for the port to accept data.
        open_timeout_s: how long opening may take.
        max_buffer_bytes: receive buffer capacity; excess is counted in
            :attr:`rx_overflow_bytes`.
        exclusive: lock the port so a second opener gets ``busy`` (flock and TIOCEXCL on POSIX;
            Windows is always exclusive).
        selector_reads: on POSIX, let the I/O loop's selector watch the port (no thread); False
            reads on a thread of its own, as Windows always does.
    """

    def __init__(
        self,
        settings: SerialSettings,
        *,
        write_timeout_s: float = 2.0,
        open_timeout_s: float = 5.0,
        max_buffer_bytes: int = DEFAULT_MAX_BUFFER_BYTES,
        exclusive: bool = True,
        selector_reads: bool = True,
    ) -> None:
        self._settings = settings
        self._line = settings.line
        self._write_timeout_s = write_timeout_s
        self._open_timeout_s = open_timeout_s
        self._max_buffer_bytes = max_buffer_bytes
        self._exclusive = exclusive
        self._selector_reads = selector_reads
        self._port: serial.Serial | None = None
        self._rx: RxBuffer | None = None
        # Overflow of receive buffers of earlier opens: the count covers the transport's life.
        self._overflow_before = 0
        self._reader: PortReader | None = None
        self._io_lock: asyncio.Lock | None = None
        self._framing_applied = True

    @property
    def description(self) -> str:
        """``serial /dev/ttyUSB0 300 7E1``."""
        return f"serial {self._settings.port} {self._line.describe()}"

    @property
    def port(self) -> str:
        """The port path or name."""
        return self._settings.port

    @property
    def line(self) -> LineSettings:
        """The line settings now in force."""
        return self._line

    @property
    def is_open(self) -> bool:
        """True while the port is open and has not failed."""
        return self._port is not None and (self._rx is None or self._rx.failure is None)

    @property
    def framing_applied(self) -> bool:
        """False when the port carries the baud rate only (a Linux pseudo-terminal, which is
        always 8 data bits without parity); the requested framing is still in :attr:`line`."""
        return self._framing_applied

    @property
    def rx_overflow_bytes(self) -> int:
        """Received bytes dropped because nobody read them in time, over every open so far."""
        return self._overflow_before + (self._rx.overflow_bytes if self._rx is not None else 0)

    def _make_port(self) -> serial.Serial:
        # Opened at 8N1 and reframed once open, because only then can a pty be recognised.
        port = serial.Serial()
        port.port = self._settings.port
        port.baudrate = self._line.baud
        port.timeout = READER_POLL_S
        port.write_timeout = self._write_timeout_s
        if os.name == "posix" and self._exclusive:
            port.exclusive = True
        port.open()
        try:
            if self._exclusive:
                _set_tty_exclusive(port, True)
            self._framing_applied = _apply_line(port, self._line)
        except BaseException:
            port.close()
            raise
        return port

    async def open(self) -> None:
        """Open the port and start receiving.

        Raises:
            TransportError: missing, busy, permission_denied, timeout or io_error.
        """
        if self._port is not None:
            return
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(None, self._make_port)
        try:
            port = await asyncio.wait_for(asyncio.shield(future), self._open_timeout_s)
        except TimeoutError:
            # The open may still succeed later in the executor: close it then, not leak it.
            future.add_done_callback(_close_late_port)
            raise TransportError(
                TransportErrorReason.TIMEOUT,
                f"port {self.port} did not open within {self._open_timeout_s} s",
            ) from None
        except (serial.SerialException, OSError, ValueError) as exc:
            raise map_serial_error(exc, self.port, SerialPhase.OPEN) from exc
        self._port = port
        self._io_lock = asyncio.Lock()
        if self._rx is not None:
            self._overflow_before += self._rx.overflow_bytes
        self._rx = RxBuffer(loop, self._max_buffer_bytes)
        self._reader = self._start_reader(loop, port, self._rx)

    def _start_reader(
        self, loop: asyncio.AbstractEventLoop, port: serial.Serial, rx: RxBuffer
    ) -> PortReader:
        fd = getattr(port, "fd", None)
        if (self._selector_reads and os.name == "posix" and isinstance(fd, int)
                and isinstance(loop, asyncio.SelectorEventLoop)):
            reader = SelectorReader(loop, fd, rx, self.port)
            try:
                reader.start()
                return reader
            except (OSError, ValueError, NotImplementedError) as exc:
                # A selector that cannot watch this device (kqueue and some ttys): use a thread.
                logger.debug("%s: selector cannot watch the port (%s); using a thread", self.port,
                             exc)
        thread_reader = ThreadReader(port, rx, self.port)
        thread_reader.start()
        return thread_reader

    async def close(self) -> None:
        """Stop the reader and close the port; never raises, safe to call twice."""
        port, reader = self._port, self._reader
        self._port = None
        self._reader = None
        if port is None:
            return
        if reader is not None:
            await reader.stop()
        _set_tty_exclusive(port, False)
        try:
            port.close()
        except Exception:  # closing a vanished port can fail; it is closed anyway
            logger.debug("%s: close failed", self.port, exc_info=True)

    def _require_open(self) -> tuple[serial.Serial, RxBuffer, asyncio.Lock]:
        if self._port is None or self._rx is None or self._io_lock is None:
            raise TransportError(TransportErrorReason.IO_ERROR, f"port {self.port} is not open")
        return self._port, self._rx, self._io_lock

    async def read(self, max_bytes: int = 4096, timeout_s: float = DEFAULT_READ_TIMEOUT_S) -> bytes:
        """Return up to ``max_bytes`` received bytes, or b"" after ``timeout_s`` without any.

        Raises:
            TransportError: disconnected once the other end vanished (after earlier bytes are
                read), or io_error if the port is not open.
        """
        _port, rx, _lock = self._require_open()
        return await rx.get(max_bytes, timeout_s)

    async def _run_blocking(
        self, func: Callable[[], T], timeout_s: float, phase: SerialPhase, what: str
    ) -> T:
        future = asyncio.get_running_loop().run_in_executor(None, func)
        try:
            return await asyncio.wait_for(future, timeout_s)
        except TimeoutError:
            raise TransportError(
                TransportErrorReason.TIMEOUT,
                f"port {self.port}: {what} timed out after {timeout_s} s",
            ) from None
        except serial.SerialTimeoutException:
            raise TransportError(
                TransportErrorReason.TIMEOUT,
                f"port {self.port}: {what} timed out after {timeout_s} s",
            ) from None
        except (serial.SerialException, OSError, ValueError) as exc:
            raise map_serial_error(exc, self.port, phase) from exc
        except Exception as exc:  # termios.error is not an OSError
            raise map_serial_error(exc, self.port, phase) from exc

    async def write(self, data: bytes) -> int:
        """Send ``data``, waiting at most ``write_timeout_s`` for the port to take it.

        Raises:
            TransportError: disconnected, timeout or io_error.
        """
        port, rx, lock = self._require_open()
        if rx.failure is not None:
            raise rx.failure
        if not data:
            return 0
        payload = bytes(data)
        async with lock:
            written = await self._run_blocking(
                lambda: port.write(payload),
                self._write_timeout_s + 1.0,
                SerialPhase.WRITE,
                "write",
            )
        return int(written) if written is not None else len(payload)

    async def set_line(
        self, baud: int, bytesize: int = 8, parity: str = "N", stopbits: float = 1
    ) -> None:
        """Change baud rate and framing while open.

        Bytes already written are drained first at the old rate: IEC 62056-21 (clause 6.3.14,
        mode C) has the meter switch baud after the acknowledgement/option select message, so
        that message must leave at the old speed.

        Raises:
            InvalidSettingError: if a setting is out of range (nothing is changed).
            TransportError: if the port rejected the change or vanished.
        """
        line = LineSettings(baud, bytesize, parity, stopbits)
        port, rx, lock = self._require_open()
        if rx.failure is not None:
            raise rx.failure

        def apply() -> bool:
            port.flush()
            return _apply_line(port, line)

        async with lock:
            self._framing_applied = await self._run_blocking(
                apply, self._write_timeout_s + 1.0, SerialPhase.CONFIGURE, "changing line settings"
            )
        self._line = line


def _close_late_port(future: asyncio.Future[serial.Serial]) -> None:
    if future.cancelled() or future.exception() is not None:
        return
    try:
        future.result().close()
    except Exception:  # best effort on a port nobody owns any more
        logger.debug("closing a port that opened after its timeout failed", exc_info=True)
