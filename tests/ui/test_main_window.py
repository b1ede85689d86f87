"""The main window on a fresh database with the demo lab."""

from __future__ import annotations

from PySide6.QtCore import Qt

from ui.pages.placeholder import PlaceholderPage
from ui.pages.registry import PAGES


def test_first_start_creates_demo_lab_and_says_so(qtbot, demo, window) -> None:
    ctx, message = demo
    assert [lab.name for lab in ctx.labs.list()] == ["Demo Lab"]
    assert message.startswith("Demo lab created: Demo Lab")
    window.show_status(message)
    assert window.statusBar().currentMessage().startswith("Demo lab created: Demo Lab")
    assert window.lab_label.text() == "Lab: Demo Lab"
    assert window.db_label.text() == f"Database: {ctx.db_path.name}"
    assert str(ctx.db_path) in window.db_label.toolTip()
    assert window.time_label.text() == "Wed 25 Nov 2026  10:00:00 GMT"


def test_second_start_does_not_add_another_demo_lab(tmp_path, clock) -> None:
    from ui.launch import prepare_context

    first, _ = prepare_context(tmp_path / "a.db", clock, "t", demo=True)
    first.close()
    again, message = prepare_context(tmp_path / "a.db", clock, "t", demo=True)
    assert again.labs.count() == 1 and message == ""
    again.close()
    empty, message = prepare_context(tmp_path / "b.db", clock, "t", demo=False)
    assert empty.labs.count() == 0 and "No labs yet" in message
    empty.close()


def test_navigation_switches_pages_and_shows_placeholders(qtbot, window) -> None:
    window.show()
    qtbot.waitExposed(window)
    assert window.current_page_name() == "bookings"
    not_built = {spec.name for spec in PAGES if spec.factory is None}
    assert "induction" not in not_built
    for spec in PAGES[1:]:
        window.show_page(spec.name)
        assert window.current_page_name() == spec.name
        page = window.stack.currentWidget()
        if spec.name in not_built:
            assert isinstance(page, PlaceholderPage)
            assert "not available yet" in page.message.text()
        else:
            assert not isinstance(page, PlaceholderPage)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    qtbot.keyClick(window, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    assert window.current_page_name() == "bookings"
    qtbot.keyClick(window, Qt.Key.Key_3, Qt.KeyboardModifier.ControlModifier)
    assert window.current_page_name() == "live"
    window.nav.setCurrentRow(1)
    assert window.current_page_name() == "devices"


def test_clock_follows_the_injected_clock(qtbot, window, clock) -> None:
    clock.advance(65)
    qtbot.waitUntil(lambda: window.time_label.text().endswith("10:01:05 GMT"), timeout=2500)


def test_about_lists_versions(window) -> None:
    text = window.about_text()
    for name in ("meterlab", "PySide6", "pyqtgraph", "python", "sqlite"):
        assert name in text


def test_one_error_dialog_at_a_time(qtbot, window) -> None:
    errors = window.errors
    errors.report("The first problem.")
    first = errors.dialog
    assert first is not None and first.isVisible()
    for _ in range(20):  # a fault repeating on every timer tick
        errors.report("The first problem.")
    errors.report("A second problem.")
    assert errors.dialog is first
    assert "Also: A second problem." in first.informativeText()
    assert first.informativeText().count("Also:") == 1
    first.accept()
    qtbot.waitUntil(lambda: errors.dialog is None)
    with errors.guard():
        raise ValueError("boom")
    assert "did not expect" in errors.last_message and errors.dialog is not None
    errors.dialog.accept()
