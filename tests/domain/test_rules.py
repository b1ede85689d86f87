"""Booking rules with a fixed clock: each rule, boundaries, and several reasons at once."""

from datetime import UTC, datetime, time, timedelta

import pytest

from app.domain.bookings import (
    BookingRequest,
    BookingStatus,
    Occupancy,
    Phase,
    RuleContext,
    TransitionRefused,
    next_status,
)
from app.domain.errors import ValidationError
from app.domain.lab import Lab, OpeningHours
from app.domain.rules import check_request, find_slot, peak_use

LAB = Lab(name="Winchester", spaces=100, id=1)
TZ = LAB.tz
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)  # Wednesday


def req(start, end, spaces=1, phase=Phase.DEVICE, **kw) -> BookingRequest:
    return BookingRequest(lab_id=1, org_id=1, start=start, end=end, spaces=spaces, phase=phase, **kw)


def local(y, m, d, h, mi=0) -> datetime:
    return datetime(y, m, d, h, mi, tzinfo=TZ)


def codes(reasons) -> list[str]:
    return [r.code for r in reasons]


def check(r, ctx=None, now=NOW):
    return check_request(LAB, r, now, ctx or RuleContext())


def test_good_request_passes() -> None:
    assert check(req(local(2026, 11, 30, 9), local(2026, 11, 30, 17))) == []


def test_bank_holiday_substitute_day_refused() -> None:
    reasons = check(req(local(2026, 12, 28, 9), local(2026, 12, 28, 17)))
    assert codes(reasons) == ["working_day"]
    assert "Boxing Day" in reasons[0].message


def test_booking_crossing_closing_time() -> None:
    reasons = check(req(local(2026, 11, 30, 16), local(2026, 11, 30, 19)))
    assert codes(reasons) == ["hours"]
    assert "19:00" in reasons[0].message and "18:00" in reasons[0].message


def test_booking_ending_exactly_at_closing_time_is_fine() -> None:
    assert check(req(local(2026, 11, 30, 8), local(2026, 11, 30, 18))) == []


def test_multi_day_booking_occupies_each_days_hours() -> None:
    assert check(req(local(2026, 11, 30, 10), local(2026, 12, 2, 12))) == []


def test_booking_over_a_weekend_is_refused() -> None:
    reasons = check(req(local(2026, 12, 4, 10), local(2026, 12, 7, 12)))
    assert codes(reasons) == ["working_day"]
    assert "Saturday" in reasons[0].message and "Sunday" in reasons[0].message


def test_notice_boundary_exactly_48_hours() -> None:
    start = NOW + timedelta(hours=48)  # Friday 10:00
    assert check(req(start, start + timedelta(hours=2))) == []
    early = start - timedelta(minutes=1)
    assert codes(check(req(early, early + timedelta(hours=2)))) == ["notice"]


def test_e2e_needs_40_working_days_across_christmas() -> None:
    ok_start = local(2027, 1, 25, 9)  # the 40th working day after Wed 25 Nov 2026
    ctx = RuleContext(completed_roles=("IS",))
    assert check(req(ok_start, ok_start + timedelta(hours=8), phase=Phase.E2E, roles=("IS",)), ctx) == []
    early = local(2027, 1, 22, 9)
    reasons = check(req(early, early + timedelta(hours=8), phase=Phase.E2E, roles=("IS",)), ctx)
    assert codes(reasons) == ["e2e_notice"]
    assert "Mon 25 Jan 2027" in reasons[0].message


def test_e2e_role_must_have_completed_mandatory_testing() -> None:
    start = local(2027, 2, 1, 9)
    ctx = RuleContext(completed_roles=("IS",))
    reasons = check(req(start, start + timedelta(hours=8), phase=Phase.E2E, roles=("IS", "GS")), ctx)
    assert codes(reasons) == ["role"]
    assert "GS" in reasons[0].message
    no_roles = check(req(start, start + timedelta(hours=8), phase=Phase.E2E), ctx)
    assert codes(no_roles) == ["role"]


def occ(booking_id, start, end, spaces, benches=()):
    return Occupancy(booking_id, start.astimezone(UTC), end.astimezone(UTC), spaces, benches)


