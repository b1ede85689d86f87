"""The emulator's scaled clock: emulated wall time runs ``time_scale`` times faster than real time.

With ``time_scale=60`` a three-minute outage on the emulated clock lasts three real seconds, which
is what makes the 8F35/8F36 (outage shorter / at least 3 minutes) distinction testable in seconds.
Every emulated device reads the same clock, so timestamps in logs, alerts and outage records agree.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta


class ScaledClock:
    """Maps monotonic readings (real seconds) to emulated UTC wall time.

    ``emulated = start + (monotonic - t0) * time_scale``.

    The clock also satisfies :class:`app.domain.clock.Clock` (``now()`` and ``monotonic()``), so
    code that expects a plain Clock can run on emulated time.

    Args:
        start: emulated wall time at ``t0_s``; must be timezone-aware.
        time_scale: emulated seconds per real second; must be positive.
        monotonic: source of real monotonic seconds (``time.monotonic`` unless a test drives it).
        t0_s: monotonic reading that corresponds to ``start``; read from ``monotonic`` if omitted.
    """

    def __init__(
        self,
        start: datetime,
        time_scale: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
        t0_s: float | None = None,
    ) -> None:
        if start.tzinfo is None:
            raise ValueError("start must be a timezone-aware datetime")
        if not time_scale > 0:
            raise ValueError(f"time_scale must be a positive number, got {time_scale!r}")
        self._start = start.astimezone(UTC)
        self._time_scale = float(time_scale)
        self._monotonic = monotonic
        self._t0_s = monotonic() if t0_s is None else float(t0_s)

    @property
    def start(self) -> datetime:
        """Emulated wall time at ``t0_s`` (UTC)."""
        return self._start

    @property
    def time_scale(self) -> float:
        """Emulated seconds per real second."""
        return self._time_scale

    @property
    def t0_s(self) -> float:
        """The monotonic reading at which the emulated clock read ``start``."""
        return self._t0_s

    def emulated_elapsed_s(self, mono_s: float) -> float:
        """Emulated seconds elapsed since ``start`` at monotonic reading ``mono_s``."""
        return (mono_s - self._t0_s) * self._time_scale

    def emulated_at(self, mono_s: float) -> datetime:
        """Emulated UTC wall time at monotonic reading ``mono_s``."""
        return self._start + timedelta(seconds=self.emulated_elapsed_s(mono_s))

    def mono_for_elapsed(self, emulated_elapsed_s: float) -> float:
        """Monotonic reading at which ``emulated_elapsed_s`` emulated seconds have passed."""
        return self._t0_s + emulated_elapsed_s / self._time_scale

    def real_s(self, emulated_s: float) -> float:
        """Length in real seconds of a span of ``emulated_s`` emulated seconds."""
        return emulated_s / self._time_scale

    def now(self) -> datetime:
        """Current emulated wall time (UTC)."""
        return self.emulated_at(self._monotonic())

    def monotonic(self) -> float:
        """Current real monotonic reading in seconds."""
        return self._monotonic()


def iso_ms(moment: datetime) -> str:
    """Format a UTC time as ``YYYY-MM-DDThh:mm:ss.mmmZ``, the form used in every emulator log."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


class ManualMonotonic:
    """A monotonic source that moves only when told to, for driving endpoints without real time.

    Args:
        start_s: the initial reading.
    """

    def __init__(self, start_s: float = 1000.0) -> None:
        self.now_s = float(start_s)

    def __call__(self) -> float:
        return self.now_s

    def advance(self, delta_s: float) -> float:
        """Move forward by ``delta_s`` seconds and return the new reading."""
        if delta_s < 0:
            raise ValueError("a monotonic clock cannot go backwards")
        self.now_s += delta_s
        return self.now_s
