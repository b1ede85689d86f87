"""A bounded receive buffer between a producer (reader thread or BLE callback) and async reads.

The producer never blocks: when the buffer is full the excess is dropped and counted, so a session
that stops reading shows a rising overflow counter instead of stalling the port. A failure (the
device vanished) is raised to the reader only after the bytes received before it are drained, so
no byte that arrived is lost.
"""

from __future__ import annotations

import asyncio
import threading

from devices.transports.base import TransportError

#: Default capacity: several minutes of a 115200 baud debug log.
DEFAULT_MAX_BUFFER_BYTES = 1 << 20


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
        self._event = asyncio.Event()
        self._overflow_bytes = 0
        self._received_bytes = 0

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

    def __len__(self) -> int:
        with self._lock:
            return len(self._data)

    def put(self, data: bytes) -> None:
        """Add received bytes; callable from any thread, never blocks."""
        if not data:
            return
        with self._lock:
            self._received_bytes += len(data)
            room = self._max_bytes - len(self._data)
            if room < len(data):
                self._overflow_bytes += len(data) - max(room, 0)
                data = data[: max(room, 0)]
            self._data += data
        self._wake()

    def fail(self, error: TransportError) -> None:
        """Record that the producer stopped; raised by :meth:`get` once the buffer is empty."""
        with self._lock:
            if self._failure is None:
                self._failure = error
        self._wake()

    def _wake(self) -> None:
        with self._lock:
            if self._wake_scheduled:
                return
            self._wake_scheduled = True
        try:
            self._loop.call_soon_threadsafe(self._set_event)
        except RuntimeError:  # the loop is closed: nobody is waiting any more
            pass

    def _set_event(self) -> None:
        with self._lock:
            self._wake_scheduled = False
        self._event.set()

    def _take(self, max_bytes: int) -> bytes | None:
        with self._lock:
            if self._data:
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
        deadline = self._loop.time() + max(timeout_s, 0.0)
        while True:
            # Clear before looking, so a put() between the look and the wait still wakes us.
            self._event.clear()
            chunk = self._take(max_bytes)
            if chunk is not None:
                return chunk
            remaining_s = deadline - self._loop.time()
            if remaining_s <= 0:
                return b""
            try:
                await asyncio.wait_for(self._event.wait(), remaining_s)
            except TimeoutError:
                pass

    def clear(self) -> None:
        """Drop buffered bytes and any recorded failure (used when a link is reopened)."""
        with self._lock:
            self._data.clear()
            self._failure = None