def test_capacity_at_the_exact_boundary() -> None:
    day = (local(2026, 11, 30, 9), local(2026, 11, 30, 17))
    ctx = RuleContext(occupancy=[occ(1, *day, 60), occ(2, *day, 30)])
    assert check(req(*day, spaces=10), ctx) == []  # 60 + 30 + 10 = 100 exactly
    reasons = check(req(*day, spaces=11), ctx)
    assert codes(reasons) == ["capacity"]
    assert "90 of the lab's 100" in reasons[0].message


def test_capacity_back_to_back_bookings_do_not_overlap() -> None:
    ctx = RuleContext(occupancy=[occ(1, local(2026, 11, 30, 8), local(2026, 11, 30, 12), 100)])
    assert check(req(local(2026, 11, 30, 12), local(2026, 11, 30, 17), spaces=100), ctx) == []
    assert codes(check(req(local(2026, 11, 30, 11, 59), local(2026, 11, 30, 17), spaces=1), ctx)) == ["capacity"]


def test_capacity_peak_from_staggered_bookings() -> None:
    occupancy = [
        occ(1, local(2026, 11, 30, 8), local(2026, 11, 30, 11), 40),
        occ(2, local(2026, 11, 30, 10), local(2026, 11, 30, 14), 40),
        occ(3, local(2026, 11, 30, 13), local(2026, 11, 30, 18), 40),
    ]
    peak, at = peak_use(occupancy, local(2026, 11, 30, 8).astimezone(UTC),
                        local(2026, 11, 30, 18).astimezone(UTC))
    assert peak == 80 and at == local(2026, 11, 30, 10).astimezone(UTC)
    assert check(req(local(2026, 11, 30, 8), local(2026, 11, 30, 18), spaces=20), RuleContext(occupancy=occupancy)) == []
    assert codes(check(req(local(2026, 11, 30, 8), local(2026, 11, 30, 18), spaces=21),
                       RuleContext(occupancy=occupancy))) == ["capacity"]


def test_bench_conflict_names_the_booking() -> None:
    ctx = RuleContext(occupancy=[occ(7, local(2026, 11, 30, 9), local(2026, 11, 30, 12), 1, ("Bench 2",))])
    reasons = check(req(local(2026, 11, 30, 11), local(2026, 11, 30, 15), benches=("Bench 2",)), ctx)
    assert codes(reasons) == ["bench_conflict"] and "#7" in reasons[0].message
    assert reasons[0].message == "Bench 2 is already held at that time by booking #7."
    assert check(req(local(2026, 11, 30, 12), local(2026, 11, 30, 15), benches=("Bench 2",)), ctx) == []


def test_bench_conflict_names_a_bench_once() -> None:
    ctx = RuleContext(occupancy=[occ(7, local(2026, 11, 30, 9), local(2026, 11, 30, 12), 1, ("RF cage",))])
    reasons = check(req(local(2026, 11, 30, 11), local(2026, 11, 30, 15), benches=("RF cage",)), ctx)
    assert reasons[0].message.startswith("Bench RF cage is already held")


def test_induction_required_except_for_induction_bookings() -> None:
    ctx = RuleContext(attendee_inducted={"a@x.example": True, "b@x.example": False})
    r = req(local(2026, 11, 30, 9), local(2026, 11, 30, 17), attendees=("a@x.example", "b@x.example"))
    reasons = check(r, ctx)
    assert codes(reasons) == ["induction"] and "b@x.example" in reasons[0].message
    r2 = req(local(2026, 11, 30, 9), local(2026, 11, 30, 17), phase=Phase.INDUCTION, attendees=("b@x.example",))
    assert check(r2, ctx) == []


def test_several_reasons_at_once() -> None:
    ctx = RuleContext(
        occupancy=[occ(1, local(2026, 11, 26, 8), local(2026, 11, 26, 18), 95, ("Bench 1",))],
        completed_roles=(), attendee_inducted={"z@x.example": False},
    )
    r = req(local(2026, 11, 26, 7), local(2026, 11, 28, 19), spaces=10, phase=Phase.E2E,
            roles=("GS",), attendees=("z@x.example",), benches=("Bench 1",))
    assert codes(check(r, ctx)) == [
        "working_day", "hours", "hours", "notice", "e2e_notice", "role", "capacity", "bench_conflict",
        "induction",
    ]


