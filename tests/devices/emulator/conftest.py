"""Fixtures for the emulator tests: a hand-driven monotonic source and bench factories."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from devices.emulator.bench import BenchConfig, EmulatedBench
from devices.emulator.clock import ManualMonotonic

BENCH_START = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


@pytest.fixture
def mono() -> ManualMonotonic:
    """Monotonic time that moves only when the test advances it."""
    return ManualMonotonic(1000.0)


@pytest.fixture
def make_bench(mono: ManualMonotonic) -> Callable[..., EmulatedBench]:
    """Build a bench on the hand-driven clock, starting 2026-11-25T10:00:00Z, seed 7."""

    def build(**overrides: Any) -> EmulatedBench:
        settings: dict[str, Any] = {"start": BENCH_START, "seed": 7, "reply_delay_s": 0.2}
        settings.update(overrides)
        return EmulatedBench(BenchConfig(**settings), monotonic=mono)

    return build


@pytest.fixture
def make_real_bench() -> Callable[..., EmulatedBench]:
    """Build a bench on real monotonic time (for pty tests), starting 2026-11-25T10:00:00Z."""

    def build(**overrides: Any) -> EmulatedBench:
        settings: dict[str, Any] = {"start": BENCH_START, "seed": 7, "reply_delay_s": 0.05}
        settings.update(overrides)
        return EmulatedBench(BenchConfig(**settings))

    return build
