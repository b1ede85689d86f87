"""Benchmark: how long another workstation's change takes to reach this one, on both lab-store
engines: the time from a commit in one OS process (an organisation added through the lab
service, as the window or the command line adds one) to the change feed's callback in another
(:class:`app.services.lab_changes.LabChangeWatcher`, as the desktop runs it).

On SQLite the watcher reads ``PRAGMA data_version`` every `--poll` seconds (the desktop's 1 s),
so the figure is about half of that; on PostgreSQL (a throwaway cluster started for the run, on a
Unix socket, `fsync=off`, like the tests') the trigger's NOTIFY is delivered at the commit. The
changes are spaced by a random pause, so they fall anywhere in the watcher's polling interval.
Both processes read the same system-wide monotonic clock.

Run: .venv/bin/python tests/bench/bench_lab_changes.py [--changes 50] [--engine both] [--poll 1]
Prints one JSON object of figures per engine (the window adds its 0.25 s coalescing on top).
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from app.domain.clock import FixedClock
from app.services.lab_changes import LabChangeWatcher
from tests.bench.bench_bookings import NOW


def child(target: str) -> None:
    """The other workstation: on each line from stdin, add an organisation and print the
    monotonic time its commit returned."""
    from app.main import build_context

    clock = FixedClock(NOW)
    shared = target if target.startswith("postgresql") else None
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "other.db" if shared else Path(target)
        ctx = build_context(db, clock, actor="other", lab_store_url=shared)
        try:
            print("ready", flush=True)
            for n, _line in enumerate(sys.stdin):
                ctx.lab_service.add_org(f"Org {n}", "IS", "IS")
                print(time.monotonic(), flush=True)
        finally:
            ctx.close()


def measure(source: Any, target: str, changes: int, poll_s: float) -> dict[str, float]:
    """Latencies of `changes` commits made by a child process on `target`, in milliseconds."""
    arrived: list[float] = []
    got = threading.Event()

    def on_change(_tables: frozenset[str]) -> None:
        arrived.append(time.monotonic())
        got.set()

    watcher = LabChangeWatcher(source, on_change, poll_s=poll_s)
    watcher.start()
    proc = subprocess.Popen([sys.executable, __file__, "--child", target], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdin is not None and proc.stdout is not None
    rng = random.Random(7)
    latencies: list[float] = []
    try:
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(max(poll_s, 0.5) * 2)  # the watcher is connected and has its first reading
        got.clear()
        arrived.clear()
        for _ in range(changes):
            time.sleep(rng.uniform(0.05, poll_s + 0.05))
            proc.stdin.write("go\n")
            proc.stdin.flush()
            committed = float(proc.stdout.readline())
            if not got.wait(10):
                raise RuntimeError("a change was not reported within 10 s")
            latencies.append((arrived[-1] - committed) * 1000)
            got.clear()
            time.sleep(0.05)  # let the notifications of that commit all arrive
            got.clear()
    finally:
        proc.stdin.close()
        proc.wait(30)
        watcher.stop()
    return {
        "changes": len(latencies),
        "median_ms": round(statistics.median(latencies), 1),
        "p95_ms": round(statistics.quantiles(latencies, n=20)[-1], 1),
        "max_ms": round(max(latencies), 1),
    }


def run_sqlite(opts: argparse.Namespace) -> dict[str, Any]:
    from app.storage.db import open_database

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "lab.db"
        open_database(path).conn.close()
        figures = measure(path, str(path), opts.changes, opts.poll)
    return {"engine": "sqlite", "poll_s": opts.poll, **figures}


def run_postgresql(opts: argparse.Namespace) -> dict[str, Any]:
    from app.storage.labstore import upgrade_lab_store
    from tests.pg import start_cluster

    cluster = start_cluster()
    try:
        cluster.admin("CREATE DATABASE bench")
        url = cluster.url("bench")
        upgrade_lab_store(url)
        figures = measure(url, url, opts.changes, opts.poll)
    finally:
        cluster.stop()
    return {"engine": "postgresql (local socket, fsync=off)", **figures}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--changes", type=int, default=50)
    ap.add_argument("--poll", type=float, default=1.0, help="the watcher's polling interval, s")
    ap.add_argument("--engine", choices=("sqlite", "postgresql", "both"), default="both")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    opts = ap.parse_args()
    if opts.child:
        child(opts.child)
        return
    machine = f"{platform.processor() or platform.machine()}, Python {platform.python_version()}"
    for engine, run in (("sqlite", run_sqlite), ("postgresql", run_postgresql)):
        if opts.engine in (engine, "both"):
            print(json.dumps({**run(opts), "machine": machine}))


if __name__ == "__main__":
    main()
