"""Working days, bank holidays and substitute days, opening hours across DST."""

from datetime import UTC, date, datetime

from app.domain.lab import HolidayCalendar, Lab
from app.domain.rules import end_after_opening_hours, segments


def lab(**kw) -> Lab:
    return Lab(name="L", spaces=10, **kw)


def test_christmas_2026_substitute_day_is_not_a_working_day() -> None:
    # 26 Dec 2026 is a Saturday, so Boxing Day is observed on Monday 28 December.
    l = lab()
    assert not l.is_working_day(date(2026, 12, 25))
    assert not l.is_working_day(date(2026, 12, 28))
    assert "Boxing Day" in l.non_working_reason(date(2026, 12, 28))
    assert l.is_working_day(date(2026, 12, 29))


def test_weekend_reason_names_the_weekday() -> None:
    assert "Saturday" in lab().non_working_reason(date(2026, 11, 28))


def test_forty_working_days_across_christmas() -> None:
    # From Wed 25 Nov 2026: Nov 26,27 (2), Dec 1-4... counting skips weekends, 25, 28 Dec and 1 Jan.
    l = lab()
    d = l.add_working_days(date(2026, 11, 25), 40)
    assert d == date(2027, 1, 25)  # counted by hand: 21 days in 2026, 19 in January
    # Brute-force cross-check: count weekdays that are not holidays.
    count, cur = 0, date(2026, 11, 25)
    from datetime import timedelta
    while count < 40:
        cur += timedelta(days=1)
        if cur.weekday() < 5 and cur not in (date(2026, 12, 25), date(2026, 12, 28), date(2027, 1, 1)):
            count += 1
    assert cur == d


def test_forty_working_days_across_easter_2027() -> None:
    # Good Friday 26 Mar 2027 and Easter Monday 29 Mar 2027 are not counted: 40 weekdays after
    # Fri 26 Feb would be Fri 23 Apr; the two holidays push it to Tue 27 Apr.
    l = lab()
    assert l.add_working_days(date(2027, 2, 26), 40) == date(2027, 4, 27)


def test_extra_closed_days_count_as_non_working() -> None:
    l = lab(calendar=HolidayCalendar(extra_closed=frozenset({date(2026, 12, 1)})))
    assert not l.is_working_day(date(2026, 12, 1))
    assert l.non_working_reason(date(2026, 12, 1)).endswith("(Lab closed)")


def test_opening_hours_follow_local_time_across_the_clock_change() -> None:
    l = lab()
    # Clocks go back on Sun 25 Oct 2026: 08:00 local is 07:00 UTC on Fri 23rd, 08:00 UTC on Mon 26th.
    before = l.opening_window(date(2026, 10, 23))
    after = l.opening_window(date(2026, 10, 26))
    assert before[0].astimezone(UTC).hour == 7
    assert after[0].astimezone(UTC).hour == 8
    # Clocks go forward on Sun 28 Mar 2027.
    assert l.opening_window(date(2027, 3, 26)) is None  # Good Friday
    assert l.opening_window(date(2027, 3, 30))[0].astimezone(UTC).hour == 7


def test_segments_of_a_booking_over_a_clock_change_week() -> None:
    l = lab()
    tz = l.tz
    start = datetime(2026, 10, 22, 9, 0, tzinfo=tz)  # Thursday before the change
    end = datetime(2026, 10, 27, 12, 0, tzinfo=tz)  # Tuesday after
    segs = segments(l, start, end)
    assert [s.day for s in segs] == [date(2026, 10, 22), date(2026, 10, 23), date(2026, 10, 26), date(2026, 10, 27)]
    assert segs[0].start == datetime(2026, 10, 22, 8, 0, tzinfo=UTC)
    assert segs[2].start == datetime(2026, 10, 26, 8, 0, tzinfo=UTC)
    assert segs[-1].end == datetime(2026, 10, 27, 12, 0, tzinfo=UTC)


def test_end_after_opening_hours_spans_days() -> None:
    l = lab()
    start = datetime(2026, 11, 27, 14, 0, tzinfo=l.tz)  # Friday 14:00
    end = end_after_opening_hours(l, start, 12)
    # 4 h on Friday, then Monday 08:00 + 8 h
    assert end == datetime(2026, 11, 30, 16, 0, tzinfo=UTC)
