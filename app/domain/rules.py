"""The lab's booking rules, as pure functions.

Every rule is checked and every failure reported, so that a person fixes a request in one go.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta

from app.domain.bookings import (
    BookingRequest,
    Occupancy,
    Phase,
    Reason,
    RuleContext,
    Segment,
    booking_days,
)
from app.domain.lab import Lab, OpeningHours


def _fmt(moment: datetime) -> str:
    return f"{moment:%H:%M on %a %d %b %Y}"


def segments(lab: Lab, start: datetime, end: datetime) -> list[Segment]:
    """Split [start, end) into the parts that fall inside each working day's opening hours."""
    tz = lab.tz
    start_l, end_l = start.astimezone(tz), end.astimezone(tz)
    out: list[Segment] = []
    for day in booking_days(start_l, end_l):
        window = lab.opening_window(day)
        if window is None:
            continue
        seg_start = max(start_l, window[0])
        seg_end = min(end_l, window[1])
        if seg_end > seg_start:
            out.append(
                Segment(day, seg_start.astimezone(UTC), seg_end.astimezone(UTC))
            )
    return out


def peak_use(occupancy: Iterable[Occupancy], start: datetime, end: datetime) -> tuple[int, datetime]:
    """Most spaces held at any moment within [start, end), and the first moment it is reached."""
    points: list[tuple[datetime, int]] = []
    for occ in occupancy:
        s = max(occ.start, start)
        e = min(occ.end, end)
        if e > s:
            points.append((s, occ.spaces))
            points.append((e, -occ.spaces))
    # Ends sort before starts at the same instant: a booking ending at 12:00 frees its space for
    # one starting at 12:00 (half-open intervals).
    points.sort(key=lambda p: (p[0], p[1]))
    peak, at, used = 0, start, 0
    for moment, delta in points:
        used += delta
        if used > peak:
            peak, at = used, moment
    return peak, at


def _check_days(lab: Lab, start_l: datetime, end_l: datetime) -> list[Reason]:
    reasons: list[Reason] = []
    closed = [r for d in booking_days(start_l, end_l) if (r := lab.non_working_reason(d))]
    if closed:
        reasons.append(
            Reason("working_day", "The booking covers days the lab is closed: " + "; ".join(closed) + ".")
        )
    return reasons


def _hours_on(lab: Lab, moment: datetime) -> tuple[OpeningHours | None, str]:
    """The opening hours a time on `moment`'s day is checked against, and how to name them.

    A weekday the lab never opens has no hours of its own; a time on it is still outside opening
    hours when it is outside the lab's hours on every day (from its earliest opening to its latest
    closing), so such a request learns about the hours as well as the closed day.
    """
    hours = lab.hours.get(moment.weekday())
    if hours is not None:
        return hours, ""
    if not lab.hours:
        return None, ""
    widest = OpeningHours(
        min(h.opens for h in lab.hours.values()), max(h.closes for h in lab.hours.values())
    )
    return widest, " on any day"


def _check_hours(lab: Lab, start_l: datetime, end_l: datetime) -> list[Reason]:
    reasons: list[Reason] = []
    first_hours, first_when = _hours_on(lab, start_l)
    last_day_end = end_l - timedelta(microseconds=1) if end_l.time() == datetime.min.time() else end_l
    last_hours, last_when = _hours_on(lab, last_day_end)
    if first_hours is not None:
        if start_l.time() < first_hours.opens:
            reasons.append(Reason(
                "hours",
                f"The booking starts at {_fmt(start_l)}, before the lab opens at "
                f"{first_hours.opens:%H:%M}{first_when}.",
            ))
        elif start_l.time() >= first_hours.closes:
            reasons.append(Reason(
                "hours",
                f"The booking starts at {_fmt(start_l)}, after the lab closes at "
                f"{first_hours.closes:%H:%M}{first_when}.",
            ))
    if last_hours is not None:
        end_time = end_l.time()
        if end_l.time() == datetime.min.time() or end_time > last_hours.closes:
            reasons.append(Reason(
                "hours",
                f"The booking ends at {_fmt(end_l)}, after the lab closes at "
                f"{last_hours.closes:%H:%M}{last_when}.",
            ))
        elif end_time <= last_hours.opens:
            reasons.append(Reason(
                "hours",
                f"The booking ends at {_fmt(end_l)}, before the lab opens at "
                f"{last_hours.opens:%H:%M}{last_when}.",
            ))
    return reasons


def _check_notice(lab: Lab, req: BookingRequest, now: datetime) -> list[Reason]:
    reasons: list[Reason] = []
    earliest = now + timedelta(hours=lab.attendance_notice_h)
    if req.start < earliest:
        reasons.append(Reason(
            "notice",
            f"Attendance needs {lab.attendance_notice_h:g} hours' notice: the earliest start for a "
            f"request made at {_fmt(lab.local(now))} is {_fmt(lab.local(earliest))}.",
        ))
    if req.phase is Phase.E2E:
        first_day = e2e_earliest_day(lab, now)
        if lab.local(req.start).date() < first_day:
            reasons.append(Reason(
                "e2e_notice",
                f"End-to-End testing needs {lab.e2e_notice_working_days} working days' notice: "
                f"the earliest start day for a request made on {lab.local(now):%a %d %b %Y} is "
                f"{first_day:%a %d %b %Y}.",
            ))
    return reasons


