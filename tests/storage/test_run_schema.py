"""Migration m006: the tables of test runs, and the released fixture of that schema."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from app.domain.runs import MeasurementOutcome, StepOutcome, Verdict
from app.services.runs.recovery import close_interrupted_runs
from app.storage.db import open_database
from app.storage.runs import RunRepo

FIXTURES = Path(__file__).parent / "fixtures"
T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
RUN_TABLES = ("runs", "run_steps", "run_measurements", "run_devices", "run_evidence")


def test_m005_upgrades_to_empty_run_tables_with_their_indexes(tmp_path) -> None:
    copy = tmp_path / "m005.db"
    shutil.copy(FIXTURES / "schema_m005.db", copy)
    db = open_database(copy)
    for table in RUN_TABLES:
        assert db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0
    indexes = {r[1] for r in db.execute("PRAGMA index_list(runs)")}
    assert {"idx_runs_started", "idx_runs_org_id_started", "idx_runs_bench_started",
            "idx_runs_plan_name_started", "idx_runs_verdict_started"} <= indexes
    assert RunRepo(db.conn).list() == []


def test_m006_fixture_has_a_row_in_every_table() -> None:
    raw = sqlite3.connect(FIXTURES / "schema_m006.db")
    names = [r[0] for r in raw.execute("SELECT name FROM _sqlite_migrations ORDER BY rowid")]
    assert names[-1] == "m006_test_runs"
    for table in [r[0] for r in raw.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]:
        assert raw.execute(f"SELECT count(*) FROM [{table}]").fetchone()[0] > 0, table
    # A finished run and one still executing on another workstation.
    assert raw.execute("SELECT verdict, owner_host FROM runs ORDER BY id").fetchall() == [
        ("FAIL", "lab-pc-2"), (None, "lab-pc-2")]
    raw.close()


def test_m006_fixture_reads_back_whole(tmp_path) -> None:
    copy = tmp_path / "m006.db"
    shutil.copy(FIXTURES / "schema_m006.db", copy)
    db = open_database(copy)
    repo = RunRepo(db.conn)
    rec = repo.get(1)
    assert rec is not None and rec.verdict is Verdict.FAIL
    assert (rec.plan_name, rec.org_name, rec.booking_id, rec.bench) == (
        "power-outage", "Northern Energy Supply", 1, "Bench 1")
    assert [(s.kind, s.outcome, s.teardown) for s in rec.steps] == [
        ("outage", StepOutcome.FAIL, False), ("prompt", StepOutcome.PASS, False),
        ("relay", StepOutcome.PASS, True)]
    latency = rec.steps[0].measurements[1]
    assert (latency.value, latency.outcome, latency.note) == (20.4, MeasurementOutcome.FAIL,
                                                              "late")
    assert rec.steps[1].answer == "pass: shown"
    assert [d.firmware for d in rec.devices] == ["2.1.0", "4.0"]
    assert rec.evidence[0].sha256 == "ab" * 32
    assert rec.ended == T0 + timedelta(minutes=5, seconds=2)
    assert [r.id for r in repo.list(device="Bench 1 ESME")] == [1]
    # The open run belongs to a process of another workstation: recovery leaves it.
    assert close_interrupted_runs(db.conn, T0) == 0
    assert [r.id for r in repo.open_runs()] == [2]
    db.conn.close()
