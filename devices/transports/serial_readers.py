"""The two ways a :class:`~devices.transports.serial.SerialTransport` receives bytes.

:class:`SelectorReader` (POSIX): the port's file descriptor is watched by the I/O loop's own
selector (``loop.add_reader``); when it is readable, one non-blocking ``os.read`` moves everything
waiting into the :class:`~devices.transports.rx_buffer.RxBuffer`. No thread per port: with dozens
of ports, a blocking reader thread each meant dozens of threads waking a hundred times a second,
each taking the GIL and handing its bytes across threads, which starved the UI thread.

:class:`ThreadReader` (Windows, or any loop without a selector): a thread does pyserial's blocking
read, because the proactor loop cannot watch serial handles. It wakes the moment the first byte
arrives (a read of one byte, then everything already waiting).

Both report a port that vanished (EIO, end of file after POLLHUP, a pyserial error) to the buffer
as a :class:`~devices.transports.base.TransportError`, raised to the reader after the bytes
received before it.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import math
import os
import threading
from typing import Protocol

import serial

from devices.transports.rx_buffer import RxBuffer
from devices.transports.serial_errors import SerialPhase, map_serial_error

logger = logging.getLogger(__name__)

#: How long the reader thread's blocking read waits before re-checking for a stop request.
#: Only bounds shutdown time (``cancel_read`` usually ends the wait at once), not latency.
READER_POLL_S = 0.1

#: Most bytes one read asks for.
READ_CHUNK_BYTES = 1 << 16
#: A read shorter than this found the tty drained. Linux hands out at most its line discipline's
#: 4 KiB per read while more may wait behind it, so a full read is followed by another: a fast
#: port (921600 baud, an unpaced flood) would otherwise be read at 4 KiB a tick.
DRAINED_BELOW_BYTES = 2048
#: Most bytes moved in one wake, so one flooding port cannot hold the I/O thread for long.
MAX_BYTES_PER_WAKE = 1 << 18

#: While nobody waits for a port's bytes (its session is decoding, or letting bytes gather), the
#: selector stops watching the port until the next multiple of this period on the loop's clock.
#: Every paused port resumes at the same instant, so the I/O thread reads all of them in one pass
#: of the loop (one stretch holding the GIL) instead of at every kernel wake-up of every port.
#: 50 ms is about 580 bytes at 115200 baud: far inside the 4 KiB a tty or USB adapter buffers.
#: A read that starts waiting resumes the watch at once, so request/response latency is unchanged.
IDLE_TICK_S = 0.05


class PortReader(Protocol):
    """Moves received bytes from an open port into its receive buffer until stopped."""

    def start(self) -> None:
        """Begin reading (on the I/O thread)."""
        ...

    async def stop(self) -> None:
        """Stop reading before the port is closed; never raises."""
        ...


class SelectorReader:
    """Reads a non-blocking port descriptor from the event loop's selector.

    Args:
        loop: the I/O loop (a selector event loop).
        fd: the port's descriptor, already non-blocking (pyserial opens it with O_NONBLOCK).
        rx: where the bytes go.
        port: the port's name, for error sentences.
        idle_tick_s: see :data:`IDLE_TICK_S` (0: watch the port all the time).

    Raises:
        OSError, ValueError, NotImplementedError: from :meth:`start` when the loop cannot watch
            this descriptor (the caller falls back to a :class:`ThreadReader`).
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, fd: int, rx: RxBuffer, port: str,
                 idle_tick_s: float = IDLE_TICK_S) -> None:
        self._loop = loop
        self._fd = fd
        self._rx = rx
        self._port = port
        self._idle_tick_s = idle_tick_s
        self._watching = False
        self._stopped = False
        self._resume_handle: asyncio.TimerHandle | None = None

    def start(self) -> None:
        self._loop.add_reader(self._fd, self._readable)
        self._watching = True
        self._rx.set_wait_hook(self._resume)

    async def stop(self) -> None:
        self._stopped = True
        self._rx.set_wait_hook(None)
        self._cancel_resume()
        self._unwatch()

    def _unwatch(self) -> None:
        if self._watching:
            self._watching = False
            try:
                self._loop.remove_reader(self._fd)
            except (OSError, ValueError):  # the descriptor is already gone
                logger.debug("%s: remove_reader failed", self._port, exc_info=True)

    def _cancel_resume(self) -> None:
        if self._resume_handle is not None:
            self._resume_handle.cancel()
            self._resume_handle = None

    def _pause(self) -> None:
        """Stop watching; read again at the next idle tick (or when a read starts waiting)."""
        self._unwatch()
        if self._resume_handle is None:
            tick_s = self._idle_tick_s
            wake_at = (math.floor(self._loop.time() / tick_s) + 1.0) * tick_s
            self._resume_handle = self._loop.call_at(wake_at, self._tick)

    def _tick(self) -> None:
        # While bytes keep coming, reading on every tick costs one system call a tick; only a
        # port found idle goes back to the selector (two more calls, and a wake per burst).
        self._resume_handle = None
        if self._watching or self._stopped or self._rx.failure is not None:
            return
        if self._read_once(ready=False) and not self._rx.has_waiters:
            self._pause()
        elif self._rx.failure is None:
            self._resume()

    def _resume(self) -> None:
        self._cancel_resume()
        if self._watching or self._stopped or self._rx.failure is not None:
            return
        try:
            self._loop.add_reader(self._fd, self._readable)
            self._watching = True
        except (OSError, ValueError) as exc:  # the descriptor was closed under us
            self._fail(OSError(errno.EBADF, str(exc)))

    def _readable(self) -> None:
        if self._read_once(ready=True) and self._idle_tick_s > 0 and not self._rx.has_waiters:
            self._pause()

    def _read_once(self, ready: bool) -> bool:
        """Move what the port holds into the buffer; False when it held nothing (or failed).

        Args:
            ready: the selector reported the port readable. pyserial sets VMIN=0, so a read
                of an empty tty returns no bytes rather than EAGAIN: only after the selector
                said "readable" does an empty read mean the other end hung up.
        """
        chunks: list[bytes] = []
        total = 0
        failure: OSError | None = None
        while total < MAX_BYTES_PER_WAKE:
            try:
                data = os.read(self._fd, READ_CHUNK_BYTES)
            except (BlockingIOError, InterruptedError):
                break  # nothing (more) to read
            except OSError as exc:
                # EIO: the other end of a pty closed, or a USB adapter was unplugged.
                failure = exc
                break
            if not data:
                if ready and not chunks:
                    # Readable yet empty: a hang-up (POLLHUP). The device side is gone for
                    # good, and the descriptor would report itself readable forever.
                    failure = OSError(errno.EIO, "end of file: the other end hung up")
                break
            chunks.append(data)
            total += len(data)
            if len(data) < DRAINED_BELOW_BYTES:
                break
        if chunks:
            self._rx.put_in_loop(chunks[0] if len(chunks) == 1 else b"".join(chunks))
        if failure is not None:
            self._fail(failure)  # after the bytes that came before it
            return False
        return bool(chunks)

    def _fail(self, exc: OSError) -> None:
        self._cancel_resume()
        self._unwatch()
        error = map_serial_error(exc, self._port, SerialPhase.READ)
        logger.info("%s: reader stopped: %s (%s)", self._port, error.message, exc)
        self._rx.fail_in_loop(error)


