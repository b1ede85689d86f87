"""A run's report as JSON: the sealed content, its seal, and when and by what it was made.

The file is one object: the report's canonical content (:meth:`app.domain.reports.RunReport.
canonical`: ``format``, ``run``, ``context``, ``window``, ``alerts``, ``outages``,
``evidence_sha256``; instants in UTC, ISO-8601 with their offset) and three keys outside the seal:

- ``seal``: the SHA-256 of the canonical JSON of the rest (64 hex digits);
- ``seal_parts``: the SHA-256 of each top-level part, so that a check can say which part of an
  altered file no longer matches;
- ``report``: when it was generated (the lab's local time), by which MeterLab, the lab's time
  zone.

Anyone can recompute the seal from the file alone (sorted keys, no spaces, UTF-8, SHA-256).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.domain.reports import SEAL_FORMAT, RunReport, seal_of

#: Keys of a JSON report that are not sealed.
UNSEALED_KEYS = ("seal", "seal_parts", "report")
#: The most bytes a JSON report is read from (a report is far smaller).
MAX_JSON_BYTES = 200_000_000


class NotAReportError(Exception):
    """The file is not a MeterLab report (or not one of a form this MeterLab knows)."""


@dataclass(frozen=True)
class SealedJson:
    """A JSON report as read back.

    Attributes:
        content: the sealed part (every key but :data:`UNSEALED_KEYS`).
        seal: the seal the file states.
        parts: the file's per-part SHA-256 (empty if it has none).
        report: the unsealed ``report`` object.
    """

    content: dict[str, Any]
    seal: str
    parts: dict[str, str]
    report: dict[str, Any]

    @property
    def run_id(self) -> int | None:
        run = self.content.get("run")
        value = run.get("run_id") if isinstance(run, dict) else None
        return value if isinstance(value, int) else None


def json_document(report: RunReport) -> dict[str, Any]:
    """The JSON report of `report` as a value."""
    canonical = report.canonical()
    try:
        tz: ZoneInfo | None = ZoneInfo(report.context.lab_timezone)
    except (ZoneInfoNotFoundError, ValueError):
        tz = None
    generated = report.generated
    return {
        **canonical,
        "seal": seal_of(canonical),
        "seal_parts": part_seals(canonical),
        "report": {
            "generated": (generated.astimezone(tz).isoformat() if generated and tz
                          else generated.isoformat() if generated else None),
            "version": report.version,
            "timezone": report.context.lab_timezone,
            "events_total": report.events_total if report.evidence_here else None,
            **({"evidence_workstation": report.evidence_workstation}
               if report.evidence_workstation else {}),
        },
    }


def render_json(report: RunReport) -> bytes:
    """The JSON report's bytes (UTF-8, indented, keys sorted)."""
    return (json.dumps(json_document(report), ensure_ascii=False, sort_keys=True, indent=2,
                       allow_nan=False) + "\n").encode("utf-8")


def write_json(report: RunReport, path: str | Path) -> None:
    """Write the JSON report of `report` to `path`."""
    Path(path).write_bytes(render_json(report))


def part_seals(canonical: dict[str, Any]) -> dict[str, str]:
    """The SHA-256 of each top-level part of a canonical content."""
    return {key: seal_of({key: value}) for key, value in canonical.items()}


def read_sealed_json(path: str | Path) -> SealedJson:
    """Read a JSON report.

    Raises:
        NotAReportError: not JSON, or not a MeterLab run report of a known form.
        OSError: the file cannot be read.
    """
    with open(path, "rb") as f:
        data = f.read(MAX_JSON_BYTES + 1)
    if len(data) > MAX_JSON_BYTES:
        raise NotAReportError(f"{path} is too large to be a MeterLab report.")
    return parse_sealed_json(data, str(path))


def parse_sealed_json(data: bytes, name: str = "the file") -> SealedJson:
    """A JSON report from its bytes (see :func:`read_sealed_json`)."""
    try:
        value = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError):
        raise NotAReportError(f"{name} is not a MeterLab report (not JSON).") from None
    if not isinstance(value, dict) or not isinstance(value.get("format"), str) or not str(
            value["format"]).startswith("meterlab-run-seal/"):
        raise NotAReportError(f"{name} is not a MeterLab report (no \"format\": "
                              f"\"{SEAL_FORMAT}\").")
    if value["format"] != SEAL_FORMAT:
        raise NotAReportError(f"{name} is a MeterLab report of a form this MeterLab does not "
                              f"know ({value['format']}; this one knows {SEAL_FORMAT}).")
    seal = value.get("seal")
    if not isinstance(seal, str) or len(seal) != 64:
        raise NotAReportError(f"{name} is not a sealed MeterLab report (no 64-digit \"seal\").")
    parts = value.get("seal_parts")
    report = value.get("report")
    return SealedJson(
        content={k: v for k, v in value.items() if k not in UNSEALED_KEYS},
        seal=seal.lower(),
        parts=({str(k): str(v) for k, v in parts.items()} if isinstance(parts, dict) else {}),
        report=report if isinstance(report, dict) else {},
    )


def check_json(sealed: SealedJson) -> list[str]:
    """What does not match the file's own seal: [] when valid, else the parts that differ."""
    if seal_of(sealed.content) == sealed.seal:
        return []
    if not sealed.parts:
        return ["the content (the file has no per-part seals to say which part)"]
    now = part_seals(sealed.content)
    changed = sorted(k for k in set(now) | set(sealed.parts) if now.get(k) != sealed.parts.get(k))
    if not changed:
        return ["the seal itself (every part matches its own seal)"]
    return changed
