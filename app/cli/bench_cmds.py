"""`meterlab bench ingest`: measure this workstation's ingest with emulated Comms Hubs."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from app.cli import EXIT_FAILURE, EXIT_OK, emit, fail
from app.domain.clock import Clock
from app.domain.parsing import (
    MAX_BAUD,
    MAX_BENCH_S,
    MIN_BAUD,
    parse_positive_float,
    parse_positive_int,
)

#: Measures the live page: ``measure(live, outages, seconds) -> frames per second``.
FpsMeasure = Callable[[object, object, float], float]


def _progress(message: str) -> None:
    sys.stderr.write(f"meterlab: bench: {message}\n")
    sys.stderr.flush()


def _live_fps_measure() -> FpsMeasure | None:
    """The live page's frame-rate probe, or None when this build has no live page."""
    try:
        from ui.live_fps import measure_live_fps
    except ImportError as exc:
        _progress(f"ui_fps not measured: the live page cannot be loaded ({exc})")
        return None
    return measure_live_fps


def bench_ingest(args: argparse.Namespace, clock: Clock) -> int:
    from app.services.bench_ingest import (
        MAX_PORTS,
        BenchIngest,
        BenchIngestError,
        BenchIngestOptions,
    )

    options = BenchIngestOptions(
        ports=parse_positive_int(args.ports, "ports", maximum=MAX_PORTS),
        seconds=parse_positive_float(args.seconds, "seconds", MAX_BENCH_S),
        baud=parse_positive_int(args.baud, "baud", MIN_BAUD, MAX_BAUD),
    )
    options.validate()
    measure = _live_fps_measure() if not args.no_ui else None
    bench = BenchIngest(options, clock, progress=_progress)
    try:
        bench.start()
    except BenchIngestError as exc:
        return fail(f"bench ingest could not start: {exc}", EXIT_FAILURE)
    try:
        # The live page draws on this (the main) thread while ingest runs on background threads.
        ui_fps = measure(bench.live, bench.outages, options.seconds) if measure else None
        result = bench.finish(ui_fps)
    except BaseException:
        bench.abort()
        raise
    emit(result.as_dict())
    return EXIT_OK


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    bench = sub.add_parser("bench", help="measure this workstation").add_subparsers(
        dest="bench_cmd", required=True, metavar="ACTION")
    p = bench.add_parser(
        "ingest", parents=[common],
        help="capture N emulated Comms Hub debug ports on ptys through the normal pipeline "
             "and print throughput, loss, CPU and live-page frame rate (JSON)")
    p.add_argument("--ports", required=True, metavar="N", help="emulated debug ports")
    p.add_argument("--seconds", required=True, metavar="S", help="length of the measurement")
    p.add_argument("--baud", default="115200", metavar="BAUD",
                   help="line speed of every port (default 115200; 8N1 carries baud/10 bytes/s)")
    p.add_argument("--no-ui", dest="no_ui", action="store_true",
                   help="do not draw the live page (ui_fps is null)")
    p.set_defaults(handler=bench_ingest)
