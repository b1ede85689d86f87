"""Every bad input to `meterlab` is one sentence, a documented exit code and nothing written."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from app.cli import EXIT_BAD_INPUT, EXIT_PIPE_CLOSED, EXIT_STORAGE, main
from app.domain.errors import ValidationError
from app.domain.parsing import check_text, parse_instant, parse_now, parse_positive_float
from app.storage.db import DbErrorKind, classify_sqlite_error
from tests.cli.helpers import dump

NOW = "2026-11-25T10:00+00:00"
EXE = Path(sys.executable).with_name("meterlab")
ENV = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}


def run(capsys, db: Path, *args: str) -> tuple[int, str, str]:
    code = main(["--db", str(db), "--now", NOW, *args])
    out, err = capsys.readouterr()
    return code, out, err




@pytest.fixture
def lab_db(tmp_path, capsys) -> Path:
    db = tmp_path / "bad.db"
    for args in (
        ["lab", "add", "--name", "Winchester", "--spaces", "100", "--benches", "3"],
        ["org", "add", "--name", "Acme", "--roles", "IS,GS", "--completed-roles", "IS"],
        ["device", "add", "--label", "ESME 1", "--kind", "ESME", "--mpxn", "1312345678907",
         "--bench", "Bench 1"],
    ):
        code, _, err = run(capsys, db, *args)
        assert code == 0, err
    return db


REQUEST = ["booking", "request", "--lab", "Winchester", "--org", "Acme", "--spaces", "1",
           "--phase", "device"]

BAD_INPUT = [
    # integers beyond SQLite's 64 bits or the domain's bounds
    (["booking", "approve", "99999999999999999999"], "--id", "9223372036854775807"),
    (["booking", "cancel", "-5"], "--id", "from 1"),
    (["lab", "add", "--name", "X", "--spaces", "99999999999999999999"], "--spaces", "10000"),
    (["lab", "add", "--name", "X", "--spaces", "1e20"], "--spaces", "whole number"),
    (["lab", "add", "--name", "X", "--spaces", "5", "--benches", "99999999999999999999"],
     "--benches", "500"),
    (["lab", "add", "--name", "X", "--spaces", "5", "--benches", "501"], "--benches", "500"),
    ([*REQUEST[:7], "99999999999999999999", *REQUEST[8:], "--start", "2026-12-01T09:00",
      "--end", "2026-12-01T10:00"], "--spaces", "10000"),
    (["booking", "find-slot", "--lab", "Winchester", "--spaces", "99999999999999999999",
      "--hours", "2"], "--spaces", "10000"),
    (["bench", "ingest", "--ports", "99999999999999999999", "--seconds", "1"], "--ports", "512"),
    (["bench", "ingest", "--ports", "1", "--seconds", "nan"], "--seconds", "86400"),
    (["bench", "ingest", "--ports", "1", "--seconds", "1", "--baud", "1e400"], "--baud", "4000000"),
    # dates near the ends of the calendar
    (["--now", "9999-12-31T09:00+00:00", "lab", "list"], "--now", "2099-12-31"),
    (["--now", "1999-12-31T23:00+00:00", "lab", "list"], "--now", "2000-01-01"),
    (["booking", "list", "--to", "9999-12-31"], "--to", "2099-12-31"),
    (["booking", "list", "--from", "0001-01-01"], "--from", "2000-01-01"),
    (["outages", "list", "--to", "9999-12-31"], "--to", "2099-12-31"),
    (["person", "induct", "--email", "a@acme.example", "--lab", "Winchester", "--date",
      "9999-12-31", "--reason", "held at the supplier's site"], "--date", "2099-12-31"),
    ([*REQUEST, "--start", "9999-12-31T09:00", "--end", "9999-12-31T10:00"], "--start",
     "within 5 years"),
    ([*REQUEST, "--start", "2026-12-01T09:00", "--end", "2035-12-01T10:00"], "--end",
     "within 5 years"),
    ([*REQUEST, "--start", "2027-03-28T01:30", "--end", "2027-03-28T10:00"], "--start",
     "does not exist in Europe/London"),
    (["booking", "find-slot", "--lab", "Winchester", "--spaces", "1", "--hours", "1e308"],
     "--hours", "168"),
    (["booking", "find-slot", "--lab", "Winchester", "--spaces", "1", "--hours", "inf"],
     "--hours", "168"),
    # floats must be finite and bounded
    (["emulate", "--alert-rate", "nan", "--seconds", "0.1"], "--alert-rate", "600"),
    (["emulate", "--alert-rate", "inf", "--seconds", "0.1"], "--alert-rate", "600"),
    (["emulate", "--alert-rate", "-1", "--seconds", "0.1"], "--alert-rate", "0 or more"),
    (["emulate", "--seconds", "inf"], "--seconds", "604800"),
    (["emulate", "--seconds", "1", "--time-scale", "1e308"], "--time-scale", "3600"),
    (["--after", "inf", "--screenshot", "x.png"], "--after", "3600"),
    (["capture", "--port", "/dev/null", "--protocol", "gbcs-hex", "--duration", "nan"],
     "--duration", "604800"),
    (["capture", "--port", "/dev/null", "--protocol", "gbcs-hex", "--once", "--baud",
      "99999999999999999999"], "--baud", "4000000"),
    # names: control characters and length, in every text option
    (["lab", "add", "--name", "Lab\x01", "--spaces", "5"], "--name", "U+0001"),
    (["lab", "add", "--name", "Lab\x7f", "--spaces", "5"], "--name", "U+007F"),
    (["lab", "add", "--name", "Lab\x85", "--spaces", "5"], "--name", "U+0085"),
    (["lab", "add", "--name", "L" * 201, "--spaces", "5"], "--name", "at most 200"),
    (["lab", "add", "--name", "Lab", "--site", "a\nb", "--spaces", "5"], "--site", "U+000A"),
    (["org", "add", "--name", "Acme\x1b[31m"], "--name", "U+001B"),
    (["person", "add", "--org", "Acme", "--name", "Ann\tAble", "--email", "a@acme.example"],
     "--name", "U+0009"),
    (["device", "add", "--label", "M\x00", "--kind", "ESME"], "--label", "U+0000"),
    (["device", "add", "--label", "M", "--kind", "ESME", "--firmware", "1" * 300],
     "--firmware", "at most 200"),
    ([*REQUEST, "--start", "2026-12-01T09:00", "--end", "2026-12-01T10:00", "--notes",
      "n" * 2001], "--notes", "at most 2000"),
    (["booking", "approve", "1", "--reason", "ok\x9b"], "--reason", "U+009B"),
    (["--actor", "eve\r", "lab", "list"], "--actor", "U+000D"),
    (["lab", "add", "--name", "Lab\udcff", "--spaces", "5"], "--name", "not valid UTF-8"),
    # accepted today and should not be
    (["device", "add", "--label", "M2", "--kind", "ESME", "--protocol", "bogus"], "--protocol",
     "not a known protocol"),
    (["device", "add", "--label", "M2", "--kind", "ESME", "--bench", "Bench 99"], "--bench",
     "Bench 99"),
    (["device", "add", "--label", "M2", "--kind", "ESME", "--mpxn", "1312345678907"], "--mpxn",
     "ESME 1"),
    (["org", "add", "--name", "B", "--roles", "IS", "--completed-roles", "GS"],
     "--completed-roles", "GS"),
    (["org", "add", "--name", "B", "--completed-roles", "IS"], "--completed-roles", "IS"),
    (["outages", "list", "--bench", "Bench 42"], "--bench", "Bench 42"),
    (["capture", "--port", "/dev/null", "--protocol", "gbcs-hex", "--once", "--device", "Nope"],
     "--device", "device add"),
    (["booking", "find-slot", "--lab", "Winchester", "--spaces", "1", "--hours", "2", "--bench",
      "Bench 99"], "--bench", "Bench 99"),
    (["booking", "export", "--lab", "Winchester", "--ics", "/"], "--ics", "is a folder"),
    # a lab, organisation or device named by an id SQLite cannot hold
    (["booking", "list", "--lab", "99999999999999999999"], "--lab", "9223372036854775807"),
    (["person", "list", "--org", "99999999999999999999"], "--org", "9223372036854775807"),
    (["booking", "list", "--lab", "\u00b2"], "--lab", "digits 0-9"),
    (["capture", "--port", "/dev/null", "--protocol", "gbcs-hex", "--once", "--device",
      "99999999999999999999"], "--device", "9223372036854775807"),
]


@pytest.mark.parametrize("args, option, fragment", BAD_INPUT,
                         ids=[f"{i}-{case[1]}" for i, case in enumerate(BAD_INPUT)])
def test_bad_input_is_one_sentence_exit_2_nothing_written(
        lab_db, capsys, args, option, fragment) -> None:
    before = dump(lab_db)
    code, out, err = run(capsys, lab_db, *args)
    assert code == EXIT_BAD_INPUT, err
    assert out == ""
    assert err.startswith(f"meterlab: {option}: ") and err.count("\n") == 1, err
    assert fragment in err and "Traceback" not in err
    assert dump(lab_db) == before


def test_duplicate_mpan_is_registered_with_force(lab_db, capsys) -> None:
    code, out, err = run(capsys, lab_db, "device", "add", "--label", "ESME 2", "--kind", "ESME",
                         "--mpxn", "1312345678907", "--force")
    assert code == 0, err
    assert json.loads(out)["label"] == "ESME 2"


def test_argv_bytes_that_are_not_utf8_in_a_real_process(lab_db) -> None:
    before = dump(lab_db)
    argv = [os.fsencode(EXE), b"--db", os.fsencode(lab_db), b"lab", b"add", b"--name",
            b"Caf\xe9", b"--spaces", b"5"]
    res = subprocess.run(argv, capture_output=True, timeout=60, env=ENV)
    err = res.stderr.decode("utf-8", "replace")
    assert res.returncode == EXIT_BAD_INPUT and res.stdout == b""
    assert err.startswith("meterlab: --name: ") and "UTF-8" in err and err.count("\n") == 1
    assert dump(lab_db) == before


# --- local time in and out ---------------------------------------------------------------------
def test_now_without_offset_is_london_time_like_start() -> None:
    assert parse_now("2026-07-01T10:00").isoformat() == "2026-07-01T09:00:00+00:00"
    assert parse_now("2026-12-01T10:00").isoformat() == "2026-12-01T10:00:00+00:00"


def test_folded_local_time_is_the_first_of_the_two() -> None:
    # 2026-10-25 01:30 happens twice in London; people mean the earlier (still BST).
    value = parse_instant("2026-10-25T01:30", "start")
    assert value.utcoffset().total_seconds() == 3600


def test_cli_now_without_offset_is_accepted(tmp_path, capsys) -> None:
    assert main(["--db", str(tmp_path / "n.db"), "--now", "2026-07-01T10:00", "lab", "list"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_booking_json_is_in_the_labs_local_time(lab_db, capsys) -> None:
    code, out, err = run(capsys, lab_db, *REQUEST, "--start", "2027-06-07T09:00",
                         "--end", "2027-06-07T17:00", "--override", "agreed by phone")
    assert code == 0, err
    booking_id = json.loads(out)["id"]
    code, out, _ = run(capsys, lab_db, "booking", "list", "--lab", "Winchester")
    listed = {b["id"]: b for b in json.loads(out)}[booking_id]
    assert listed["start"] == "2027-06-07T09:00:00+01:00"
    assert listed["end"] == "2027-06-07T17:00:00+01:00"
    code, out, _ = run(capsys, lab_db, "booking", "approve", str(booking_id))
    assert code == 0 and json.loads(out)["start"] == "2027-06-07T09:00:00+01:00"


# --- the database path and the database itself --------------------------------------------------
def test_db_in_a_folder_that_does_not_exist_is_refused(tmp_path, capsys) -> None:
    missing = tmp_path / "typo" / "lab.db"
    assert main(["--db", str(missing), "lab", "list"]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert err.startswith("meterlab: --db: Folder ") and str(missing.parent) in err
    assert not missing.parent.exists()


def test_db_that_is_a_folder_is_refused(tmp_path, capsys) -> None:
    assert main(["--db", str(tmp_path), "lab", "list"]) == EXIT_BAD_INPUT
    assert "is a folder" in capsys.readouterr().err


def test_newer_schema_is_refused_naming_the_version(lab_db, capsys) -> None:
    conn = sqlite3.connect(lab_db)
    with conn:
        conn.execute("INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
                     "VALUES ('meterlab', 'm099_from_the_future', '2027-01-01 00:00:00')")
    # Connections the fixture's in-process runs left open would checkpoint later: do it now,
    # so the file's bytes change only if the command under test writes.
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    before, raw = dump(lab_db), lab_db.read_bytes()
    code, out, err = run(capsys, lab_db, "lab", "add", "--name", "New", "--spaces", "5")
    assert code == EXIT_STORAGE and out == ""
    assert "m099_from_the_future" in err and "newer" in err and err.count("\n") == 1
    assert dump(lab_db) == before and lab_db.read_bytes() == raw


def test_locked_database_exit_9(lab_db, capsys, monkeypatch) -> None:
    import app.storage.db

    monkeypatch.setattr(app.storage.db, "BUSY_TIMEOUT_S", 0.3)
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sqlite3, sys
            conn = sqlite3.connect({str(lab_db)!r}, isolation_level=None)
            conn.execute("BEGIN EXCLUSIVE")
            print("locked", flush=True)
            sys.stdin.read()
        """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        code, out, err = run(capsys, lab_db, "lab", "add", "--name", "New", "--spaces", "5")
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    assert code == EXIT_STORAGE and out == ""
    assert err.startswith("meterlab: --db: ") and "locked" in err and err.count("\n") == 1
    assert not any("'New'" in line for line in dump(lab_db))


