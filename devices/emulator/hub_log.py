"""Comms Hub debug log lines: the line format, the timeline of due lines, and background noise.

Line format (one line per event, CR LF terminated)::

    2026-11-25T10:00:00.000Z [INF] SYS boot fw=CH-EMU 1.4.2 eui=00-DB-12-34-56-78-90-A2

emulated UTC time with milliseconds, level in brackets, subsystem, message.
"""

from __future__ import annotations

import heapq
import itertools
import random
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Generic, TypeVar

from devices.emulator.clock import iso_ms

JobT = TypeVar("JobT")


class LogLevel(str, Enum):
    """Severity tag printed in brackets."""

    DEBUG = "DBG"
    INFO = "INF"
    WARNING = "WRN"
    ERROR = "ERR"


def format_log_line(moment: datetime, level: LogLevel, subsystem: str, message: str) -> bytes:
    """One debug-port line, CR LF terminated, ASCII."""
    return f"{iso_ms(moment)} [{level.value}] {subsystem} {message}\r\n".encode("ascii")


@dataclass(order=True)
class _Entry(Generic[JobT]):
    due_s: float
    seq: int
    job: JobT = field(compare=False)


class Timeline(Generic[JobT]):
    """Jobs ordered by the monotonic reading at which they fall due (ties keep insertion order)."""

    def __init__(self) -> None:
        self._heap: list[_Entry[JobT]] = []
        self._seq = itertools.count()

    def __len__(self) -> int:
        return len(self._heap)

    def add(self, due_s: float, job: JobT) -> None:
        """Schedule ``job`` at monotonic reading ``due_s``."""
        heapq.heappush(self._heap, _Entry(due_s, next(self._seq), job))

    def pop_due(self, until_s: float) -> tuple[float, JobT] | None:
        """Remove and return the earliest job due by ``until_s``, or None."""
        if self._heap and self._heap[0].due_s <= until_s:
            entry = heapq.heappop(self._heap)
            return entry.due_s, entry.job
        return None

    def clear(self) -> None:
        """Forget every job."""
        self._heap.clear()


class NoiseSource:
    """Ordinary chatter of a hub's radio stacks: lines a log profile keeps as plain log.

    Args:
        rng: random source (seeded for reproducible runs).
    """

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._mac_seq = rng.randrange(256)

    def next_line(self) -> tuple[LogLevel, str, str]:
        """Level, subsystem and message of the next noise line."""
        rng = self._rng
        self._mac_seq = (self._mac_seq + 1) % 256
        choice = rng.randrange(6)
        if choice == 0:
            return (
                LogLevel.DEBUG,
                "ZB",
                f"mac tx dst=0x{rng.randrange(0x10000):04X} seq={self._mac_seq}",
            )
        if choice == 1:
            return (
                LogLevel.DEBUG,
                "ZB",
                f"mac ack seq={self._mac_seq} retries={rng.choice((0, 0, 0, 1, 2))}",
            )
        if choice == 2:
            return LogLevel.DEBUG, "ZB", f"nwk route src=0x{rng.randrange(0x10000):04X} hops=1"
        if choice == 3:
            return LogLevel.DEBUG, "WAN", f"keepalive ok rtt_ms={rng.randint(80, 900)}"
        if choice == 4:
            return LogLevel.DEBUG, "SUBGHZ", f"duty_cycle pct={rng.uniform(0.1, 2.5):.2f} ch=28"
        return (
            LogLevel.DEBUG,
            "ZB",
            f"mac rx src=0x{rng.randrange(0x10000):04X} lqi={rng.randint(120, 255)} "
            f"len={rng.randint(12, 110)}",
        )
