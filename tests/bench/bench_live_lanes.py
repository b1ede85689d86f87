"""Benchmark: cost of one Live frame with many device lanes (goal: well under 33 ms at 64 lanes).

Run with ``.venv/bin/python tests/bench/bench_live_lanes.py [--lanes 64]``; prints one JSON object.
The data is what ``meterlab bench ingest --ports N`` leaves after half an hour: per hub a lane of
routine alerts (two a second) and an import register curve (1.8.0, read every 30 s). With
``--history-s 20`` the data starts 20 s ago, so the followed range still grows every frame (the
first five minutes of a capture) instead of sliding. Reported:
``frame_ms`` (one refresh plus the repaint it causes, median of many, following
now), ``refresh_ms`` (the refresh alone) and ``idle_fps`` (the frame rate ``measure_live_fps``
sees with nothing else running).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np

from app.domain.events import DeviceEvent, EventKind
from app.services.live import ALERT_DTYPE, READING_DTYPE, LiveData, Ring
from ui.live_fps import PLOT_SIZE, measure_live_fps

HISTORY_S = 1800.0
#: Routine alerts per hub per second, as the emulated hubs send them (120 a minute).
ALERTS_PER_S = 2.0


def make_live(lanes: int, now_s: float, history_s: float = HISTORY_S) -> LiveData:
    """`lanes` hubs' worth of alerts and import-register readings over the last `history_s`."""
    live = LiveData()
    names = [f"hub{i + 1:03d}" for i in range(lanes)]
    live.set_lanes(names)
    rng = np.random.default_rng(3)
    n = int(lanes * history_s * ALERTS_PER_S)
    rec = np.zeros(n, ALERT_DTYPE)
    rec["t"] = np.sort(rng.uniform(now_s - history_s, now_s, n))
    rec["lane"] = rng.integers(0, lanes, n)
    rec["severity"] = rng.choice([0, 1, 2], n, p=[0.6, 0.35, 0.05])
    rec["code"] = 0x8F01
    rec["device_t"] = rec["t"] - 0.2
    live.alerts.extend(rec)
    for name in names:
        t = np.arange(now_s - history_s, now_s, min(30.0, history_s / 2)) + rng.uniform(0, 1)
        ring = Ring(live.reading_capacity, READING_DTYPE)
        ring.extend(np.array(list(zip(t, 1000 + np.cumsum(rng.uniform(0, 0.1, len(t))))),
                             READING_DTYPE))
        live.readings[(name, "1.8.0")] = ring
        live.units[(name, "1.8.0")] = "kWh"
    # One event through the normal path, so counts and version are as ingest leaves them.
    live.on_event(DeviceEvent(names[0], EventKind.LOG, _utc(now_s), {"text": "ready"}))
    return live


def _utc(t: float):
    from datetime import UTC, datetime

    return datetime.fromtimestamp(t, UTC)


def frame_costs(live: LiveData, frames: int) -> tuple[float, float]:
    """Median ms of refresh alone, and of refresh plus the repaint it causes."""
    from PySide6.QtWidgets import QApplication

    from ui.widgets.live_plots import LivePlots, LiveSource

    app = QApplication.instance() or QApplication([])
    plots = LivePlots(LiveSource(live, None, now_s=time.time, name="bench"))
    plots.set_preset("5 min")
    plots.resize(*PLOT_SIZE)
    plots.show()
    deadline = time.monotonic() + 5.0
    while plots.latest_snapshot() is None and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.01)
    for _ in range(5):
        plots.refresh()
        app.processEvents()
    refresh_ms, frame_ms = [], []
    for _ in range(frames):
        time.sleep(0.02)  # let "now" move, as between display-timer ticks
        t0 = time.perf_counter()
        plots.refresh()
        t1 = time.perf_counter()
        # The scene hands its dirty regions to the view in a posted event; then it paints.
        app.processEvents()
        t2 = time.perf_counter()
        refresh_ms.append((t1 - t0) * 1000)
        frame_ms.append((t2 - t0) * 1000)
    plots.stop()
    plots.close()
    plots.deleteLater()
    app.processEvents()
    return statistics.median(refresh_ms), statistics.median(frame_ms)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lanes", type=int, default=64)
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--history-s", type=float, default=HISTORY_S)
    args = parser.parse_args()
    live = make_live(args.lanes, time.time(), args.history_s)
    refresh_ms, frame_ms = frame_costs(live, args.frames)
    fps = measure_live_fps(live, None, 3.0)
    print(json.dumps({
        "lanes": args.lanes, "history_s": args.history_s, "frame_ms": round(frame_ms, 2),
        "refresh_ms": round(refresh_ms, 2), "idle_fps": round(fps, 1), "machine": f"{platform.machine()}, {os.cpu_count()} cores",
    }))


if __name__ == "__main__":
    main()
