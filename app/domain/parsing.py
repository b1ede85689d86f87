"""Turning text people type into domain values, with one clear sentence when it is wrong.

Every bound on a number, a date or a piece of text given on the command line lives here, so one
table says what MeterLab accepts (the README's reliability section lists the same figures).
"""

from __future__ import annotations

import math
import unicodedata
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from app.domain.errors import ValidationError
from app.domain.lab import MAX_BENCHES as MAX_BENCHES  # the CLI's bounds are read from here

#: The local time used when no lab is involved (the GB labs' own zone).
LONDON = ZoneInfo("Europe/London")

#: SQLite stores integers in 64 signed bits: a larger id can never name a row.
MAX_ID = 2**63 - 1
#: Spaces in a lab or a booking (the largest GB test lab has 280).
MAX_SPACES = 10_000
#: Serial line speeds MeterLab can open (50 baud telegraph rates up to fast USB adapters).
MIN_BAUD, MAX_BAUD = 50, 4_000_000
#: Longest booking search length: a week of opening time is already a very long test slot.
MAX_SLOT_HOURS = 7 * 24.0
#: Longest capture or emulation run started from the command line.
MAX_RUN_S = 7 * 24 * 3600.0
#: Longest `bench ingest` measurement.
MAX_BENCH_S = 24 * 3600.0
#: Seconds the demo may run before a screenshot.
MAX_SCREENSHOT_AFTER_S = 3600.0
#: Emulated seconds per real second.
MAX_TIME_SCALE = 3600.0
#: Routine emulated alerts per minute (10 a second is far beyond any real hub).
MAX_ALERT_RATE_PER_MIN = 600.0
#: `--now` must lie in this window [first, last): MeterLab's calendars and rules cover it.
NOW_FIRST, NOW_LAST = datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)
#: Calendar dates (list filters, inductions) must lie in this window.
DAY_FIRST, DAY_LAST = date(2000, 1, 1), date(2099, 12, 31)
#: A booking starts and ends within this many years of now.
BOOKING_YEARS = 5
#: Longest name, label, e-mail, site and similar one-line text.
MAX_NAME_CHARS = 200
#: Longest free text (notes, reasons, justifications).
MAX_NOTE_CHARS = 2_000


def parse_instant(text: str, field: str, tz: ZoneInfo | None = None) -> datetime:
    """ISO-8601 date-time; without an offset it is read as local time in `tz` (default London).

    A local time that does not exist (the hour skipped when clocks go forward) is refused; a
    local time that happens twice (when clocks go back) is the first of the two, as people
    booking "01:30" on that night mean the one before the change.

    Raises:
        ValidationError: not a date-time, or a local time that does not exist.
    """
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValidationError(
            field,
            f"{_label(field)} must be an ISO-8601 date and time such as 2026-12-01T09:00 "
            f"(optionally with an offset, e.g. +00:00), not {text!r}.",
        ) from None
    if value.tzinfo is None:
        zone = tz or LONDON
        local = value.replace(tzinfo=zone, fold=0)
        # A skipped local time does not survive the trip through UTC and back.
        if local.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != value:
            raise ValidationError(
                field,
                f"{_label(field)} {value:%Y-%m-%d %H:%M} does not exist in {zone.key} (the clocks "
                f"go forward then); give a time outside that hour or with an offset.",
            )
        value = local
    return value


def parse_now(text: str) -> datetime:
    """The `--now` instant: read like `--start`, and between the years 2000 and 2099.

    Raises:
        ValidationError: not a date-time, or outside the years MeterLab's calendars cover.
    """
    value = parse_instant(text, "now")
    if not NOW_FIRST <= value < NOW_LAST:
        raise ValidationError(
            "now", f"Now must be between {NOW_FIRST:%Y-%m-%d} and {NOW_LAST - timedelta(days=1):%Y-%m-%d}, "
                   f"not {text.strip()!r}.")
    return value.astimezone(UTC)


def check_within_years(value: datetime, field: str, now: datetime, years: int = BOOKING_YEARS) -> datetime:
    """Refuse an instant more than `years` years before or after `now` (bookings stay near today).

    Raises:
        ValidationError: naming the window.
    """
    first, last = _years_from(now, -years), _years_from(now, years)
    if not first <= value <= last:
        raise ValidationError(
            field, f"{_label(field)} must be within {years} years of now (between "
                   f"{first:%Y-%m-%d} and {last:%Y-%m-%d}), not {value:%Y-%m-%d}.")
    return value


def parse_day(text: str, field: str) -> date:
    """A calendar date YYYY-MM-DD between 2000-01-01 and 2099-12-31."""
    try:
        value = date.fromisoformat(text.strip())
    except ValueError:
        raise ValidationError(field, f"{_label(field)} must be a date in the form YYYY-MM-DD, not {text!r}.") from None
    if not DAY_FIRST <= value <= DAY_LAST:
        raise ValidationError(
            field, f"{_label(field)} must be a date between {DAY_FIRST} and {DAY_LAST}, not {value}.")
    return value


