"""The week calendar draws the demo bookings where they belong and hit-tests them."""

from __future__ import annotations

from datetime import date, datetime

from PySide6.QtCore import QPoint, QPointF, Qt

from app.domain.bookings import Phase


def _shown(qtbot, window):
    window.show()
    qtbot.waitExposed(window)
    return window.pages["bookings"]


def test_calendar_lays_out_demo_week(qtbot, window) -> None:
    page = _shown(qtbot, window)
    cal = page.calendar
    assert page.week_monday() == date(2026, 11, 23)
    assert page.week_title.text() == "Week 48 · 23 – 29 Nov 2026"
    placed = cal.placed_blocks()
    assert len(placed) == 6
    by_day = {pb.block.day_index: pb for pb in placed if pb.block.day_index != 1}
    monday, wednesday = by_day[0], by_day[2]
    assert monday.block.booking.org_name == "Northern Energy Supply"
    # Blocks sit inside their day column, and 09:00-17:00 is taller than 09:00-16:00.
    assert cal.day_column_rect(0).contains(monday.rect)
    assert monday.rect.height() > wednesday.rect.height()
    assert monday.rect.top() == wednesday.rect.top()
    for pb in placed:
        assert cal.booking_at(pb.rect.center()) == pb.booking_id
    assert cal.booking_at(QPointF(5, 5)) is None
    saturday = cal.day_column_rect(5)
    assert cal.booking_at(saturday.center()) is None
    assert "Closed" in cal.tooltip_at(saturday.center()) or "closed" in cal.tooltip_at(saturday.center())
    tip = cal.tooltip_at(monday.rect.center())
    assert "Northern Energy Supply" in tip and "6 spaces" in tip


def test_hourly_strip_and_tooltips(qtbot, window) -> None:
    page = _shown(qtbot, window)
    cal = page.calendar
    view = cal.view()
    assert view is not None and view.capacity == 24
    assert view.hourly_used[3][10 - view.first_hour] == 10  # Thu 10:00
    strip = cal.strip_rect(3, 10)
    assert "10 of 24 spaces held, 14 free" in cal.tooltip_at(strip.center())


def test_click_selects_and_shows_details(qtbot, window) -> None:
    page = _shown(qtbot, window)
    target = next(pb for pb in page.calendar.placed_blocks() if pb.block.day_index == 2)
    qtbot.mouseClick(page.calendar, Qt.MouseButton.LeftButton, pos=target.rect.center().toPoint())
    assert page.calendar.selected_id() == target.booking_id
    assert page.detail.booking().id == target.booking_id
    assert page.detail.fields["Organisation"].text() == "Brightside Power"
    assert page.detail.fields["Start"].text().startswith("Wed 25 Nov 2026 09:00")
    assert page.detail.override_box.isVisibleTo(page.detail)
    assert page.detail.audit.count() == 1
    with qtbot.waitSignal(page.calendar.sig_booking_activated) as blocker:
        qtbot.mouseDClick(page.calendar, Qt.MouseButton.LeftButton,
                          pos=target.rect.center().toPoint())
    assert blocker.args == [target.booking_id]


def test_week_navigation_and_bank_holidays(qtbot, window) -> None:
    page = _shown(qtbot, window)
    page.next_week()
    assert page.week_monday() == date(2026, 11, 30)
    assert len(page.calendar.placed_blocks()) == 1
    page.this_week()
    assert page.week_monday() == date(2026, 11, 23)
    page.previous_week()
    assert page.week_monday() == date(2026, 11, 16) and page.calendar.placed_blocks() == []
    page.set_week(date(2026, 12, 25))
    view = page.calendar.view()
    assert view.days[4].holiday == "Christmas Day" and view.days[3].holiday is None
    assert "Christmas Day" in page.calendar.tooltip_at(page.calendar.day_column_rect(4).center())
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    qtbot.keyClick(window, Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier)
    assert page.week_monday() == date(2026, 11, 23)
    qtbot.keyClick(window, Qt.Key.Key_Right, Qt.KeyboardModifier.AltModifier)
    assert page.week_monday() == date(2026, 11, 30)


