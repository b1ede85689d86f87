"""`verify_file`: JSON reports checked from their content; PDF and HTML reports against the
database and the evidence files on disk.

The PDF and HTML files here are stand-ins for the exporters' output, made by hand with the
markers every PDF and HTML report carries (the PDF's metadata written by reportlab; the HTML's
meta tags and its embedded sealed JSON), so the check is tested apart from the layout.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.domain.clock import FixedClock
from app.domain.errors import NotFoundError
from app.domain.reports import RunReport
from app.services.reports.build import build_report
from app.services.reports.json_export import write_json
from app.services.reports.seal import seal_run
from app.services.reports.verify import NotAReportError, verify_file
from app.storage.db import connect
from tests.services.reports.emulated import fresh_copy

CLOCK = FixedClock(datetime(2027, 1, 5, 9, 0, tzinfo=UTC))


def exported(db: Path, run_id: int = 1) -> RunReport:
    """The report of `run_id`, sealed as an export seals it."""
    conn = connect(db)
    try:
        report = build_report(conn, run_id, CLOCK)
        seal_run(conn, report, CLOCK)
        return report
    finally:
        conn.close()


def html_export(report: RunReport, path: Path) -> Path:
    """The real HTML exporter's file."""
    from app.services.reports.html import write_html

    write_html(report, path)
    return path


def pdf_export(report: RunReport, path: Path) -> Path:
    """The real PDF exporter's file."""
    from app.services.reports.pdf import write_pdf

    write_pdf(report, path)
    return path


@pytest.fixture
def db(tmp_path_factory, tmp_path) -> Path:
    return fresh_copy(tmp_path_factory, tmp_path / "lab")


def _change_measurement(db: Path, name: str) -> tuple[int, int, object, object]:
    conn = connect(db)
    step, seq, value = conn.execute(
        "SELECT step_idx, seq, value_json FROM run_measurements WHERE run_id = 1 AND name = ?",
        (name,)).fetchone()
    before = json.loads(value)
    after = before + 1
    conn.execute("UPDATE run_measurements SET value_json = ? WHERE run_id = 1 AND step_idx = ? "
                 "AND seq = ?", (json.dumps(after), step, seq))
    conn.commit()
    conn.close()
    return step, seq, before, after


def test_a_json_report_verifies_from_its_content_alone(db, tmp_path) -> None:
    report = exported(db)
    path = tmp_path / "r.json"
    write_json(report, path)
    result = verify_file(path, None)
    assert result.valid and (result.kind, result.run_id, result.seal) == ("json", 1,
                                                                         report.seal())
    data = json.loads(path.read_text(encoding="utf-8"))
    data["run"]["steps"][0]["measurements"][0]["value"] = 0
    path.write_text(json.dumps(data), encoding="utf-8")
    result = verify_file(path, None)
    assert not result.valid and result.differences == ("run",)
    assert result.message() == "the content does not match its seal: run"


@pytest.mark.parametrize("make", [html_export, pdf_export])
def test_a_pdf_or_html_report_of_an_unchanged_run_is_valid(db, tmp_path, make) -> None:
    report = exported(db)
    result = verify_file(make(report, tmp_path / "report"), db, CLOCK)
    assert result.valid, result.differences
    assert result.recomputed == result.seal == report.seal()
    assert result.message().startswith("seal valid")


