"""A run's report as data, and its seal.

Every export (PDF, HTML, CSV, JSON) and the Reports page's preview are drawn from one
:class:`RunReport`. The seal is the SHA-256 of the report's canonical JSON: the run's record
(plan, parameters, bench, booking, organisation, operator, devices, steps and measurements), the
alerts and outages of the run's window, and the SHA-256 of every evidence file. What is not
sealed: when and by which MeterLab the report was generated (so a report exported twice has the
same seal), and how a format lays it out.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from app.domain.run_records import RunRecord

#: The version of the canonical form; a verifier refuses a seal of a form it does not know.
SEAL_FORMAT = "meterlab-run-seal/1"


@dataclass(frozen=True)
class AlertRow:
    """An alert a device raised during the run's window."""

    host_time: datetime  # when MeterLab received it (UTC)
    device: str  # the device (lane) it is attributed to
    code: str  # "8F35"
    name: str
    severity: str
    device_time: datetime | None = None  # the alert's own time (the device's clock)
    latency_s: float | None = None  # host receipt - alert time, on the bench's clock
    target_s: float | None = None  # the latency target for this code
    event_id: int | None = None

    @property
    def late(self) -> bool:
        return (self.latency_s is not None and self.target_s is not None
                and self.latency_s > self.target_s)


@dataclass(frozen=True)
class OutageRow:
    """An outage of the run's bench during its window: the relay's truth and what devices said."""

    outage_id: int
    start: datetime | None  # ground truth (relay) or the device's start (UTC host time)
    end: datetime | None
    start_source: str
    duration_s: float | None  # on the bench's clock
    device_start: datetime | None = None  # as the Comms Hub logged it
    device_end: datetime | None = None
    restore_alert: str | None = None
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReportContext:
    """What the report says around the run (not part of the run's record)."""

    lab_name: str = ""
    lab_timezone: str = "Europe/London"
    booking_start: datetime | None = None
    booking_end: datetime | None = None
    booking_status: str = ""


@dataclass(frozen=True)
class RunReport:
    """Everything a run's report shows.

    Attributes:
        window_start, window_end: the span the alerts and outages were taken from (the run's
            start and end, with a margin).
        generated: when the report was made (not sealed).
        version: the MeterLab version that made it (not sealed).
    """

    record: RunRecord
    context: ReportContext
    alerts: tuple[AlertRow, ...] = ()
    outages: tuple[OutageRow, ...] = ()
    window_start: datetime | None = None
    window_end: datetime | None = None
    generated: datetime | None = None
    version: str = ""
    events_total: int = 0  # every event of the window (the alerts are a part of them)
    #: The workstation holding the evidence files and events (shared lab store only; not sealed).
    evidence_workstation: str = ""
    #: False when the report was built on another workstation than `evidence_workstation`: the
    #: alerts and outages are then the sealed copy, and `events_total` is not known.
    evidence_here: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    def canonical(self) -> dict[str, Any]:
        """The sealed content: plain JSON values only, times in UTC."""
        record = _plain(self.record.to_dict())
        record.pop("seal", None)
        record.pop("owner", None)
        # Where the evidence is kept is not what it proves (its SHA-256 is sealed).
        record.pop("workstation", None)
        return {
            "format": SEAL_FORMAT,
            "run": record,
            "context": _plain(self.context.__dict__),
            "window": [_plain(self.window_start), _plain(self.window_end)],
            "alerts": [_plain(a.__dict__) for a in self.alerts],
            "outages": [_plain(o.__dict__) for o in self.outages],
            "evidence_sha256": sorted(e.sha256 for e in self.record.evidence),
        }

    def seal(self) -> str:
        return seal_of(self.canonical())


def canonical_json(value: Any) -> bytes:
    """JSON with sorted keys, no spaces, UTF-8: the same bytes for the same content."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def seal_of(canonical: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(canonical)).hexdigest()


def _plain(value: Any) -> Any:
    """`value` as plain JSON: instants in UTC ISO-8601, floats finite (else text), tuples as
    lists, enums as their value."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat() if value.tzinfo else value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if hasattr(value, "value") and not isinstance(value, bool | int | str):
        return _plain(value.value)
    return value
