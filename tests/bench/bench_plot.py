"""Benchmark: Live plot redraw rate with one million alerts of history (goal: 30 fps or more).

Run with ``.venv/bin/python tests/bench/bench_plot.py``; prints one JSON object. The plots are
drawn offscreen at the page's size, following now, while a feeder thread adds alerts as ingest
would (the ring's version changes all the time, so snapshots are taken continuously). The page
reads the runtime's LiveData rings.
"""

from __future__ import annotations

import json
import os
import platform
import threading
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np

from app.services.live import ALERT_DTYPE, LiveData
from ui.live_fps import measure_live_fps

HISTORY = 1_000_000
LANES = 8
SECONDS = 5.0
FEED_PER_S = 2000


def history(now_s: float, n: int = HISTORY, span_s: float = 86_400.0) -> np.ndarray:
    """`n` alerts spread over the last `span_s` seconds on LANES lanes, mixed severities."""
    rng = np.random.default_rng(7)
    rec = np.zeros(n, ALERT_DTYPE)
    rec["t"] = np.sort(rng.uniform(now_s - span_s, now_s, n))
    rec["lane"] = rng.integers(0, LANES, n)
    rec["severity"] = rng.choice([0, 1, 2], n, p=[0.5, 0.45, 0.05])
    rec["code"] = rng.choice([0x8F01, 0x8F0C, 0x8F35, 0x8F36], n)
    rec["device_t"] = rec["t"] - 0.5
    return rec


def make_live(cls: type[LiveData]) -> LiveData:
    live = cls(alert_capacity=HISTORY)
    live.set_lanes(f"Bench {i // 4 + 1} device {i % 4 + 1}" for i in range(LANES))
    live.alerts.extend(history(time.time()))
    live.version += 1
    return live


def feeder(live: LiveData, stop: threading.Event) -> None:
    """Append alerts at FEED_PER_S a second, in batches, as the ingest path does."""
    batch = FEED_PER_S // 50
    while not stop.wait(0.02):
        now = time.time()
        rec = np.zeros(batch, ALERT_DTYPE)
        rec["t"] = now
        rec["lane"] = np.arange(batch) % LANES
        rec["severity"] = 1
        rec["code"] = 0x8F01
        rec["device_t"] = now
        with live._lock:
            live.alerts.extend(rec)
            live.version += 1


def run(preset: str, feed: bool, cls: type[LiveData] = LiveData) -> float:
    live = make_live(cls)
    stop = threading.Event()
    thread = threading.Thread(target=feeder, args=(live, stop), daemon=True)
    if feed:
        thread.start()
    try:
        return measure_live_fps(live, None, SECONDS, preset=preset)
    finally:
        stop.set()
        if feed:
            thread.join()


def main() -> None:
    figures = {
        "alerts_history": HISTORY,
        "lanes": LANES,
        "seconds_each": SECONDS,
        "fps_5min_static": round(run("5 min", feed=False), 1),
        "fps_5min_ingesting_2000_alerts_per_s": round(run("5 min", feed=True), 1),
        "fps_1h_ingesting": round(run("1 h", feed=True), 1),
        "fps_all_ingesting": round(run("All", feed=True), 1),
        "goal_fps": 30,
        "timer_hz": 60,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
                   f"Qt offscreen",
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
