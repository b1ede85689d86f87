"""Storing decoded events in batches: EventStore.insert_many alone, and through queue and writer.

Run: .venv/bin/python tests/bench/bench_storage.py   (prints one JSON object)

Goal: 150,000 events/s. The events are what the Comms Hub emulator's debug log decodes to with
the ``profile:emulator`` codec (noise as log lines, status, readings, one GBCS alert in about
twenty lines), stamped as a device session stamps them (one host time per received chunk).

Figures, each the best of several rounds into a fresh WAL database file:
- ``insert_many_events_per_s``: EventStore.insert_many in transactions of 1,000 events;
- ``rows_events_per_s``: building the rows alone (times as ISO text, fields as JSON);
- ``writer_events_per_s``: events already queued, drained by an EventWriter (1,000 per batch,
  its own connection and thread) until all are stored.
"""

from __future__ import annotations

import json
import platform
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from app.domain.events import DeviceEvent
from app.services.ingest import EventQueue, EventWriter
from app.storage.db import connect, open_database
from app.storage.devices import CaptureSessionRepo, EventStore
from devices.codecs.base import make_codec
from devices.emulator.bench import BenchConfig, EmulatedBench

EVENTS = 200_000
BATCH = 1000
ROUNDS = 3
LINES_PER_CHUNK = 8  # about what one read of a 115200-baud port returns


def make_events(count: int) -> list[DeviceEvent]:
    """Events decoded from the emulator's log, stamped in chunks as a session would."""
    now_s = [0.0]
    bench = EmulatedBench(
        BenchConfig(noise_lines_per_s=400.0, alert_rate_per_min=1200.0, seed=3,
                    start=datetime(2026, 11, 25, 10, 0, tzinfo=UTC)),
        monotonic=lambda: now_s[0],
    )
    codec = make_codec("profile:emulator")
    host = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    events: list[DeviceEvent] = []
    while len(events) < count:
        now_s[0] += 0.02
        decoded = codec.feed(bench.comms_hub.pending_output(now_s[0]))
        for start in range(0, len(decoded), LINES_PER_CHUNK):
            host += timedelta(milliseconds=3)
            events.extend(
                DeviceEvent(device="Bench 1 Comms Hub", kind=ev.kind, host_time=host,
                            fields=dict(ev.fields), device_time=ev.device_time, session_id=1)
                for ev in decoded[start:start + LINES_PER_CHUNK]
            )
    return events[:count]


def fresh_db(directory: Path, name: str) -> Path:
    """A new database holding capture session 1, which the events belong to."""
    path = directory / f"{name}.db"
    db = open_database(path)
    CaptureSessionRepo(db.conn).open("Bench 1 Comms Hub", "/dev/pts/1", "profile:emulator",
                                     "capture.bin", datetime(2026, 11, 25, 10, 0, tzinfo=UTC))
    db.conn.close()
    return path


def bench_rows(events: list[DeviceEvent]) -> float:
    best = float("inf")
    for _ in range(ROUNDS):
        start = time.perf_counter()
        for i in range(0, len(events), BATCH):
            EventStore.rows(events[i:i + BATCH])
        best = min(best, time.perf_counter() - start)
    return len(events) / best


def bench_insert_many(events: list[DeviceEvent], directory: Path) -> float:
    best = float("inf")
    for round_no in range(ROUNDS):
        conn = connect(fresh_db(directory, f"insert{round_no}"))
        store = EventStore(conn)
        start = time.perf_counter()
        for i in range(0, len(events), BATCH):
            store.insert_many(events[i:i + BATCH])
        best = min(best, time.perf_counter() - start)
        assert store.count() == len(events)
        conn.close()
    return len(events) / best


def bench_writer(events: list[DeviceEvent], directory: Path) -> float:
    best = float("inf")
    for round_no in range(ROUNDS):
        path = fresh_db(directory, f"writer{round_no}")
        queue = EventQueue(max_events=len(events))
        for ev in events:
            queue.put(ev)
        writer = EventWriter(path, queue, batch_max=BATCH)
        start = time.perf_counter()
        writer.start()
        while queue.stats.stored < len(events):
            time.sleep(0.001)
        best = min(best, time.perf_counter() - start)
        writer.stop()
        conn = sqlite3.connect(path)
        assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == len(events)
        conn.close()
    return len(events) / best


def main() -> None:
    started = time.perf_counter()
    events = make_events(EVENTS)
    print(f"made {len(events)} events in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    kinds: dict[str, int] = {}
    for ev in events:
        kinds[ev.kind.value] = kinds.get(ev.kind.value, 0) + 1
    with tempfile.TemporaryDirectory(prefix="meterlab-bench-storage-") as tmp:
        directory = Path(tmp)
        figures = {
            "events": len(events),
            "batch": BATCH,
            "kinds": kinds,
            "rows_events_per_s": round(bench_rows(events)),
            "insert_many_events_per_s": round(bench_insert_many(events, directory)),
            "writer_events_per_s": round(bench_writer(events, directory)),
            "goal_events_per_s": 150_000,
            "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version,
            "machine": platform.machine(),
        }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
