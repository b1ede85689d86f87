"""The runs service's checks before a run: plan, parameters, bench, booking, organisation."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.domain.clock import FixedClock
from app.domain.errors import NotFoundError, RuleRefusal, ValidationError
from app.main import AppContext
from app.services.runs.service import RunsService
from ui.launch import prepare_context

#: Thursday of the demo week: booking 5 holds Bench 1 and Bench 5 from 08:00 to 18:00.
NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[AppContext]:
    ctx, _ = prepare_context(tmp_path / "svc.db", FixedClock(NOW), "tester", demo=True)
    yield ctx
    ctx.close()


@pytest.fixture
def service(ctx) -> Iterator[RunsService]:
    svc = RunsService(ctx.db, ctx.db_path, ctx.clock, "tester")
    yield svc
    svc.close()


def runs_rows(ctx) -> int:
    return ctx.db.conn.execute("SELECT count(*) FROM runs").fetchone()[0]


def test_the_run_belongs_to_the_booking_checked_in_on_its_bench(ctx, service):
    assert service.prepare("power-outage", "Bench 1").start.booking_id is None
    assert service.booking_choices("Bench 1")[0][0] == 5
    ctx.booking_service.transition(5, "checkin", "tester")
    start = service.prepare("power-outage", "bench 1").start
    booking = ctx.bookings_repo.get(5)
    assert (start.booking_id, start.org_id, start.lab_id) == (5, booking.org_id, booking.lab_id)
    assert start.bench == "Bench 1" and start.emulated and start.operator == "tester"
    assert [d.kind for d in start.devices].count("ESME") == 1
    assert service.default_booking("Bench 1") == 5
    assert runs_rows(ctx) == 0  # checking writes nothing


def test_a_booking_must_hold_the_bench_and_be_open(ctx, service):
    with pytest.raises(RuleRefusal, match="holds Bench 3, not Bench 1"):
        service.prepare("power-outage", "Bench 1", booking_id=2)
    with pytest.raises(RuleRefusal, match="is requested"):
        service.prepare("power-outage", "Bench 1", booking_id=4)
    with pytest.raises(NotFoundError) as missing:
        service.prepare("power-outage", "Bench 1", booking_id=999)
    assert missing.value.field == "booking"
    with pytest.raises(ValidationError) as other_org:
        service.prepare("power-outage", "Bench 1", booking_id=5, org="Brightside Power")
    assert other_org.value.field == "org"
    assert runs_rows(ctx) == 0


def test_plan_parameters_and_bench_are_checked_before_anything(ctx, service):
    with pytest.raises(NotFoundError) as plan:
        service.prepare("no-such-plan", "Bench 1")
    assert plan.value.field in ("plan", "name")
    with pytest.raises(ValidationError, match="duration_s"):
        service.prepare("power-outage", "Bench 1", {"duration_s": "86401"})
    with pytest.raises(NotFoundError, match="Bench 1"):  # the message lists the benches
        service.prepare("power-outage", "Bench 9")
    with pytest.raises(ValidationError, match="Device I/O is not running"):
        service.start("power-outage", "Bench 1")  # no device runtime: no run
    assert runs_rows(ctx) == 0
    assert service.benches() == ["Bench 1"]
    assert not service.can_run() and "Device I/O" in service.why_not_run()