def test_corrupt_page_exit_9(lab_db, capsys) -> None:
    conn = sqlite3.connect(lab_db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    with open(lab_db, "r+b") as f:  # page 1 is the header; damage pages 2 to 4
        f.seek(page)
        f.write(b"\xa5" * page * 3)
    code, out, err = run(capsys, lab_db, "lab", "list")
    assert code == EXIT_STORAGE and out == ""
    assert err.startswith("meterlab: --db: ") and "damaged" in err and err.count("\n") == 1


def _can_mount_read_only(folder: Path) -> bool:
    if shutil.which("unshare") is None or os.geteuid() != 0:
        return False
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c",
         f"mount --bind '{folder}' '{folder}' && mount -o remount,bind,ro '{folder}'"],
        capture_output=True, timeout=30)
    return probe.returncode == 0


def test_read_only_database_exit_9(lab_db, capsys) -> None:
    folder = lab_db.parent
    before = dump(lab_db)
    if os.geteuid() != 0:  # permission bits stop writes for anyone but root
        folder.chmod(0o555)
        lab_db.chmod(0o444)
        try:
            code, out, err = run(capsys, lab_db, "lab", "add", "--name", "New", "--spaces", "5")
        finally:
            folder.chmod(0o755)
            lab_db.chmod(0o644)
        assert code == EXIT_STORAGE and out == "" and "read-only" in err
        assert dump(lab_db) == before
        return
    if not _can_mount_read_only(folder):
        pytest.skip("running as root without the right to mount a read-only bind mount")
    # Root ignores permission bits: a read-only bind mount in a private mount namespace is a
    # file system that truly refuses writes, as a read-only share would.
    script = (f"mount --bind '{folder}' '{folder}' && mount -o remount,bind,ro '{folder}' && "
              f"exec '{EXE}' --db '{lab_db}' --now {NOW} lab add --name New --spaces 5")
    res = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True,
                         timeout=60, env=ENV)
    assert res.returncode == EXIT_STORAGE, res.stderr
    assert res.stdout == "" and res.stderr.count("\n") == 1
    assert res.stderr.startswith("meterlab: --db: ") and "read-only" in res.stderr
    assert dump(lab_db) == before


