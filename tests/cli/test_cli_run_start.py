"""`meterlab run start`: bad input writes nothing; Ctrl-C aborts a run and its teardown restores the
supply; a run whose process was killed is closed as ERROR by the next command.

The runs here are the real command in a process of its own, on the emulated bench (real ptys, the
real executor, time scale 60).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from app.cli import main
from tests.cli.helpers import dump

EXE = Path(sys.executable).with_name("meterlab")
ENV = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
NOW = "2026-11-25T10:00+00:00"
BOOKED = "2026-11-20T10:00+00:00"  # when the booking was requested (48 hours' notice)
PROMPT = "IHD shows the interruption"

pytestmark = pytest.mark.timeout(120)


def run(capsys, db: Path, *args: str, now: str = NOW) -> tuple[int, str, str]:
    code = main(["--db", str(db), "--now", now, *args])
    out, err = capsys.readouterr()
    return code, out, err




def files_under(root: Path) -> set[Path]:
    """The files under `root`, but SQLite's own (its write-ahead log comes and goes)."""
    return {p for p in root.rglob("*")
            if p.is_file() and not p.name.endswith(("-wal", "-shm", "-journal"))}


@pytest.fixture
def lab_db(tmp_path, capsys) -> Path:
    """A lab with three benches, an organisation, and a booking (1) holding Bench 2 today."""
    db = tmp_path / "lab.db"
    for args in (["lab", "add", "--name", "Winchester", "--spaces", "10", "--benches", "3"],
                 ["org", "add", "--name", "Acme", "--roles", "IS"],
                 ["booking", "request", "--lab", "Winchester", "--org", "Acme", "--spaces", "1",
                  "--phase", "device", "--start", "2026-11-25T09:00", "--end",
                  "2026-11-25T17:00", "--bench", "Bench 2"],
                 ["booking", "approve", "1"]):
        code, out, err = run(capsys, db, *args, now=BOOKED)
        assert code == 0 and '"refused"' not in out, err
    return db


START = ["run", "start"]
OK = ["power-outage", "--bench", "Bench 1", "--emulate"]

BAD_INPUT = [
    ([*START, "no-such-plan", "--bench", "Bench 1", "--emulate"], 2, "--plan", "no plan named"),
    ([*START, "power-outage", "--bench", "Bench 9"], 2, "--bench", "Bench 9"),
    ([*START, "power-outage", "--bench", ""], 2, "--bench", "name a bench"),
    ([*START, "power-outage", "--bench", "  ", "--emulate"], 2, "--bench", "name a bench"),
    ([*START, *OK, "--param", "duration_s=0"], 2, "--param", "from 1 to 86400"),
    ([*START, *OK, "--param", "duration_s=86401"], 2, "--param", "from 1 to 86400"),
    ([*START, *OK, "--param", "duration_s=1e309"], 2, "--param", "whole number"),
    ([*START, *OK, "--param", "duration_s=abc"], 2, "--param", "whole number"),
    ([*START, *OK, "--param", "colour=blue"], 2, "--param", "no parameter 'colour'"),
    ([*START, *OK, "--param", "duration_s"], 2, "--param", "NAME=VALUE"),
    ([*START, "ihd-outage-message", "--bench", "Bench 1", "--emulate", "--answer",
      "Supply on=pass"], 2, "--answer", "not a prompt step"),
    ([*START, "ihd-outage-message", "--bench", "Bench 1", "--emulate", "--answer",
      f"{PROMPT}=maybe"], 2, "--answer", "pass or fail"),
    ([*START, "ihd-outage-message", "--bench", "Bench 1", "--emulate", "--answer", PROMPT], 2,
     "--answer", "STEP=pass"),
    ([*START, "power-outage", "--bench", "Bench 1", "--fault", "counter-stuck"], 2, "--emulate",
     "--fault needs --emulate"),
    ([*START, "power-outage", "--bench", "Bench 1", "--time-scale", "60"], 2, "--emulate",
     "--time-scale needs --emulate"),
    ([*START, *OK, "--fault", "gremlins"], 2, "--fault", "not a known fault"),
    ([*START, *OK, "--fault", "late-alert=abc"], 2, "--fault", "number of seconds"),
    ([*START, *OK, "--fault", "counter-stuck=3"], 2, "--fault", "takes no value"),
    *[([*START, *OK, "--time-scale", x], 2, "--time-scale", "from 1 to 3600")
      for x in ("0", "-1", "0.5", "1e9", "nan", "inf", "fast")],
    ([*START, *OK, "--booking", "abc"], 2, "--booking", "booking number"),
    ([*START, *OK, "--booking", "0"], 2, "--booking", "booking number"),
    ([*START, *OK, "--booking", "99999999999999999999"], 2, "--booking", "booking number"),
    ([*START, *OK, "--booking", "99999"], 2, "--booking", "no booking 99999"),
    ([*START, *OK, "--org", "Nobody"], 2, "--org", "no organisation"),
    ([*START, "power-outage", "--bench", "Bench\x071", "--emulate"], 2, "--bench",
     "control characters"),
    ([*START, "power-outage", "--bench", "Bench 1\n", "--emulate"], 2, "--bench",
     "control characters"),
    ([*START, "power-outage", "--bench", "B" * 201, "--emulate"], 2, "--bench", "200"),
    # A rule, not a typing error: the booking holds another bench.
    ([*START, *OK, "--booking", "1"], 3, "", "holds Bench 2, not Bench 1"),
]


