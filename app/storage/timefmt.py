"""How instants are written to and read from the database: ISO-8601 UTC with an explicit offset."""

from __future__ import annotations

from datetime import UTC, datetime


def to_db(moment: datetime) -> str:
    """Aware datetime -> ``2026-12-01T10:00:00+00:00`` (sortable as text)."""
    if moment.tzinfo is None:
        raise ValueError("refusing to store a naive datetime")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def from_db(text: str | None) -> datetime | None:
    """ISO text from the database -> aware UTC datetime (None stays None)."""
    if text is None:
        return None
    return datetime.fromisoformat(text).astimezone(UTC)
