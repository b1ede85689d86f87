"""In-process transport to an emulated device, for demos and platforms without pseudo-terminals."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from devices.emulator.endpoint import EmulatedEndpoint
from devices.transports.base import (
    DEFAULT_READ_TIMEOUT_S,
    LineSettings,
    TransportError,
    TransportErrorReason,
)


class SimTransport:
    """Connects a session straight to an :class:`EmulatedEndpoint`, no port in between.

    Writes go to ``endpoint.handle_input``; reads poll ``endpoint.pending_output(now)`` every
    ``poll_interval_s`` until bytes arrive or the read times out.

    Args:
        endpoint: the emulated device.
        poll_interval_s: how often a waiting read asks the endpoint for output.
        name: label used in :attr:`description` (default: the endpoint's class name).
        monotonic: the clock handed to the endpoint, in seconds.
    """

    def __init__(
        self,
        endpoint: EmulatedEndpoint,
        poll_interval_s: float = 0.01,
        *,
        name: str | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if poll_interval_s <= 0:
            raise ValueError(f"poll_interval_s must be greater than 0, got {poll_interval_s}.")
        self._endpoint = endpoint
        self._poll_interval_s = poll_interval_s
        self._name = name or type(endpoint).__name__
        self._monotonic = monotonic
        self._open = False
        self._pending = bytearray()
        self._line = LineSettings()

    @property
    def description(self) -> str:
        """``emulated <name>``."""
        return f"emulated {self._name}"

    @property
    def is_open(self) -> bool:
        """True between :meth:`open` and :meth:`close`."""
        return self._open

    @property
    def line(self) -> LineSettings:
        """The last line settings requested (an emulated device has no UART to apply them to)."""
        return self._line

    async def open(self) -> None:
        """Open the link (nothing can fail: the device is in-process)."""
        self._open = True

    async def close(self) -> None:
        """Close the link and drop unread output."""
        self._open = False
        self._pending.clear()

    def _require_open(self) -> None:
        if not self._open:
            raise TransportError(TransportErrorReason.IO_ERROR, f"{self.description} is not open")

    def _collect(self) -> None:
        output = self._endpoint.pending_output(self._monotonic())
        if output:
            self._pending += output

    async def read(self, max_bytes: int = 4096, timeout_s: float = DEFAULT_READ_TIMEOUT_S) -> bytes:
        """Return up to ``max_bytes`` of the device's output, or b"" after ``timeout_s``.

        Raises:
            TransportError: io_error if the link is not open.
            ValueError: if ``max_bytes`` is less than 1.
        """
        if max_bytes < 1:
            raise ValueError(f"max_bytes must be at least 1, got {max_bytes}.")
        self._require_open()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(timeout_s, 0.0)
        while True:
            self._collect()
            if self._pending:
                chunk = bytes(self._pending[:max_bytes])
                del self._pending[:max_bytes]
                return chunk
            remaining_s = deadline - loop.time()
            if remaining_s <= 0:
                return b""
            await asyncio.sleep(min(self._poll_interval_s, remaining_s))
            self._require_open()

    async def write(self, data: bytes) -> int:
        """Hand ``data`` to the device; returns its length.

        Raises:
            TransportError: io_error if the link is not open.
        """
        self._require_open()
        payload = bytes(data)
        if payload:
            self._endpoint.handle_input(payload)
        return len(payload)

    async def set_line(
        self, baud: int, bytesize: int = 8, parity: str = "N", stopbits: float = 1
    ) -> None:
        """Validate and record line settings; the emulated device has no UART to reconfigure.

        Raises:
            InvalidSettingError: if a setting is out of range.
        """
        self._line = LineSettings(baud, bytesize, parity, stopbits)