def test_overlapping_bookings_sit_side_by_side(qtbot, ctx, window) -> None:
    svc = ctx.booking_service
    for h0, h1, spaces in ((9, 17, 5), (10, 12, 7), (11, 15, 2)):
        lab, req = svc.build_request("Demo Lab", "Brightside Power", datetime(2026, 12, 8, h0),
                                     datetime(2026, 12, 8, h1), spaces, Phase.DEVICE)
        svc.request(lab, req)
    page = _shown(qtbot, window)
    page.set_week(date(2026, 12, 8))
    placed = page.calendar.placed_blocks()
    assert len(placed) == 3
    assert {pb.block.columns for pb in placed} == {3}
    rects = [pb.rect for pb in placed]
    for i in range(3):
        for j in range(i + 1, 3):
            assert not rects[i].intersects(rects[j])
    # Hit-testing finds each one at its own centre, even though their hours overlap.
    assert {page.calendar.booking_at(r.center()) for r in rects} == {pb.booking_id for pb in placed}


def _org_lines(cal, placed) -> str:
    lines, _complete = cal.block_lines(placed)
    return " ".join(text for font, text in lines if font.bold())


def test_blocks_say_everything_and_overlaps_widen_their_day(qtbot, ctx, window) -> None:
    """At 1440x900 the demo week's blocks are whole; overlapping ones get a wider day, their
    names wrap whole, and the tooltip and detail panel give what a short block cannot."""
    page = _shown(qtbot, window)
    cal = page.calendar
    assert cal.elided_blocks() == []
    for placed in cal.placed_blocks():
        assert _org_lines(cal, placed) == placed.block.booking.org_name
        assert "…" not in "".join(text for _f, text in cal.block_lines(placed)[0])

    svc = ctx.booking_service
    for h0, h1, org, benches in ((9, 17, "Northern Energy Supply", ["Bench 1"]),
                                 (10, 12, "Southern Gas Transport", ["Bench 2", "Bench 3"]),
                                 (11, 15, "Brightside Power", []),
                                 (13, 14, "Northern Energy Supply", [])):
        lab, req = svc.build_request("Demo Lab", org, datetime(2026, 12, 8, h0),
                                     datetime(2026, 12, 8, h1), 1, Phase.DEVICE, benches=benches)
        svc.request(lab, req, override="test")
    page.set_week(date(2026, 12, 8))
    tuesday, monday = cal.day_column_rect(1), cal.day_column_rect(0)
    assert tuesday.width() > 2 * monday.width()  # three lanes: the day is wider
    placed = cal.placed_blocks()
    assert {pb.block.columns for pb in placed} == {3}
    for pb in placed:
        booking = pb.block.booking
        # Wrapped at spaces, never cut (a short block's "…" says its details follow).
        assert _org_lines(cal, pb).removesuffix("…") == booking.org_name
        tip = cal.tooltip_at(pb.rect.center())
        assert booking.org_name in tip and "1 space ·" in tip
        assert all(bench in tip for bench in booking.benches)
    long_ones = [pb for pb in placed if pb.block.end_h - pb.block.start_h >= 4]
    assert not set(cal.elided_blocks()) & {pb.booking_id for pb in long_ones}
    short = next(pb for pb in placed if pb.block.end_h - pb.block.start_h == 1)
    lines, complete = cal.block_lines(short)
    assert not complete and lines[-1][1].endswith("…")
    qtbot.mouseClick(cal, Qt.MouseButton.LeftButton, pos=short.rect.center().toPoint())
    assert page.detail.fields["Organisation"].text() == "Northern Energy Supply"
    assert page.detail.fields["Start"].text().startswith("Tue 08 Dec 2026 13:00")


def test_wrap_text_breaks_at_spaces_then_dashes() -> None:
    from PySide6.QtGui import QFont, QFontMetrics

    from ui.widgets.week_calendar import wrap_text

    metrics = QFontMetrics(QFont())
    width = metrics.horizontalAdvance("Northern Energy")
    assert wrap_text("Northern Energy Supply", metrics, width) == ["Northern Energy", "Supply"]
    narrow = metrics.horizontalAdvance("09:00–1")
    assert wrap_text("09:00–17:00", metrics, narrow) == ["09:00–", "17:00"]
    assert wrap_text("", metrics, width) == [""]


def test_double_click_on_empty_hour_offers_a_booking_there(qtbot, window) -> None:
    page = _shown(qtbot, window)
    page.set_week(date(2026, 12, 7))
    cal = page.calendar
    column = cal.day_column_rect(1)
    point = QPoint(int(column.right() - 10), int(cal.strip_rect(1, 10).center().y()))
    with qtbot.waitSignal(cal.sig_new_booking_requested) as blocker:
        qtbot.mouseDClick(cal, Qt.MouseButton.LeftButton, pos=point)
    assert blocker.args == [date(2026, 12, 8), 10]
    dialog = page.booking_dialog
    assert dialog is not None
    form = dialog.form()
    assert (form.start, form.end) == (datetime(2026, 12, 8, 10), datetime(2026, 12, 8, 18))
    dialog.reject()
