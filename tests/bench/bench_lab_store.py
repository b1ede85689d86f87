"""Benchmark: the booking check and find-slot against 100,000 bookings on both lab-store engines:
the local SQLite file and a PostgreSQL server (a throwaway cluster started for the run, on a Unix
socket, like the tests'; `fsync=off`, so the figures are of reading, which is what both calls do).

Run: .venv/bin/python tests/bench/bench_lab_store.py [--bookings 100000] [--engine both]
Prints one JSON object of figures per engine.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from app.domain.bookings import Phase
from app.domain.clock import FixedClock
from app.main import build_context
from tests.bench.bench_bookings import NOW, booking_rows, populate

LAB, ORG, SPACES, BENCHES = "Northampton", "Bench Org", 280, 40


def measure(svc: Any, lab: Any, clock: FixedClock, span_days: int, checks: int, slots: int,
            rng: random.Random) -> dict[str, float]:
    """The check of `checks` random requests and `slots` find-slot searches, in milliseconds."""
    check_ms, slot_ms = [], []
    for _ in range(checks):
        day = lab.next_working_day(lab.local(NOW).date() + timedelta(days=rng.randint(3, span_days)))
        start = datetime(day.year, day.month, day.day, rng.randint(8, 14), tzinfo=lab.tz)
        end = start + timedelta(hours=rng.randint(1, 4))
        lab_obj, req = svc.build_request(LAB, ORG, start, end, rng.randint(1, 10), Phase.DEVICE,
                                         attendees=["p@bench.example"],
                                         benches=[f"Bench {rng.randint(1, BENCHES)}"])
        t = time.perf_counter()
        svc.check(lab_obj, req)
        check_ms.append((time.perf_counter() - t) * 1000)
    for _ in range(slots):
        spaces, hours = rng.choice([10, 50, 150, 250]), rng.choice([2, 8, 16])
        clock.current = NOW + timedelta(days=rng.randint(0, max(span_days - 30, 1)))
        t = time.perf_counter()
        svc.find_slot(LAB, spaces, hours, Phase.DEVICE)
        slot_ms.append((time.perf_counter() - t) * 1000)
    clock.current = NOW
    return {
        "check_median_ms": round(statistics.median(check_ms), 3),
        "check_p95_ms": round(statistics.quantiles(check_ms, n=20)[-1], 3),
        "find_slot_median_ms": round(statistics.median(slot_ms), 3),
        "find_slot_p95_ms": round(statistics.quantiles(slot_ms, n=20)[-1], 3),
    }


def run_sqlite(opts: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        clock = FixedClock(NOW)
        ctx = build_context(Path(tmp) / "bench.db", clock, actor="bench")
        try:
            lab = ctx.lab_service.add_lab(LAB, SPACES, benches=BENCHES)
            t0 = time.perf_counter()
            span_days = populate(ctx, lab, opts.bookings, rng)
            populate_s = time.perf_counter() - t0
            ctx.lab_service.add_person(ORG, "P", "p@bench.example")
            figures = measure(ctx.booking_service, lab, clock, span_days, opts.checks, opts.slots,
                              rng)
        finally:
            ctx.close()
    return {"engine": "sqlite", "populate_s": round(populate_s, 2), **figures}


def _populate_server(store: Any, lab: Any, org_id: int, n: int, rng: random.Random) -> int:
    """The same bookings as :func:`populate`, written through SQLAlchemy Core."""
    from sqlalchemy import insert, text

    from app.storage import tables

    rows, day_rows, span_days = booking_rows(lab, org_id, n, rng)
    with store.transaction() as conn:
        conn.execute(insert(tables.bookings), rows)
        conn.execute(insert(tables.booking_days), day_rows)
        # The ids were given here: move the server's sequence past them.
        conn.execute(text("SELECT setval(pg_get_serial_sequence('bookings', 'id'), "
                          "(SELECT max(id) FROM bookings))"))
    with store.transaction() as conn:
        conn.execute(text("ANALYZE"))
    return span_days


def run_postgresql(opts: argparse.Namespace) -> dict[str, Any]:
    from app.services.bookings import BookingService, LabService
    from app.storage.bookings import BookingRepo
    from app.storage.labs import LabRepo
    from app.storage.labstore import PostgresLabStore, upgrade_lab_store
    from app.storage.people import OrgRepo, PersonRepo
    from tests.pg import start_cluster

    rng = random.Random(7)
    cluster = start_cluster()
    try:
        cluster.admin("CREATE DATABASE bench")
        url = cluster.url("bench")
        upgrade_lab_store(url)
        clock = FixedClock(NOW)
        store = PostgresLabStore(url)
        try:
            labs, orgs = LabRepo(store, clock), OrgRepo(store, clock)
            people, bookings = PersonRepo(store, clock), BookingRepo(store, clock)
            lab_service = LabService(labs, orgs, people, clock, "bench")
            svc = BookingService(labs, orgs, people, bookings, clock, "bench")
            lab = lab_service.add_lab(LAB, SPACES, benches=BENCHES)
            org = lab_service.add_org(ORG, "IS", "IS")
            t0 = time.perf_counter()
            span_days = _populate_server(store, lab, org.id, opts.bookings, rng)
            populate_s = time.perf_counter() - t0
            lab_service.add_person(ORG, "P", "p@bench.example")
            figures = measure(svc, lab, clock, span_days, opts.checks, opts.slots, rng)
        finally:
            store.close()
    finally:
        cluster.stop()
    return {"engine": "postgresql (local socket, fsync=off)", "populate_s": round(populate_s, 2),
            **figures}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bookings", type=int, default=100_000)
    ap.add_argument("--checks", type=int, default=500)
    ap.add_argument("--slots", type=int, default=100)
    ap.add_argument("--engine", choices=("sqlite", "postgresql", "both"), default="both")
    opts = ap.parse_args()
    machine = f"{platform.processor() or platform.machine()}, Python {platform.python_version()}"
    for engine, run in (("sqlite", run_sqlite), ("postgresql", run_postgresql)):
        if opts.engine in (engine, "both"):
            print(json.dumps({"bookings": opts.bookings, "lab_spaces": SPACES, **run(opts),
                              "machine": machine}))


if __name__ == "__main__":
    main()
