"""The Reports page on real runs of the emulated bench: preview, export, campaign, verify."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.domain.clock import FixedClock
from tests.services.reports.emulated import fresh_copy
from ui.launch import prepare_context

pytestmark = pytest.mark.timeout(120)

NOW = datetime(2027, 1, 5, 9, 0, tzinfo=UTC)


@pytest.fixture
def page(qtbot, tmp_path_factory, tmp_path):
    from ui.main_window import MainWindow

    db = fresh_copy(tmp_path_factory, tmp_path / "lab")
    ctx, _ = prepare_context(db, FixedClock(NOW), "tester", demo=False)
    win = MainWindow(ctx)
    qtbot.addWidget(win)
    win.resize(1440, 900)
    win.show_page("reports")
    win.show()
    page = win.pages["reports"]
    opened: list[Path] = []
    page.open_file = opened.append
    page.opened = opened
    yield page
    page.wait_idle()
    ctx.close()


def choose(path: Path):
    return lambda *_args: path


def test_preview_export_open_and_verify(qtbot, page, tmp_path):
    assert page.runs_model.rowCount() == 2  # newest first: the FAIL, then the PASS
    page.runs_view.selectRow(0)
    assert page.verdict.text() == "FAIL" and "Acme" in page.summary.text()
    failed = [m.name for m in page.meas_model.rows if m.outcome.value != "PASS"]
    assert failed == ["power_fail_count_delta"]
    assert len(page.plot.figures(700.0)) == 2
    page.choose_path = choose(tmp_path / "run2.pdf")
    page.export("pdf")
    assert page.wait_idle()
    qtbot.waitUntil(lambda: page.task is None and "Wrote run2.pdf" in page.status.text())
    assert (tmp_path / "run2.pdf").read_bytes().startswith(b"%PDF")
    assert page.open_button.isEnabled()
    page.open_button.click()
    assert page.opened == [tmp_path / "run2.pdf"]
    assert page.verify(tmp_path / "run2.pdf")
    assert "Seal valid" in page.verify_result.text()
    # A value changed in the database afterwards: the page says what.
    conn = sqlite3.connect(page.ctx.db_path)
    conn.execute("UPDATE run_measurements SET value_json = '1' WHERE run_id = 2 "
                 "AND name = 'power_fail_count_delta'")
    conn.commit()
    conn.close()
    assert not page.verify(tmp_path / "run2.pdf")
    assert "measurements" in page.verify_result.text() and "NOT" in page.verify_result.text()


def test_exports_in_every_format_and_the_campaign(qtbot, page, tmp_path):
    page.runs_view.selectRow(1)
    for fmt in ("html", "json"):
        page.choose_path = choose(tmp_path / f"run1.{fmt}")
        page.export(fmt)
        assert page.wait_idle()
        qtbot.waitUntil(lambda: page.task is None)
        assert (tmp_path / f"run1.{fmt}").stat().st_size > 0
    page.choose_folder = choose(tmp_path)
    page.export("csv")
    assert page.wait_idle()
    qtbot.waitUntil(lambda: page.task is None)
    assert (tmp_path / "measurements.csv").exists()
    assert page.verify(tmp_path / "run1.json") and page.verify(tmp_path / "run1.html")
    page.c_org.setCurrentText("Acme")
    page.choose_path = choose(tmp_path / "acme.pdf")
    page.export_campaign("pdf")
    assert page.wait_idle()
    qtbot.waitUntil(lambda: page.task is None)
    assert "2 runs of Acme" in page.status.text() and "1 failures still open" in page.status.text()


def test_filters_and_a_file_that_is_not_a_report(page, tmp_path):
    page.f_verdict.setCurrentText("PASS")
    assert [r.verdict.value for r in page.runs_model.rows] == ["PASS"]
    page.f_verdict.setCurrentText("Any")
    page.f_period.setChecked(True)  # this month of 2027: the runs were made earlier
    assert page.runs_model.rowCount() == 0
    junk = tmp_path / "notes.txt"
    junk.write_text("hello")
    assert not page.verify(junk)
    assert "notes.txt" in page.verify_result.text()
