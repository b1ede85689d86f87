"""Benchmark: checking one booking request against 100,000 existing bookings in a 280-space lab,
and finding the next slot. Goals: check <= 2 ms median; find-slot <= 50 ms.

Run: .venv/bin/python tests/bench/bench_bookings.py [--bookings 100000]
Prints one JSON object of figures.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from app.domain.bookings import Phase
from app.domain.clock import FixedClock
from app.domain.rules import segments
from app.main import build_context
from app.storage.timefmt import to_db

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def booking_rows(lab, org_id: int, n: int, rng: random.Random) -> tuple[list, list, int]:
    """n one-day bookings over consecutive working days, ~100 a day, within capacity: the
    bookings' rows, their booking_days rows, and the days they span from NOW."""
    per_day = 100
    day = lab.next_working_day(lab.local(NOW).date() + timedelta(days=3))
    rows, day_rows, made, next_id = [], [], 0, 1
    while made < n:
        for _ in range(min(per_day, n - made)):
            h0 = rng.randint(8, 16)
            h1 = rng.randint(h0 + 1, 18)
            start = datetime(day.year, day.month, day.day, h0, tzinfo=lab.tz)
            end = datetime(day.year, day.month, day.day, h1, tzinfo=lab.tz)
            bench = f'["Bench {rng.randint(1, 40)}"]' if rng.random() < 0.2 else "[]"
            rows.append({
                "id": next_id, "lab_id": lab.id, "org_id": org_id, "start_utc": to_db(start),
                "end_utc": to_db(end), "spaces": rng.randint(1, 5), "phase": "device",
                "status": rng.choice(["requested", "scheduled", "completed"]), "roles": "",
                "attendees_json": "[]", "benches_json": bench, "devices": "", "notes": "",
                "override": "", "override_reasons_json": "[]", "created_at": to_db(NOW),
                "updated_at": to_db(NOW)})
            for seg in segments(lab, start, end):
                day_rows.append({"booking_id": next_id, "lab_id": lab.id,
                                 "day": seg.day.isoformat(), "start_utc": to_db(seg.start),
                                 "end_utc": to_db(seg.end)})
            next_id += 1
            made += 1
        day = lab.next_working_day(day + timedelta(days=1))
    return rows, day_rows, (day - lab.local(NOW).date()).days


def _insert_sql(table: str, row: dict) -> str:
    return (f"INSERT INTO {table} ({', '.join(row)}) "
            f"VALUES ({', '.join(':' + k for k in row)})")


def populate(ctx, lab, n: int, rng: random.Random) -> int:
    """Insert :func:`booking_rows` into the SQLite file; the days they span."""
    org = ctx.lab_service.add_org("Bench Org", "IS", "IS")
    rows, day_rows, span_days = booking_rows(lab, org.id, n, rng)
    with ctx.db.conn:
        ctx.db.conn.executemany(_insert_sql("bookings", rows[0]), rows)
        ctx.db.conn.executemany(_insert_sql("booking_days", day_rows[0]), day_rows)
    ctx.db.conn.execute("ANALYZE")
    return span_days


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bookings", type=int, default=100_000)
    ap.add_argument("--checks", type=int, default=500)
    ap.add_argument("--slots", type=int, default=100)
    opts = ap.parse_args()
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        ctx = build_context(Path(tmp) / "bench.db", FixedClock(NOW), actor="bench")
        lab = ctx.lab_service.add_lab("Northampton", 280, benches=40)
        t0 = time.perf_counter()
        span_days = populate(ctx, lab, opts.bookings, rng)
        populate_s = time.perf_counter() - t0
        svc = ctx.booking_service
        ctx.lab_service.add_person("Bench Org", "P", "p@bench.example")
        check_ms = []
        for _ in range(opts.checks):
            day = lab.next_working_day(lab.local(NOW).date() + timedelta(days=rng.randint(3, span_days)))
            start = datetime(day.year, day.month, day.day, rng.randint(8, 14), tzinfo=lab.tz)
            end = start + timedelta(hours=rng.randint(1, 4))
            lab_obj, req = svc.build_request("Northampton", "Bench Org", start, end, rng.randint(1, 10),
                                             Phase.DEVICE, attendees=["p@bench.example"],
                                             benches=[f"Bench {rng.randint(1, 40)}"])
            t = time.perf_counter()
            svc.check(lab_obj, req)
            check_ms.append((time.perf_counter() - t) * 1000)
        slot_ms = []
        for _i in range(opts.slots):
            spaces = rng.choice([10, 50, 150, 250])
            hours = rng.choice([2, 8, 16])
            ctx.clock.current = NOW + timedelta(days=rng.randint(0, max(span_days - 30, 1)))
            t = time.perf_counter()
            svc.find_slot("Northampton", spaces, hours, Phase.DEVICE)
            slot_ms.append((time.perf_counter() - t) * 1000)
        print(json.dumps({
            "bookings": opts.bookings, "lab_spaces": 280, "span_days": span_days,
            "populate_s": round(populate_s, 2),
            "check_median_ms": round(statistics.median(check_ms), 3),
            "check_p95_ms": round(statistics.quantiles(check_ms, n=20)[-1], 3),
            "find_slot_median_ms": round(statistics.median(slot_ms), 3),
            "find_slot_p95_ms": round(statistics.quantiles(slot_ms, n=20)[-1], 3),
            "machine": f"{platform.processor() or platform.machine()}, {platform.python_version()}",
        }))
        ctx.close()


if __name__ == "__main__":
    main()
