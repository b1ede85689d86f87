"""Turning text people type into domain values, with one clear sentence when it is wrong."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from app.domain.errors import ValidationError


def parse_instant(text: str, field: str, tz: ZoneInfo | None = None) -> datetime:
    """ISO-8601 date-time; without an offset it is read in `tz` (the lab's local time)."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValidationError(
            field,
            f"{_label(field)} must be an ISO-8601 date and time such as 2026-12-01T09:00 "
            f"(optionally with an offset, e.g. +00:00), not {text!r}.",
        ) from None
    if value.tzinfo is None:
        if tz is None:
            raise ValidationError(field, f"{_label(field)} needs a UTC offset, e.g. 2026-12-01T09:00+00:00.")
        value = value.replace(tzinfo=tz)
    return value


def parse_day(text: str, field: str) -> date:
    """A calendar date YYYY-MM-DD."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValidationError(field, f"{_label(field)} must be a date in the form YYYY-MM-DD, not {text!r}.") from None


def parse_clock_time(text: str, field: str) -> time:
    """A time of day HH:MM."""
    try:
        value = time.fromisoformat(text.strip())
    except ValueError:
        raise ValidationError(field, f"{_label(field)} must be a time of day HH:MM, such as 08:00, not {text!r}.") from None
    return value


def parse_positive_int(text: str | int, field: str, minimum: int = 1) -> int:
    try:
        value = int(str(text).strip())
    except ValueError:
        raise ValidationError(field, f"{_label(field)} must be a whole number of {minimum} or more, not {text!r}.") from None
    if value < minimum:
        raise ValidationError(field, f"{_label(field)} must be a whole number of {minimum} or more, not {value}.")
    return value


def parse_positive_float(text: str | float, field: str) -> float:
    try:
        value = float(str(text).strip())
    except ValueError:
        raise ValidationError(field, f"{_label(field)} must be a number greater than 0, not {text!r}.") from None
    if not value > 0 or value != value or value == float("inf"):
        raise ValidationError(field, f"{_label(field)} must be a number greater than 0, not {text!r}.")
    return value


def _label(field: str) -> str:
    return field.replace("_", " ").replace("-", " ").capitalize()
