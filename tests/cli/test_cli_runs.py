"""`meterlab run list` and `run show`: the stored history as JSON, and their bad input."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.cli import main
from app.domain.runs import MeasurementOutcome, MeasurementResult, StepOutcome, StepResult, Verdict
from app.services.runs.api import RunDeviceInfo, RunEvidenceItem, RunResult, RunStart
from app.storage.capture_sessions import ProcessOwner, current_owner
from app.storage.runs import RunRepo
from tests.cli.helpers import dump

NOW = "2026-11-25T12:00+00:00"
T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def run(capsys, db: Path, *args: str):  # type: ignore[no-untyped-def]
    code = main(["--db", str(db), "--now", NOW, *args])
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines() if line.strip()], err




def start(org_id: int | None, bench: str, plan: str, at: datetime, label: str) -> RunStart:
    return RunStart(plan_name=plan, plan_version="1.0", plan_sha256="ab" * 32,
                    plan_source="", parameters={"duration_s": 179}, bench=bench, started=at,
                    emulated=True, operator="ann", org_id=org_id,
                    devices=(RunDeviceInfo(label, "ESME", "00-DB-12-34-56-78-90-A0",
                                           "1312345678907", firmware="2.1"),))


STEP = StepResult(0, "outage", "outage", StepOutcome.PASS, T0, T0 + timedelta(minutes=3),
                  (MeasurementResult("restore_alert_code", "8F35", "", "x == '8F35'",
                                     MeasurementOutcome.PASS),))


@pytest.fixture
def runs_db(tmp_path, capsys) -> tuple[Path, dict[str, int]]:
    db = tmp_path / "runs.db"
    for args in (["lab", "add", "--name", "Winchester", "--spaces", "10", "--benches", "2"],
                 ["org", "add", "--name", "Acme", "--roles", "IS"],
                 ["org", "add", "--name", "Gasco", "--roles", "GT"]):
        code, _, err = run(capsys, db, *args)
        assert code == 0, err
    conn = sqlite3.connect(db)
    acme, gasco = (conn.execute("SELECT id FROM organisations WHERE name = ?", (n,)).fetchone()[0]
                   for n in ("Acme", "Gasco"))
    repo = RunRepo(conn, current_owner())
    ids = {
        "pass": repo.start(start(acme, "Bench 1", "power-outage", T0, "ESME A")),
        "fail": repo.start(start(gasco, "Bench 2", "readout-sanity", T0 + timedelta(hours=1),
                                 "ESME B")),
        "open": repo.start(start(acme, "Bench 1", "power-outage", T0 + timedelta(hours=2),
                                 "ESME A")),
    }
    repo.finish(RunResult(ids["pass"], Verdict.PASS, T0 + timedelta(minutes=4), (STEP,),
                          (RunEvidenceItem(1, "CH", "/c.bin", 10, "cd" * 32),)))
    repo.finish(RunResult(ids["fail"], Verdict.FAIL, T0 + timedelta(hours=1, minutes=1), (),
                          message="register out of limits"))
    conn.close()
    return db, ids


def test_run_list_newest_first_and_by_filters(runs_db, capsys) -> None:
    db, ids = runs_db
    code, out, err = run(capsys, db, "run", "list")
    assert code == 0, err
    rows = out[0]
    assert [r["run_id"] for r in rows] == [ids["open"], ids["fail"], ids["pass"]]
    assert rows[0]["verdict"] is None  # still executing (its process, this one, is alive)
    assert rows[1]["org"]["name"] == "Gasco" and rows[1]["devices"] == ["ESME B"]
    assert rows[2]["started"] == "2026-11-25T10:00:00+00:00"  # London time, with its offset
    for args, expected in (
        (["--org", "Acme"], ["open", "pass"]),
        (["--bench", "Bench 2"], ["fail"]),
        (["--device", "ESME A"], ["open", "pass"]),
        (["--device", "00-DB-12-34-56-78-90-A0"], ["open", "fail", "pass"]),
        (["--plan", "readout-sanity"], ["fail"]),
        (["--verdict", "pass"], ["pass"]),
        (["--verdict", "FAIL", "--org", "Gasco"], ["fail"]),
        (["--limit", "1"], ["open"]),
        (["--bench", "Bench 9"], []),
    ):
        code, out, err = run(capsys, db, "run", "list", *args)
        assert code == 0, err
        assert [r["run_id"] for r in out[0]] == [ids[k] for k in expected], args


def test_run_show_prints_the_whole_record(runs_db, capsys) -> None:
    db, ids = runs_db
    code, out, err = run(capsys, db, "run", "show", str(ids["pass"]))
    assert code == 0, err
    shown = out[0]
    assert shown["run_id"] == ids["pass"] and shown["verdict"] == "PASS"
    assert shown["steps"] == [{
        "index": 0, "name": "outage", "kind": "outage", "outcome": "PASS",
        "started": "2026-11-25T10:00:00+00:00", "ended": "2026-11-25T10:03:00+00:00",
        "measurements": [{"name": "restore_alert_code", "value": "8F35", "unit": "",
                          "limits": "x == '8F35'", "outcome": "PASS"}],
        "message": "", "attempts": 1, "teardown": False}]
    assert shown["plan"] == {"name": "power-outage", "version": "1.0", "sha256": "ab" * 32}
    assert shown["parameters"] == {"duration_s": 179} and shown["emulated"] is True
    assert shown["org"]["name"] == "Acme" and shown["operator"] == "ann"
    assert shown["devices"][0]["mpxn"] == "1312345678907"
    assert shown["evidence"] == [{"capture_session_id": 1, "device": "CH", "path": "/c.bin",
                                  "bytes": 10, "sha256": "cd" * 32}]
    assert shown["ended"] == "2026-11-25T10:04:00+00:00"


@pytest.mark.parametrize("args, field, words", [
    (["run", "show", "7"], "--id", "no run 7"),
    (["run", "show", "x"], "--id", "whole number"),
    (["run", "list", "--verdict", "GREAT"], "--verdict",
     "PASS, MARGINAL, FAIL, ERROR, ABORTED"),
    (["run", "list", "--limit", "0"], "--limit", "whole number"),
    (["run", "list", "--org", "Nobody"], "--org", "no organisation"),
    (["run", "list", "--device", "99999999999999999999"], "--device", "id"),
])
def test_bad_input_exits_2_with_one_sentence_and_writes_nothing(runs_db, capsys, args, field,
                                                                words) -> None:
    db, _ = runs_db
    before = dump(db)
    code, out, err = run(capsys, db, *args)
    assert code == 2 and out == []
    assert err.startswith(f"meterlab: {field}") and words in err and err.count("\n") == 1
    assert dump(db) == before


def test_a_run_left_by_a_dead_process_is_closed_when_the_command_opens_the_database(
        runs_db, capsys) -> None:
    db, _ = runs_db
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    conn = sqlite3.connect(db)
    dead = RunRepo(conn, ProcessOwner(current_owner().host, gone.pid, "1")).start(
        start(None, "Bench 1", "alert-smoke", T0 + timedelta(hours=3), "ESME A"))
    conn.close()
    code, out, err = run(capsys, db, "run", "show", str(dead))
    assert code == 0, err
    assert out[0]["verdict"] == "ERROR"
    assert out[0]["message"].startswith("interrupted: MeterLab stopped during the run; check")
    assert out[0]["ended"] == out[0]["started"]  # no step was recorded
