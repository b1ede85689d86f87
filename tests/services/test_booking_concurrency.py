"""Bookings under concurrency: several OS processes on one SQLite file.

Each worker is a separate process (start method `spawn`, so nothing is shared but the file) and a
barrier releases them together every round, so their check-then-write sequences interleave as
tightly as two workstations clicking at the same moment.
"""

from __future__ import annotations

import multiprocessing
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from app.domain.bookings import ACTIVE_STATUSES, Phase
from app.domain.clock import FixedClock
from app.domain.errors import RuleRefusal
from app.domain.rules import peak_use
from app.main import build_context

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
LAB_SPACES = 10
SPACES_EACH = 3  # four workers want 12 of 10 spaces: exactly three fit each round
WORKERS = 4
ROUNDS = 12
BARRIER_TIMEOUT_S = 60.0


def _working_days(db_path: Path, n: int) -> list[date]:
    ctx = build_context(db_path, FixedClock(NOW), actor="setup")
    try:
        lab = ctx.labs.resolve("Tiny")
        day, out = date(2026, 12, 1), []
        while len(out) < n:
            day = lab.next_working_day(day)
            out.append(day)
            day += timedelta(days=1)
        return out
    finally:
        ctx.close()


def _setup(db_path: Path) -> None:
    ctx = build_context(db_path, FixedClock(NOW), actor="setup")
    try:
        ctx.lab_service.add_lab("Tiny", LAB_SPACES, benches=2)
        ctx.lab_service.add_org("Acme Energy", "IS", "IS")
    finally:
        ctx.close()


def request_rounds(service: Any, labs: Any, worker: int, days: list[date], barrier: Any,
                   results: Any) -> None:
    """Request SPACES_EACH spaces on each day, one day per round, in step with the others."""
    for rnd, day in enumerate(days):
        lab = labs.resolve("Tiny")
        start = datetime.combine(day, time(9, 0), tzinfo=lab.tz)
        end = datetime.combine(day, time(17, 0), tzinfo=lab.tz)
        lab, req = service.build_request("Tiny", "Acme Energy", start, end, SPACES_EACH,
                                         Phase.DEVICE)
        barrier.wait(BARRIER_TIMEOUT_S)
        try:
            out = service.request(lab, req)
            results.put((worker, rnd, out.status, [r.code for r in out.reasons]))
        except Exception as exc:  # reported to the parent, which fails the test
            results.put((worker, rnd, "error", [f"{type(exc).__name__}: {exc}"]))


def move_rounds(service: Any, worker: int, moves: list[tuple[int, str]], barrier: Any,
                results: Any) -> None:
    """Apply one life-cycle action per round to the booking named for that round."""
    for rnd, (booking_id, action) in enumerate(moves):
        barrier.wait(BARRIER_TIMEOUT_S)
        try:
            service.transition(booking_id, action, f"by worker {worker}")
            results.put((worker, rnd, "moved", ""))
        except RuleRefusal as exc:
            results.put((worker, rnd, "refused", str(exc)))
        except Exception as exc:  # reported to the parent, which fails the test
            results.put((worker, rnd, "error", f"{type(exc).__name__}: {exc}"))


def _request_worker(db_path: str, worker: int, days: list[date], barrier: Any, results: Any) -> None:
    ctx = build_context(Path(db_path), FixedClock(NOW), actor=f"worker{worker}")
    try:
        request_rounds(ctx.booking_service, ctx.labs, worker, days, barrier, results)
    finally:
        ctx.close()


def _move_worker(db_path: str, worker: int, moves: list[tuple[int, str]], barrier: Any,
                 results: Any) -> None:
    ctx = build_context(Path(db_path), FixedClock(NOW), actor=f"worker{worker}")
    try:
        move_rounds(ctx.booking_service, worker, moves, barrier, results)
    finally:
        ctx.close()


def _run(target: Any, args_per_worker: list[tuple[Any, ...]], expected: int) -> list[tuple[Any, ...]]:
    """Start one process per argument tuple; return the `expected` results they report."""
    mp = multiprocessing.get_context("spawn")
    barrier = mp.Barrier(len(args_per_worker))
    results = mp.Queue()
    procs = [mp.Process(target=target, args=(*a, barrier, results)) for a in args_per_worker]
    for p in procs:
        p.start()
    out = []
    try:
        # Drain before joining: a child does not exit until what it queued has been read.
        for _ in range(expected):
            out.append(results.get(timeout=120))
    finally:
        for p in procs:
            p.join(30)
            if p.is_alive():
                p.kill()
    assert [p.exitcode for p in procs] == [0] * len(procs)
    return out


