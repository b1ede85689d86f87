"""Week calendar figures: layout of overlapping blocks, hourly use, default request window."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from app.domain.bookings import BookingStatus, Phase
from app.domain.clock import FixedClock
from app.main import AppContext, build_context
from app.services.calendar_view import (
    actions_for,
    build_week,
    default_window,
    hourly_use,
    layout_columns,
    opening_hours_between,
    use_fraction,
    week_label,
    week_start,
)
from app.services.demo import create_demo_lab

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)  # a Wednesday


@pytest.fixture
def ctx(tmp_path: Path) -> AppContext:
    context = build_context(tmp_path / "lab.db", FixedClock(NOW), actor="tester")
    create_demo_lab(context.lab_service, context.booking_service)
    yield context
    context.close()


def test_layout_puts_overlaps_side_by_side_and_touching_ones_in_one_lane() -> None:
    lanes = layout_columns([(9, 17, "a"), (10, 12, "b"), (12, 13, "c"), (17, 18, "d")])
    assert lanes["a"] == (0, 2)
    assert lanes["b"] == (1, 2)
    assert lanes["c"] == (1, 2)  # b's lane is free again at 12:00
    assert lanes["d"] == (0, 1)  # touches a, starts a new group


def test_layout_chain_of_overlaps_shares_lane_count() -> None:
    lanes = layout_columns([(8, 10, 1), (9, 11, 2), (10.5, 12, 3)])
    assert lanes == {1: (0, 2), 2: (1, 2), 3: (0, 2)}


def test_week_label_and_start() -> None:
    assert week_start(date(2026, 11, 25)) == date(2026, 11, 23)
    assert week_label(date(2026, 11, 23)) == "Week 48 · 23 – 29 Nov 2026"
    assert week_label(date(2026, 12, 28)) == "Week 53 · 28 Dec 2026 – 03 Jan 2027"


def test_build_week_for_demo_lab(ctx: AppContext) -> None:
    lab = ctx.labs.resolve("Demo Lab")
    bookings = ctx.booking_service.list("Demo Lab")
    view = build_week(lab, bookings, date(2026, 11, 23), NOW)
    assert [d.is_today for d in view.days] == [False, False, True, False, False, False, False]
    assert [d.working for d in view.days] == [True] * 5 + [False] * 2
    assert len(view.blocks) == 6  # Monday's booking of next week is not in this week
    monday = next(b for b in view.blocks if b.day_index == 0)
    assert (monday.start_h, monday.end_h, monday.columns) == (9.0, 17.0, 1)
    # Tuesday: 4 spaces 08-12 and 8 spaces 13-18.
    assert view.hourly_used[1][:6] == (0, 4, 4, 4, 4, 0)
    assert view.hourly_used[1][6:12] == (8, 8, 8, 8, 8, 0)  # 13:00-18:00
    assert view.capacity == 24


def test_bank_holiday_is_named(ctx: AppContext) -> None:
    lab = ctx.labs.resolve("Demo Lab")
    view = build_week(lab, [], date(2026, 12, 21), NOW)
    christmas = view.days[4]
    assert christmas.day == date(2026, 12, 25)
    assert christmas.holiday == "Christmas Day"
    assert not christmas.working


def test_overlapping_bookings_and_hourly_peak(ctx: AppContext) -> None:
    svc = ctx.booking_service
    for h0, h1, spaces in ((9, 17, 5), (10, 12, 7)):
        lab, req = svc.build_request(
            "Demo Lab", "Brightside Power", datetime(2026, 12, 8, h0), datetime(2026, 12, 8, h1),
            spaces, Phase.DEVICE,
        )
        assert svc.request(lab, req).status == "requested"
    lab = ctx.labs.resolve("Demo Lab")
    bookings = svc.list("Demo Lab", day_from=date(2026, 12, 7), day_to=date(2026, 12, 13))
    view = build_week(lab, bookings, date(2026, 12, 7), NOW)
    lanes = sorted((b.column, b.columns) for b in view.blocks)
    assert lanes == [(0, 2), (1, 2)]
    assert hourly_use(lab, bookings, date(2026, 12, 8))[2:6] == [5, 12, 12, 5]
    svc.transition(bookings[1].id, "cancel")
    after = svc.list("Demo Lab", day_from=date(2026, 12, 7), day_to=date(2026, 12, 13))
    assert hourly_use(lab, after, date(2026, 12, 8))[3] == 5  # cancelled holds no space


def test_multi_day_booking_is_drawn_within_opening_hours_on_middle_days(ctx: AppContext) -> None:
    svc = ctx.booking_service
    lab, req = svc.build_request(
        "Demo Lab", "Brightside Power", datetime(2026, 12, 8, 9), datetime(2026, 12, 10, 12), 2,
        Phase.DEVICE,
    )
    svc.request(lab, req)
    bookings = svc.list("Demo Lab", day_from=date(2026, 12, 7), day_to=date(2026, 12, 13))
    view = build_week(lab, bookings, date(2026, 12, 7), NOW)
    spans = [(b.day_index, b.start_h, b.end_h) for b in view.blocks]
    assert spans == [(1, 9.0, 18.0), (2, 8.0, 18.0), (3, 8.0, 12.0)]


def test_default_window_meets_notice(ctx: AppContext) -> None:
    lab = ctx.labs.resolve("Demo Lab")
    start, end = default_window(lab, NOW)  # Wed 10:00 + 48 h = Fri 10:00 -> Mon 09:00
    assert (start.date(), start.hour, end.hour) == (date(2026, 11, 30), 9, 17)
    early = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)  # Mon 08:00 -> Wed 09:00
    assert default_window(lab, early)[0].date() == date(2026, 11, 25)


def test_opening_hours_between_counts_open_time_only(ctx: AppContext) -> None:
    lab = ctx.labs.resolve("Demo Lab")
    start = datetime(2026, 12, 8, 9, tzinfo=lab.tz)
    assert opening_hours_between(lab, start, datetime(2026, 12, 8, 17, tzinfo=lab.tz)) == 8.0
    assert opening_hours_between(lab, start, datetime(2026, 12, 9, 12, tzinfo=lab.tz)) == 13.0
    saturday = datetime(2026, 12, 12, 9, tzinfo=lab.tz)
    assert opening_hours_between(lab, saturday, datetime(2026, 12, 12, 11, tzinfo=lab.tz)) == 2.0


def test_actions_and_fraction() -> None:
    assert actions_for(BookingStatus.REQUESTED) == ("approve", "reject", "cancel")
    assert actions_for(BookingStatus.SCHEDULED) == ("cancel", "checkin", "no_show")
    assert actions_for(BookingStatus.COMPLETED) == ()
    assert use_fraction(30, 24) == 1.0 and use_fraction(6, 24) == 0.25