@pytest.mark.parametrize(("args", "exit_code", "option", "words"), BAD_INPUT,
                         ids=[" ".join(a[2:])[:60] for a, *_ in BAD_INPUT])
def test_bad_input_exits_with_one_sentence_and_writes_nothing(lab_db, capsys, args, exit_code,
                                                              option, words) -> None:
    before, files = dump(lab_db), files_under(lab_db.parent)
    code, out, err = run(capsys, lab_db, *args)
    assert code == exit_code and out == "", err
    assert err.startswith(f"meterlab: {option}") and words in err and err.count("\n") == 1, err
    assert dump(lab_db) == before
    assert files_under(lab_db.parent) == files  # no capture file, no run
    assert not (lab_db.parent / "captures").exists()


# --- runs in a process of their own -----------------------------------------------------------

def start(db: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([str(EXE), "--db", str(db), "run", "start", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, text=True, env=ENV)


def relay_events(db: Path) -> list[tuple[str, dict[str, Any]]]:
    """The relay board's ground truth in the database: (kind, fields), oldest first."""
    if not db.exists():
        return []
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        rows = conn.execute("SELECT kind, fields_json FROM events WHERE device = ? "
                            "AND kind IN ('outage_start', 'outage_end') ORDER BY id",
                            ("Bench 1 relay",)).fetchall()
    except sqlite3.OperationalError:  # not migrated yet, or busy
        return []
    finally:
        conn.close()
    return [(kind, json.loads(fields)) for kind, fields in rows]


def wait_for_the_cut(db: Path, proc: subprocess.Popen[str]) -> None:
    """Until the relay has cut the supply (its acknowledgement is stored)."""
    deadline = time.monotonic() + 30
    while not any(kind == "outage_start" for kind, _ in relay_events(db)):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the run never cut the supply"
        time.sleep(0.1)


def meterlab(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(EXE), "--db", str(db), *args], capture_output=True, text=True,
                          timeout=60, env=ENV)


def test_ctrl_c_in_an_outage_aborts_the_run_and_restores_the_supply(tmp_path) -> None:
    db = tmp_path / "lab.db"
    proc = start(db, "power-outage", "--bench", "Bench 1", "--emulate",
                 "--param", "duration_s=3600")  # a minute of real time at 60 times
    try:
        wait_for_the_cut(db, proc)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 7, err
    assert "aborting the run" in err
    lines = [json.loads(line) for line in out.splitlines()]
    record = lines[-1]
    assert record["verdict"] == "ABORTED"
    steps = {s["name"]: s for s in record["steps"]}
    assert steps["Cut and restore the supply"]["outcome"] == "ABORTED"
    assert steps["Read the meter after restore"]["outcome"] in ("SKIPPED", "ABORTED")
    assert steps["Supply on"]["outcome"] == "PASS" and steps["Supply on"]["teardown"]
    # The teardown's line was printed as it finished, before the record.
    assert [x["name"] for x in lines[:-1] if x.get("teardown")] == ["Supply on"]

    shown = meterlab(db, "run", "show", str(record["run_id"]))
    assert shown.returncode == 0, shown.stderr
    stored = json.loads(shown.stdout)
    assert stored["verdict"] == "ABORTED" and stored["steps"] == record["steps"]
    # The relay's last word in the database: the supply is back on.
    events = relay_events(db)
    assert events[0][0] == "outage_start" and events[0][1]["relay_state"] == "OFF"
    assert events[-1][0] == "outage_end" and events[-1][1]["relay_state"] == "ON"
    conn = sqlite3.connect(db)
    try:
        outages = conn.execute('SELECT "start", "end", start_source, end_source FROM outages '
                               "WHERE bench = 'Bench 1'").fetchall()
    finally:
        conn.close()
    assert len(outages) == 1 and outages[0][1] is not None
    assert outages[0][2:] == ("relay", "relay")


def test_a_killed_run_is_closed_as_error_by_the_next_command(tmp_path) -> None:
    db = tmp_path / "lab.db"
    proc = start(db, "power-outage", "--bench", "Bench 1", "--emulate",
                 "--param", "duration_s=3600")
    try:
        wait_for_the_cut(db, proc)
    finally:
        proc.kill()  # no teardown: the process (and its emulated bench) is gone at once
        proc.communicate()
    assert proc.returncode == -signal.SIGKILL

    listed = meterlab(db, "run", "list")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert len(rows) == 1 and rows[0]["verdict"] == "ERROR"
    shown = json.loads(meterlab(db, "run", "show", str(rows[0]["run_id"])).stdout)
    assert shown["verdict"] == "ERROR"
    assert shown["message"] == ("interrupted: MeterLab stopped during the run; check that "
                                "Bench 1's supply is on (the run may have ended with it cut)")
    # Its capture files are its evidence all the same, with their size and SHA-256.
    devices = {e["device"] for e in shown["evidence"]}
    assert {"Bench 1 ESME", "Bench 1 Comms Hub", "Bench 1 relay"} <= devices
    assert all(len(e["sha256"]) == 64 and e["bytes"] > 0 for e in shown["evidence"])
    # Nothing after the cut was recorded: no step finished, so the run ends where it started.
    assert shown["ended"] == shown["started"]
    assert all(s["outcome"] != "PASS" for s in shown["steps"] if not s["teardown"])


def test_on_a_terminal_the_operator_is_asked_and_answers(tmp_path) -> None:
    """stdin a real terminal (a pseudo-terminal), no --answer: the question is asked there."""
    import pty
    import select

    db = tmp_path / "lab.db"
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys; from app.cli import main; sys.exit(main())",
         "--db", str(db), "run", "start", "ihd-outage-message", "--bench", "Bench 1",
         "--emulate"], stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[2], env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    os.close(slave)
    asked = b""
    try:
        deadline = time.monotonic() + 60
        while b"Did the IHD show" not in asked and time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stderr], [], [], 0.5)
            if ready:
                asked += os.read(proc.stderr.fileno(), 4096)
        assert b"Did the IHD show" in asked, asked
        os.write(master, b"maybe\n")  # not an answer: asked again
        os.write(master, b"f: display stayed blank\n")
        out, _ = proc.communicate(timeout=60)
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 5
    record = json.loads(out.splitlines()[-1])
    prompt = next(s for s in record["steps"] if s["kind"] == "prompt")
    assert prompt["outcome"] == "FAIL" and prompt["answer"] == "fail: display stayed blank"
