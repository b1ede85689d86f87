"""The `meterlab` command end to end on a temporary database."""

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli import main

NOW = "2026-11-25T10:00+00:00"


def run(capsys, db: Path, *args: str) -> tuple[int, object, str]:
    code = main(["--db", str(db), "--now", NOW, *args])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else None), err


def dump(db: Path) -> list[str]:
    conn = sqlite3.connect(db)
    try:
        return [line for line in conn.iterdump() if "_sqlite_migrations" not in line]
    finally:
        conn.close()


@pytest.fixture
def lab_db(tmp_path, capsys) -> Path:
    db = tmp_path / "cli.db"
    assert run(capsys, db, "lab", "add", "--name", "Northampton", "--spaces", "280", "--benches", "3")[0] == 0
    assert run(capsys, db, "org", "add", "--name", "Acme", "--roles", "IS,GS", "--completed-roles", "IS")[0] == 0
    assert run(capsys, db, "person", "add", "--org", "acme", "--name", "Ann", "--email", "ann@acme.example")[0] == 0
    assert run(capsys, db, "person", "induct", "--email", "ann@acme.example", "--lab", "1", "--date", "2026-11-01",
               "--reason", "held at Acme's site")[0] == 0
    return db


def test_request_list_approve_export(lab_db, capsys, tmp_path) -> None:
    code, out, _ = run(capsys, lab_db, "booking", "request", "--lab", "Northampton", "--org", "Acme",
                       "--start", "2026-11-30T09:00", "--end", "2026-11-30T17:00", "--spaces", "20",
                       "--phase", "device", "--attendee", "ann@acme.example", "--bench", "Bench 1")
    assert code == 0 and out == {"status": "requested", "id": 1, "reasons": []}
    code, out, _ = run(capsys, lab_db, "booking", "approve", "1", "--reason", "fine")
    assert code == 0 and out["status"] == "scheduled"
    code, out, _ = run(capsys, lab_db, "booking", "list", "--lab", "Northampton", "--from", "2026-11-30", "--to", "2026-11-30")
    assert code == 0 and [b["id"] for b in out] == [1]
    assert {"id", "status", "lab", "org", "start", "end", "spaces", "phase"} <= set(out[0])
    assert out[0]["start"] == "2026-11-30T09:00:00+00:00" and out[0]["lab"] == "Northampton"
    code, out, _ = run(capsys, lab_db, "booking", "list", "--from", "2026-12-01")
    assert out == []
    ics, csv = tmp_path / "b.ics", tmp_path / "b.csv"
    assert run(capsys, lab_db, "booking", "export", "--lab", "Northampton", "--ics", str(ics))[0] == 0
    from icalendar import Calendar
    events = Calendar.from_ical(ics.read_bytes()).walk("VEVENT")
    assert len(events) == 1 and events[0]["dtstart"].dt.isoformat() == "2026-11-30T09:00:00+00:00"
    assert run(capsys, lab_db, "booking", "export", "--lab", "Northampton", "--csv", str(csv))[0] == 0
    lines = csv.read_text().splitlines()
    assert lines[0].startswith("id,status,lab,org,start,end")
    assert "2026-11-30T09:00:00+00:00" in lines[1]


def test_csv_export_shows_summer_bookings_in_the_labs_local_time(lab_db, capsys, tmp_path) -> None:
    code, _out, err = run(capsys, lab_db, "booking", "request", "--lab", "Northampton", "--org", "Acme",
                         "--start", "2027-06-14T09:00", "--end", "2027-06-14T17:00", "--spaces", "4",
                         "--phase", "device", "--attendee", "ann@acme.example")
    assert code == 0, err
    csv = tmp_path / "summer.csv"
    assert run(capsys, lab_db, "booking", "export", "--lab", "Northampton", "--csv", str(csv))[0] == 0
    row = csv.read_text().splitlines()[1].split(",")
    assert row[4:6] == ["2027-06-14T09:00:00+01:00", "2027-06-14T17:00:00+01:00"]  # BST, as booked
    ics = tmp_path / "summer.ics"
    assert run(capsys, lab_db, "booking", "export", "--lab", "Northampton", "--ics", str(ics))[0] == 0
    from icalendar import Calendar
    [event] = Calendar.from_ical(ics.read_bytes()).walk("VEVENT")
    assert event["dtstart"].dt.isoformat() == "2027-06-14T08:00:00+00:00"  # the same instant, in UTC


def test_refusal_exit_3_with_every_reason(lab_db, capsys) -> None:
    before = dump(lab_db)
    code, out, _err = run(capsys, lab_db, "booking", "request", "--lab", "Northampton", "--org", "Acme",
                         "--start", "2026-11-26T07:00", "--end", "2026-11-26T19:00", "--spaces", "300",
                         "--phase", "e2e", "--role", "GS")
    assert code == 3 and out["status"] == "refused" and out["id"] is None
    assert [r["code"] for r in out["reasons"]] == ["hours", "hours", "notice", "e2e_notice", "role", "capacity"]
    after = dump(lab_db)
    assert [l for l in after if l not in before and "audit" not in l] == []  # only the audit trail grew


