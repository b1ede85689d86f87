"""Time sources. Every piece of code that needs "now" is handed a Clock."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Something that tells the current time as an aware UTC datetime."""

    def now(self) -> datetime:
        """Return the current time (timezone-aware, UTC)."""
        ...

    def monotonic(self) -> float:
        """Return a monotonic reading in seconds, for measuring intervals."""
        ...


class SystemClock:
    """The workstation's real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()


@dataclass
class FixedClock:
    """A clock that stands still until told to move (tests, `--now`)."""

    current: datetime
    _mono: float = field(default=0.0)

    def __post_init__(self) -> None:
        if self.current.tzinfo is None:
            raise ValueError("FixedClock needs a timezone-aware datetime")
        self.current = self.current.astimezone(UTC)

    def now(self) -> datetime:
        return self.current

    def monotonic(self) -> float:
        return self._mono

    def advance(self, delta: timedelta | float) -> None:
        """Move the clock forward by a timedelta or a number of seconds."""
        if not isinstance(delta, timedelta):
            delta = timedelta(seconds=delta)
        self.current += delta
        self._mono += delta.total_seconds()


@dataclass
class OffsetClock:
    """Real time, shifted so that it read `start` when it was created (`--now` for the GUI)."""

    start: datetime
    _t0: float = field(default_factory=time.monotonic)

    def now(self) -> datetime:
        return self.start.astimezone(UTC) + timedelta(seconds=time.monotonic() - self._t0)

    def monotonic(self) -> float:
        return time.monotonic()