@pytest.mark.parametrize("message, kind", [
    ("attempt to write a readonly database", DbErrorKind.READ_ONLY),
    ("database is locked", DbErrorKind.LOCKED),
    ("database disk image is malformed", DbErrorKind.CORRUPT),
    ("database or disk is full", DbErrorKind.FULL),
    ("file is not a database", DbErrorKind.NOT_A_DATABASE),
    ("something else", DbErrorKind.CANNOT_OPEN),
])
def test_sqlite_messages_map_to_one_sentence_each(message, kind) -> None:
    err = classify_sqlite_error(sqlite3.OperationalError(message), "/x/lab.db")
    assert err.kind is kind and "/x/lab.db" in str(err) and str(err).endswith(".")
    assert str(err).count(". ") == 0  # one sentence


def test_write_failing_later_is_exit_9(lab_db, capsys, monkeypatch) -> None:
    from app.storage.labs import LabRepo

    def full(*args, **kwargs):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(LabRepo, "add", full)
    code, _, err = run(capsys, lab_db, "lab", "add", "--name", "New", "--spaces", "5")
    assert code == EXIT_STORAGE and "disk is full" in err


# --- closed stdout ---------------------------------------------------------------------------
def test_stdout_closed_early_ends_quietly(tmp_path) -> None:
    log = tmp_path / "ch.log"
    line = (b"2026-11-25T10:03:00.010Z [INF] PWR restored at=2026-11-25T10:02:59.000Z "
            b"duration_s=119.0 mpxn=1312345678907\n")
    log.write_bytes(line * 20000)
    proc = subprocess.Popen([str(EXE), "decode", "--file", str(log), "--protocol",
                             "profile:emulator"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=ENV)
    for _ in range(3):
        assert proc.stdout.readline()
    proc.stdout.close()  # what `| head -3` does
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == EXIT_PIPE_CLOSED
    assert "Traceback" not in err and "BrokenPipe" not in err and err == ""


# --- the parsing helpers on their own ---------------------------------------------------------
@pytest.mark.parametrize("text", ["nan", "inf", "-inf", "1e309", "0", "-1", "1e10"])
def test_floats_are_finite_and_bounded(text) -> None:
    with pytest.raises(ValidationError):
        parse_positive_float(text, "seconds", 3600)


@pytest.mark.parametrize("text", ["ok\u2028", "é" * 10, "Bench 1 – spare"])
def test_ordinary_unicode_text_is_accepted(text) -> None:
    assert check_text(text, "name") == text


def test_decoded_alert_time_is_shown_in_london_time(capsys) -> None:
    from datetime import UTC, datetime

    from devices.codecs.gbcs_build import build_alert_apdu

    apdu = build_alert_apdu(alert_code=0x8F36, originator="00-DB-12-34-56-78-90-A0",
                            recipient="90-B3-D5-1F-30-01-00-00",
                            alert_time=datetime(2026, 7, 1, 8, 0, tzinfo=UTC))
    assert main(["decode", "--gbcs", apdu.hex()]) == 0
    assert json.loads(capsys.readouterr().out)["timestamp"] == "2026-07-01T09:00:00+01:00"


def test_outage_times_are_shown_in_london_time(lab_db, capsys) -> None:
    conn = sqlite3.connect(lab_db)
    with conn:
        conn.execute("INSERT INTO outages (id, bench, start, end, device_start, interrupted_alert, "
                     "flags_json) VALUES (1, 'ESME 9', '2027-06-07T08:00:00.000000+00:00', "
                     "'2027-06-07T08:04:00.000000+00:00', '2027-06-07T08:00:01.000000+00:00', 0, "
                     "'[]')")
    conn.close()
    code, out, err = run(capsys, lab_db, "outages", "list", "--bench", "ESME 9")
    assert code == 0, err
    [outage] = json.loads(out)
    assert outage["start"] == "2027-06-07T09:00:00+01:00"
    assert outage["end"] == "2027-06-07T09:04:00+01:00"
    assert outage["device_start"] == "2027-06-07T09:00:01+01:00"
