"""Comms Hub debug lines for session tests: a heartbeat numbered `n`, one line each."""

from __future__ import annotations

from datetime import UTC, datetime

from devices.emulator.hub_log import LogLevel, format_log_line


def hub_line(n: int) -> bytes:
    moment = datetime(2026, 3, 1, 12, 0, n % 60, tzinfo=UTC)
    return format_log_line(moment, LogLevel.INFO, "SYS", f"heartbeat {n}")
