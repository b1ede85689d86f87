"""Records of test runs: the run, its steps and measurements, its devices and its evidence.

Each write is one short `BEGIN IMMEDIATE` transaction. A run is written in pieces as it goes
(started, each step, finished), so that a process killed in the middle leaves what it had done;
start-up recovery closes such a run (see :mod:`app.services.runs.recovery`).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from app.domain.run_records import (
    RunDevice,
    RunEvidence,
    RunRecord,
    RunResult,
    RunStart,
    RunSummary,
)
from app.domain.runs import (
    MeasurementOutcome,
    MeasurementResult,
    StepOutcome,
    StepResult,
    Verdict,
)
from app.storage.audit import write_audit
from app.storage.capture_sessions import ProcessOwner, current_owner
from app.storage.timefmt import from_db, to_db
from app.storage.transactions import write_transaction

# What the store writes are the domain's own records (storage does not import services).
DeviceLike = RunDevice
EvidenceLike = RunEvidence
RunStartLike = RunStart
RunResultLike = RunResult


@dataclass(frozen=True)
class OpenRun:
    """A run without a verdict: executing now, or left by a process that died.

    Attributes:
        last_step_end: the end of the last step recorded, None if no step was.
        owner: the process executing it; None if not recorded.
    """

    id: int
    bench: str
    started: datetime
    last_step_end: datetime | None
    owner: ProcessOwner | None


def _json(value: Any) -> str:
    return json.dumps(value, default=_json_default, sort_keys=False)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return to_db(value)
    return str(value)


def _time(moment: datetime | None) -> str | None:
    return None if moment is None else to_db(moment)


class RunRepo:
    """Writes and reads test runs.

    Args:
        conn: a connection with MeterLab's pragmas (:func:`app.storage.db.connect`).
        owner: the process recorded as executing the runs it starts (default: this one).
    """

    def __init__(self, conn: sqlite3.Connection, owner: ProcessOwner | None = None) -> None:
        self.conn = conn
        self._db = Database(conn)
        self.owner = owner or current_owner()

    # --- writing ------------------------------------------------------------------------------
    def start(self, start: RunStartLike) -> int:
        """Record a run that starts now, with its devices; returns its id."""
        o = self.owner
        with write_transaction(self._db):
            cur = self.conn.execute(
                "INSERT INTO runs (plan_name, plan_version, plan_sha256, plan_source, "
                "parameters_json, step_names_json, bench, lab_id, booking_id, org_id, operator, "
                "emulated, faults_json, time_scale, started, message, owner_host, owner_pid, "
                "owner_started) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,'',?,?,?)",
                (start.plan_name, start.plan_version, start.plan_sha256, start.plan_source,
                 _json(dict(start.parameters)), _json(list(start.step_names)), start.bench,
                 start.lab_id, start.booking_id, start.org_id, start.operator,
                 int(start.emulated), _json(list(start.faults)), float(start.time_scale),
                 to_db(start.started), o.host, o.pid, o.started))
            run_id = int(cur.lastrowid or 0)
            self.conn.executemany(
                "INSERT INTO run_devices (run_id, seq, label, kind, device_id, mpxn, "
                "manufacturer, model, firmware, device_ref) VALUES (?,?,?,?,?,?,?,?,?,?)",
                [(run_id, seq, d.label, d.kind, d.device_id, d.mpxn, d.manufacturer, d.model,
                  d.firmware, d.device_ref) for seq, d in enumerate(start.devices)])
            write_audit(self._db, to_db(start.started), start.operator or "unknown", "started",
                        "run", run_id, {"plan": start.plan_name, "version": start.plan_version,
                                        "bench": start.bench, "booking_id": start.booking_id,
                                        "org_id": start.org_id, "emulated": start.emulated,
                                        "faults": list(start.faults),
                                        "parameters": dict(start.parameters)})
        return run_id

    def record_step(self, run_id: int, step: StepResult) -> None:
        """Record a finished step and its measurements (a step recorded again is replaced)."""
        with write_transaction(self._db):
            self._write_step(run_id, step)

    def add_evidence(self, run_id: int, items: Iterable[EvidenceLike]) -> None:
        """Record capture sessions of the run (the same session and file again is replaced)."""
        with write_transaction(self._db):
            self._write_evidence(run_id, items)

    def finish(self, result: RunResultLike) -> bool:
        """Record how a run ended, with all its steps and evidence, in one transaction.

        Only a run still without a verdict is finished (compare-and-set): a run closed already,
        by its process or by recovery, keeps its record.

        Returns:
            True if the run was finished now, False if it had a verdict already or does not
            exist (nothing is written then).
        """
        with write_transaction(self._db):
            cur = self.conn.execute(
                "UPDATE runs SET verdict = ?, ended = ?, message = ? "
                "WHERE id = ? AND verdict IS NULL",
                (result.verdict.value, to_db(result.ended), result.message, result.run_id))
            if cur.rowcount != 1:
                return False
            for step in result.steps:
                self._write_step(result.run_id, step)
            self._write_evidence(result.run_id, result.evidence)
            self._audit_end(result.run_id, result.ended, "finished", result.verdict.value,
                            result.message)
        return True

    def _audit_end(self, run_id: int, ended: datetime, action: str, verdict: str,
                   message: str) -> None:
        row = self.conn.execute("SELECT operator FROM runs WHERE id = ?", (run_id,)).fetchone()
        write_audit(self._db, to_db(ended), (row[0] if row else "") or "unknown", action, "run",
                    run_id, {"verdict": verdict, "message": message})

    def close_interrupted(self, run_id: int, ended: datetime, message: str) -> bool:
        """Close a run left without a verdict as ERROR (compare-and-set, like :meth:`finish`)."""
        with write_transaction(self._db):
            cur = self.conn.execute(
                "UPDATE runs SET verdict = ?, ended = ?, message = ? "
                "WHERE id = ? AND verdict IS NULL",
                (Verdict.ERROR.value, to_db(ended), message, run_id))
            if cur.rowcount == 1:
                self._audit_end(run_id, ended, "closed_interrupted", Verdict.ERROR.value, message)
        return cur.rowcount == 1

    def set_seal(self, run_id: int, seal: str, canonical_json: str, at: datetime) -> str | None:
        """Store the seal of run `run_id`'s report and the canonical JSON it is the SHA-256 of,
        unless the run has a seal already (compare-and-set: the first seal stays).

        Returns:
            The seal stored before (None if this call stored it).
        """
        with write_transaction(self._db):
            cur = self.conn.execute("UPDATE runs SET seal = ? WHERE id = ? AND seal IS NULL",
                                    (seal, run_id))
            if cur.rowcount == 1:
                self.conn.execute(
                    "INSERT OR REPLACE INTO run_seals (run_id, seal, canonical_json, sealed_at) "
                    "VALUES (?,?,?,?)", (run_id, seal, canonical_json, to_db(at)))
                return None
            row = self.conn.execute("SELECT seal FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise ValueError(f"there is no run {run_id}")
        return str(row[0])

    def sealed(self, run_id: int) -> tuple[str, str] | None:
        """(seal, canonical JSON) as stored when run `run_id`'s report was first sealed; None if
        it never was (or its canonical JSON was not kept)."""
        row = self.conn.execute("SELECT seal, canonical_json FROM run_seals WHERE run_id = ?",
                                (run_id,)).fetchone()
        return None if row is None else (str(row[0]), str(row[1]))

    def _write_step(self, run_id: int, step: StepResult) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO run_steps (run_id, idx, name, kind, teardown, outcome, "
            "started, ended, attempts, message, answer) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (run_id, step.index, step.name, step.kind, int(step.teardown), step.outcome.value,
             _time(step.started), _time(step.ended), step.attempts, step.message, step.answer))
        self.conn.execute("DELETE FROM run_measurements WHERE run_id = ? AND step_idx = ?",
                          (run_id, step.index))
        self.conn.executemany(
            "INSERT INTO run_measurements (run_id, step_idx, seq, name, value_json, unit, limits, "
            "outcome, note) VALUES (?,?,?,?,?,?,?,?,?)",
            [(run_id, step.index, seq, m.name, _json(m.value), m.unit, m.limits, m.outcome.value,
              m.note) for seq, m in enumerate(step.measurements)])

    def _write_evidence(self, run_id: int, items: Iterable[EvidenceLike]) -> None:
        self.conn.executemany(
            "INSERT OR REPLACE INTO run_evidence (run_id, capture_session_id, device, path, "
            "bytes, sha256) VALUES (?,?,?,?,?,?)",
            [(run_id, e.capture_session_id, e.device, e.path, e.bytes, e.sha256)
             for e in items])

    # --- reading ------------------------------------------------------------------------------
    def get(self, run_id: int, org_scope: int | None = None) -> RunRecord | None:
        """The whole record of run `run_id`, or None if there is none (with `org_scope`: none
        of that organisation, so another organisation's run is indistinguishable from none)."""
        row = self.conn.execute(
            "SELECT r.id, r.plan_name, r.plan_version, r.plan_sha256, r.plan_source, "
            "r.parameters_json, r.bench, r.started, r.emulated, r.ended, r.verdict, r.message, "
            "r.operator, r.lab_id, r.booking_id, r.org_id, o.name, r.faults_json, r.time_scale, "
            "r.step_names_json, r.seal, r.owner_host, r.owner_pid "
            "FROM runs r LEFT JOIN organisations o ON o.id = r.org_id WHERE r.id = ?",
            (run_id,)).fetchone()
        if row is None or (org_scope is not None and row[15] != org_scope):
            return None
        (rid, plan_name, plan_version, plan_sha, plan_source, params, bench, started, emulated,
         ended, verdict, message, operator, lab_id, booking_id, org_id, org_name, faults,
         time_scale, step_names, seal, owner_host, owner_pid) = row
        return RunRecord(
            id=rid, plan_name=plan_name, plan_version=plan_version or "",
            plan_sha256=plan_sha or "", plan_source=plan_source or "",
            parameters=json.loads(params or "{}"), bench=bench,
            started=_required(from_db(started)), emulated=bool(emulated), ended=from_db(ended),
            verdict=Verdict(verdict) if verdict else None, message=message or "",
            operator=operator or "", lab_id=lab_id, booking_id=booking_id, org_id=org_id,
            org_name=org_name or "", faults=tuple(json.loads(faults or "[]")),
            time_scale=1.0 if time_scale is None else float(time_scale),
            step_names=tuple(json.loads(step_names or "[]")), steps=self._steps(rid),
            devices=self._devices(rid), evidence=self._evidence(rid), seal=seal,
            owner=f"{owner_host}:{owner_pid}" if owner_host else "",
        )

    def list(self, org_id: int | None = None, bench: str | None = None,
             device: str | None = None, plan: str | None = None,
             verdict: Verdict | str | None = None, limit: int = 200,
             org_scope: int | None = None) -> list[RunSummary]:
        """Runs matching every filter given, newest first.

        Args:
            device: a device's label or its device id (EUI-64) as recorded in the run.
            plan: the plan's name.
            verdict: a :class:`Verdict` (runs still executing have none and match no verdict).
            org_scope: the organisation a participant may see (None: every organisation).
        """
        where, args = [], []
        if org_scope is not None:
            where.append("r.org_id = ?")
            args.append(org_scope)
        if org_id is not None:
            where.append("r.org_id = ?")
            args.append(org_id)
        if bench is not None:
            where.append("r.bench = ?")
            args.append(bench)
        if plan is not None:
            where.append("r.plan_name = ?")
            args.append(plan)
        if verdict is not None:
            where.append("r.verdict = ?")
            args.append(Verdict(verdict).value)
        if device is not None:
            where.append("EXISTS (SELECT 1 FROM run_devices d WHERE d.run_id = r.id AND "
                         "(d.label = ? OR d.device_id = ?))")
            args += [device, device]
        sql = ("SELECT r.id, r.plan_name, r.plan_version, r.bench, r.started, r.emulated, "
               "r.ended, r.verdict, r.message, r.operator, r.booking_id, r.org_id, o.name "
               "FROM runs r LEFT JOIN organisations o ON o.id = r.org_id"
               + (" WHERE " + " AND ".join(where) if where else "")
               + " ORDER BY r.started DESC, r.id DESC LIMIT ?")
        rows = self.conn.execute(sql, (*args, int(limit))).fetchall()
        labels: dict[int, list[str]] = {r[0]: [] for r in rows}
        if rows:
            marks = ",".join("?" * len(rows))
            for run_id, label in self.conn.execute(
                    f"SELECT run_id, label FROM run_devices WHERE run_id IN ({marks}) "
                    "ORDER BY run_id, seq", [r[0] for r in rows]):
                labels[run_id].append(label)
        return [
            RunSummary(id=rid, plan_name=name, plan_version=version or "", bench=b,
                       started=_required(from_db(started)), emulated=bool(emulated),
                       ended=from_db(ended), verdict=Verdict(v) if v else None,
                       message=message or "", operator=operator or "", booking_id=booking_id,
                       org_id=oid, org_name=org_name or "", devices=tuple(labels[rid]))
            for (rid, name, version, b, started, emulated, ended, v, message, operator,
                 booking_id, oid, org_name) in rows
        ]

    def open_runs(self) -> list[OpenRun]:
        """Runs without a verdict, oldest first, with the end of their last recorded step."""
        rows = self.conn.execute(
            "SELECT r.id, r.bench, r.started, "
            "(SELECT max(s.ended) FROM run_steps s WHERE s.run_id = r.id), "
            "r.owner_host, r.owner_pid, r.owner_started "
            "FROM runs r WHERE r.verdict IS NULL ORDER BY r.id").fetchall()
        return [
            OpenRun(id=rid, bench=bench, started=_required(from_db(started)),
                    last_step_end=from_db(last),
                    owner=(ProcessOwner(host, int(pid), started_token or "")
                           if host and pid is not None else None))
            for rid, bench, started, last, host, pid, started_token in rows
        ]

    def neighbours_on_bench(self, run_id: int) -> tuple[datetime | None, datetime | None]:
        """(end of the bench's run before run `run_id`, start of the bench's run after it):
        None where there is none (or the one before has not ended)."""
        row = self.conn.execute(
            "SELECT (SELECT max(p.ended) FROM runs p WHERE p.bench = r.bench "
            "AND p.started < r.started AND p.id != r.id), "
            "(SELECT min(n.started) FROM runs n WHERE n.bench = r.bench "
            "AND n.started > r.started AND n.id != r.id) FROM runs r WHERE r.id = ?",
            (run_id,)).fetchone()
        return (None, None) if row is None else (from_db(row[0]), from_db(row[1]))

    def _steps(self, run_id: int) -> tuple[StepResult, ...]:
        measurements: dict[int, list[MeasurementResult]] = {}
        for idx, name, value, unit, limits, outcome, note in self.conn.execute(
                "SELECT step_idx, name, value_json, unit, limits, outcome, note "
                "FROM run_measurements WHERE run_id = ? ORDER BY step_idx, seq", (run_id,)):
            measurements.setdefault(idx, []).append(MeasurementResult(
                name, json.loads(value) if value is not None else None, unit or "",
                limits or "", MeasurementOutcome(outcome), note or ""))
        return tuple(
            StepResult(index=idx, name=name, kind=kind, outcome=StepOutcome(outcome),
                       started=from_db(started), ended=from_db(ended),
                       measurements=tuple(measurements.get(idx, ())), message=message or "",
                       attempts=attempts if attempts is not None else 1,
                       teardown=bool(teardown), answer=answer or "")
            for idx, name, kind, teardown, outcome, started, ended, attempts, message, answer
            in self.conn.execute(
                "SELECT idx, name, kind, teardown, outcome, started, ended, attempts, message, "
                "answer FROM run_steps WHERE run_id = ? ORDER BY idx", (run_id,)))

    def _devices(self, run_id: int) -> tuple[RunDevice, ...]:
        return tuple(
            RunDevice(label, kind, device_id or "", mpxn or "", manufacturer or "", model or "",
                      firmware or "", device_ref)
            for label, kind, device_id, mpxn, manufacturer, model, firmware, device_ref
            in self.conn.execute(
                "SELECT label, kind, device_id, mpxn, manufacturer, model, firmware, device_ref "
                "FROM run_devices WHERE run_id = ? ORDER BY seq", (run_id,)))

    def _evidence(self, run_id: int) -> tuple[RunEvidence, ...]:
        return tuple(
            RunEvidence(sid, device or "", path or "", size or 0, sha or "")
            for sid, device, path, size, sha in self.conn.execute(
                "SELECT capture_session_id, device, path, bytes, sha256 FROM run_evidence "
                "WHERE run_id = ? ORDER BY capture_session_id, path", (run_id,)))


def _required(moment: datetime | None) -> datetime:
    if moment is None:  # NOT NULL in the schema
        raise ValueError("a stored run lacks its start time")
    return moment