def parse_clock_time(text: str, field: str) -> time:
    """A time of day HH:MM."""
    try:
        value = time.fromisoformat(text.strip())
    except ValueError:
        raise ValidationError(field, f"{_label(field)} must be a time of day HH:MM, such as 08:00, not {text!r}.") from None
    return value


def parse_positive_int(text: str | int, field: str, minimum: int = 1, maximum: int = MAX_ID) -> int:
    """A whole number from `minimum` to `maximum` (by default within SQLite's 64-bit integers).

    Raises:
        ValidationError: not a whole number, or out of bounds (the message names both bounds).
    """
    expected = f"a whole number from {minimum} to {maximum}"
    try:
        value = int(str(text).strip())
    except ValueError:
        raise ValidationError(field, f"{_label(field)} must be {expected}, not {_shown(text)}.") from None
    if not minimum <= value <= maximum:
        raise ValidationError(field, f"{_label(field)} must be {expected}, not {_shown(text)}.")
    return value


def parse_id(text: str | int, field: str = "id") -> int:
    """A row id: 1 to 2**63-1, the range SQLite can store."""
    return parse_positive_int(text, field, 1, MAX_ID)


def check_ref(text: str, field: str) -> str:
    """A thing named by name or by id: an id (all digits) must fit SQLite's 64-bit integers.

    Repositories read an all-digit reference as an id; a longer one cannot name a row, and
    digits such as '²' are not a number at all.

    Raises:
        ValidationError: an all-digit reference that is not a usable id.
    """
    stripped = text.strip()
    if stripped.isdigit():
        try:
            value = int(stripped)
        except ValueError:
            raise ValidationError(
                field, f"{_label(field)} must be a name, or an id written with the digits 0-9, "
                       f"not {_shown(text)}.") from None
        if value > MAX_ID:
            raise ValidationError(
                field, f"{_label(field)} must be a name, or an id from 1 to {MAX_ID}, "
                       f"not {_shown(text)}.")
    return text


def parse_positive_float(text: str | float, field: str, maximum: float = 1e9,
                         *, allow_zero: bool = False) -> float:
    """A finite number above 0 (or 0 and above with `allow_zero`) and at most `maximum`.

    NaN and infinity are refused: a wait of `inf` seconds spins or never ends.

    Raises:
        ValidationError: not a number, not finite, or out of bounds.
    """
    low = "0 or more" if allow_zero else "above 0"
    expected = f"a number {low} and at most {maximum:g}"
    try:
        value = float(str(text).strip())
    except ValueError:
        raise ValidationError(field, f"{_label(field)} must be {expected}, not {_shown(text)}.") from None
    in_range = (value >= 0 if allow_zero else value > 0) and value <= maximum
    if not math.isfinite(value) or not in_range:
        raise ValidationError(field, f"{_label(field)} must be {expected}, not {_shown(text)}.")
    return value


def check_text(text: str, field: str, max_chars: int = MAX_NAME_CHARS) -> str:
    """Refuse text that is not valid Unicode, holds control characters, or is too long.

    Lone surrogates are what Python makes of argv bytes that are not UTF-8; they cannot be
    stored as text, so they are refused rather than written. Control characters (C0, DEL,
    C1) would corrupt tables, CSV and calendar exports.

    Raises:
        ValidationError: naming the field and what was expected.
    """
    for ch in text:
        code = ord(ch)
        if 0xD800 <= code <= 0xDFFF:
            raise ValidationError(
                field, f"{_label(field)} is not valid UTF-8 text (a byte that is not UTF-8 was "
                       f"given); type it again in UTF-8.")
        if unicodedata.category(ch) == "Cc":
            raise ValidationError(
                field, f"{_label(field)} must not contain control characters (found U+{code:04X}).")
    if len(text) > max_chars:
        raise ValidationError(
            field, f"{_label(field)} must be at most {max_chars} characters, not {len(text)}.")
    return text


def _years_from(moment: datetime, years: int) -> datetime:
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:  # 29 February in a year that has none
        return moment.replace(year=moment.year + years, day=28)


def _shown(text: object) -> str:
    """The value as typed, cut short: a 10,000-digit number is not echoed back whole."""
    shown = repr(str(text).strip())
    return shown if len(shown) <= 40 else shown[:37] + "...'"


def _label(field: str) -> str:
    return field.replace("_", " ").replace("-", " ").capitalize()


def aware_datetime(text: object) -> datetime | None:
    """An ISO-8601 instant with its offset, or None (not text, not a time, or no offset: a
    time without an offset says nothing about its zone)."""
    if not isinstance(text, str) or not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None
