"""A run's report built from the database of real emulated runs."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from app.cli import main
from app.domain.clock import FixedClock
from app.domain.errors import NotFoundError, ValidationError
from app.domain.runs import Verdict
from app.services.reports.build import WINDOW_MARGIN, build_report
from app.storage.db import connect
from tests.services.reports.emulated import ORG, emulated_runs, fresh_copy

CLOCK = FixedClock(datetime(2027, 1, 5, 9, 0, tzinfo=UTC))


@pytest.fixture(scope="module")
def conn(tmp_path_factory):  # type: ignore[no-untyped-def]
    """A read-only look at the shared runs (nothing here writes)."""
    db = emulated_runs(tmp_path_factory) / "runs.db"
    c = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    yield c
    c.close()


def test_the_report_holds_the_record_the_alerts_and_the_outage(conn) -> None:
    report = build_report(conn, 1, CLOCK, version="9.9")
    r = report.record
    assert (r.id, r.verdict, r.org_name, r.plan_name) == (1, Verdict.PASS, ORG, "power-outage")
    assert [d.label for d in r.devices][:2] == ["Bench 1 ESME", "Bench 1 Comms Hub"]
    assert report.generated == CLOCK.now() and report.version == "9.9"
    assert report.window_start == r.started - WINDOW_MARGIN
    assert r.ended is not None and r.ended <= report.window_end <= r.ended + WINDOW_MARGIN
    # The meter's restore alert, relayed by the hub, is the meter's; its latency is on the
    # bench's clock (the run measured the same alert) against the 8 s target.
    restore = [a for a in report.alerts if a.code == "8F35"]
    assert len(restore) == 1
    alert = restore[0]
    assert (alert.device, alert.severity, alert.target_s) == ("Bench 1 ESME", "non-critical", 8.0)
    assert alert.name and alert.device_time is not None and alert.event_id is not None
    measured = next(m.value for s in r.steps for m in s.measurements
                    if m.name == "restore_alert_latency_s")
    assert alert.latency_s == pytest.approx(measured, abs=0.5)
    assert not alert.late
    # The relay's outage of 120 bench seconds (2 real seconds at 60 times fast).
    assert len(report.outages) == 1
    outage = report.outages[0]
    assert (outage.start_source, outage.restore_alert, outage.flags) == ("relay", "8F35", ())
    assert outage.duration_s == pytest.approx(120, abs=3)
    assert outage.device_start is not None and outage.device_end is not None
    count = conn.execute(
        "SELECT count(*) FROM events WHERE host_time >= ? AND host_time <= ? AND device IN "
        "(SELECT label FROM run_devices WHERE run_id = 1)",
        (report.window_start.isoformat(timespec="microseconds"),
         report.window_end.isoformat(timespec="microseconds"))).fetchone()[0]
    assert report.events_total == count > len(report.alerts)


def test_back_to_back_runs_do_not_share_their_alerts_or_outages(conn) -> None:
    first, second = build_report(conn, 1, CLOCK), build_report(conn, 2, CLOCK)
    assert second.record.verdict is Verdict.FAIL
    assert first.window_end <= second.window_start or first.window_end <= second.record.started
    assert {a.event_id for a in first.alerts}.isdisjoint({a.event_id for a in second.alerts})
    assert {o.outage_id for o in first.outages}.isdisjoint(
        {o.outage_id for o in second.outages})
    assert len(second.outages) == 1
    assert first.seal() != second.seal()


def test_the_seal_does_not_depend_on_when_or_by_what_the_report_was_made(conn) -> None:
    later = FixedClock(CLOCK.now() + timedelta(days=30))
    a, b = build_report(conn, 1, CLOCK, version="1"), build_report(conn, 1, later, version="2")
    assert a.generated != b.generated
    assert a.seal() == b.seal() and len(a.seal()) == 64


def test_an_unknown_run_is_not_found(conn) -> None:
    with pytest.raises(NotFoundError, match="no run 99"):
        build_report(conn, 99, CLOCK)


def test_a_run_still_running_cannot_be_reported(tmp_path_factory, tmp_path) -> None:
    db = fresh_copy(tmp_path_factory, tmp_path)
    c = connect(db)
    c.execute("UPDATE runs SET verdict = NULL, ended = NULL WHERE id = 2")
    c.commit()
    with pytest.raises(ValidationError, match="run 2 is still running"):
        build_report(c, 2, CLOCK)
    c.close()


def test_the_lab_of_the_run_names_the_report_and_its_time_zone(tmp_path_factory,
                                                               tmp_path, capsys) -> None:
    db = fresh_copy(tmp_path_factory, tmp_path)
    assert main(["--db", str(db), "lab", "add", "--name", "Winchester", "--spaces", "10",
                 "--benches", "2"]) == 0
    capsys.readouterr()
    c = connect(db)
    c.execute("UPDATE runs SET lab_id = (SELECT id FROM labs WHERE name = 'Winchester')")
    c.commit()
    report = build_report(c, 1, CLOCK)
    c.close()
    assert (report.context.lab_name, report.context.lab_timezone) == ("Winchester",
                                                                      "Europe/London")
    assert report.context.booking_start is None and report.context.booking_status == ""
