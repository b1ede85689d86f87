"""The lab's booking rules, as pure functions.

Every rule is checked and every failure reported, so that a person fixes a request in one go.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta, timezone

from app.domain.bookings import (
    BookingRequest,
    Occupancy,
    Phase,
    Reason,
    RuleContext,
    Segment,
    booking_days,
)
from app.domain.lab import Lab


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
                Segment(day, seg_start.astimezone(timezone.utc), seg_end.astimezone(timezone.utc))
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


def _check_hours(lab: Lab, start_l: datetime, end_l: datetime) -> list[Reason]:
    reasons: list[Reason] = []
    first_hours = lab.hours.get(start_l.weekday())
    last_day_end = end_l - timedelta(microseconds=1) if end_l.time() == datetime.min.time() else end_l
    last_hours = lab.hours.get(last_day_end.weekday())
    if first_hours is not None:
        if start_l.time() < first_hours.opens:
            reasons.append(Reason(
                "hours",
                f"The booking starts at {_fmt(start_l)}, before the lab opens at "
                f"{first_hours.opens:%H:%M}.",
            ))
        elif start_l.time() >= first_hours.closes:
            reasons.append(Reason(
                "hours",
                f"The booking starts at {_fmt(start_l)}, after the lab closes at "
                f"{first_hours.closes:%H:%M}.",
            ))
    if last_hours is not None:
        end_time = end_l.time()
        if end_l.time() == datetime.min.time() or end_time > last_hours.closes:
            reasons.append(Reason(
                "hours",
                f"The booking ends at {_fmt(end_l)}, after the lab closes at "
                f"{last_hours.closes:%H:%M}.",
            ))
        elif end_time <= last_hours.opens:
            reasons.append(Reason(
                "hours",
                f"The booking ends at {_fmt(end_l)}, before the lab opens at "
                f"{last_hours.opens:%H:%M}.",
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
    wanted = {b.casefold() for b in req.benches}
    for bench in sorted(wanted):
        clashes = sorted({
            occ.booking_id
            for occ in ctx.occupancy
            if bench in {b.casefold() for b in occ.benches}
            and any(occ.start < s.end and s.start < occ.end for s in segs)
        })
        if clashes:
            ids = ", ".join(f"#{i}" for i in clashes)
            reasons.append(Reason(
                "bench_conflict", f"Bench {bench} is already held at that time by booking {ids}."
            ))
    return reasons


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
                return (begin + remaining).astimezone(timezone.utc)
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
        earliest = max(earliest, e2e_start.astimezone(timezone.utc))
    # Round up to the next quarter hour: nobody books 10:07.
    local_earliest = lab.local(earliest)
    extra = (-local_earliest.minute) % 15
    local_earliest = (local_earliest + timedelta(minutes=extra)).replace(second=0, microsecond=0)
    if local_earliest < lab.local(earliest):
        local_earliest += timedelta(minutes=15)
    earliest = local_earliest.astimezone(timezone.utc)

    day = local_earliest.date()
    last_day = day + timedelta(days=horizon_days)
    chunk_days = 14
    cache: list[Occupancy] = []
    loaded_to = day - timedelta(days=1)
    wanted_benches = {b.casefold() for b in benches}
    while day <= last_day:
        window = lab.opening_window(day)
        if window is None:
            day += timedelta(days=1)
            continue
        # Load enough days ahead to cover a multi-day booking starting today.
        span_days = int(hours // 8) + 3
        while loaded_to < day + timedelta(days=span_days):
            nxt = loaded_to + timedelta(days=chunk_days)
            cache.extend(load(loaded_to + timedelta(days=1), nxt))
            loaded_to = nxt
        opens_utc = window[0].astimezone(timezone.utc)
        closes_utc = window[1].astimezone(timezone.utc)
        cache = [o for o in cache if o.end > opens_utc]
        candidates = {opens_utc} | {o.end for o in cache if opens_utc < o.end < closes_utc}
        for start in sorted(c for c in candidates if c >= earliest):
            end = end_after_opening_hours(lab, start, hours)
            if end is None:
                return None
            start_l, end_l = lab.local(start), lab.local(end)
            if _check_days(lab, start_l, end_l) or _check_hours(lab, start_l, end_l):
                continue
            segs = segments(lab, start, end)
            relevant = [o for o in cache if o.start < end and start < o.end]
            if any(peak_use(relevant, s.start, s.end)[0] + spaces > lab.spaces for s in segs):
                continue
            if wanted_benches and any(
                wanted_benches & {b.casefold() for b in o.benches} for o in relevant
            ):
                continue
            return start, end
        day += timedelta(days=1)
    return None
