"""What a week calendar shows: day facts, booking blocks laid out side by side, hourly use.

Qt-free so that the layout and the figures can be tested without a screen; the UI only paints.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TypeVar

from app.domain.bookings import ACTIVE_STATUSES, TRANSITIONS, Booking, BookingStatus, Occupancy
from app.domain.lab import Lab
from app.domain.rules import peak_use, segments

K = TypeVar("K", bound=Hashable)

#: Hours of the day a week view spans by default (opening hours 08:00-18:00 plus one each side).
FIRST_HOUR, LAST_HOUR = 7, 19


@dataclass(frozen=True, slots=True)
class DayInfo:
    """One column of the week.

    Attributes:
        day: the calendar date (lab local).
        working: whether the lab opens that day.
        holiday: the bank holiday's name (or "Lab closed"), None on an ordinary day.
        weekend: Saturday or Sunday.
        is_today: the lab's local date today.
        opens_h: opening hour as a fraction of the day (None when closed).
        closes_h: closing hour as a fraction of the day (None when closed).
    """

    day: date
    working: bool
    holiday: str | None
    weekend: bool
    is_today: bool
    opens_h: float | None
    closes_h: float | None


@dataclass(frozen=True, slots=True)
class DayBlock:
    """The part of a booking shown in one day's column.

    Attributes:
        booking: the booking.
        day_index: 0 = Monday.
        start_h: top edge in hours since local midnight (clipped to the view).
        end_h: bottom edge in hours since local midnight (clipped to the view).
        column: which side-by-side lane the block sits in (0-based).
        columns: how many lanes its group of overlapping blocks needs.
    """

    booking: Booking
    day_index: int
    start_h: float
    end_h: float
    column: int
    columns: int


@dataclass(frozen=True, slots=True)
class WeekView:
    """Everything a week calendar paints.

    Attributes:
        lab: the lab shown.
        monday: first day of the week.
        days: seven :class:`DayInfo`, Monday first.
        blocks: booking blocks, laid out.
        hourly_used: per day, per hour from `first_hour`, the most spaces held in that hour.
        first_hour: first hour row shown.
        last_hour: the hour the view ends at.
        now_local: the current time in the lab's zone.
    """

    lab: Lab
    monday: date
    days: tuple[DayInfo, ...]
    blocks: tuple[DayBlock, ...]
    hourly_used: tuple[tuple[int, ...], ...]
    first_hour: int
    last_hour: int
    now_local: datetime

    @property
    def capacity(self) -> int:
        return self.lab.spaces


def week_start(day: date) -> date:
    """The Monday of the week containing `day`."""
    return day - timedelta(days=day.weekday())


def week_label(monday: date) -> str:
    """``Week 48 · 23 – 29 Nov 2026`` (ISO week number)."""
    sunday = monday + timedelta(days=6)
    week = monday.isocalendar().week
    if monday.month == sunday.month:
        span = f"{monday.day} – {sunday:%d %b %Y}"
    elif monday.year == sunday.year:
        span = f"{monday:%d %b} – {sunday:%d %b %Y}"
    else:
        span = f"{monday:%d %b %Y} – {sunday:%d %b %Y}"
    return f"Week {week} · {span.lstrip('0')}"


def layout_columns(intervals: Sequence[tuple[float, float, K]]) -> dict[K, tuple[int, int]]:
    """Place overlapping intervals side by side, as a calendar does.

    Intervals that overlap (directly or through a chain) form a group; each gets the lowest free
    lane, and every member of a group learns how many lanes the group needs. Touching intervals
    (one ends when the next starts) do not overlap.

    Returns:
        key -> (lane, lanes in its group).
    """
    ordered = sorted(intervals, key=lambda iv: (iv[0], -(iv[1] - iv[0])))
    result: dict[K, tuple[int, int]] = {}
    group: list[tuple[K, int]] = []
    lane_ends: list[float] = []
    group_end = float("-inf")

    def close_group() -> None:
        for key, lane in group:
            result[key] = (lane, len(lane_ends))

    for start, end, key in ordered:
        if group and start >= group_end:
            close_group()
            group, lane_ends = [], []
        for lane, lane_end in enumerate(lane_ends):
            if lane_end <= start:
                lane_ends[lane] = end
                break
        else:
            lane = len(lane_ends)
            lane_ends.append(end)
        group.append((key, lane))
        group_end = max(group_end, end) if len(group) > 1 else end
    if group:
        close_group()
    return result


def _hours_since_midnight(moment: datetime, day: date) -> float:
    midnight = datetime.combine(day, time(0), tzinfo=moment.tzinfo)
    return (moment - midnight).total_seconds() / 3600.0


def _day_info(lab: Lab, day: date, today: date) -> DayInfo:
    window = lab.opening_window(day)
    return DayInfo(
        day=day,
        working=window is not None,
        holiday=lab.calendar.holiday_name(day),
        weekend=day.weekday() >= 5,
        is_today=day == today,
        opens_h=_hours_since_midnight(window[0], day) if window else None,
        closes_h=_hours_since_midnight(window[1], day) if window else None,
    )


def _day_part(lab: Lab, booking: Booking, day: date) -> tuple[datetime, datetime] | None:
    """The part of `booking` drawn on `day` (lab local), or None.

    A booking running over several days holds space only in opening hours (see
    :func:`app.domain.rules.segments`), so on days it continues through it is drawn within the
    opening window rather than overnight.
    """
    tz = lab.tz
    day_start = datetime.combine(day, time(0), tzinfo=tz)
    day_end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
    start, end = lab.local(booking.start), lab.local(booking.end)
    s, e = max(start, day_start), min(end, day_end)
    if e <= s:
        return None
    window = lab.opening_window(day)
    if window is not None and (start < day_start or end > day_end):
        if start < day_start:
            s = max(s, window[0])
        if end > day_end:
            e = min(e, window[1])
        if e <= s:
            return None
    return s, e


def hourly_use(lab: Lab, bookings: Sequence[Booking], day: date,
               first_hour: int = FIRST_HOUR, last_hour: int = LAST_HOUR) -> list[int]:
    """Most spaces held by active bookings in each hour [h, h+1) of `day`, from `first_hour`."""
    occupancy: list[Occupancy] = []
    for b in bookings:
        if b.status not in ACTIVE_STATUSES:
            continue
        part = _day_part(lab, b, day)
        if part is not None:
            occupancy.append(Occupancy(
                booking_id=b.id, start=part[0].astimezone(UTC),
                end=part[1].astimezone(UTC), spaces=b.spaces,
            ))
    used: list[int] = []
    for hour in range(first_hour, last_hour):
        h0 = datetime.combine(day, time(hour), tzinfo=lab.tz).astimezone(UTC)
        used.append(peak_use(occupancy, h0, h0 + timedelta(hours=1))[0])
    return used


def build_week(lab: Lab, bookings: Sequence[Booking], monday: date, now: datetime,
               first_hour: int = FIRST_HOUR, last_hour: int = LAST_HOUR) -> WeekView:
    """Lay out the week starting `monday` for the calendar.

    Args:
        lab: the lab whose bookings these are.
        bookings: bookings to draw (any status; the hourly figures count active ones only).
        monday: first day shown.
        now: the current instant (aware).
        first_hour: first hour row.
        last_hour: end of the last hour row.
    """
    now_local = lab.local(now)
    days = tuple(_day_info(lab, monday + timedelta(days=i), now_local.date()) for i in range(7))
    blocks: list[DayBlock] = []
    for index, info in enumerate(days):
        parts: list[tuple[float, float, int]] = []
        by_id: dict[int, Booking] = {}
        for b in bookings:
            part = _day_part(lab, b, info.day)
            if part is None:
                continue
            s_h = max(_hours_since_midnight(part[0], info.day), float(first_hour))
            e_h = min(_hours_since_midnight(part[1], info.day), float(last_hour))
            if e_h > s_h:
                parts.append((s_h, e_h, b.id))
                by_id[b.id] = b
        lanes = layout_columns(parts)
        for s_h, e_h, bid in parts:
            lane, lane_count = lanes[bid]
            blocks.append(DayBlock(by_id[bid], index, s_h, e_h, lane, lane_count))
    used = tuple(tuple(hourly_use(lab, bookings, d.day, first_hour, last_hour)) for d in days)
    return WeekView(lab, monday, days, tuple(blocks), used, first_hour, last_hour, now_local)


def use_fraction(used: int, capacity: int) -> float:
    """Share of the capacity in use, 0..1 (over-booked counts as full)."""
    return 0.0 if capacity <= 0 else min(max(used / capacity, 0.0), 1.0)


def default_window(lab: Lab, now: datetime, opens: time = time(9), closes: time = time(17)
                   ) -> tuple[datetime, datetime]:
    """A request that meets the attendance notice: the next working day after it, 09:00-17:00."""
    earliest = lab.local(now + timedelta(hours=lab.attendance_notice_h))
    day = earliest.date()
    if earliest.time() > opens:
        day += timedelta(days=1)
    day = lab.next_working_day(day)
    return (datetime.combine(day, opens, tzinfo=lab.tz), datetime.combine(day, closes, tzinfo=lab.tz))


def opening_hours_between(lab: Lab, start: datetime, end: datetime) -> float:
    """Hours of opening time within [start, end); the wall-clock length when none fall open."""
    if end <= start:
        return 0.0
    total = sum((s.end - s.start).total_seconds() for s in segments(lab, start, end)) / 3600.0
    return total if total > 0 else (end - start).total_seconds() / 3600.0


def actions_for(status: BookingStatus) -> tuple[str, ...]:
    """Life-cycle actions that may be taken on a booking in `status` (in a stable order)."""
    return tuple(action for action, (sources, _) in TRANSITIONS.items() if status in sources)