def e2e_earliest_day(lab: Lab, now: datetime) -> date:
    """First day E2E testing may start when requested at `now`."""
    return lab.add_working_days(lab.local(now).date(), lab.e2e_notice_working_days)


def _check_roles(req: BookingRequest, ctx: RuleContext) -> list[Reason]:
    if req.phase is not Phase.E2E:
        return []
    if not req.roles:
        return [Reason("role", "An e2e booking must name the E2E roles to be tested (e.g. IS, GS).")]
    missing = [r for r in req.roles if r not in ctx.completed_roles]
    if missing:
        done = ", ".join(ctx.completed_roles) or "none"
        return [Reason(
            "role",
            f"E2E testing is only for roles whose mandatory testing is complete; not yet complete: "
            f"{', '.join(missing)} (complete: {done}).",
        )]
    return []


def _check_capacity(lab: Lab, req: BookingRequest, segs: list[Segment], ctx: RuleContext) -> list[Reason]:
    # Checked before (and whatever) the segments say: a request on closed days has no segments,
    # yet asking for more spaces than the lab has is a reason of its own on any day.
    if req.spaces > lab.spaces:
        return [Reason(
            "capacity",
            f"The lab has {lab.spaces} spaces, so {req.spaces} can never fit "
            f"(at most {lab.spaces}).",
        )]
    for seg in segs:
        peak, at = peak_use(ctx.occupancy, seg.start, seg.end)
        if peak + req.spaces > lab.spaces:
            return [Reason(
                "capacity",
                f"At {_fmt(lab.local(at))}, {peak} of the lab's {lab.spaces} spaces are already "
                f"held, so {req.spaces} more do not fit (at most {max(lab.spaces - peak, 0)}).",
            )]
    return []


def _check_benches(lab: Lab, req: BookingRequest, segs: list[Segment], ctx: RuleContext) -> list[Reason]:
    reasons: list[Reason] = []
    for bench in sorted(set(req.benches), key=str.casefold):
        key = bench.casefold()
        clashes = sorted({
            occ.booking_id
            for occ in ctx.occupancy
            if key in {b.casefold() for b in occ.benches}
            and any(occ.start < s.end and s.start < occ.end for s in segs)
        })
        if clashes:
            ids = ", ".join(f"#{i}" for i in clashes)
            reasons.append(Reason(
                "bench_conflict", f"{bench_title(bench)} is already held at that time by booking {ids}."
            ))
    return reasons


def bench_title(name: str) -> str:
    """A bench as a sentence names it: its name, with "Bench" before a bare number or code."""
    return name if name.casefold().startswith("bench") else f"Bench {name}"


def _check_inductions(lab: Lab, req: BookingRequest, ctx: RuleContext) -> list[Reason]:
    if req.phase is Phase.INDUCTION:
        return []
    missing = [email for email in req.attendees if not ctx.attendee_inducted.get(email)]
    if not missing:
        return []
    return [Reason(
        "induction",
        f"Every attendee needs an induction for {lab.name} valid on each booking day; "
        f"not covered: {', '.join(missing)}.",
    )]


def check_request(lab: Lab, req: BookingRequest, now: datetime, ctx: RuleContext) -> list[Reason]:
    """Check a request against every rule; return all the reasons it fails (empty = allowed)."""
    start_l, end_l = lab.local(req.start), lab.local(req.end)
    segs = segments(lab, req.start, req.end)
    return [
        *_check_days(lab, start_l, end_l),
        *_check_hours(lab, start_l, end_l),
        *_check_notice(lab, req, now),
        *_check_roles(req, ctx),
        *_check_capacity(lab, req, segs, ctx),
        *_check_benches(lab, req, segs, ctx),
        *_check_inductions(lab, req, ctx),
    ]


def end_after_opening_hours(lab: Lab, start: datetime, hours: float) -> datetime | None:
    """The instant at which `hours` of opening time have passed since `start` (None: > a year)."""
    remaining = timedelta(hours=hours)
    cursor = lab.local(start)
    for _ in range(400):
        window = lab.opening_window(cursor.date())
        if window is not None and cursor < window[1]:
            begin = max(cursor, window[0])
            available = window[1] - begin
            if available >= remaining:
                return (begin + remaining).astimezone(UTC)
            remaining -= available
        nxt = cursor.date() + timedelta(days=1)
        cursor = datetime.combine(nxt, datetime.min.time(), tzinfo=lab.tz)
    return None


OccupancyLoader = Callable[[date, date], list[Occupancy]]


