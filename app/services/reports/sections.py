"""A run's report as rows of text: what the PDF and the HTML print, cell for cell.

Both formats (and a preview) take their tables from here, so they cannot drift apart. Times are
shown in the lab's local time with the offset (``2026-12-01 10:03:07 +00:00``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import PurePath, PureWindowsPath
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.domain.reports import AlertRow, RunReport
from app.domain.severity import severity_word

DEFAULT_ZONE = "Europe/London"
NO_VALUE = "-"

#: outcome or verdict -> colour (text on white, and the verdict's banner)
OUTCOME_COLOUR = {
    "PASS": "#2e7d32", "MARGINAL": "#b26a00", "FAIL": "#c62828", "UNSET": "#c62828",
    "ERROR": "#6a1b9a", "ABORTED": "#4e4e4e", "SKIPPED": "#7a7a7a", "RUNNING": "#1f5fa8",
}
#: severity -> colour of its marker and table text
SEVERITY_COLOUR = {"critical": "#d62728", "non-critical": "#e07b12", "info": "#4e79a7",
                   "unknown": "#8c8c8c"}


def lab_zone(report: RunReport) -> tzinfo:
    """The lab's time zone (Europe/London when the name is unknown)."""
    try:
        return ZoneInfo(report.context.lab_timezone or DEFAULT_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_ZONE)


def lab_time(moment: datetime | None, zone: tzinfo, millis: bool = False) -> str:
    """``2026-12-01 10:03:07 +00:00`` in the lab's zone; "-" when unknown."""
    if moment is None:
        return NO_VALUE
    local = moment.astimezone(zone)
    text = local.strftime("%Y-%m-%d %H:%M:%S")
    if millis:
        text += f".{local.microsecond // 1000:03d}"
    offset = local.strftime("%z")
    return f"{text} {offset[:3]}:{offset[3:]}" if offset else text


def severity_name(severity: str) -> str:
    """The severity in today's words (an alert stored as "warning" is non-critical)."""
    return severity_word(severity)


def duration_text(seconds: float | None) -> str:
    """``2:00`` (m:ss) or ``1:02:03``; with tenths under a minute (``4.2 s``)."""
    if seconds is None:
        return NO_VALUE
    if seconds < 60:
        return f"{seconds:.1f} s"
    total = round(seconds)
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def value_text(value: Any) -> str:
    """A measured value as stored (no rounding): None is "-", booleans are true/false."""
    if value is None:
        return NO_VALUE
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def file_name(path: str) -> str:
    """The last part of a capture file's path, whichever system wrote it."""
    name = PurePath(path).name
    return PureWindowsPath(name).name if "\\" in name else name


def verdict_text(report: RunReport) -> str:
    return report.record.verdict.value if report.record.verdict is not None else "RUNNING"


@dataclass(frozen=True)
class Table:
    """A table of text: a title, its column headings and its rows (cells are plain text)."""

    title: str
    headings: tuple[str, ...]
    rows: list[tuple[str, ...]]
    empty: str = "None."


def summary(report: RunReport) -> list[tuple[str, str]]:
    """The title block: (label, value) lines."""
    r, c, zone = report.record, report.context, lab_zone(report)
    booking = NO_VALUE
    if r.booking_id is not None:
        booking = f"#{r.booking_id}"
        if c.booking_start or c.booking_end:
            booking += f", {lab_time(c.booking_start, zone)} to {lab_time(c.booking_end, zone)}"
        if c.booking_status:
            booking += f" ({c.booking_status})"
    span = (r.ended - r.started).total_seconds() if r.ended else None
    bench_kind = "Emulated bench" if r.emulated else "Real bench"
    if r.time_scale != 1.0:
        bench_kind += f", time scale {r.time_scale:g}"
    params = ", ".join(f"{k} = {value_text(v)}" for k, v in sorted(r.parameters.items()))
    events = (f"{report.events_total} events" if report.evidence_here
              else f"events kept on workstation {report.evidence_workstation}")
    lines = [
        ("Lab", c.lab_name or NO_VALUE),
        ("Organisation", r.org_name or NO_VALUE),
        ("Booking", booking),
        ("Bench", f"{r.bench} ({bench_kind})"),
        ("Operator", r.operator or NO_VALUE),
        ("Started", lab_time(r.started, zone)),
        ("Ended", lab_time(r.ended, zone) + (f" ({duration_text(span)})" if span is not None
                                             else "")),
        ("Plan", f"{r.plan_name} version {r.plan_version}"),
        ("Plan SHA-256", r.plan_sha256 or NO_VALUE),
        ("Parameters", params or "none"),
        ("Faults injected", ", ".join(r.faults) if r.faults else "none"),
        ("Window", f"{lab_time(report.window_start, zone)} to "
                   f"{lab_time(report.window_end, zone)}: {events}, "
                   f"{len(report.alerts)} alerts, {len(report.outages)} outages"),
    ]
    if report.evidence_workstation:
        lines.append(("Evidence kept on", f"workstation {report.evidence_workstation}"))
    if r.message:
        lines.append(("Message", r.message))
    return lines