@pytest.mark.parametrize("args, field", [
    (["booking", "request", "--lab", "Northampton", "--org", "Acme", "--start", "tomorrow",
      "--end", "2026-11-30T17:00", "--spaces", "2", "--phase", "device"], "--start"),
    (["booking", "request", "--lab", "Northampton", "--org", "Acme", "--start", "2026-11-30T09:00",
      "--end", "2026-11-30T17:00", "--spaces", "-1", "--phase", "device"], "--spaces"),
    (["booking", "request", "--lab", "Northampton", "--org", "Acme", "--start", "2026-11-30T09:00",
      "--end", "2026-11-30T17:00", "--spaces", "2", "--phase", "party"], "--phase"),
    (["booking", "request", "--lab", "Nowhere", "--org", "Acme", "--start", "2026-11-30T09:00",
      "--end", "2026-11-30T17:00", "--spaces", "2", "--phase", "device"], "--lab"),
    (["booking", "request", "--lab", "Northampton", "--org", "Acme", "--start", "2026-11-30T09:00",
      "--end", "2026-11-30T08:00", "--spaces", "2", "--phase", "device"], "--end"),
    (["booking", "request", "--lab", "Northampton", "--org", "Acme", "--start", "2026-11-30T09:00",
      "--end", "2026-11-30T17:00", "--spaces", "2", "--phase", "e2e", "--role", "XX"], "--role"),
    (["lab", "add", "--name", "X", "--spaces", "ten"], "--spaces"),
    (["lab", "add", "--name", "X", "--spaces", "10", "--opens", "08:00"], "--closes"),
    (["lab", "add", "--name", "Northampton", "--spaces", "10"], "--name"),
    (["lab", "add", "--name", "X", "--spaces", "10", "--benches", "501"], "--benches"),
    (["person", "add", "--org", "Acme", "--name", "Z", "--email", "not-an-email"], "--email"),
    (["person", "induct", "--email", "ann@acme.example", "--lab", "Northampton", "--date", "1/11/2026",
      "--reason", "x"], "--date"),
    (["booking", "approve", "42"], "--id"),
    (["booking", "find-slot", "--lab", "Northampton", "--spaces", "2", "--hours", "0"], "--hours"),
    (["booking", "list", "--from", "2026-12-02", "--to", "2026-12-01"], "--to"),
    (["booking", "request", "--lab", "Northampton"], "required"),
])
def test_bad_input_exit_2_one_sentence_nothing_written(lab_db, capsys, args, field) -> None:
    before = dump(lab_db)
    code, out, err = run(capsys, lab_db, *args)
    assert code == 2 and out is None
    assert field in err and err.count("\n") == 1 and err.startswith("meterlab: ")
    assert dump(lab_db) == before


def test_moving_a_booking_its_status_no_longer_allows_is_refused_exit_3(lab_db, capsys) -> None:
    code, out, _ = run(capsys, lab_db, "booking", "request", "--lab", "Northampton", "--org", "Acme",
                       "--start", "2026-11-30T09:00", "--end", "2026-11-30T17:00", "--spaces", "2",
                       "--phase", "device")
    assert code == 0
    assert run(capsys, lab_db, "booking", "approve", str(out["id"]))[0] == 0
    before = dump(lab_db)
    # A second workstation approving the same booking (or cancelling what was checked in) loses.
    code, out, err = run(capsys, lab_db, "booking", "approve", "1")
    assert code == 3 and out is None
    assert err == "meterlab: Cannot approve a booking that is scheduled; it must be requested.\n"
    assert dump(lab_db) == before


def test_bad_now_is_bad_input(tmp_path, capsys) -> None:
    assert main(["--db", str(tmp_path / "x.db"), "--now", "yesterday", "lab", "list"]) == 2
    assert "--now" in capsys.readouterr().err


def test_find_slot(lab_db, capsys) -> None:
    code, out, _ = run(capsys, lab_db, "booking", "find-slot", "--lab", "Northampton", "--spaces", "10", "--hours", "4")
    assert code == 0 and out["start"] == "2026-11-27T10:00:00+00:00" and out["end"] == "2026-11-27T14:00:00+00:00"


def test_console_script_in_a_real_process(tmp_path) -> None:
    exe = Path(sys.executable).with_name("meterlab")
    db = tmp_path / "p.db"
    res = subprocess.run([str(exe), "--db", str(db), "lab", "add", "--name", "L", "--spaces", "5"],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    res = subprocess.run([str(exe), "--db", str(db), "lab", "list"], capture_output=True, text=True, timeout=60)
    assert json.loads(res.stdout)[0]["name"] == "L"
    res = subprocess.run([str(exe), "--db", str(db), "lab", "add", "--name", "L", "--spaces", "x"],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and res.stdout == "" and "--spaces" in res.stderr
