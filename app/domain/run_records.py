"""Stored test runs as they are read back: the whole record of one run, and a line of the history.

A record is what was written while the run executed: the plan (name, version, SHA-256 and text),
the parameters, the bench, booking and organisation, the devices as they were at the start, every
step with its measurements, the capture sessions that are its evidence, and the verdict (None
while the run is still executing).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.domain.runs import StepResult, Verdict


@dataclass(frozen=True)
class RunDevice:
    """A device under test as it was when the run started."""

    label: str
    kind: str
    device_id: str = ""
    mpxn: str = ""
    manufacturer: str = ""
    model: str = ""
    firmware: str = ""
    device_ref: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "kind": self.kind, "device_id": self.device_id,
                "mpxn": self.mpxn, "manufacturer": self.manufacturer, "model": self.model,
                "firmware": self.firmware, "device_ref": self.device_ref}


@dataclass(frozen=True)
class RunEvidence:
    """A capture session of the run: which device, which file, how many bytes, its SHA-256."""

    capture_session_id: int
    device: str
    path: str
    bytes: int
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        return {"capture_session_id": self.capture_session_id, "device": self.device,
                "path": self.path, "bytes": self.bytes, "sha256": self.sha256}


@dataclass(frozen=True)
class RunStart:
    """Everything known when a run starts."""

    plan_name: str
    plan_version: str
    plan_sha256: str
    plan_source: str
    parameters: Mapping[str, Any]
    bench: str
    started: datetime
    emulated: bool
    operator: str = ""
    booking_id: int | None = None
    org_id: int | None = None
    lab_id: int | None = None
    devices: tuple[RunDevice, ...] = ()
    step_names: tuple[str, ...] = ()
    faults: tuple[str, ...] = ()
    time_scale: float = 1.0


@dataclass(frozen=True)
class RunResult:
    """How the run ended."""

    run_id: int
    verdict: Verdict
    ended: datetime
    steps: tuple[StepResult, ...]
    evidence: tuple[RunEvidence, ...] = ()
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "verdict": self.verdict.value,
                "steps": [s.to_dict() for s in self.steps], "message": self.message}


@dataclass(frozen=True)
class RunRecord:
    """Everything stored about one run.

    Attributes:
        verdict: None while the run executes (or until start-up recovery closes a run whose
            process died).
        org_name: the organisation's name now (looked up when the record is read).
        owner: "host:pid" of the process that executed (or executes) the run.
        workstation: the workstation that executed the run and holds its evidence (its
            capture files and the events of its window); "" if not recorded.
    """

    id: int
    plan_name: str
    plan_version: str
    plan_sha256: str
    plan_source: str
    parameters: Mapping[str, Any]
    bench: str
    started: datetime
    emulated: bool
    ended: datetime | None = None
    verdict: Verdict | None = None
    message: str = ""
    operator: str = ""
    lab_id: int | None = None
    booking_id: int | None = None
    org_id: int | None = None
    org_name: str = ""
    faults: tuple[str, ...] = ()
    time_scale: float = 1.0
    step_names: tuple[str, ...] = ()
    steps: tuple[StepResult, ...] = ()
    devices: tuple[RunDevice, ...] = ()
    evidence: tuple[RunEvidence, ...] = ()
    seal: str | None = None
    owner: str = ""
    workstation: str = ""

    @property
    def running(self) -> bool:
        return self.verdict is None

    def to_dict(self) -> dict[str, Any]:
        """The run as JSON data: the object `run start` ends with, plus what the run recorded.
        Instants stay datetimes (the caller chooses how to show them)."""
        return {
            "run_id": self.id,
            "verdict": self.verdict.value if self.verdict is not None else None,
            "steps": [s.to_dict() for s in self.steps],
            "message": self.message,
            "plan": {"name": self.plan_name, "version": self.plan_version,
                     "sha256": self.plan_sha256},
            "parameters": dict(self.parameters),
            "bench": self.bench,
            "lab_id": self.lab_id,
            "booking": self.booking_id,
            "org": ({"id": self.org_id, "name": self.org_name}
                    if self.org_id is not None else None),
            "operator": self.operator,
            "emulated": self.emulated,
            "faults": list(self.faults),
            "time_scale": self.time_scale,
            "started": self.started,
            "ended": self.ended,
            "step_names": list(self.step_names),
            "devices": [d.to_dict() for d in self.devices],
            "evidence": [e.to_dict() for e in self.evidence],
            "workstation": self.workstation or None,
            **({"seal": self.seal} if self.seal else {}),
        }


@dataclass(frozen=True)
class RunSummary:
    """One line of the run history."""

    id: int
    plan_name: str
    plan_version: str
    bench: str
    started: datetime
    emulated: bool
    ended: datetime | None = None
    verdict: Verdict | None = None
    message: str = ""
    operator: str = ""
    booking_id: int | None = None
    org_id: int | None = None
    org_name: str = ""
    devices: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.id,
            "verdict": self.verdict.value if self.verdict is not None else None,
            "plan": {"name": self.plan_name, "version": self.plan_version},
            "bench": self.bench,
            "booking": self.booking_id,
            "org": ({"id": self.org_id, "name": self.org_name}
                    if self.org_id is not None else None),
            "operator": self.operator,
            "emulated": self.emulated,
            "started": self.started,
            "ended": self.ended,
            "message": self.message,
            "devices": list(self.devices),
        }
