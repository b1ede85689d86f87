"""Stored test runs on a real SQLite file and on PostgreSQL: written in pieces, finished once,
read back whole, listed by filters, sealed once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.domain.clock import FixedClock
from app.domain.participants import Organisation
from app.domain.runs import (
    MeasurementOutcome,
    MeasurementResult,
    StepOutcome,
    StepResult,
    Verdict,
)
from app.services.runs.api import RunDeviceInfo, RunEvidenceItem, RunResult, RunStart
from app.storage.capture_sessions import ProcessOwner
from app.storage.db import open_database
from app.storage.people import OrgRepo
from app.storage.runs import RunRepo
from tests.storage.engines import engine  # noqa: F401 (a fixture: every test on both engines)

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def a_start(bench: str = "Bench 1", plan: str = "power-outage", at: datetime = T0,
            org_id: int | None = None,
            devices: tuple[RunDeviceInfo, ...] | None = None) -> RunStart:
    return RunStart(
        plan_name=plan, plan_version="1.0", plan_sha256="ab" * 32, plan_source="name = 'x'\n",
        parameters={"duration_s": 179, "target": "x"}, bench=bench, started=at, emulated=True,
        operator="ann", org_id=org_id,
        devices=devices if devices is not None else (
            RunDeviceInfo("Bench 1 ESME", "ESME", "00-11-22-33-44-55-66-77", "1234567890123",
                          "Acme", "E1", "1.2.3", None),
            RunDeviceInfo("Bench 1 CH", "CH", "AA-BB-CC-DD-EE-FF-00-11")),
        step_names=("outage", "readout"), faults=("late-alert=20",), time_scale=60.0)


def a_step(index: int = 0, outcome: StepOutcome = StepOutcome.PASS, value: object = 7.5,
           at: datetime = T0) -> StepResult:
    return StepResult(
        index=index, name=f"step {index}", kind="outage", outcome=outcome, started=at,
        ended=at + timedelta(seconds=30),
        measurements=(
            MeasurementResult("restore_alert", "8F35", "", "x == '8F35'", MeasurementOutcome.PASS),
            MeasurementResult("latency_s", value, "s", "0 <= x <= 8", MeasurementOutcome.PASS,
                              note="fast"),
        ),
        message="", attempts=2, answer="pass: looked fine" if index == 1 else "")


@pytest.fixture
def db(engine):  # noqa: F811
    return engine


@pytest.fixture
def repo(db) -> RunRepo:
    return RunRepo(db.source, ProcessOwner("here", 1, "1"))


def test_a_run_reads_back_as_it_was_written(repo: RunRepo) -> None:
    rid = repo.start(a_start())
    repo.record_step(rid, a_step(0))
    running = repo.get(rid)
    assert running is not None and running.running and running.verdict is None
    assert [s.name for s in running.steps] == ["step 0"]
    step1 = a_step(1, value=None, at=T0 + timedelta(minutes=1))
    evidence = (RunEvidenceItem(5, "Bench 1 CH", "/caps/ch.bin", 1234, "cd" * 32),)
    assert repo.finish(RunResult(rid, Verdict.PASS, T0 + timedelta(minutes=2),
                                 (a_step(0), step1), evidence, "all good"))
    rec = repo.get(rid)
    assert rec is not None and rec.verdict is Verdict.PASS and not rec.running
    assert rec.ended == T0 + timedelta(minutes=2) and rec.started == T0
    assert rec.steps == (a_step(0), step1)  # values, times, answers, notes, attempts
    assert rec.parameters == {"duration_s": 179, "target": "x"}
    assert rec.faults == ("late-alert=20",) and rec.time_scale == 60.0 and rec.emulated
    assert rec.step_names == ("outage", "readout") and rec.owner == "here:1"
    assert [(d.label, d.mpxn, d.firmware) for d in rec.devices] == [
        ("Bench 1 ESME", "1234567890123", "1.2.3"), ("Bench 1 CH", "", "")]
    assert [(e.capture_session_id, e.bytes, e.sha256) for e in rec.evidence] == [
        (5, 1234, "cd" * 32)]
    out = rec.to_dict()
    assert out["run_id"] == rid and out["verdict"] == "PASS" and out["message"] == "all good"
    assert out["steps"][0]["measurements"][1] == {
        "name": "latency_s", "value": 7.5, "unit": "s", "limits": "0 <= x <= 8",
        "outcome": "PASS", "note": "fast"}
    assert out["plan"] == {"name": "power-outage", "version": "1.0", "sha256": "ab" * 32}
    assert out["steps"][1]["answer"] == "pass: looked fine"


def test_a_step_recorded_again_replaces_the_first(repo: RunRepo) -> None:
    rid = repo.start(a_start())
    repo.record_step(rid, a_step(0, StepOutcome.FAIL, value=99))
    repo.record_step(rid, a_step(0, StepOutcome.PASS, value=3))
    rec = repo.get(rid)
    assert rec is not None and len(rec.steps) == 1
    assert rec.steps[0].outcome is StepOutcome.PASS
    assert [m.value for m in rec.steps[0].measurements] == ["8F35", 3]


def test_finish_is_compare_and_set(repo: RunRepo) -> None:
    rid = repo.start(a_start())
    assert repo.close_interrupted(rid, T0, "interrupted")
    late = RunResult(rid, Verdict.PASS, T0 + timedelta(hours=1), (a_step(0),))
    assert not repo.finish(late)  # recovery closed it first: its record stays
    rec = repo.get(rid)
    assert rec is not None and rec.verdict is Verdict.ERROR and rec.steps == ()
    assert not repo.finish(RunResult(999, Verdict.PASS, T0, ()))
    assert not repo.close_interrupted(rid, T0, "again")


def test_evidence_added_twice_is_stored_once(repo: RunRepo) -> None:
    rid = repo.start(a_start())
    item = RunEvidenceItem(5, "CH", "/c.bin", 10, "ee" * 32)
    repo.add_evidence(rid, [item])
    repo.add_evidence(rid, [item, RunEvidenceItem(6, "ESME", "/e.bin", 3, "ff" * 32)])
    assert repo.finish(RunResult(rid, Verdict.FAIL, T0, (), (item,)))
    rec = repo.get(rid)
    assert rec is not None and [e.capture_session_id for e in rec.evidence] == [5, 6]


def test_unknown_run_is_none(repo: RunRepo) -> None:
    assert repo.get(42) is None


def test_list_filters_and_orders_newest_first(db, repo: RunRepo) -> None:
    org = OrgRepo(db.source, FixedClock(T0)).add(Organisation(name="Acme Energy")).id
    a = repo.start(a_start(at=T0, org_id=org))
    b = repo.start(a_start(bench="Bench 2", plan="readout-sanity", at=T0 + timedelta(hours=1),
                           devices=(RunDeviceInfo("Meter X", "ESME", "01-02-03-04-05-06-07-08"),)))
    c = repo.start(a_start(at=T0 + timedelta(hours=2), org_id=org))
    repo.finish(RunResult(a, Verdict.PASS, T0, ()))
    repo.finish(RunResult(b, Verdict.FAIL, T0, ()))
    assert [r.id for r in repo.list()] == [c, b, a]
    assert [r.id for r in repo.list(org_id=org)] == [c, a]
    assert [r.id for r in repo.list(bench="Bench 2")] == [b]
    assert [r.id for r in repo.list(plan="power-outage")] == [c, a]
    assert [r.id for r in repo.list(verdict=Verdict.PASS)] == [a]
    assert [r.id for r in repo.list(verdict="FAIL")] == [b]
    assert [r.id for r in repo.list(device="Meter X")] == [b]
    assert [r.id for r in repo.list(device="00-11-22-33-44-55-66-77")] == [c, a]
    assert [r.id for r in repo.list(device="nobody")] == []
    assert [r.id for r in repo.list(limit=1)] == [c]
    assert [r.id for r in repo.list(org_id=org, verdict=Verdict.PASS, bench="Bench 1")] == [a]
    top = repo.list()[0]
    assert top.verdict is None and top.org_name == "Acme Energy"
    assert top.devices == ("Bench 1 ESME", "Bench 1 CH")
    assert top.to_dict()["org"] == {"id": org, "name": "Acme Energy"}


def test_open_runs_give_the_owner_and_the_last_step_end(repo: RunRepo) -> None:
    a = repo.start(a_start())
    repo.record_step(a, a_step(0, at=T0 + timedelta(minutes=5)))
    repo.record_step(a, a_step(1, at=T0 + timedelta(minutes=1)))
    b = repo.start(a_start())
    done = repo.start(a_start())
    repo.finish(RunResult(done, Verdict.PASS, T0, ()))
    open_runs = repo.open_runs()
    assert [(r.id, r.last_step_end) for r in open_runs] == [
        (a, T0 + timedelta(minutes=5, seconds=30)), (b, None)]
    assert open_runs[0].owner == ProcessOwner("here", 1, "1")


def test_list_uses_an_index_for_each_filter(tmp_path) -> None:
    conn = open_database(tmp_path / "plan.db").conn

    def plan_of(where: str) -> str:
        rows = conn.execute(
            f"EXPLAIN QUERY PLAN SELECT id FROM runs WHERE {where} ORDER BY started DESC",
            ("x",)).fetchall()
        return " ".join(r[-1] for r in rows)

    for column in ("bench", "plan_name", "verdict", "org_id"):
        assert f"idx_runs_{column}_started" in plan_of(f"{column} = ?")
    devices = " ".join(r[-1] for r in conn.execute(
        "EXPLAIN QUERY PLAN SELECT run_id FROM run_devices WHERE label = ?", ("x",)))
    assert "idx_run_devices_label" in devices
    conn.close()


def test_the_first_seal_stays_and_neighbours_on_a_bench(db, repo: RunRepo) -> None:
    a = repo.start(a_start(at=T0))
    b = repo.start(a_start(at=T0 + timedelta(hours=1)))
    repo.start(a_start(bench="Bench 2", at=T0 + timedelta(minutes=30)))
    repo.finish(RunResult(a, Verdict.PASS, T0 + timedelta(minutes=10), ()))
    assert repo.neighbours_on_bench(b) == (T0 + timedelta(minutes=10), None)
    assert repo.neighbours_on_bench(a) == (None, T0 + timedelta(hours=1))
    assert repo.neighbours_on_bench(999) == (None, None)
    assert repo.sealed(a) is None
    assert repo.set_seal(a, "s1", '{"x": 1}', T0) is None
    assert repo.set_seal(a, "s2", '{"x": 2}', T0) == "s1"
    assert repo.sealed(a) == ("s1", '{"x": 1}') and repo.get(a).seal == "s1"  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="no run 999"):
        repo.set_seal(999, "s", "{}", T0)
    assert db.count("run_seals") == 1 and db.idle()
    assert repo.get(2**70) is None


def test_a_run_start_and_its_audit_row_are_one_transaction(db, repo: RunRepo) -> None:
    db.fail_insert("audit", "NEW.action = 'started'")
    with pytest.raises(db.integrity_error):
        repo.start(a_start())
    assert db.count("runs") == 0 and db.count("run_devices") == 0 and db.idle()


def test_a_run_names_the_workstation_holding_its_evidence(db) -> None:
    rid = RunRepo(db.source, ProcessOwner("bench-pc-3", 7, "9")).start(a_start())
    rec = RunRepo(db.source, ProcessOwner("front-desk", 1, "1")).get(rid)
    assert rec is not None and rec.workstation == "bench-pc-3"
    assert rec.to_dict()["workstation"] == "bench-pc-3"
    assert db.sql("SELECT workstation, owner_host FROM runs") == [("bench-pc-3", "bench-pc-3")]