def find_slot(
    lab: Lab,
    now: datetime,
    spaces: int,
    hours: float,
    phase: Phase,
    load: OccupancyLoader,
    horizon_days: int = 366,
    benches: tuple[str, ...] = (),
) -> tuple[datetime, datetime] | None:
    """Earliest [start, end) for `spaces` over `hours` of opening time that passes every time rule.

    Candidate starts are each working day's opening time and the moments existing bookings end
    on that day, no earlier than the notice allows.
    """
    earliest = now + timedelta(hours=lab.attendance_notice_h)
    if phase is Phase.E2E:
        e2e_day = e2e_earliest_day(lab, now)
        e2e_start = datetime.combine(e2e_day, datetime.min.time(), tzinfo=lab.tz)
        earliest = max(earliest, e2e_start.astimezone(UTC))
    # Round up to the next quarter hour: nobody books 10:07.
    local_earliest = lab.local(earliest)
    extra = (-local_earliest.minute) % 15
    local_earliest = (local_earliest + timedelta(minutes=extra)).replace(second=0, microsecond=0)
    if local_earliest < lab.local(earliest):
        local_earliest += timedelta(minutes=15)
    earliest = local_earliest.astimezone(UTC)

    day = local_earliest.date()
    last_day = day + timedelta(days=horizon_days)
    chunk_days = 14
    by_day: dict[date, list[Occupancy]] = {}
    loaded_to = day - timedelta(days=1)
    wanted_benches = {b.casefold() for b in benches}
    # A multi-day booking can need a few more days loaded than the day it starts.
    span_days = int(hours // 8) + 3
    while day <= last_day:
        window = lab.opening_window(day)
        if window is None:
            by_day.pop(day, None)
            day += timedelta(days=1)
            continue
        while loaded_to < day + timedelta(days=span_days):
            nxt = loaded_to + timedelta(days=chunk_days)
            for o in load(loaded_to + timedelta(days=1), nxt):
                by_day.setdefault(lab.local(o.start).date(), []).append(o)
            loaded_to = nxt
        opens_utc = window[0].astimezone(UTC)
        closes_utc = window[1].astimezone(UTC)
        today = by_day.pop(day, [])
        # Quick reject: even the emptiest moment of the day cannot hold the request.
        if spaces > lab.spaces - _least_use(today, max(opens_utc, earliest), closes_utc):
            day += timedelta(days=1)
            continue
        candidates = {max(opens_utc, earliest)} | {o.end for o in today if opens_utc < o.end < closes_utc}
        to_close = _use_until(today, closes_utc)
        day_hours = (closes_utc - opens_utc).total_seconds() / 3600
        for start in sorted(c for c in candidates if c >= earliest):
            end = end_after_opening_hours(lab, start, hours)
            if end is None:
                return None
            if end >= closes_utc and to_close(start) + spaces > lab.spaces:
                continue  # the part of the booking on its first day does not fit
            start_l, end_l = lab.local(start), lab.local(end)
            if hours <= day_hours and end > closes_utc:
                continue  # a duration that fits in one day is offered within one day
            days = booking_days(start_l, end_l)
            if not all(lab.is_working_day(d) for d in days) or _check_hours(lab, start_l, end_l):
                continue
            segs = segments(lab, start, end)
            held = [today if seg.day == day else by_day.get(seg.day, []) for seg in segs]
            if any(peak_use(h, seg.start, seg.end)[0] + spaces > lab.spaces for h, seg in zip(held, segs)):
                continue
            if wanted_benches and any(
                wanted_benches & {b.casefold() for b in o.benches}
                for h, seg in zip(held, segs) for o in h if o.start < seg.end and seg.start < o.end
            ):
                continue
            return start, end
        day += timedelta(days=1)
    return None


def _least_use(occupancy: list[Occupancy], start: datetime, end: datetime) -> int:
    """Fewest spaces held at any moment within [start, end)."""
    if start >= end:
        return 0
    points: list[tuple[datetime, int]] = []
    for occ in occupancy:
        s, e = max(occ.start, start), min(occ.end, end)
        if e > s:
            points.append((s, occ.spaces))
            points.append((e, -occ.spaces))
    if not points:
        return 0
    points.sort(key=lambda p: (p[0], p[1]))
    used, least, cursor = 0, None, start
    for moment, delta in points:
        if moment > cursor:
            least = used if least is None else min(least, used)
            cursor = moment
        used += delta
    if cursor < end:
        least = used if least is None else min(least, used)
    return least or 0


def _use_until(occupancy: list[Occupancy], close: datetime) -> Callable[[datetime], int]:
    """A function giving the most spaces held at any moment in [t, close), for any t."""
    points = sorted(
        [(o.start, o.spaces) for o in occupancy if o.start < close]
        + [(o.end, -o.spaces) for o in occupancy if o.start < close],
        key=lambda p: (p[0], p[1]),
    )
    times: list[datetime] = []
    levels: list[int] = []
    used = 0
    for moment, delta in points:
        used += delta
        if times and times[-1] == moment:
            levels[-1] = used
        else:
            times.append(moment)
            levels.append(used)
    suffix = levels[:]
    for i in range(len(suffix) - 2, -1, -1):
        suffix[i] = max(suffix[i], suffix[i + 1])

    def most_from(t: datetime) -> int:
        i = bisect_right(times, t) - 1
        here = levels[i] if i >= 0 else 0
        later = suffix[i + 1] if i + 1 < len(suffix) else 0
        return max(here, later)

    return most_from
