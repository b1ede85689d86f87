"""A participant session's pages show only the participant's organisation: bookings, runs and
reports, and the alerts of the devices on its own bench."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from app.domain.events import DeviceEvent, EventKind
from app.main import build_context
from app.services.live_alerts import AlertFilter
from app.services.principals import participant_principal
from app.storage.devices import EventStore
from tests.services.test_participant_isolation import (  # noqa: F401 (the fixture)
    ALPHA_EMAIL,
    CLOCK,
    MARK,
    NOW,
    two_orgs,
)

pytestmark = pytest.mark.timeout(60)


def nobody(_name: str, _password: str) -> None:  # stand-in verifier: no staff logs in here
    return None


@pytest.fixture
def kiosk(qtbot, two_orgs, tmp_path: Path):  # noqa: F811
    # Not handed to qtbot: its teardown would close the window before the session ends.
    from ui.kiosk import KioskWindow

    db = tmp_path / "lab.db"
    shutil.copy(two_orgs.db, db)
    staff_ctx = build_context(db, CLOCK, "staff")
    EventStore(staff_ctx.db.conn).insert_many([
        DeviceEvent("Alpha ESME", EventKind.ALERT, NOW, {"alert_code": "8F35",
                                                          "severity": "critical"}),
        DeviceEvent("Beta ESME", EventKind.ALERT, NOW, {"alert_code": "8F36",
                                                         "severity": "critical"}),
    ])
    staff_ctx.db.conn.commit()
    principal = participant_principal(staff_ctx.db, CLOCK, ALPHA_EMAIL)
    window = KioskWindow(staff_ctx, principal, nobody, person_name="Ann Alpha", locked=())
    window.start(full_screen=False)
    yield window
    window.end("staff")
    staff_ctx.close()


def test_the_session_pages_hold_nothing_of_the_other_organisation(kiosk) -> None:
    bookings = kiosk.pages["bookings"]
    rows = bookings.ctx.booking_service.list()
    assert rows and all(MARK not in b.org_name.lower() for b in rows)
    assert bookings.participants not in [bookings.tabs.widget(i)
                                         for i in range(bookings.tabs.count())]
    assert not bookings.new_button.isVisible() and not bookings.find_button.isVisible()
    # Its calendar holds its own bookings only: no count of the lab's use is shown.
    calendar = bookings.calendar
    assert not calendar.show_capacity and calendar.strip_w == 0
    from PySide6.QtCore import QPointF
    tips = [calendar.tooltip_at(QPointF(x, y)) for x in range(80, calendar.width(), 60)
            for y in range(80, calendar.height(), 40)]
    assert tips and not any("spaces held" in t or "free" in t for t in tips)

    reports = kiosk.pages["reports"]
    assert reports.runs_model.rowCount() == 1
    assert [reports.c_org.itemText(i) for i in range(reports.c_org.count())] == [
        "Alpha Metering"]
    reports.runs_view.selectRow(0)
    assert MARK not in reports.summary.text().lower()

    live = kiosk.pages["live"]
    assert [d.label for d in live.devices] == ["Alpha ESME"]
    assert [r.code for r in live.alerts.query.list(AlertFilter())] == ["8F35"]


def test_the_session_runs_page_lists_only_its_own_runs_and_starts_none(kiosk) -> None:
    runs = kiosk.pages["runs"]
    assert not runs.tabs.isTabVisible(0) and runs.tabs.currentIndex() == 1
    assert runs.history_model.rowCount() == 1
    assert all(MARK not in (r.org_name or "").lower() for r in runs.history_model.rows)
