"""Remake docs/report-page1.png and docs/report-page2.png: `.venv/bin/python docs/make_report_page.py`.

A real run first: `meterlab run start power-outage --bench "Bench 1" --emulate` on a fresh
database in a temporary folder (a 181 s outage, so the long-outage restore alert 8F36, for a
participant organisation), then its report exported to PDF and the first two pages rendered
with pdftoppm (poppler-utils) at 80 dpi. The report is built with the reports service when it
is there, else from the stored run, its alerts and outages read here.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.domain.clock import SystemClock  # noqa: E402
from app.domain.reports import AlertRow, OutageRow, ReportContext, RunReport  # noqa: E402
from app.domain.step_kinds import ALERT_LATENCY_TARGET_S  # noqa: E402
from app.services.reports.pdf import write_pdf  # noqa: E402
from app.storage.db import connect, open_database  # noqa: E402
from app.storage.runs import RunRepo  # noqa: E402
from app.storage.timefmt import from_db  # noqa: E402

ORG = "Acme Metering Ltd"
MARGIN = timedelta(seconds=5)


def meterlab(db: Path, *args: str) -> str:
    cmd = [sys.executable, "-c", "import sys; from app.cli import main; sys.exit(main())",
           "--db", str(db), *args]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False,
                          stdin=subprocess.DEVNULL,
                          env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    if done.returncode not in (0, 1):  # 1: the run ended with a FAIL verdict
        raise SystemExit(f"meterlab {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def report_from_db(db: Path, run_id: int) -> RunReport:
    """The run's report: the reports service's, or one built here from the stored data."""
    conn = connect(db)
    try:
        from app.services.reports.build import build_report  # type: ignore[import-not-found]
    except ImportError:
        build_report = None
    if build_report is not None:
        return build_report(conn, run_id, SystemClock())
    record = RunRepo(conn).get(run_id)
    assert record is not None and record.ended is not None
    start, end = record.started - MARGIN, record.ended + MARGIN
    conn.row_factory = sqlite3.Row
    alerts = []
    for row in conn.execute("SELECT * FROM events WHERE kind = 'alert' AND host_time BETWEEN ? "
                            "AND ? ORDER BY host_time", (start.isoformat(), end.isoformat())):
        fields = json.loads(row["fields_json"] or "{}")
        alerts.append(AlertRow(from_db(row["host_time"]), row["device"], row["code"] or "",
                               fields.get("alert_name", ""), fields.get("severity", ""),
                               from_db(row["device_time"]), None,
                               ALERT_LATENCY_TARGET_S, row["id"]))
    outages = []
    for row in conn.execute('SELECT * FROM outages WHERE bench = ? AND start BETWEEN ? AND ?',
                            (record.bench, start.isoformat(), end.isoformat())):
        outages.append(OutageRow(row["id"], from_db(row["start"]), from_db(row["end"]),
                                 row["start_source"] or "", row["duration_s"],
                                 from_db(row["device_start"]), from_db(row["device_end"]),
                                 row["restore_alert_code"],
                                 tuple(f"{f.get('code')}: {f.get('message')}"
                                       for f in json.loads(row["flags_json"] or "[]"))))
        latency = row["latency_s"]
        alerts = [a if a.event_id is None or a.code != row["restore_alert_code"]
                  or a.host_time != from_db(row["restore_alert_host_time"])
                  else AlertRow(a.host_time, a.device, a.code, a.name, a.severity,
                                a.device_time, latency, a.target_s, a.event_id)
                  for a in alerts]
    events = conn.execute("SELECT count(*) FROM events WHERE host_time BETWEEN ? AND ?",
                          (start.isoformat(), end.isoformat())).fetchone()[0]
    conn.close()
    return RunReport(record, ReportContext("Newcastle Device Lab"), tuple(alerts),
                     tuple(outages), start, end, datetime.now(UTC), "0.1.0", events)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="also keep the PDF here")
    args = parser.parse_args()
    if shutil.which("pdftoppm") is None:
        raise SystemExit("pdftoppm is missing: apt-get install -y poppler-utils")
    with tempfile.TemporaryDirectory(prefix="meterlab-report-page-") as tmp:
        db = Path(tmp) / "lab.db"
        open_database(db).conn.close()
        meterlab(db, "org", "add", "--name", ORG)
        out = meterlab(db, "run", "start", "power-outage", "--bench", "Bench 1", "--emulate",
                       "--org", ORG, "--param", "duration_s=181", "--capture-dir",
                       str(Path(tmp) / "captures"))
        run_id = json.loads(out.strip().splitlines()[-1])["run_id"]
        pdf = Path(tmp) / "report.pdf"
        write_pdf(report_from_db(db, run_id), pdf)
        if args.keep:
            shutil.copy(pdf, args.keep)
        subprocess.run(["pdftoppm", "-r", "80", "-png", "-f", "1", "-l", "2", str(pdf),
                        str(Path(tmp) / "page")], check=True)
        for n in (1, 2):
            page = next(Path(tmp).glob(f"page-{n}.png"), None) or \
                next(Path(tmp).glob(f"page-0{n}.png"))
            shutil.copy(page, ROOT / "docs" / f"report-page{n}.png")
            print(f"docs/report-page{n}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
