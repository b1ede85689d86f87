"""A bounded receive buffer between a producer (reader thread, selector or BLE callback) and reads.

The producer never blocks: when the buffer is full the excess is dropped and counted, so a session
that stops reading shows a rising overflow counter instead of stalling the port. A failure (the
device vanished) is raised to the reader only after the bytes received before it are drained, so
no byte that arrived is lost.

Waiting costs one future and one timer handle per read, not a task: with dozens of ports each
read many times a second, a task per read (what ``asyncio.wait_for`` on an event creates) was a
large share of the I/O thread's work.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

from devices.transports.base import TransportError

#: Default capacity: several minutes of a 115200 baud debug log.
DEFAULT_MAX_BUFFER_BYTES = 1 << 20


def _release(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class RxBuffer:
    """Bytes received but not yet read, bounded, safe to feed from any thread.

    Args:
        loop: the event loop the reads run on (the I/O loop).
        max_bytes: capacity; bytes beyond it are dropped and counted in :attr:`overflow_bytes`.
    """

    def __init__(
        self, loop: asyncio.AbstractEventLoop, max_bytes: int = DEFAULT_MAX_BUFFER_BYTES
    ) -> None:
        if max_bytes < 1:
            raise ValueError(f"max_bytes must be at least 1, got {max_bytes}.")
        self._loop = loop
        self._max_bytes = max_bytes
        self._lock = threading.Lock()
        self._data = bytearray()
        self._failure: TransportError | None = None
        self._wake_scheduled = False
        self._waiters: list[asyncio.Future[None]] = []
        self._overflow_bytes = 0
        self._received_bytes = 0
        self._wait_hook: Callable[[], None] | None = None

    @property
    def overflow_bytes(self) -> int:
        """Bytes dropped because the buffer was full."""
        return self._overflow_bytes

    @property
    def received_bytes(self) -> int:
        """Bytes offered by the producer in total, dropped ones included."""
        return self._received_bytes

    @property
    def failure(self) -> TransportError | None:
        """The failure reported by the producer, if any."""
        return self._failure

    @property
    def has_waiters(self) -> bool:
        """True while a read is waiting for bytes."""
        return bool(self._waiters)

    def set_wait_hook(self, hook: Callable[[], None] | None) -> None:
        """Call `hook` (on the loop) whenever a read finds the buffer empty and starts waiting,
        so a producer that paused while nobody was waiting can resume at once."""
        self._wait_hook = hook

    def __len__(self) -> int:
        with self._lock:
            return len(self._data)

    def _append(self, data: bytes) -> None:
        with self._lock:
            self._received_bytes += len(data)
            room = self._max_bytes - len(self._data)
            if room < len(data):
                self._overflow_bytes += len(data) - max(room, 0)
                data = data[: max(room, 0)]
            self._data += data

    def put(self, data: bytes) -> None:
        """Add received bytes; callable from any thread, never blocks."""
        if not data:
            return
        self._append(data)
        self._wake()

    def put_in_loop(self, data: bytes) -> None:
        """Add received bytes from the loop's own thread (a selector callback).

        Wakes a waiting read directly: no thread hand-off, no write to the loop's self-pipe.
        """
        if not data:
            return
        self._append(data)
        self._wake_waiters()

    def fail(self, error: TransportError) -> None:
        """Record that the producer stopped; raised by :meth:`get` once the buffer is empty."""
        with self._lock:
            if self._failure is None:
                self._failure = error
        self._wake()

    def fail_in_loop(self, error: TransportError) -> None:
        """As :meth:`fail`, from the loop's own thread."""
        with self._lock:
            if self._failure is None:
                self._failure = error
        self._wake_waiters()

    def _wake(self) -> None:
        with self._lock:
            if self._wake_scheduled:
                return
            self._wake_scheduled = True
        try:
            self._loop.call_soon_threadsafe(self._wake_from_thread)
        except RuntimeError:  # the loop is closed: nobody is waiting any more
            pass

    def _wake_from_thread(self) -> None:
        with self._lock:
            self._wake_scheduled = False
        self._wake_waiters()

    def _wake_waiters(self) -> None:
        if self._waiters:
            waiters, self._waiters = self._waiters, []
            for waiter in waiters:
                _release(waiter)

    def _take(self, max_bytes: int) -> bytes | None:
        with self._lock:
            if self._data:
                if len(self._data) <= max_bytes:
                    chunk = bytes(self._data)
                    self._data.clear()
                else:
                    chunk = bytes(self._data[:max_bytes])
                    del self._data[:max_bytes]
                return chunk
            if self._failure is not None:
                raise self._failure
            return None

    async def get(self, max_bytes: int, timeout_s: float) -> bytes:
        """Return up to ``max_bytes`` buffered bytes, waiting at most ``timeout_s`` for the first.

        Returns:
            The bytes, or b"" if none arrived in time.

        Raises:
            TransportError: the producer's failure, once earlier bytes have been read.
            ValueError: if ``max_bytes`` is less than 1.
        """
        if max_bytes < 1:
            raise ValueError(f"max_bytes must be at least 1, got {max_bytes}.")
        chunk = self._take(max_bytes)
        if chunk is not None:
            return chunk
        loop = self._loop
        deadline = loop.time() + max(timeout_s, 0.0)
        while True:
            remaining_s = deadline - loop.time()
            if remaining_s <= 0:
                return b""
            # Registered before waiting; a put from another thread wakes it through the loop,
            # so nothing put after the look above can be missed.
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiters.append(waiter)
            if self._wait_hook is not None:
                self._wait_hook()
            timer = loop.call_later(remaining_s, _release, waiter)
            try:
                await waiter
            finally:
                timer.cancel()
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
            chunk = self._take(max_bytes)
            if chunk is not None:
                return chunk

    def clear(self) -> None:
        """Drop buffered bytes and any recorded failure (used when a link is reopened)."""
        with self._lock:
            self._data.clear()
            self._failure = None
