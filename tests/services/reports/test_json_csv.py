"""JSON and CSV exports of a real run's report."""

from __future__ import annotations

import csv
import json
import sqlite3
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from app.domain.clock import FixedClock
from app.domain.reports import SEAL_FORMAT
from app.domain.run_records import RunDevice
from app.domain.runs import MeasurementOutcome, MeasurementResult
from app.services.reports.build import build_report
from app.services.reports.csv_export import CSV_FILES, safe_cell, write_csv
from app.services.reports.json_export import (
    NotAReportError,
    check_json,
    parse_sealed_json,
    read_sealed_json,
    write_json,
)
from tests.services.reports.emulated import emulated_runs

CLOCK = FixedClock(datetime(2027, 1, 5, 9, 0, tzinfo=UTC))


@pytest.fixture(scope="module")
def report(tmp_path_factory):  # type: ignore[no-untyped-def]
    db = emulated_runs(tmp_path_factory) / "runs.db"
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return build_report(conn, 1, CLOCK, version="1.2.3")
    finally:
        conn.close()


def test_the_json_export_is_the_sealed_content_with_its_seal(report, tmp_path) -> None:
    path = tmp_path / "run1.json"
    write_json(report, path)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["format"] == SEAL_FORMAT and data["seal"] == report.seal()
    assert data["run"]["run_id"] == 1 and data["run"]["verdict"] == "PASS"
    assert [a["code"] for a in data["alerts"]] == [a.code for a in report.alerts]
    assert len(data["outages"]) == 1 and len(data["run"]["evidence"]) == 3
    assert data["report"] == {"generated": "2027-01-05T09:00:00+00:00", "version": "1.2.3",
                              "timezone": "Europe/London",
                              "events_total": report.events_total}
    sealed = read_sealed_json(path)
    assert sealed.content == report.canonical() and sealed.run_id == 1
    assert check_json(sealed) == []


@pytest.mark.parametrize(("part", "edit"), [
    ("run", lambda d: d["run"]["steps"][0]["measurements"][0].update(value=99)),
    ("alerts", lambda d: d["alerts"][0].update(latency_s=1.0)),
    ("outages", lambda d: d["outages"].clear()),
    ("evidence_sha256", lambda d: d["evidence_sha256"].pop()),
])
def test_an_altered_json_export_names_the_part_that_changed(report, tmp_path, part,
                                                            edit) -> None:
    path = tmp_path / "run1.json"
    write_json(report, path)
    data = json.loads(path.read_text(encoding="utf-8"))
    edit(data)
    assert check_json(parse_sealed_json(json.dumps(data).encode())) == [part]


def test_a_changed_seal_alone_is_said(report, tmp_path) -> None:
    path = tmp_path / "run1.json"
    write_json(report, path)
    data = json.loads(path.read_text(encoding="utf-8"))
    data["seal"] = "0" * 64
    assert check_json(parse_sealed_json(json.dumps(data).encode())) == [
        "the seal itself (every part matches its own seal)"]


@pytest.mark.parametrize("text", [b"not json", b"[1, 2]", b'{"format": "other"}',
                                  b'{"format": "meterlab-run-seal/1", "run": {}}',
                                  b'{"format": "meterlab-run-seal/9", "seal": "' + b"a" * 64
                                  + b'"}'])
def test_what_is_not_a_meterlab_report_is_refused(text: bytes) -> None:
    with pytest.raises(NotAReportError):
        parse_sealed_json(text)


def _rows(path) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    with open(path, encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def test_the_csv_export_is_one_file_per_table(report, tmp_path) -> None:
    paths = write_csv(report, tmp_path)
    assert [p.name for p in paths] == list(CSV_FILES)
    for p in paths:
        assert p.read_bytes().startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM for Excel
    run = _rows(tmp_path / "run.csv")
    assert len(run) == 1
    assert (run[0]["seal"], run[0]["verdict"], run[0]["organisation"]) == (
        report.seal(), "PASS", report.record.org_name)
    assert run[0]["started"] == report.record.started.isoformat()  # December: GMT, +00:00
    assert len(_rows(tmp_path / "steps.csv")) == len(report.record.steps)
    measurements = _rows(tmp_path / "measurements.csv")
    assert len(measurements) == sum(len(s.measurements) for s in report.record.steps)
    delta = next(m for m in measurements if m["name"] == "power_fail_count_delta")
    assert (delta["value"], delta["outcome"]) == ("1", "PASS")
    assert [d["label"] for d in _rows(tmp_path / "devices.csv")] == [
        d.label for d in report.record.devices]
    alerts = _rows(tmp_path / "alerts.csv")
    assert [a["code"] for a in alerts] == [a.code for a in report.alerts]
    assert float(alerts[0]["target_s"]) == 8.0 and alerts[0]["late"] == "no"
    assert _rows(tmp_path / "outages.csv")[0]["restore_alert"] == "8F35"
    assert {e["sha256"] for e in _rows(tmp_path / "evidence.csv")} == {
        e.sha256 for e in report.record.evidence}


def test_csv_times_are_the_labs_local_time_with_its_offset(report, tmp_path) -> None:
    paris = replace(report, context=replace(report.context, lab_timezone="Europe/Paris"))
    write_csv(paris, tmp_path)
    started = _rows(tmp_path / "run.csv")[0]["started"]
    assert started.endswith("+01:00")
    assert datetime.fromisoformat(started) == report.record.started


def test_text_that_a_spreadsheet_would_run_as_a_formula_is_made_text(report, tmp_path) -> None:
    record = report.record
    step = record.steps[0]
    hostile = replace(record, devices=(RunDevice('=HYPERLINK("http://x","y")', "ESME"),
                                       *record.devices[1:]),
                      steps=(replace(step, measurements=(
                          MeasurementResult("offset", -2.5, "s", "-5 <= x <= 5",
                                            MeasurementOutcome.PASS, note="+1 then @SUM(A1)"),
                      )), *record.steps[1:]))
    write_csv(replace(report, record=hostile), tmp_path)
    assert _rows(tmp_path / "devices.csv")[0]["label"] == "'=HYPERLINK(\"http://x\",\"y\")"
    m = _rows(tmp_path / "measurements.csv")[0]
    assert (m["value"], m["limits"], m["note"]) == ("-2.5", "'-5 <= x <= 5",
                                                    "'+1 then @SUM(A1)")
    assert [safe_cell(v) for v in ("@x", "\tx", "a=b", -1, 3.5, None)] == [
        "'@x", "'\tx", "a=b", -1, 3.5, None]
