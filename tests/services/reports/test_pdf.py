"""The PDF report: its text (extracted with pypdf), same bytes twice, the seal in the metadata,
any text a person typed, and a run with ten thousand alerts."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pypdf
import pytest

from app.domain.runs import StepOutcome
from app.services.reports.pdf import write_pdf
from tests.services.reports.sample_report import DEVICE_IDS, NOTE, ORG, STEP_NAMES, report


def _text(path: Path) -> tuple[pypdf.PdfReader, list[str]]:
    reader = pypdf.PdfReader(path)
    return reader, [page.extract_text() for page in reader.pages]


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    path = tmp_path_factory.mktemp("pdf") / "run-42.pdf"
    write_pdf(report(), path)
    return path, _text(path)[1]


def test_the_pdf_says_who_what_and_the_verdict(sample: tuple[Path, list[str]]) -> None:
    _path, pages = sample
    text = "\n".join(pages)
    flat = " ".join(text.split())
    assert ORG in text
    assert "Newcastle Device Lab" in text
    for device_id in DEVICE_IDS:
        assert device_id in text
    for mpxn in ("1312345678907", "1234567890"):
        assert mpxn in text
    for name in STEP_NAMES:
        assert name in flat
    assert "VERDICT" in text and "FAIL" in text and "MARGINAL" in text
    for code in ("8F35", "8F36", "8F0C", "8F01"):
        assert code in text
    assert report().seal() in flat
    assert "power-outage version 1.0" in text
    assert report().record.plan_sha256 in flat
    assert "2026-07-14 10:30:05 +01:00" in text  # the lab's local time with its offset
    assert "0 <= x <= 30; marginal outside" in flat  # limits as stored
    assert "12345.689" in text  # the value as stored, not rounded
    assert "Zoë Lab-Tech" in text
    assert "Outages" in text and "Evidence" in text and "Seal" in text


def test_every_page_has_the_header_and_page_x_of_y(sample: tuple[Path, list[str]]) -> None:
    _path, pages = sample
    assert len(pages) >= 2
    for number, page in enumerate(pages, start=1):
        assert "MeterLab · Newcastle Device Lab" in page
        assert "Run 42 · power-outage · FAIL" in page
        assert f"page {number} of {len(pages)}" in page
        assert "MeterLab 0.1.0 · generated 2026-07-15 09:00:00 +01:00" in page


def test_seal_and_run_are_in_the_metadata_uncompressed(sample: tuple[Path, list[str]]) -> None:
    path, _pages = sample
    data = path.read_bytes()
    seal = report().seal()
    assert f"MeterLab-Seal: {seal}".encode() in data
    assert b"MeterLab-Run: 42" in data
    meta = pypdf.PdfReader(path).metadata
    assert f"MeterLab-Seal: {seal}" in meta.subject
    assert "run 42" in meta.title


def test_the_same_report_gives_the_same_bytes(tmp_path: Path) -> None:
    first, second = tmp_path / "a.pdf", tmp_path / "b.pdf"
    write_pdf(report(), first)
    write_pdf(report(), second)
    assert first.read_bytes() == second.read_bytes()


def test_generation_time_is_printed_but_not_sealed(tmp_path: Path) -> None:
    later = report(generated=datetime(2027, 1, 2, 3, 4, 5, tzinfo=UTC))
    write_pdf(later, tmp_path / "later.pdf")
    write_pdf(report(), tmp_path / "sample.pdf")
    _r, pages = _text(tmp_path / "later.pdf")
    assert "generated 2027-01-02 03:04:05 +00:00" in pages[0]
    assert later.seal() == report().seal()
    assert (tmp_path / "later.pdf").read_bytes() != (tmp_path / "sample.pdf").read_bytes()


def test_text_a_person_typed_prints_whatever_it_holds(tmp_path: Path) -> None:
    """Markup-like notes are text, accents and dashes print, CJK does not stop the export."""
    rep = report()
    steps = list(rep.record.steps)
    note = NOTE + " 测试 ✓ \u202e"
    steps[2] = replace(steps[2], answer=f"fail: {note}", outcome=StepOutcome.FAIL)
    rep = replace(rep, record=replace(rep.record, steps=tuple(steps),
                                      org_name="Société Générale — Énergie <b>&amp;</b>"))
    path = tmp_path / "typed.pdf"
    write_pdf(rep, path)
    text = " ".join(" ".join(_text(path)[1]).split())
    assert "<script>alert(1)</script> & done" in text
    assert "café lights dimmed" in text
    assert "Société Générale — Énergie <b>&amp;</b>" in text


def test_a_note_longer_than_a_page_is_cut_not_fatal(tmp_path: Path) -> None:
    rep = report()
    steps = list(rep.record.steps)
    note = "\n".join(f"line {i}: the display went blank again" for i in range(2000))
    steps[2] = replace(steps[2], answer=f"fail: {note}")
    rep = replace(rep, record=replace(rep.record, steps=tuple(steps)))
    write_pdf(rep, tmp_path / "long.pdf")
    text = " ".join(_text(tmp_path / "long.pdf")[1])
    assert "line 0: the display went blank again" in text
    assert "more characters in the HTML and JSON exports" in text


def test_progress_is_reported_up_to_done(tmp_path: Path) -> None:
    seen: list[tuple[float, str]] = []
    write_pdf(report(alert_count=400), tmp_path / "p.pdf", lambda f, what: seen.append((f, what)))
    fractions = [f for f, _w in seen]
    assert fractions[0] == 0.0 and fractions[-1] == 1.0
    assert fractions == sorted(fractions)
    assert len(seen) > 3


def test_ten_thousand_alerts_export_with_the_table_split_and_headed(tmp_path: Path) -> None:
    rep = report(alert_count=10_000)
    path = tmp_path / "big.pdf"
    write_pdf(rep, path)
    reader = pypdf.PdfReader(path)
    assert len(reader.pages) > 100
    last_alert = len(rep.alerts)
    texts = [reader.pages[i].extract_text() for i in (5, 50, len(reader.pages) - 2)]
    for page in texts:
        assert "Host time" in page and "Device time" in page  # the header repeats
    whole = "".join(p.extract_text() for p in reader.pages[-4:])
    assert f"\n{last_alert} " in whole or f"{last_alert} Bench" in whole
    assert f"MeterLab-Seal: {rep.seal()}".encode() in path.read_bytes()
    assert f"page {len(reader.pages)} of {len(reader.pages)}" in reader.pages[-1].extract_text()


def test_a_pdf_reader_opens_it_from_memory(sample: tuple[Path, list[str]]) -> None:
    path, _pages = sample
    reader = pypdf.PdfReader(io.BytesIO(path.read_bytes()), strict=True)
    assert reader.pages[0].mediabox.width == pytest.approx(595.2756, abs=0.01)