def steps(report: RunReport) -> Table:
    zone = lab_zone(report)
    rows = []
    for s in report.record.steps:
        span = (s.ended - s.started).total_seconds() if s.started and s.ended else None
        name = s.name + (" (teardown)" if s.teardown else "")
        rows.append((str(s.index + 1), name, s.kind, lab_time(s.started, zone),
                     duration_text(span), str(s.attempts), s.outcome.value, s.message))
    return Table("Steps", ("#", "Step", "Kind", "Started", "Took", "Tries", "Outcome", "Why"),
                 rows, "No step ran.")


def measurements(report: RunReport) -> Table:
    rows = [(str(s.index + 1), m.name, value_text(m.value), m.unit, m.limits, m.outcome.value,
             m.note)
            for s in report.record.steps for m in s.measurements]
    return Table("Measurements", ("Step", "Measurement", "Value", "Unit", "Limits", "Outcome",
                                  "Note"), rows, "No measurement.")


def devices(report: RunReport) -> Table:
    rows = [(d.label, d.kind, d.device_id or NO_VALUE, d.mpxn or NO_VALUE,
             d.manufacturer or NO_VALUE, d.model or NO_VALUE, d.firmware or NO_VALUE)
            for d in report.record.devices]
    return Table("Devices under test", ("Device", "Kind", "Device ID", "MPAN/MPRN",
                                        "Manufacturer", "Model", "Firmware"), rows,
                 "No device recorded.")


def alert_codes(report: RunReport) -> Table:
    """One line per alert code: how many, how many late, first and last."""
    zone = lab_zone(report)
    by_code: dict[str, list[AlertRow]] = {}
    for a in report.alerts:
        by_code.setdefault(a.code, []).append(a)
    rows = []
    for code in sorted(by_code):
        group = by_code[code]
        first = min(a.host_time for a in group)
        last = max(a.host_time for a in group)
        rows.append((code, group[0].name, severity_name(group[0].severity), str(len(group)),
                     str(sum(a.late for a in group)), lab_time(first, zone),
                     lab_time(last, zone)))
    return Table("Alerts by code", ("Code", "Name", "Severity", "Count", "Late", "First", "Last"),
                 rows, "No alert in the run's window.")


ALERT_HEADINGS = ("#", "Device", "Code", "Severity", "Host time", "Device time", "Latency",
                  "Target", "Late")


def alert_rows(report: RunReport) -> Iterator[tuple[str, ...]]:
    """Every alert in host-time order (a generator: there may be tens of thousands)."""
    zone = lab_zone(report)
    for i, a in enumerate(sorted(report.alerts, key=lambda a: a.host_time), start=1):
        yield (str(i), a.device, a.code, severity_name(a.severity),
               lab_time(a.host_time, zone, millis=True),
               lab_time(a.device_time, zone, millis=True),
               f"{a.latency_s:.2f} s" if a.latency_s is not None else NO_VALUE,
               f"{a.target_s:g} s" if a.target_s is not None else NO_VALUE,
               "LATE" if a.late else "")


def outages(report: RunReport) -> Table:
    zone = lab_zone(report)
    rows = []
    for o in report.outages:
        hub = (o.device_end - o.device_start).total_seconds() \
            if o.device_start and o.device_end else None
        rows.append((str(o.outage_id), o.start_source or NO_VALUE, lab_time(o.start, zone),
                     lab_time(o.end, zone), duration_text(o.duration_s),
                     lab_time(o.device_start, zone), lab_time(o.device_end, zone),
                     duration_text(hub), o.restore_alert or NO_VALUE,
                     "; ".join(str(f) for f in o.flags)))
    return Table("Outages", ("#", "Source", "Start", "End", "Duration", "Hub start", "Hub end",
                             "Hub duration", "Restore alert", "Flags"), rows,
                 "No outage in the run's window.")


def answers(report: RunReport) -> Table:
    """The operator's answers to prompt steps, with the note they typed."""
    rows = []
    for s in report.record.steps:
        if s.answer:
            answer, _sep, note = s.answer.partition(": ")
            rows.append((str(s.index + 1), s.name, answer, note))
    return Table("Operator answers and notes", ("Step", "Prompt", "Answer", "Note"), rows,
                 "No operator answer in this run.")


def evidence(report: RunReport) -> Table:
    rows = [(e.device, file_name(e.path), f"{e.bytes:,}", e.sha256)
            for e in report.record.evidence]
    title = "Evidence"
    if report.evidence_workstation:
        title += f" (capture files on workstation {report.evidence_workstation})"
    return Table(title, ("Device", "File", "Bytes", "SHA-256"), rows, "No capture file.")


def seal_lines(report: RunReport, seal: str | None = None) -> list[tuple[str, str]]:
    """The seal (computed unless given), and the seal stored with the run when it is not the
    same."""
    seal = seal or report.seal()
    lines = [("Seal (SHA-256)", seal)]
    stored = report.record.seal
    if stored and stored != seal:
        lines.append(("Stored seal", f"{stored} (differs: the run changed after it was sealed)"))
    return lines


def generated_text(report: RunReport) -> str:
    return lab_time(report.generated, lab_zone(report))
