"""Bookings under concurrency on PostgreSQL: several OS processes ("workstations"), one server.

The same races as ``test_booking_concurrency`` (on one SQLite file), with each worker process
holding its own connection to a throwaway PostgreSQL database: the booking rule check and the
write lock the lab's row, and a status change is a compare-and-set.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from app.domain.bookings import ACTIVE_STATUSES, Phase
from app.domain.clock import FixedClock
from app.domain.rules import peak_use
from app.services.bookings import BookingService, LabService
from app.storage.bookings import BookingRepo
from app.storage.labs import LabRepo
from app.storage.labstore import PostgresLabStore
from app.storage.people import OrgRepo, PersonRepo
from tests.services.test_booking_concurrency import (
    LAB_SPACES,
    NOW,
    SPACES_EACH,
    WORKERS,
    _run,
    move_rounds,
    request_rounds,
)

ROUNDS = 8


class Workstation:
    """The booking services of one workstation, on the lab store at `url`."""

    def __init__(self, url: str, actor: str) -> None:
        clock = FixedClock(NOW)
        self.store = PostgresLabStore(url)
        self.labs, self.orgs = LabRepo(self.store, clock), OrgRepo(self.store, clock)
        self.people, self.bookings = PersonRepo(self.store, clock), BookingRepo(self.store, clock)
        self.lab_service = LabService(self.labs, self.orgs, self.people, clock, actor)
        self.booking_service = BookingService(self.labs, self.orgs, self.people, self.bookings,
                                              clock, actor)

    def close(self) -> None:
        self.store.close()


def _setup(url: str, booked: int = 0, approve: bool = False) -> tuple[list[date], list[int]]:
    """The lab and organisation; the working days to book; `booked` one-space bookings."""
    ws = Workstation(url, "setup")
    try:
        if ws.labs.find("Tiny") is None:
            ws.lab_service.add_lab("Tiny", LAB_SPACES, benches=2)
            ws.lab_service.add_org("Acme Energy", "IS", "IS")
        lab = ws.labs.resolve("Tiny")
        days, day = [], date(2026, 12, 1)
        while len(days) < max(ROUNDS, booked):
            day = lab.next_working_day(day)
            days.append(day)
            day += timedelta(days=1)
        ids = []
        for day in days[:booked]:
            start = datetime.combine(day, time(9, 0), tzinfo=lab.tz)
            lab, req = ws.booking_service.build_request(
                "Tiny", "Acme Energy", start, start + timedelta(hours=1), 1, Phase.DEVICE)
            booking = ws.booking_service.request(lab, req).booking
            assert booking is not None
            if approve:
                ws.booking_service.transition(booking.id, "approve")
            ids.append(booking.id)
        return days, ids
    finally:
        ws.close()


def _request_worker(url: str, worker: int, days: list[date], barrier: Any, results: Any) -> None:
    ws = Workstation(url, f"worker{worker}")
    try:
        request_rounds(ws.booking_service, ws.labs, worker, days, barrier, results)
    finally:
        ws.close()


def _move_worker(url: str, worker: int, moves: list[tuple[int, str]], barrier: Any,
                 results: Any) -> None:
    ws = Workstation(url, f"worker{worker}")
    try:
        move_rounds(ws.booking_service, worker, moves, barrier, results)
    finally:
        ws.close()


def test_parallel_requests_never_exceed_capacity(pg_url) -> None:
    days, _ = _setup(pg_url)
    days = days[:ROUNDS]
    outcomes = _run(_request_worker, [(pg_url, w, days) for w in range(WORKERS)],
                    expected=WORKERS * ROUNDS)

    assert not [o for o in outcomes if o[2] == "error"], outcomes
    allowed = {("requested", ()), ("refused", ("capacity",))}
    assert all((o[2], tuple(o[3])) in allowed for o in outcomes), outcomes
    won = {rnd: sum(o[2] == "requested" for o in outcomes if o[1] == rnd) for rnd in range(ROUNDS)}
    assert won == {rnd: LAB_SPACES // SPACES_EACH for rnd in range(ROUNDS)}

    ws = Workstation(pg_url, "auditor")
    try:
        lab = ws.labs.resolve("Tiny")
        for day in days:
            opens, closes = lab.opening_window(day)
            peak, _ = peak_use(ws.bookings.occupancy(lab.id, day, day),
                               opens.astimezone(UTC), closes.astimezone(UTC))
            assert peak <= LAB_SPACES, f"{peak} of {LAB_SPACES} spaces held on {day}"
        assert len(ws.bookings.list(statuses=ACTIVE_STATUSES)) == ROUNDS * 3
    finally:
        ws.close()


def test_two_workstations_moving_one_booking_exactly_one_wins(pg_url) -> None:
    rounds = 6
    _, both_approve = _setup(pg_url, rounds, approve=False)
    _, approved = _setup(pg_url, 2 * rounds, approve=True)
    cancel_vs_checkin = approved[-rounds:]
    outcomes = _run(_move_worker, [
        (pg_url, 0, [(i, "approve") for i in both_approve]
         + [(i, "cancel") for i in cancel_vs_checkin]),
        (pg_url, 1, [(i, "approve") for i in both_approve]
         + [(i, "checkin") for i in cancel_vs_checkin]),
    ], expected=2 * 2 * rounds)

    assert not [o for o in outcomes if o[2] == "error"], outcomes
    for rnd in range(2 * rounds):
        kinds = sorted(o[2] for o in outcomes if o[1] == rnd)
        assert kinds == ["moved", "refused"], (rnd, kinds)
    # The loser either read the winner's status already (refused by the life cycle) or read the
    # old one and lost the compare-and-set (refused as moved from another workstation).
    for refusal in {o[3] for o in outcomes if o[2] == "refused"}:
        assert refusal.startswith("Cannot ") or "(moved from another workstation)" in refusal, \
            refusal

    ws = Workstation(pg_url, "auditor")
    try:
        for booking_id in both_approve + cancel_vs_checkin:
            moves = [a for a in ws.bookings.audit_for(booking_id)
                     if a["actor"].startswith("worker")]
            assert len(moves) == 1, moves  # the loser left no audit row behind
    finally:
        ws.close()


def test_a_booking_check_reads_over_one_connection(pg_url) -> None:
    """The check's reads (organisation, attendees, occupancy) share one pooled connection: on a
    server each connection taken costs a ping and a rollback."""
    from sqlalchemy import event

    _setup(pg_url, booked=3)
    ws = Workstation(pg_url, "desk")
    try:
        ws.lab_service.add_person("Acme Energy", "Ann Able", "ann@acme.example")
        lab = ws.labs.resolve("Tiny")
        day = lab.next_working_day(date(2026, 12, 1))
        start = datetime.combine(day, time(9, 0), tzinfo=lab.tz)
        lab, req = ws.booking_service.build_request(
            "Tiny", "Acme Energy", start, start + timedelta(hours=2), 1, Phase.DEVICE,
            attendees=["ann@acme.example"])
        taken: list[int] = []
        event.listen(ws.store.engine, "checkout", lambda *_a: taken.append(1))
        reasons = ws.booking_service.check(lab, req)
        assert [r.code for r in reasons] == ["induction"]  # the attendee was read, and so on
        assert len(taken) == 1
    finally:
        ws.close()
