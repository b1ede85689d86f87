"""The number of outages on the Live page has one definition: the outages of the page's benches
that the view shows (app.domain.outages.outages_in_view), stored or live. The same data gives the
same number however often the application is reopened."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from app.domain.clock import FixedClock
from app.domain.events import DeviceEvent
from app.domain.outages import Flag, Outage
from app.services.outages import ground_truth_event
from app.services.runtime import DeviceRuntime
from app.storage.devices import DeviceRepo
from app.storage.outages import OutageRepo
from tests.ui.conftest import NOW
from ui.launch import prepare_context

pytestmark = pytest.mark.timeout(60)

S = timedelta(seconds=1)
MIN = timedelta(minutes=1)


def relay_outage(id_: int, bench: str, start, real_s: float, code: str | None) -> Outage:
    end = start + real_s * S
    return Outage(id=id_, bench=bench, mpxn="1312345678907", start=start, end=end,
                  start_source="relay", end_source="relay", device_duration_s=real_s * 60,
                  device_start=start, device_end=end, restore_alert_code=code,
                  restore_alert_host_time=end + 2 * S if code else None,
                  restore_alert_device="Bench 1 ESME" if code else "", time_scale=60.0)


def store_history(db_path: Path) -> None:
    """A day of one bench, as earlier sessions of the application left it."""
    ctx, _ = prepare_context(db_path, FixedClock(NOW), "tester", demo=True)
    phantom = Outage(id=3, bench="Bench 1", restore_alert_code="8F36",
                     restore_alert_host_time=NOW - 3 * MIN, restore_alert_device="Bench 1 ESME",
                     flags=[Flag("restore_without_start", "8F36 but no outage was seen.")])
    stale = Outage(id=6, bench="Bench 1", start=NOW - 30 * MIN, start_source="relay")
    repo = OutageRepo(ctx.db.conn)
    repo.upsert([relay_outage(1, "Bench 1", NOW - 10 * MIN, 100 / 60, "8F35"),
                 relay_outage(2, "Bench 1", NOW - 5 * MIN, 4.0, "8F36"),
                 phantom,  # a restore alert that matched no outage: no span, not counted
                 relay_outage(4, "Bench 9", NOW - 4 * MIN, 2.0, "8F35"),  # no device has a lane
                 relay_outage(5, "Bench 1", NOW - 2 * timedelta(hours=1), 2.0, "8F35")],
                NOW - MIN)
    repo.upsert([stale], NOW - 29 * MIN)  # the supply was off when recording stopped
    ctx.close()


def open_window(qtbot, db_path: Path):
    from ui.main_window import MainWindow

    ctx, _ = prepare_context(db_path, FixedClock(NOW), "tester", demo=True)
    win = MainWindow(ctx)
    qtbot.addWidget(win)
    win.resize(1440, 900)
    win.show_page("live")
    win.show()
    return ctx, win


def counts(qtbot, page) -> dict[str, int]:
    qtbot.waitUntil(lambda: bool(page.plots.timeline.lane_names), timeout=3000)  # 1st snapshot
    out = {}
    for preset in ("5 min", "1 h", "24 h"):
        page.set_preset(preset)
        n = len(page.plots.outages_in_view())
        text = f"{n} outage{'s' if n != 1 else ''} in view"
        qtbot.waitUntil(lambda text=text: text in page.status.text(), timeout=3000)
        out[preset] = n
    return out


def test_the_outage_count_is_the_same_across_reopenings_and_with_a_runtime(
        qtbot, tmp_path: Path) -> None:
    db_path = tmp_path / "meterlab.db"
    store_history(db_path)
    expected = {"5 min": 1, "1 h": 3, "24 h": 4}

    seen = []
    for _ in range(3):  # three sessions of the application on the same data
        ctx, win = open_window(qtbot, db_path)
        page = win.pages["live"]
        seen.append(counts(qtbot, page))
        page.set_preset("1 h")
        spans = page.plots._spans
        assert {s.outage_id for s in spans} == {1, 2, 5, 6}  # 5 is drawn, out of view
        stale = next(s for s in spans if s.outage_id == 6)
        assert stale.label == "end not recorded" and not stale.ongoing
        assert stale.x1 == (NOW - 29 * MIN).timestamp()
        relay_2 = next(s for s in spans if s.outage_id == 2 and s.source == "relay")
        assert relay_2.label == "4:00 8F36"  # the bench's time scale found again
        page.detach()
        win.close()
        ctx.close()
    assert seen == [expected] * 3

    # With the device runtime attached (its tracker has seen nothing yet) the count is the
    # same; an outage it tracks now counts once more, and is then stored like the others.
    ctx, win = open_window(qtbot, db_path)
    page = win.pages["live"]
    devices = DeviceRepo(ctx.db, ctx.clock).list()
    rt = DeviceRuntime(ctx.clock, ctx.db_path, tmp_path / "captures", devices=devices)
    try:
        page.attach(rt)
        assert counts(qtbot, page) == expected
        events: list[DeviceEvent] = [
            ground_truth_event("Bench 1 relay", "Bench 1", True, NOW - 90 * S),
            ground_truth_event("Bench 1 relay", "Bench 1", False, NOW - 88 * S)]
        rt.outages.on_batch(ctx.db.conn, events)
        assert counts(qtbot, page) == {"5 min": 2, "1 h": 4, "24 h": 5}
    finally:
        page.detach()
        win.close()
        ctx.close()
    ctx, win = open_window(qtbot, db_path)
    try:
        assert counts(qtbot, win.pages["live"]) == {"5 min": 2, "1 h": 4, "24 h": 5}
    finally:
        win.pages["live"].detach()
        win.close()
        ctx.close()
