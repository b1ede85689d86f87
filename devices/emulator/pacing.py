"""Output shaping for emulated serial ports: baud-rate pacing and deliberate floods."""

from __future__ import annotations

import random
from enum import Enum

BITS_PER_BYTE_8N1 = 10  # start bit, 8 data bits, stop bit


class FloodMode(str, Enum):
    """Deliberately hostile output for robustness tests of the host's line handling."""

    ENDLESS_LINE = "endless_line"  # printable bytes that never end in a newline
    GARBAGE = "garbage"  # bursts of random bytes (any value) between the ordinary log lines


class BytePacer:
    """Token bucket limiting a port to what its UART could send: ``baud / 10`` bytes per second.

    Tokens accumulate with elapsed time up to a small burst allowance (what the UART's FIFO and a
    carrier poll interval would let through at once), so an idle port cannot later exceed the
    line rate.

    Args:
        baud: line speed in bits per second (8N1 framing assumed).
        start_s: monotonic reading at which the bucket starts empty.
        burst_s: the most time, in seconds of line rate, that unused tokens may accumulate.
    """

    def __init__(self, baud: int, start_s: float, burst_s: float = 0.1) -> None:
        if baud <= 0:
            raise ValueError(f"baud must be positive, got {baud}")
        self.bytes_per_s = baud / BITS_PER_BYTE_8N1
        self._capacity = max(16.0, self.bytes_per_s * burst_s)
        self._tokens = 0.0
        self._last_s = start_s

    def allowance(self, now_s: float) -> int:
        """Whole bytes that may be sent at ``now_s``."""
        if now_s > self._last_s:
            self._tokens = min(
                self._capacity, self._tokens + (now_s - self._last_s) * self.bytes_per_s
            )
            self._last_s = now_s
        return int(self._tokens)

    def spend(self, count: int) -> None:
        """Record that ``count`` bytes were sent."""
        self._tokens -= count


class FloodSource:
    """Generates flood bytes.

    Args:
        mode: the kind of flood.
        rng: random source (seeded for reproducible runs).
    """

    ENDLESS_PATTERN = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 "

    def __init__(self, mode: FloodMode, rng: random.Random) -> None:
        self.mode = mode
        self._rng = rng
        self._phase = 0

    def endless(self, count: int) -> bytes:
        """The next ``count`` bytes of a line that never ends."""
        pattern = self.ENDLESS_PATTERN
        reps = (self._phase + count) // len(pattern) + 2
        chunk = (pattern * reps)[self._phase : self._phase + count]
        self._phase = (self._phase + count) % len(pattern)
        return chunk

    def garbage_burst(self) -> bytes:
        """A burst of 1 to 512 random bytes of any value."""
        return self._rng.randbytes(self._rng.randint(1, 512))
