"""The report's plots as geometry: lanes, markers by severity, lab-time ticks, thinning, outages."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from app.services.reports import plots
from app.services.reports.plots import Figure, Line, Marker, Rect, Text
from app.services.reports.sections import SEVERITY_COLOUR
from tests.services.reports.sample_report import DEVICE_IDS, at, devices, report

WIDTH = 515.0


def _items(fig: Figure, kind: type) -> list:
    return [i for i in fig.items if isinstance(i, kind)]


def _inside(fig: Figure) -> None:
    for item in fig.items:
        xs = (item.x1, item.x2) if isinstance(item, Line) else (item.x,)
        ys = (item.y1, item.y2) if isinstance(item, Line) else (item.y,)
        assert all(-0.01 <= x <= fig.width + 0.01 for x in xs), item
        assert all(-0.01 <= y <= fig.height + 0.01 for y in ys), item


def test_alert_timeline_has_a_lane_per_device_and_a_marker_per_alert() -> None:
    rep = report()
    fig = plots.alert_timeline(rep, WIDTH)
    labels = {t.text for t in _items(fig, Text) if t.x < plots._label_width(WIDTH)}
    assert labels == {d.label for d in devices()}
    markers = [m for m in _items(fig, Marker) if m.y > plots.TOP]
    assert len(markers) == len(rep.alerts) == 5
    critical = [m for m in markers if m.fill == SEVERITY_COLOUR["critical"]]
    assert len(critical) == 2 and all(m.shape == "square" for m in critical)
    assert fig.note == "5 alerts."
    _inside(fig)


def test_alert_markers_sit_at_their_time_in_their_device_lane() -> None:
    rep = report()
    fig = plots.alert_timeline(rep, WIDTH)
    axis = plots.TimeAxis(*plots.window(rep), plots._label_width(WIDTH), WIDTH - 6)
    ihd_alert = next(a for a in rep.alerts if a.device == "Bench 1 IHD")
    marker = next(m for m in _items(fig, Marker) if m.fill == SEVERITY_COLOUR["info"]
                  and m.y > plots.TOP)
    assert abs(marker.x - axis.x(ihd_alert.host_time)) < 0.01
    lane = [d.label for d in devices()].index("Bench 1 IHD")
    assert plots.TOP + lane * plots.LANE_H < marker.y < plots.TOP + (lane + 1) * plots.LANE_H


def test_ticks_are_round_lab_local_times_with_the_offset_in_the_caption() -> None:
    fig = plots.alert_timeline(report(), WIDTH)
    texts = [t.text for t in _items(fig, Text)]
    # 09:30 UTC in July is 10:30 in London.
    assert {"10:30", "10:31", "10:32", "10:33", "10:34"} <= set(texts)
    assert any("Europe/London (UTC+01:00), 2026-07-14" in t for t in texts)


def test_ticks_across_midnight_show_the_new_date() -> None:
    zone = ZoneInfo("Europe/London")
    t0 = datetime(2026, 12, 1, 23, 0, tzinfo=UTC).timestamp()
    ticks = plots.ticks(t0, t0 + 2 * 3600, 400, zone)
    labels = [label for _t, label in ticks]
    assert labels[0] == "23:00"
    assert "02 Dec 00:00" in labels
    step = ticks[1][0] - ticks[0][0]
    assert step in plots.TICK_STEPS_S
    assert all(t % step == 0 for t, _l in ticks)  # round times (London is on UTC in December)


def test_ticks_follow_the_clock_change() -> None:
    """Across the end of summer time the labels stay local: 01:00 BST, then 01:00 GMT again."""
    zone = ZoneInfo("Europe/London")
    t0 = datetime(2026, 10, 25, 0, 0, tzinfo=UTC).timestamp()  # 01:00 BST
    labels = [label for _t, label in plots.ticks(t0, t0 + 2 * 3600, 240, zone)]
    assert labels == ["01:00", "01:30", "01:00", "01:30", "02:00"]


def test_many_alerts_are_thinned_and_the_figure_says_so() -> None:
    rep = report(alert_count=10_000)
    fig = plots.alert_timeline(rep, WIDTH)
    markers = [m for m in _items(fig, Marker) if m.y > plots.TOP]
    columns = (WIDTH - plots._label_width(WIDTH)) / plots.THIN_COLUMN
    assert len(markers) <= columns * 5 * 3
    assert len(markers) < len(rep.alerts) / 3
    assert fig.note.startswith("10,005 alerts drawn as")
    # Every lane and severity that has alerts still shows.
    seen = {(round(m.y), m.fill) for m in markers}
    assert len(seen) >= 5
    _inside(fig)


def test_outage_plot_draws_relay_truth_hub_record_and_restore_alerts() -> None:
    rep = report()
    fig = plots.outage_plot(rep, WIDTH)
    relay = [r for r in _items(fig, Rect) if r.fill == plots.RELAY_FILL and r.y > plots.TOP]
    hub = [r for r in _items(fig, Rect) if r.fill == plots.HUB_FILL and r.y > plots.TOP]
    assert len(relay) == 2 and len(hub) == 2
    assert all(r.y < h.y for r in relay for h in hub)  # the relay's row is above the hub's
    flagged = [r for r in relay + hub if r.stroke == plots.FLAG_STROKE]
    assert len(flagged) == 2  # outage 2 is flagged: both its spans are outlined
    restores = [m for m in _items(fig, Marker) if m.shape == "triangle" and m.y > plots.TOP]
    axis = plots.TimeAxis(*plots.window(rep), plots._label_width(WIDTH), WIDTH - 6)
    assert sorted(m.x for m in restores) == [round(axis.x(at(72.4)), 2),
                                             round(axis.x(at(150.2)), 2)]
    # Outage 1's hub span lasted what the hub said (60.1 s) and ends at its restore alert.
    first = min(hub, key=lambda r: r.x + r.w)
    assert abs(first.x + first.w - axis.x(at(72.4))) < 0.02
    assert abs(first.w - (axis.x(at(60.1)) - axis.x(at(0)))) < 0.05
    texts = [t.text for t in _items(fig, Text)]
    assert "1:00 8F35" in texts and "! 1:10 8F36" in texts
    assert any(t.startswith("1 Cut and restore") for t in texts)
    _inside(fig)


def test_hub_spans_are_divided_by_the_time_scale() -> None:
    rep = report(time_scale=60.0)
    fig = plots.outage_plot(rep, WIDTH)
    hub = [r for r in _items(fig, Rect) if r.fill == plots.HUB_FILL and r.y > plots.TOP]
    axis = plots.TimeAxis(*plots.window(rep), plots._label_width(WIDTH), WIDTH - 6)
    first = min(hub, key=lambda r: r.x)
    assert abs(first.w - (axis.x(at(60.1 / 60)) - axis.x(at(0)))) < 1.01  # at least 1 pt wide
    assert "divided by the time scale 60" in fig.note


def test_empty_run_still_draws_axes() -> None:
    rep = report(devices=(), steps=())
    rep = type(rep)(record=rep.record, context=rep.context, window_start=at(0),
                    window_end=at(60))
    for fig in (plots.alert_timeline(rep, WIDTH), plots.outage_plot(rep, WIDTH)):
        assert _items(fig, Line)
        assert fig.note.startswith("No ")
    assert DEVICE_IDS  # the sample's ids are what the PDF and HTML tests look for
