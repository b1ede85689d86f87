"""The Live plots with many device lanes: grouped reading curves, time axes kept in step."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pyqtgraph as pg

from app.domain.events import DeviceEvent, EventKind
from app.services.live import LiveData
from app.services.live_view import ViewMode, colour_slot
from ui.widgets.live_plots import SMALL_PLOTS_MAX_SHIFT_PX, LivePlots, LiveSource
from ui.widgets.live_readings import CURVE_COLOURS

NOW_S = datetime(2026, 11, 25, 10, 0, tzinfo=UTC).timestamp()
HUBS = [f"hub{i + 1:03d}" for i in range(64)]


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(NOW_S + seconds, UTC)


def hub_data() -> LiveData:
    live = LiveData()
    live.set_lanes(HUBS)
    events = []
    for n, hub in enumerate(HUBS):
        for k in range(5):
            events.append(DeviceEvent(hub, EventKind.READING, at(-120 + 30 * k),
                                      {"obis": "1.8.0", "value": 100.0 + n + k, "unit": "kWh"}))
        events.append(DeviceEvent(hub, EventKind.ALERT, at(-60), {"alert_code": "8F01",
                                                                 "severity": "warning"}))
    live.on_events(events)
    return live


def shown(plots: LivePlots, qtbot) -> None:
    plots.resize(1100, 760)
    plots.show()
    qtbot.waitExposed(plots)
    qtbot.waitUntil(lambda: plots.latest_snapshot() is not None, timeout=5_000)
    qtbot.waitUntil(lambda: plots.refresh() or plots.timeline.marker_count() == 64,
                    timeout=5_000)


def x_range(plot: pg.PlotItem) -> tuple[float, float]:
    x0, x1 = plot.getViewBox().viewRange()[0]
    return float(x0), float(x1)


def test_sixty_four_curves_are_drawn_as_one_item_per_colour(qtbot) -> None:
    plots = LivePlots(LiveSource(hub_data(), now_s=lambda: NOW_S, name="hubs"))
    qtbot.addWidget(plots)
    plots.set_preset("5 min")
    shown(plots, qtbot)
    plot = plots.reading_plots["1.8.0"]
    curves = [i for i in plot.listDataItems() if isinstance(i, pg.PlotCurveItem)]
    assert len(curves) == len(CURVE_COLOURS)
    # Every hub's five readings are in a curve of its lane's colour, hubs apart.
    points = sum(int(np.isfinite(c.getData()[1]).sum()) for c in curves)
    assert points == 64 * 5
    # Hubs not in the registry take their colour from their label, never from arrival order.
    group = [h for h in HUBS if colour_slot(h, [], len(CURVE_COLOURS)) == 0]
    first = next(c for c in curves if c.opts["pen"].color().name() == CURVE_COLOURS[0])
    assert first.toolTip().startswith(", ".join(group[:2]) + ", ")
    assert f"and {len(group) - 6} more 1.8.0 (kWh)" in first.toolTip()
    assert "hub001" in plot.titleLabel.text and "hub005" not in plot.titleLabel.text
    low, high = plot.getViewBox().viewRange()[1]
    assert low < 100.0 and high > 100.0 + 63 + 4


def test_small_plots_follow_the_timeline_and_a_pan_moves_them_all(qtbot) -> None:
    now = [NOW_S]
    plots = LivePlots(LiveSource(hub_data(), now_s=lambda: now[0], name="hubs"))
    qtbot.addWidget(plots)
    plots.set_preset("5 min")
    shown(plots, qtbot)
    # A new range width (another preset) moves every plot at once.
    plots.set_preset("1 h")
    for plot in plots.plots()[1:]:
        assert x_range(plot) == x_range(plots.timeline.plot)
    # Following, the smaller plots never lag the timeline by more than a few pixels.
    limit_px = SMALL_PLOTS_MAX_SHIFT_PX
    for _ in range(20):
        now[0] += 30.0
        plots.refresh()
        t0, t1 = x_range(plots.timeline.plot)
        px_per_s = plots.timeline.plot.getViewBox().width() / (t1 - t0)
        for plot in plots.plots()[1:]:
            s0, s1 = x_range(plot)
            assert abs(s1 - t1) * px_per_s <= limit_px and abs(s0 - t0) * px_per_s <= limit_px
    # Panning a reading plot by hand moves the timeline and the rate plot with it.
    reading = plots.reading_plots["1.8.0"]
    reading.getViewBox().setXRange(NOW_S - 900, NOW_S - 300, padding=0)
    reading.getViewBox().sigRangeChangedManually.emit([True, False])
    assert plots.state.mode is ViewMode.BROWSE
    assert x_range(plots.timeline.plot) == x_range(reading) == x_range(plots.rate_plot)
    assert plots.view_range() == x_range(reading)


def test_a_device_keeps_its_colour_from_its_stable_id_whatever_arrives_first(qtbot) -> None:
    from app.domain.devices import Device, DeviceKind

    # The registry's devices, with the stable ids the database gave them; one was renamed.
    registry = [Device(label=label, kind=DeviceKind.ESME, id=ref) for label, ref in
                (("Bench 1 ESME", 1), ("Bench 1 Comms Hub", 2), ("Bench 2 ESME (renamed)", 3))]

    def session(order: list[str]) -> dict[str, str]:
        live = LiveData()
        live.set_lanes(list(reversed(order)))  # lanes in yet another order
        live.on_events([DeviceEvent(d, EventKind.READING, at(-30 + i), {"obis": "1.8.0",
                                                                         "value": 1.0 + i})
                        for i, d in enumerate(order)])
        plots = LivePlots(LiveSource(live, devices=registry, now_s=lambda: NOW_S))
        qtbot.addWidget(plots)
        shown_once(plots, qtbot)
        layer = plots.reading_layers["1.8.0"]
        return {d: layer.colour(d).name() for d in order}

    labels = [d.label for d in registry] + ["unregistered port"]
    first = session(labels)
    second = session(list(reversed(labels)))
    assert first == second
    assert [first[d.label] for d in registry] == list(CURVE_COLOURS[:3])  # ids 1, 2, 3
    assert first["unregistered port"] == CURVE_COLOURS[
        colour_slot("unregistered port", registry, len(CURVE_COLOURS))]


def shown_once(plots: LivePlots, qtbot) -> None:
    plots.resize(900, 600)
    plots.show()
    qtbot.waitExposed(plots)
    qtbot.waitUntil(lambda: plots.latest_snapshot() is not None, timeout=5_000)
    qtbot.waitUntil(lambda: plots.refresh() or len(plots.reading_layers["1.8.0"].colour_of) == 4,
                    timeout=5_000)
