"""The File and Help menus: Open database, Export, Quit, the user guide; their shortcuts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer, QUrl
from PySide6.QtGui import QKeySequence, QTextDocument
from PySide6.QtWidgets import QApplication

from app.cli import EXIT_OK, main
from app.domain.clock import FixedClock
from tests.services.reports.emulated import fresh_copy
from ui.launch import attach_runs, prepare_context
from ui.user_guide import GUIDES, GuideWindow, guide_path

pytestmark = pytest.mark.timeout(120)

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _menu(window, title: str) -> list[str]:
    for action in window.menuBar().actions():
        if action.text().replace("&", "") == title:
            return [a.text().replace("&", "") for a in action.menu().actions() if a.text()]
    raise AssertionError(f"no menu {title}")


def test_menus_and_their_shortcuts(window) -> None:
    assert _menu(window, "File") == ["Open database…", "Lab store…", "Export…", "Quit"]
    assert _menu(window, "Help") == ["User guide", "Participant guide", "About MeterLab"]
    assert window.open_database_action.shortcut() == QKeySequence("Ctrl+O")
    assert window.export_action.shortcut() == QKeySequence("Ctrl+E")
    assert window.guide_action.shortcut() == QKeySequence("F1")
    quit_action = next(a for a in window.findChildren(type(window.guide_action))
                       if a.text() == "&Quit")
    assert quit_action.shortcut() == QKeySequence("Ctrl+Q")


def test_the_user_guide_opens_in_the_application_with_its_pictures(qtbot, window) -> None:
    window.guide_action.trigger()
    guide = window._guides["staff"]
    qtbot.waitUntil(guide.isVisible)
    text = guide.browser.toPlainText()
    assert "MeterLab user guide" in text and "Bookings: who is coming today" in text
    image = guide.browser.document().resource(QTextDocument.ResourceType.ImageResource,
                                              QUrl("bookings.png"))
    assert image is not None and not image.isNull()
    # A link to the participant guide opens it in the same window.
    guide._link(QUrl("PARTICIPANT_GUIDE.md"))
    assert "a guide for participants" in guide.browser.toPlainText()
    window.guide_action.trigger()  # again: the same window, not a second one
    assert window._guides["staff"] is guide


def test_every_picture_and_link_of_the_guides_exists() -> None:
    for name, _title in GUIDES.values():
        path = guide_path(next(k for k, v in GUIDES.items() if v[0] == name))
        assert path == DOCS / name
        text = path.read_text(encoding="utf-8")
        targets = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text)
        assert targets, name
        for target in targets:
            assert (DOCS / target).is_file(), f"{name} refers to {target}, which is not in docs/"


def test_a_guide_missing_from_the_install_says_where_it_is(qtbot, monkeypatch, tmp_path) -> None:
    monkeypatch.setattr("ui.user_guide.docs_dirs", lambda: [tmp_path])
    guide = GuideWindow("participant")
    qtbot.addWidget(guide)
    assert "docs/PARTICIPANT_GUIDE.md" in guide.browser.toPlainText()


def _when_window(act) -> None:
    """Once a MeterLab main window is visible, call `act` on it (from the event loop)."""
    from ui.main_window import MainWindow

    def poll() -> None:
        windows = [w for w in QApplication.topLevelWidgets()
                   if isinstance(w, MainWindow) and w.isVisible()]
        if not windows:
            QTimer.singleShot(20, poll)
            return
        act(windows[0])
    QTimer.singleShot(0, poll)


def test_open_database_closes_this_one_and_opens_the_other(qtbot, tmp_path, monkeypatch) -> None:
    """The desktop's file dialog is replaced by a stand-in that answers with the second file."""
    first, second = tmp_path / "first.db", tmp_path / "second.db"
    monkeypatch.setattr("ui.database_dialog.choose_database", lambda _parent, _start: second)
    seen: list[Path] = []

    def on_second(window) -> None:
        seen.append(window.ctx.db_path)
        window.close()

    def on_first(window) -> None:
        seen.append(window.ctx.db_path)
        window.open_database_action.trigger()
        _when_window(on_second)

    _when_window(on_first)
    assert main(["--db", str(first)]) == EXIT_OK
    assert seen == [first, second]
    # Each file, empty when it was opened, got its own demo lab: both were opened in full.
    for db in (first, second):
        ctx, _ = prepare_context(db, _clock(), "t", demo=False)
        try:
            assert ctx.labs.count() == 1
        finally:
            ctx.close()


def _clock():
    from datetime import UTC, datetime

    return FixedClock(datetime(2026, 11, 25, 10, 0, tzinfo=UTC))


def test_open_database_cancelled_keeps_the_window(window, monkeypatch) -> None:
    monkeypatch.setattr("ui.database_dialog.choose_database", lambda _parent, _start: None)
    window.show()
    window.open_database_action.trigger()
    assert window.isVisible() and window.requested_database is None


def test_export_the_run_selected_in_the_history(qtbot, tmp_path_factory, tmp_path) -> None:
    from ui.main_window import MainWindow

    db = fresh_copy(tmp_path_factory, tmp_path / "lab")
    ctx, _ = prepare_context(db, _clock(), "tester", demo=False)
    win = MainWindow(ctx)
    qtbot.addWidget(win)
    runs = attach_runs(win, ctx, None)
    reports = win.pages["reports"]
    reports.choose_path = lambda *_args: tmp_path / "chosen.pdf"  # stand-in for the save dialog
    try:
        # Nothing selected: the Reports page, asking for a run.
        win.show_page("bookings")
        win.export_action.trigger()
        assert win.current_page_name() == "reports"
        assert "Choose a run" in win.statusBar().currentMessage()
        assert not (tmp_path / "chosen.pdf").exists()
        # A run selected in the Runs page's history: its report, as PDF.
        win.show_page("runs")
        runs.refresh_history()
        runs.history_view.selectRow(0)
        wanted = runs.selected_run_id()
        assert wanted is not None
        win.export_action.trigger()
        assert win.current_page_name() == "reports"
        assert reports.report.record.id == wanted
        assert reports.wait_idle()
        qtbot.waitUntil(lambda: reports.task is None)
        assert (tmp_path / "chosen.pdf").read_bytes().startswith(b"%PDF")
    finally:
        reports.wait_idle()
        runs.shutdown()
        ctx.close()