class ThreadReader:
    """Reads a port with pyserial's blocking read on a thread of its own.

    Args:
        port: the open pyserial port (its ``timeout`` bounds how quickly a stop is noticed).
        rx: where the bytes go.
        name: the port's name, for the thread's name and error sentences.
    """

    def __init__(self, port: serial.Serial, rx: RxBuffer, name: str) -> None:
        self._port = port
        self._rx = rx
        self._name = name
        # A fresh stop flag per reader, so a reader left over from a slow close never resumes.
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._read_forever, name=f"serial-reader {name}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    async def stop(self) -> None:
        self._stop.set()
        try:
            self._port.cancel_read()
        except Exception:  # a vanished port may refuse even this
            logger.debug("%s: cancel_read failed", self._name, exc_info=True)
        if self._thread.ident is None:
            return
        await asyncio.get_running_loop().run_in_executor(None, self._thread.join, 2.0)
        if self._thread.is_alive():
            logger.warning("%s: reader thread did not stop within 2 s", self._name)

    def _read_forever(self) -> None:
        port, rx, stop = self._port, self._rx, self._stop
        while not stop.is_set():
            try:
                data = port.read(1)
                if data:
                    waiting = port.in_waiting
                    if waiting:
                        data += port.read(waiting)
                    rx.put(data)
            except (serial.SerialException, OSError, TypeError, AttributeError) as exc:
                # TypeError/AttributeError: pyserial's fd went away under a concurrent close.
                if stop.is_set():
                    return
                error = map_serial_error(exc, self._name, SerialPhase.READ)
                logger.info("%s: reader stopped: %s (%s)", self._name, error.message, exc)
                rx.fail(error)
                return
