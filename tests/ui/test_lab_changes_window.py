"""The window follows the lab store: another workstation's booking appears in the calendar
without anyone touching this one (on a SQLite file and on PostgreSQL), and a lab store whose
server stops is shown in a banner, booking changes being refused with one sentence until it
is back."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from app.domain.bookings import Phase
from app.main import AppContext, build_context
from ui.lab_feed import attach_lab_feed
from ui.launch import prepare_context
from ui.main_window import MainWindow

pytestmark = pytest.mark.timeout(120)

LONDON = ZoneInfo("Europe/London")


def _book(ctx: AppContext, lab: str, org: str, day: int, hour: int) -> int:
    start = datetime(2026, 11, day, hour, 0, tzinfo=LONDON)
    end = start.replace(hour=hour + 2)
    lab_obj, req = ctx.booking_service.build_request(lab, org, start, end, 1, Phase.DEVICE)
    outcome = ctx.booking_service.request(lab_obj, req, override="Entered at the front desk")
    assert outcome.booking is not None and outcome.booking.id is not None
    return outcome.booking.id


def _shared_lab(ctx: AppContext) -> None:
    ctx.lab_service.add_lab("Northampton", 40, benches=2)
    ctx.lab_service.add_org("Acme Energy", "IS", "IS")


@pytest.fixture(params=["sqlite", "postgresql"])
def workstations(request, tmp_path: Path, clock) -> Iterator[tuple[AppContext, AppContext]]:
    """(this workstation's context, another workstation's) on one lab store with one lab."""
    if request.param == "sqlite":
        mine, _ = prepare_context(tmp_path / "meterlab.db", clock, "tester", demo=False)
        other = build_context(tmp_path / "meterlab.db", clock, "desk")  # a second connection
    else:
        url = request.getfixturevalue("pg_url")
        mine, _ = prepare_context(tmp_path / "bench.db", clock, "tester", demo=False,
                                  lab_store_url=url)
        other = build_context(tmp_path / "desk.db", clock, "desk", lab_store_url=url)
    _shared_lab(other)
    yield mine, other
    other.close()
    mine.close()


def _window(qtbot, ctx: AppContext, **feed_options) -> MainWindow:
    window = MainWindow(ctx)
    qtbot.addWidget(window)
    window.resize(1440, 900)
    window.show()
    feed = attach_lab_feed(window, ctx, poll_s=0.2, **feed_options)
    window.destroyed.connect(feed.stop)
    qtbot.waitUntil(lambda: window.lab_store_state is not None, timeout=10_000)
    return window


def _calendar_ids(window: MainWindow) -> set[int]:
    return {b.booking_id for b in window.pages["bookings"].calendar.placed_blocks()}


def test_another_workstations_booking_appears_in_the_calendar(qtbot, workstations) -> None:
    mine, other = workstations
    first = _book(other, "Northampton", "Acme Energy", 26, 9)
    window = _window(qtbot, mine)
    page = window.pages["bookings"]
    try:
        page.set_week(datetime(2026, 11, 23).date())
        assert _calendar_ids(window) == {first}
        page.select_booking(first)  # what the user is looking at stays selected
        second = _book(other, "Northampton", "Acme Energy", 27, 13)
        qtbot.waitUntil(lambda: second in _calendar_ids(window), timeout=10_000)
        assert page.calendar.selected_id() == first
        assert page.detail.booking().id == first
        assert page.week_monday() == datetime(2026, 11, 23).date()
        other.lab_service.add_org("Bravo Power", "IS", "IS")  # and the participants tab
        qtbot.waitUntil(lambda: page.participants.org_table.rowCount() == 2, timeout=10_000)
        assert not window.lab_store_banner.isVisible()
    finally:
        window.lab_feed.stop()


def test_a_stopped_server_is_shown_and_booking_changes_are_refused(qtbot, tmp_path, clock,
                                                                   own_pg) -> None:
    cluster, url = own_pg  # a server of this test's own, to stop and start
    ctx, _ = prepare_context(tmp_path / "bench.db", clock, "tester", demo=False,
                             lab_store_url=url)
    _shared_lab(ctx)
    booking = _book(ctx, "Northampton", "Acme Energy", 26, 9)
    window = _window(qtbot, ctx, backoff=(0.2, 0.5))
    page = window.pages["bookings"]
    page.reload_labs()
    assert window.lab_store_label.text() == f"Lab store: lab on {cluster.socket_dir}"
    try:
        cluster.stop_server()
        qtbot.waitUntil(lambda: window.lab_store_banner.isVisible(), timeout=10_000)
        banner = window.lab_store_banner.text()
        assert banner.startswith("Lab store unreachable: ")
        assert "bench capture goes on" in banner
        assert window.lab_store_label.text() == "Lab store: unreachable"

        page.ask_reason = lambda _title, _prompt: ""
        page.perform_action(booking, "approve")
        assert window.errors.dialog is not None
        assert window.errors.dialog.text().startswith("lab store unreachable: ")
        assert window.errors.dialog.informativeText() == ""  # one sentence, once
        window.errors.dialog.close()

        cluster.start_server()
        qtbot.waitUntil(lambda: not window.lab_store_banner.isVisible(), timeout=15_000)
        assert window.statusBar().currentMessage() == "The lab store answers again."
        # Nothing was queued: the booking is as it was, and can be approved now.
        assert ctx.bookings_repo.get(booking).status.value == "requested"
        page.perform_action(booking, "approve")
        assert ctx.bookings_repo.get(booking).status.value == "scheduled"
    finally:
        window.lab_feed.stop()
        window.close()
        ctx.close()
