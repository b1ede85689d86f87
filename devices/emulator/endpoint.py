"""The contract between emulated devices and whatever carries their bytes (a pty or in-process)."""

from __future__ import annotations

from typing import Protocol


class EmulatedEndpoint(Protocol):
    """One emulated device port, written sans-I/O.

    A carrier (the pty pump in ``devices.emulator.pty_host`` or ``devices.transports.sim``) hands the
    device every byte the host wrote and asks it, periodically, what it sends.
    """

    def handle_input(self, data: bytes) -> None:
        """Take bytes the host wrote to the device."""
        ...

    def pending_output(self, now_s: float) -> bytes:
        """Return the bytes the device sends by monotonic time ``now_s`` (seconds), or b""."""
        ...