@pytest.mark.parametrize("make", [html_export, pdf_export])
def test_an_altered_capture_file_is_named(db, tmp_path, make) -> None:
    report = exported(db)
    path = make(report, tmp_path / "report")
    evidence = report.record.evidence[1]
    data = bytearray(Path(evidence.path).read_bytes())
    data[len(data) // 2] ^= 0x01
    Path(evidence.path).write_bytes(bytes(data))
    result = verify_file(path, db, CLOCK)
    assert not result.valid
    assert result.differences == (
        f"evidence file {evidence.path} was altered (its first {evidence.bytes} bytes do not "
        f"have the recorded SHA-256)",)


def test_a_missing_capture_file_is_named_and_bytes_appended_later_are_not_a_change(
        db, tmp_path) -> None:
    report = exported(db)
    path = pdf_export(report, tmp_path / "report.pdf")
    grown, gone = report.record.evidence[0], report.record.evidence[2]
    with open(grown.path, "ab") as f:  # capture goes on after a run: the file grows
        f.write(b"later bytes")
    Path(gone.path).unlink()
    assert verify_file(path, db, CLOCK).differences == (
        f"evidence file {gone.path} is missing",)


@pytest.mark.parametrize("make", [html_export, pdf_export])
def test_a_row_changed_in_the_database_is_named(db, tmp_path, make) -> None:
    report = exported(db)
    path = make(report, tmp_path / "report")
    step, seq, before, after = _change_measurement(db, "power_fail_count_delta")
    result = verify_file(path, db, CLOCK)
    assert not result.valid and result.recomputed != result.seal
    assert result.differences == (
        f"run.steps[{step}].measurements[{seq}].value: {before} -> {after}",)
    assert result.message().startswith("the report does not match run 1 as stored now: ")


def test_a_report_of_another_seal_than_the_stored_one_is_said(db, tmp_path) -> None:
    report = exported(db)
    forged = pdf_export(report, tmp_path / "r.pdf")
    forged.write_bytes(forged.read_bytes().replace(report.seal().encode(), b"0" * 64))
    result = verify_file(forged, db, CLOCK)
    assert not result.valid
    assert f"the seal stored with run 1 is {report.seal()}, the file's is {'0' * 64}" in (
        result.differences)


def test_a_report_of_a_run_not_in_the_database_is_not_found(db, tmp_path) -> None:
    report = exported(db)
    path = pdf_export(report, tmp_path / "r.pdf")
    path.write_bytes(path.read_bytes().replace(b"MeterLab-Run: 1", b"MeterLab-Run: 7"))
    with pytest.raises(NotFoundError, match="run 7, which is not in"):
        verify_file(path, db, CLOCK)
    with pytest.raises(NotFoundError, match="no database"):
        verify_file(pdf_export(report, tmp_path / "s.pdf"), tmp_path / "none.db", CLOCK)
    assert not (tmp_path / "none.db").exists()


@pytest.mark.parametrize(("content", "match"), [
    (b"%PDF-1.4\nno markers here", "no MeterLab-Seal"),
    (b"<html><body>hello</body></html>", "no MeterLab-Seal"),
    (b"just some text", "not a PDF, HTML or JSON"),
    (b"%PDF-1.4 MeterLab-Campaign-Seal: " + b"a" * 64, "campaign report"),
    (b'{"a": 1}', "not a MeterLab report"),
])
def test_files_that_are_not_run_reports_are_refused(tmp_path, content, match) -> None:
    path = tmp_path / "f"
    path.write_bytes(content)
    with pytest.raises(NotAReportError, match=match):
        verify_file(path, tmp_path / "unused.db", CLOCK)


def test_alerts_stored_as_warning_by_earlier_versions_still_verify_and_read_non_critical(
        db, tmp_path) -> None:
    from app.services.reports.csv_export import csv_tables

    # The run's alerts as an earlier version stored them: "warning" for non-critical. They are
    # evidence a report was sealed from, so they are read in today's words, never rewritten.
    conn = connect(db)
    with conn:
        changed = conn.execute(
            "UPDATE events SET fields_json = json_set(fields_json, '$.severity', 'warning') "
            "WHERE kind = 'alert' AND json_extract(fields_json, '$.severity') = 'non-critical'"
        ).rowcount
    conn.close()
    assert changed > 0
    report = exported(db)
    result = verify_file(html_export(report, tmp_path / "report.html"), db, CLOCK)
    assert result.valid, result.differences
    header, rows = csv_tables(report)["alerts.csv"]
    severities = {row[header.index("severity")] for row in rows}
    assert "warning" not in severities and "non-critical" in severities
