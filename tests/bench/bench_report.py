"""Benchmark: exporting a run with 10,000 alerts to PDF (goal: 3 s or less) and to HTML.

Run with ``.venv/bin/python tests/bench/bench_report.py [--runs 5] [--alerts 10000]``; prints one
JSON object. The report is the test suite's sample power-outage run (five devices, two outages,
steps with measurements) with `--alerts` more alerts spread over its window; each export is
timed on its own, min / median / max over the runs, wall clock and CPU time of this process (on a
busy machine the CPU time is the steadier figure). The first PDF export of the process is
reported apart: it also loads the fonts.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from app.services.reports.html import write_html  # noqa: E402
from app.services.reports.pdf import write_pdf  # noqa: E402
from tests.services.reports.sample_report import report  # noqa: E402

GOAL_PDF_S = 3.0


def spread(values: list[float]) -> dict[str, float]:
    return {"min": round(min(values), 3), "median": round(statistics.median(values), 3),
            "max": round(max(values), 3)}


def timed(export: Any, *args: Any) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    export(*args)
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--alerts", type=int, default=10_000)
    args = parser.parse_args()
    rep = report(alert_count=args.alerts)
    out: dict[str, Any] = {
        "alerts": len(rep.alerts), "goal_pdf_s": GOAL_PDF_S,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform(),
                    "load_average": [round(v, 2) for v in os.getloadavg()]},
    }
    with tempfile.TemporaryDirectory(prefix="meterlab-bench-report-") as tmp:
        pdf, html = Path(tmp) / "r.pdf", Path(tmp) / "r.html"
        first_wall, _cpu = timed(write_pdf, rep, pdf)
        out["pdf_first_s"] = round(first_wall, 3)
        pdf_wall, pdf_cpu, html_wall, html_cpu = [], [], [], []
        for i in range(args.runs):
            print(f"run {i + 1}/{args.runs}", file=sys.stderr)
            w, c = timed(write_pdf, rep, pdf)
            pdf_wall.append(w)
            pdf_cpu.append(c)
            w, c = timed(write_html, rep, html)
            html_wall.append(w)
            html_cpu.append(c)
        from pypdf import PdfReader

        out["pdf_pages"] = len(PdfReader(pdf).pages)
        out["pdf_bytes"] = pdf.stat().st_size
        out["html_bytes"] = html.stat().st_size
    out["pdf_wall_s"] = spread(pdf_wall)
    out["pdf_cpu_s"] = spread(pdf_cpu)
    out["html_wall_s"] = spread(html_wall)
    out["html_cpu_s"] = spread(html_cpu)
    out["pdf_within_goal"] = out["pdf_wall_s"]["median"] <= GOAL_PDF_S
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
