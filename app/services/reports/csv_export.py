"""A run's report as CSV: one file per table, for a spreadsheet.

Files: ``run.csv`` (one row: the run, its context and the seal), ``steps.csv``,
``measurements.csv``, ``devices.csv``, ``alerts.csv``, ``outages.csv``, ``evidence.csv``. UTF-8
with a byte-order mark (so Excel reads it as UTF-8), comma-separated, CRLF line ends (the csv
module's default), instants in the lab's local time as ISO-8601 with their offset.

A text cell starting with ``=``, ``+``, ``-``, ``@`` (or a tab or carriage return) is written
with a leading apostrophe, so that a spreadsheet shows it as text rather than running it as a
formula: device labels, notes and answers are typed by people.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.domain.reports import RunReport
from app.domain.severity import severity_word

#: The files written, in order.
CSV_FILES = ("run.csv", "steps.csv", "measurements.csv", "devices.csv", "alerts.csv",
             "outages.csv", "evidence.csv")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_tables(report: RunReport) -> dict[str, tuple[list[str], list[list[Any]]]]:
    """File name -> (header, rows) of every table, values not yet made cells."""
    r, c = report.record, report.context
    tz = _zone(c.lab_timezone)

    def t(moment: datetime | None) -> str:
        return "" if moment is None else moment.astimezone(tz).isoformat()

    run_row = {
        "run_id": r.id, "verdict": r.verdict.value if r.verdict else "",
        "plan": r.plan_name, "plan_version": r.plan_version, "plan_sha256": r.plan_sha256,
        "bench": r.bench, "emulated": "yes" if r.emulated else "no", "time_scale": r.time_scale,
        "faults": "; ".join(r.faults), "parameters": json.dumps(dict(r.parameters),
                                                                 sort_keys=True),
        "lab": c.lab_name, "timezone": c.lab_timezone, "organisation": r.org_name,
        "operator": r.operator, "booking_id": r.booking_id if r.booking_id is not None else "",
        "booking_start": t(c.booking_start), "booking_end": t(c.booking_end),
        "booking_status": c.booking_status, "started": t(r.started), "ended": t(r.ended),
        "message": r.message, "window_start": t(report.window_start),
        "window_end": t(report.window_end),
        "events_total": report.events_total if report.evidence_here else "",
        "evidence_workstation": report.evidence_workstation,
        "generated": t(report.generated), "meterlab_version": report.version,
        "seal": report.seal(),
    }
    steps = [[r.id, s.index, s.name, s.kind, "yes" if s.teardown else "no", s.outcome.value,
              t(s.started), t(s.ended), s.attempts, s.message, s.answer] for s in r.steps]
    measurements = [[r.id, s.index, s.name, seq, m.name, _value(m.value), m.unit, m.limits,
                     m.outcome.value, m.note]
                    for s in r.steps for seq, m in enumerate(s.measurements)]
    devices = [[r.id, seq, d.label, d.kind, d.device_id, d.mpxn, d.manufacturer, d.model,
                d.firmware] for seq, d in enumerate(r.devices)]
    alerts = [[t(a.host_time), a.device, a.code, a.name, severity_word(a.severity), t(a.device_time),
               _num(a.latency_s), _num(a.target_s), "yes" if a.late else "no",
               a.event_id if a.event_id is not None else ""] for a in report.alerts]
    outages = [[o.outage_id, t(o.start), t(o.end), o.start_source, _num(o.duration_s),
                t(o.device_start), t(o.device_end), o.restore_alert or "", "; ".join(o.flags)]
               for o in report.outages]
    evidence = [[e.capture_session_id, e.device, e.path, e.bytes, e.sha256]
                for e in r.evidence]
    return {
        "run.csv": (list(run_row), [list(run_row.values())]),
        "steps.csv": (["run_id", "step_index", "name", "kind", "teardown", "outcome", "started",
                       "ended", "attempts", "message", "answer"], steps),
        "measurements.csv": (["run_id", "step_index", "step", "seq", "name", "value", "unit",
                              "limits", "outcome", "note"], measurements),
        "devices.csv": (["run_id", "seq", "label", "kind", "device_id", "mpxn", "manufacturer",
                         "model", "firmware"], devices),
        "alerts.csv": (["host_time", "device", "code", "name", "severity", "device_time",
                        "latency_s", "target_s", "late", "event_id"], alerts),
        "outages.csv": (["outage_id", "start", "end", "start_source", "duration_s",
                         "device_start", "device_end", "restore_alert", "flags"], outages),
        "evidence.csv": (["capture_session_id", "device", "path", "bytes", "sha256"], evidence),
    }


def render_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """One table as CSV bytes: UTF-8 with a byte-order mark, text cells made safe."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([safe_cell(h) for h in header])
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def write_csv(report: RunReport, folder: str | Path,
              write: Callable[[Path, bytes], None] | None = None) -> list[Path]:
    """Write every table of `report` into `folder` (which must exist).

    Args:
        write: how a file's bytes are written (default: straight to the file); the command
            line passes one that writes a temporary file and renames it.

    Returns:
        The files written, in :data:`CSV_FILES` order.
    """
    folder = Path(folder)
    put = write or (lambda path, data: path.write_bytes(data))
    paths = []
    for name, (header, rows) in csv_tables(report).items():
        path = folder / name
        put(path, render_csv(header, rows))
        paths.append(path)
    return paths


def safe_cell(value: Any) -> Any:
    """`value` as a cell: text starting like a formula gets a leading apostrophe; numbers and
    booleans are left as they are."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def _value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return value
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _num(value: float | None) -> Any:
    return "" if value is None else value


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("Europe/London")