def test_parallel_requests_never_exceed_capacity(tmp_path) -> None:
    db_path = tmp_path / "race.db"
    _setup(db_path)
    days = _working_days(db_path, ROUNDS)
    outcomes = _run(_request_worker, [(str(db_path), w, days) for w in range(WORKERS)],
                    expected=WORKERS * ROUNDS)

    assert len(outcomes) == WORKERS * ROUNDS
    errors = [o for o in outcomes if o[2] == "error"]
    assert not errors, errors
    # Every process got either success or a capacity refusal, nothing else.
    allowed = {("requested", ()), ("refused", ("capacity",))}
    assert all((o[2], tuple(o[3])) in allowed for o in outcomes), outcomes
    won = {rnd: sum(o[2] == "requested" for o in outcomes if o[1] == rnd) for rnd in range(ROUNDS)}
    assert won == {rnd: LAB_SPACES // SPACES_EACH for rnd in range(ROUNDS)}

    ctx = build_context(db_path, FixedClock(NOW), actor="auditor")
    try:
        lab = ctx.labs.resolve("Tiny")
        for day in days:
            held = ctx.bookings_repo.occupancy(lab.id, day, day)
            opens, closes = lab.opening_window(day)
            peak, _ = peak_use(held, opens.astimezone(UTC), closes.astimezone(UTC))
            assert peak <= LAB_SPACES, f"{peak} of {LAB_SPACES} spaces held on {day}"
        assert len(ctx.bookings_repo.list(statuses=ACTIVE_STATUSES)) == ROUNDS * 3
    finally:
        ctx.close()


def _booked(db_path: Path, n: int, approve: bool) -> list[int]:
    ctx = build_context(db_path, FixedClock(NOW), actor="setup")
    try:
        ids = []
        lab = ctx.labs.resolve("Tiny")
        for day in _working_days(db_path, n):
            start = datetime.combine(day, time(9, 0), tzinfo=lab.tz)
            end = datetime.combine(day, time(10, 0), tzinfo=lab.tz)
            lab, req = ctx.booking_service.build_request("Tiny", "Acme Energy", start, end, 1,
                                                         Phase.DEVICE)
            booking = ctx.booking_service.request(lab, req).booking
            assert booking is not None
            if approve:
                ctx.booking_service.transition(booking.id, "approve")
            ids.append(booking.id)
        return ids
    finally:
        ctx.close()


def test_two_workstations_moving_one_booking_exactly_one_wins(tmp_path) -> None:
    db_path = tmp_path / "cas.db"
    _setup(db_path)
    rounds = 8
    both_approve = _booked(db_path, rounds, approve=False)
    cancel_vs_checkin = _booked(db_path, rounds, approve=True)[-rounds:]
    outcomes = _run(_move_worker, [
        (str(db_path), 0, [(i, "approve") for i in both_approve]
         + [(i, "cancel") for i in cancel_vs_checkin]),
        (str(db_path), 1, [(i, "approve") for i in both_approve]
         + [(i, "checkin") for i in cancel_vs_checkin]),
    ], expected=2 * 2 * rounds)

    assert not [o for o in outcomes if o[2] == "error"], outcomes
    assert len(outcomes) == 2 * 2 * rounds
    for rnd in range(2 * rounds):
        kinds = sorted(o[2] for o in outcomes if o[1] == rnd)
        assert kinds == ["moved", "refused"], (rnd, kinds)
    # The loser reads the winner's status once the write lock is free, so it is refused by the
    # life cycle (the compare-and-set in the repository is tested on its own in tests/storage).
    refusals = {o[3] for o in outcomes if o[2] == "refused"}
    assert refusals <= {
        "Cannot approve a booking that is scheduled; it must be requested.",
        "Cannot cancel a booking that is checked_in; it must be requested or scheduled.",
        "Cannot checkin a booking that is cancelled; it must be scheduled.",
    }, refusals

    ctx = build_context(db_path, FixedClock(NOW), actor="auditor")
    try:
        for booking_id in both_approve + cancel_vs_checkin:
            moves = [a for a in ctx.bookings_repo.audit_for(booking_id)
                     if a["actor"].startswith("worker")]
            assert len(moves) == 1, moves  # the loser left no audit row behind
    finally:
        ctx.close()