SAT, SUN, BOXING = (2026, 12, 5), (2026, 12, 6), (2026, 12, 28)  # Boxing Day substitute: a Monday


@pytest.mark.parametrize("day", [SAT, SUN, BOXING], ids=["saturday", "sunday", "bank_holiday"])
@pytest.mark.parametrize(
    ("hours", "spaces", "expected"),
    [
        ((9, 17), 1, ["working_day"]),
        ((9, 17), 101, ["working_day", "capacity"]),
        ((7, 17), 1, ["working_day", "hours"]),
        ((9, 19), 1, ["working_day", "hours"]),
        ((6, 20), 1, ["working_day", "hours", "hours"]),
        ((7, 19), 101, ["working_day", "hours", "hours", "capacity"]),
    ],
)
def test_closed_day_reports_capacity_and_hours_too(day, hours, spaces, expected) -> None:
    r = req(local(*day, hours[0]), local(*day, hours[1]), spaces=spaces)
    assert codes(check(r)) == expected


def test_closed_day_reasons_say_what_is_wrong() -> None:
    reasons = check(req(local(*SAT, 7), local(*SAT, 19), spaces=101))
    messages = {r.code: r.message for r in reversed(reasons)}
    assert "before the lab opens at 08:00 on any day" in messages["hours"]
    assert "The lab has 100 spaces, so 101 can never fit" in messages["capacity"]


def test_more_spaces_than_the_lab_has_is_capacity_on_any_day() -> None:
    open_day = check(req(local(2026, 11, 30, 9), local(2026, 11, 30, 17), spaces=150))
    assert codes(open_day) == ["capacity"] and "can never fit" in open_day[0].message
    # Over a weekend and outside hours: every failing rule at once.
    r = req(local(2026, 12, 4, 7), local(2026, 12, 7, 19), spaces=150)
    assert codes(check(r)) == ["working_day", "hours", "hours", "capacity"]


def test_closed_day_hours_use_the_lab_widest_hours() -> None:
    lab = Lab(name="Odd", spaces=5, id=2, hours={
        0: OpeningHours(time(10, 0), time(16, 0)), 4: OpeningHours(time(7, 0), time(20, 0)),
    })
    sat = req(local(*SAT, 7), local(*SAT, 20))
    assert codes(check_request(lab, sat, NOW, RuleContext())) == ["working_day"]
    early = req(local(*SAT, 6, 30), local(*SAT, 20, 30))
    assert codes(check_request(lab, early, NOW, RuleContext())) == ["working_day", "hours", "hours"]


def test_request_validation() -> None:
    with pytest.raises(ValidationError) as err:
        req(local(2026, 11, 30, 17), local(2026, 11, 30, 9))
    assert err.value.field == "end"
    with pytest.raises(ValidationError):
        req(local(2026, 11, 30, 9), local(2026, 11, 30, 17), spaces=0)


def test_status_life_cycle() -> None:
    assert next_status("approve", BookingStatus.REQUESTED) is BookingStatus.SCHEDULED
    assert next_status("checkin", BookingStatus.SCHEDULED) is BookingStatus.CHECKED_IN
    # A move the life cycle does not allow is a refusal (CLI exit 3), not bad input.
    with pytest.raises(TransitionRefused, match="Cannot complete a booking that is requested"):
        next_status("complete", BookingStatus.REQUESTED)
    with pytest.raises(ValidationError, match="Action must be one of"):
        next_status("finish", BookingStatus.REQUESTED)


def test_find_slot_skips_full_days_and_respects_notice() -> None:
    full = [occ(1, local(2026, 11, 27, 8), local(2026, 11, 27, 18), 100),
            occ(2, local(2026, 11, 30, 8), local(2026, 11, 30, 13), 95)]
    slot = find_slot(LAB, NOW, 10, 4, Phase.DEVICE, lambda a, b: full)
    # Fri 27 full; Mon 30 has 95 held until 13:00.
    assert slot == (local(2026, 11, 30, 13).astimezone(UTC), local(2026, 11, 30, 17).astimezone(UTC))


def test_find_slot_e2e_waits_40_working_days() -> None:
    slot = find_slot(LAB, NOW, 1, 2, Phase.E2E, lambda a, b: [])
    assert slot[0] == local(2027, 1, 25, 8).astimezone(UTC)
