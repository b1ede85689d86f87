"""`meterlab report`: exporting a real run's report, the seal stored and checked, `verify`."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest

from app.cli import EXIT_BAD_INPUT, EXIT_OK, EXIT_SEAL, main, report_cmds
from app.domain.clock import SystemClock
from app.services.reports.build import build_report
from app.services.reports.files import write_atomically
from app.storage.db import connect
from tests.services.reports.emulated import fresh_copy
from tests.services.reports.test_verify import html_export

NOW = "2027-01-05T09:00+00:00"


def meterlab(capsys, db: Path, *args: str):  # type: ignore[no-untyped-def]
    code = main(["--db", str(db), "--now", NOW, *args])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else None), err


@pytest.fixture
def db(tmp_path_factory, tmp_path) -> Path:
    return fresh_copy(tmp_path_factory, tmp_path / "lab")


def test_export_json_and_csv_stores_the_seal_and_lists_the_files(db, tmp_path, capsys) -> None:
    (tmp_path / "csv").mkdir()
    code, out, err = meterlab(capsys, db, "report", "1", "--json", str(tmp_path / "r1.json"),
                              "--csv", str(tmp_path / "csv"))
    assert code == EXIT_OK, err
    assert out["run_id"] == 1 and len(out["seal"]) == 64
    names = [Path(f["path"]).name for f in out["files"]]
    assert names == ["r1.json", "run.csv", "steps.csv", "measurements.csv", "devices.csv",
                     "alerts.csv", "outages.csv", "evidence.csv"]
    for f in out["files"]:
        data = Path(f["path"]).read_bytes()
        assert (f["bytes"], f["sha256"]) == (len(data), hashlib.sha256(data).hexdigest())
    assert json.loads((tmp_path / "r1.json").read_text(encoding="utf-8"))["seal"] == out["seal"]
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT seal FROM runs WHERE id = 1").fetchone()[0] == out["seal"]
    conn.close()
    assert not list(tmp_path.glob(".*.part")) and not list((tmp_path / "csv").glob(".*"))
    # Exported again: the same seal, no complaint.
    code, again, err = meterlab(capsys, db, "report", "1", "--json", str(tmp_path / "b.json"))
    assert code == EXIT_OK and again["seal"] == out["seal"], err


def test_a_changed_run_is_refused_with_what_changed_and_nothing_is_written(
        db, tmp_path, capsys) -> None:
    first = tmp_path / "first.json"
    assert meterlab(capsys, db, "report", "2", "--json", str(first))[0] == EXIT_OK
    before = first.read_bytes()
    conn = sqlite3.connect(db)
    conn.execute("UPDATE run_steps SET outcome = 'PASS' WHERE run_id = 2 AND outcome = 'FAIL'")
    conn.commit()
    conn.close()
    code, out, err = meterlab(capsys, db, "report", "2", "--json", str(first), "--csv",
                              str(tmp_path))
    assert code == EXIT_SEAL and out is None
    assert "run 2 has changed since its report was sealed" in err
    assert '.outcome: "FAIL" -> "PASS"' in err
    assert first.read_bytes() == before and not (tmp_path / "run.csv").exists()


@pytest.mark.parametrize(("args", "message"), [
    (["report", "1"], "give at least one of --pdf FILE, --html FILE, --json FILE or --csv DIR"),
    (["report", "99", "--json", "X"], "no such run 99"),
    (["report", "abc", "--json", "X"], "--run-id"),
    (["report", "1", "--json", "NOFOLDER/r.json"], "--json: Folder"),
    (["report", "1", "--csv", "NOFOLDER"], "--csv: Folder"),
    (["report", "1", "--json", "X", "--html", "X"], "name the same file"),
    (["report", "verify", "NOFILE"], "--file: There is no file"),
    (["report", "campaign", "--org", "Acme"], "give at least one of --pdf FILE or --html"),
])
def test_bad_input_exits_2_and_writes_nothing(db, tmp_path, capsys, args, message) -> None:
    args = [str(tmp_path / a) if a in ("X", "NOFILE") else
            str(tmp_path / a) if a.startswith("NOFOLDER") else a for a in args]
    code, out, err = meterlab(capsys, db, *args)
    assert code == EXIT_BAD_INPUT and out is None
    assert message in err
    assert list(tmp_path.iterdir()) == [tmp_path / "lab"]
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT count(*) FROM runs WHERE seal IS NOT NULL").fetchone()[0] == 0
    conn.close()


def test_verify_a_json_export(db, tmp_path, capsys) -> None:
    path = tmp_path / "r.json"
    assert meterlab(capsys, db, "report", "1", "--json", str(path))[0] == EXIT_OK
    code, out, err = meterlab(capsys, db, "report", "verify", str(path))
    assert code == EXIT_OK and out["valid"] and out["message"] == "seal valid", err
    data = json.loads(path.read_text(encoding="utf-8"))
    data["alerts"][0]["code"] = "8F36"
    path.write_text(json.dumps(data), encoding="utf-8")
    code, out, err = meterlab(capsys, db, "report", "verify", str(path))
    assert code == EXIT_SEAL and not out["valid"]
    assert "the content does not match its seal: alerts" in err


def test_verify_an_html_report_against_a_changed_database(db, tmp_path, capsys) -> None:
    assert meterlab(capsys, db, "report", "1", "--json", str(tmp_path / "r.json"))[0] == 0
    conn = connect(db)
    report = build_report(conn, 1, SystemClock())
    conn.close()
    page = html_export(report, tmp_path / "r.html")
    assert meterlab(capsys, db, "report", "verify", str(page))[0] == EXIT_OK
    conn = sqlite3.connect(db)
    conn.execute("UPDATE run_devices SET firmware = '9.9.9' WHERE run_id = 1 AND seq = 0")
    conn.commit()
    conn.close()
    code, out, err = meterlab(capsys, db, "report", "verify", str(page))
    assert code == EXIT_SEAL
    assert out["differences"] == ['run.devices[0].firmware: "2.1.0" -> "9.9.9"']
    assert "run.devices[0].firmware" in err


def test_verify_refuses_what_is_not_a_report(db, tmp_path, capsys) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello", encoding="utf-8")
    code, _, err = meterlab(capsys, db, "report", "verify", str(path))
    assert code == EXIT_BAD_INPUT and "is not a MeterLab report" in err


def test_help_reads_as_run_id_verify_or_campaign(capsys) -> None:
    with pytest.raises(SystemExit) as done:
        main(["report", "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "{RUN_ID,verify,campaign}" in out and "export the report of run RUN_ID" in out
    with pytest.raises(SystemExit):
        main(["report", "12", "--help"])
    assert "usage: meterlab report RUN_ID [--pdf FILE]" in capsys.readouterr().out


def test_progress_goes_to_stderr_only_after_half_a_second(monkeypatch, capsys) -> None:
    now = [100.0]
    monkeypatch.setattr(report_cmds.time, "monotonic", lambda: now[0])
    progress = report_cmds._Progress()
    progress(0.1, "quick")
    assert capsys.readouterr().err == ""
    now[0] += 0.6
    progress(0.5, "pages")
    progress.done()
    assert capsys.readouterr().err == "\rmeterlab: report:  50% pages" + " " * 55 + "\n"


def test_a_failed_write_leaves_the_old_file_and_no_temporary_one(tmp_path) -> None:
    path = tmp_path / "r.pdf"
    path.write_bytes(b"old")

    def half_then_fail(tmp: Path) -> None:
        tmp.write_bytes(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError):
        write_atomically(path, half_then_fail)
    assert path.read_bytes() == b"old" and list(tmp_path.iterdir()) == [path]
    write_atomically(path, lambda tmp: tmp.write_bytes(b"new"))
    assert path.read_bytes() == b"new" and list(tmp_path.iterdir()) == [path]
