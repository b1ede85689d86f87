"""Records of test runs: the run, its steps and measurements, its devices and its evidence.

Part of the lab store: SQLAlchemy Core, on the workstation's SQLite file or the lab's PostgreSQL
server. Each write is one short transaction (`BEGIN IMMEDIATE` on SQLite). A run is written in pieces as it goes
(started, each step, finished), so that a process killed in the middle leaves what it had done;
start-up recovery closes such a run (see :mod:`app.services.runs.recovery`).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, delete, exists, func, insert, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite as sqlite_dialect
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
from app.storage.labstore import LabStore, lab_store
from app.storage.tables import (
    organisations,
    run_devices,
    run_evidence,
    run_measurements,
    run_seals,
    run_steps,
    runs,
)
from app.storage.timefmt import from_db, to_db

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


#: The largest id the lab store holds (64-bit on both engines).
_MAX_ID = 2**63 - 1


def _time(moment: datetime | None) -> str | None:
    return None if moment is None else to_db(moment)


def _upsert(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert `rows`, each replacing the row of its primary key if there is one."""
    if not rows:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite_dialect
    stmt = dialect.insert(table)
    keys = [c.name for c in table.primary_key.columns]
    stmt = stmt.on_conflict_do_update(
        index_elements=keys,
        set_={c.name: stmt.excluded[c.name] for c in table.columns if c.name not in keys})
    conn.execute(stmt, list(rows))


class RunRepo:
    """Writes and reads test runs.

    Args:
        db: the lab store: a :class:`LabStore`, the workstation's sqlite-utils Database, or its
            sqlite3 connection (with MeterLab's pragmas, :func:`app.storage.db.connect`).
        owner: the process recorded as executing the runs it starts (default: this one).
    """

    def __init__(self, db: sqlite3.Connection | Database | LabStore,
                 owner: ProcessOwner | None = None) -> None:
        self.store = lab_store(Database(db) if isinstance(db, sqlite3.Connection) else db)
        self.owner = owner or current_owner()

    # --- writing ------------------------------------------------------------------------------
    def start(self, start: RunStartLike) -> int:
        """Record a run that starts now, with its devices; returns its id."""
        o = self.owner
        with self.store.transaction() as conn:
            run_id = int(conn.execute(insert(runs).values(
                plan_name=start.plan_name, plan_version=start.plan_version,
                plan_sha256=start.plan_sha256, plan_source=start.plan_source,
                parameters_json=_json(dict(start.parameters)),
                step_names_json=_json(list(start.step_names)), bench=start.bench,
                lab_id=start.lab_id, booking_id=start.booking_id, org_id=start.org_id,
                operator=start.operator, emulated=int(start.emulated),
                faults_json=_json(list(start.faults)), time_scale=float(start.time_scale),
                started=to_db(start.started), message="", owner_host=o.host, owner_pid=o.pid,
                owner_started=o.started, workstation=o.host,
            )).inserted_primary_key[0])
            if start.devices:
                conn.execute(insert(run_devices), [
                    {"run_id": run_id, "seq": seq, "label": d.label, "kind": d.kind,
                     "device_id": d.device_id, "mpxn": d.mpxn, "manufacturer": d.manufacturer,
                     "model": d.model, "firmware": d.firmware, "device_ref": d.device_ref}
                    for seq, d in enumerate(start.devices)])
            write_audit(conn, to_db(start.started), start.operator or "unknown", "started",
                        "run", run_id, {"plan": start.plan_name, "version": start.plan_version,
                                        "bench": start.bench, "booking_id": start.booking_id,
                                        "org_id": start.org_id, "emulated": start.emulated,
                                        "faults": list(start.faults),
                                        "parameters": dict(start.parameters)})
        return run_id

    def record_step(self, run_id: int, step: StepResult) -> None:
        """Record a finished step and its measurements (a step recorded again is replaced)."""
        with self.store.transaction() as conn:
            self._write_step(conn, run_id, step)

    def add_evidence(self, run_id: int, items: Iterable[EvidenceLike]) -> None:
        """Record capture sessions of the run (the same session and file again is replaced)."""
        with self.store.transaction() as conn:
            self._write_evidence(conn, run_id, items)

    def _close(self, conn: Connection, run_id: int, verdict: str, ended: datetime,
               message: str) -> bool:
        """Give run `run_id` its verdict unless it has one (compare-and-set)."""
        return conn.execute(
            update(runs).where(runs.c.id == run_id, runs.c.verdict.is_(None))
            .values(verdict=verdict, ended=to_db(ended), message=message)).rowcount == 1

    def finish(self, result: RunResultLike) -> bool:
        """Record how a run ended, with all its steps and evidence, in one transaction.

        Only a run still without a verdict is finished (compare-and-set): a run closed already,
        by its process or by recovery, keeps its record.

        Returns:
            True if the run was finished now, False if it had a verdict already or does not
            exist (nothing is written then).
        """
        with self.store.transaction() as conn:
            if not self._close(conn, result.run_id, result.verdict.value, result.ended,
                               result.message):
                return False
            for step in result.steps:
                self._write_step(conn, result.run_id, step)
            self._write_evidence(conn, result.run_id, result.evidence)
            self._audit_end(conn, result.run_id, result.ended, "finished",
                            result.verdict.value, result.message)
        return True

    def _audit_end(self, conn: Connection, run_id: int, ended: datetime, action: str,
                   verdict: str, message: str) -> None:
        operator = conn.execute(select(runs.c.operator).where(runs.c.id == run_id)).scalar()
        write_audit(conn, to_db(ended), operator or "unknown", action, "run", run_id,
                    {"verdict": verdict, "message": message})

    def close_interrupted(self, run_id: int, ended: datetime, message: str) -> bool:
        """Close a run left without a verdict as ERROR (compare-and-set, like :meth:`finish`)."""
        with self.store.transaction() as conn:
            closed = self._close(conn, run_id, Verdict.ERROR.value, ended, message)
            if closed:
                self._audit_end(conn, run_id, ended, "closed_interrupted", Verdict.ERROR.value,
                                message)
        return closed

    def set_seal(self, run_id: int, seal: str, canonical_json: str, at: datetime) -> str | None:
        """Store the seal of run `run_id`'s report and the canonical JSON it is the SHA-256 of,
        unless the run has a seal already (compare-and-set: the first seal stays).

        Returns:
            The seal stored before (None if this call stored it).
        """
        with self.store.transaction() as conn:
            stored = conn.execute(update(runs).where(runs.c.id == run_id, runs.c.seal.is_(None))
                                  .values(seal=seal)).rowcount == 1
            if stored:
                _upsert(conn, run_seals, [{"run_id": run_id, "seal": seal,
                                           "canonical_json": canonical_json,
                                           "sealed_at": to_db(at)}])
                return None
            row = conn.execute(select(runs.c.seal).where(runs.c.id == run_id)).first()
        if row is None:
            raise ValueError(f"there is no run {run_id}")
        return str(row[0])

    def sealed(self, run_id: int) -> tuple[str, str] | None:
        """(seal, canonical JSON) as stored when run `run_id`'s report was first sealed; None if
        it never was (or its canonical JSON was not kept)."""
        with self.store.reading() as conn:
            row = conn.execute(select(run_seals.c.seal, run_seals.c.canonical_json)
                               .where(run_seals.c.run_id == run_id)).first()
        return None if row is None else (str(row[0]), str(row[1]))

    def _write_step(self, conn: Connection, run_id: int, step: StepResult) -> None:
        _upsert(conn, run_steps, [{
            "run_id": run_id, "idx": step.index, "name": step.name, "kind": step.kind,
            "teardown": int(step.teardown), "outcome": step.outcome.value,
            "started": _time(step.started), "ended": _time(step.ended),
            "attempts": step.attempts, "message": step.message, "answer": step.answer}])
        conn.execute(delete(run_measurements).where(run_measurements.c.run_id == run_id,
                                                    run_measurements.c.step_idx == step.index))
        if step.measurements:
            conn.execute(insert(run_measurements), [
                {"run_id": run_id, "step_idx": step.index, "seq": seq, "name": m.name,
                 "value_json": _json(m.value), "unit": m.unit, "limits": m.limits,
                 "outcome": m.outcome.value, "note": m.note}
                for seq, m in enumerate(step.measurements)])

    def _write_evidence(self, conn: Connection, run_id: int,
                        items: Iterable[EvidenceLike]) -> None:
        # One row per key even if `items` repeats one (the last wins, as it replaced before).
        rows = {(e.capture_session_id, e.path): {
            "run_id": run_id, "capture_session_id": e.capture_session_id, "device": e.device,
            "path": e.path, "bytes": e.bytes, "sha256": e.sha256} for e in items}
        _upsert(conn, run_evidence, list(rows.values()))

    # --- reading ------------------------------------------------------------------------------
    def get(self, run_id: int, org_scope: int | None = None) -> RunRecord | None:
        """The whole record of run `run_id`, or None if there is none (with `org_scope`: none
        of that organisation, so another organisation's run is indistinguishable from none)."""
        if not 0 <= run_id <= _MAX_ID:
            return None
        r = runs.c
        query = (select(r.id, r.plan_name, r.plan_version, r.plan_sha256, r.plan_source,
                        r.parameters_json, r.bench, r.started, r.emulated, r.ended, r.verdict,
                        r.message, r.operator, r.lab_id, r.booking_id, r.org_id,
                        organisations.c.name, r.faults_json, r.time_scale, r.step_names_json,
                        r.seal, r.owner_host, r.owner_pid, r.workstation)
                 .select_from(runs.outerjoin(organisations, organisations.c.id == r.org_id))
                 .where(r.id == run_id))
        with self.store.reading() as conn:
            row = conn.execute(query).first()
            if row is None or (org_scope is not None and row[15] != org_scope):
                return None
            (rid, plan_name, plan_version, plan_sha, plan_source, params, bench, started,
             emulated, ended, verdict, message, operator, lab_id, booking_id, org_id, org_name,
             faults, time_scale, step_names, seal, owner_host, owner_pid, workstation) = row
            return RunRecord(
                id=rid, plan_name=plan_name, plan_version=plan_version or "",
                plan_sha256=plan_sha or "", plan_source=plan_source or "",
                parameters=json.loads(params or "{}"), bench=bench,
                started=_required(from_db(started)), emulated=bool(emulated),
                ended=from_db(ended), verdict=Verdict(verdict) if verdict else None,
                message=message or "", operator=operator or "", lab_id=lab_id,
                booking_id=booking_id, org_id=org_id, org_name=org_name or "",
                faults=tuple(json.loads(faults or "[]")),
                time_scale=1.0 if time_scale is None else float(time_scale),
                step_names=tuple(json.loads(step_names or "[]")),
                steps=self._steps(conn, rid), devices=self._devices(conn, rid),
                evidence=self._evidence(conn, rid), seal=seal,
                owner=f"{owner_host}:{owner_pid}" if owner_host else "",
                workstation=workstation or "",
            )

    def plan_names(self, org_scope: int | None = None) -> list[str]:
        """The names of the plans runs were made of (of `org_scope`'s runs only, if given),
        sorted."""
        query = select(runs.c.plan_name).distinct()
        if org_scope is not None:
            query = query.where(runs.c.org_id == org_scope)
        with self.store.reading() as conn:
            return sorted(str(name) for (name,) in conn.execute(query).all() if name)

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
        r = runs.c
        where: list[Any] = []
        if org_scope is not None:
            where.append(r.org_id == org_scope)
        if org_id is not None:
            where.append(r.org_id == org_id)
        if bench is not None:
            where.append(r.bench == bench)
        if plan is not None:
            where.append(r.plan_name == plan)
        if verdict is not None:
            where.append(r.verdict == Verdict(verdict).value)
        if device is not None:
            d = run_devices.c
            where.append(exists().where(d.run_id == r.id,
                                        (d.label == device) | (d.device_id == device)))
        query = (select(r.id, r.plan_name, r.plan_version, r.bench, r.started, r.emulated,
                        r.ended, r.verdict, r.message, r.operator, r.booking_id, r.org_id,
                        organisations.c.name)
                 .select_from(runs.outerjoin(organisations, organisations.c.id == r.org_id))
                 .where(*where).order_by(r.started.desc(), r.id.desc()).limit(int(limit)))
        with self.store.reading() as conn:
            rows = conn.execute(query).all()
            labels: dict[int, list[str]] = {row[0]: [] for row in rows}
            if rows:
                for run_id, label in conn.execute(
                        select(run_devices.c.run_id, run_devices.c.label)
                        .where(run_devices.c.run_id.in_(list(labels)))
                        .order_by(run_devices.c.run_id, run_devices.c.seq)):
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
        r = runs.c
        last = (select(func.max(run_steps.c.ended)).where(run_steps.c.run_id == r.id)
                .scalar_subquery())
        query = (select(r.id, r.bench, r.started, last, r.owner_host, r.owner_pid,
                        r.owner_started).where(r.verdict.is_(None)).order_by(r.id))
        with self.store.reading() as conn:
            rows = conn.execute(query).all()
        return [
            OpenRun(id=rid, bench=bench, started=_required(from_db(started)),
                    last_step_end=from_db(last_end),
                    owner=(ProcessOwner(host, int(pid), started_token or "")
                           if host and pid is not None else None))
            for rid, bench, started, last_end, host, pid, started_token in rows
        ]

    def neighbours_on_bench(self, run_id: int) -> tuple[datetime | None, datetime | None]:
        """(end of the bench's run before run `run_id`, start of the bench's run after it):
        None where there is none (or the one before has not ended)."""
        r, p, n = runs, runs.alias("p"), runs.alias("n")
        before = (select(func.max(p.c.ended)).where(
            p.c.bench == r.c.bench, p.c.started < r.c.started, p.c.id != r.c.id)
            .scalar_subquery())
        after = (select(func.min(n.c.started)).where(
            n.c.bench == r.c.bench, n.c.started > r.c.started, n.c.id != r.c.id)
            .scalar_subquery())
        with self.store.reading() as conn:
            row = conn.execute(select(before, after).where(r.c.id == run_id)).first()
        return (None, None) if row is None else (from_db(row[0]), from_db(row[1]))

    @staticmethod
    def _steps(conn: Connection, run_id: int) -> tuple[StepResult, ...]:
        m = run_measurements.c
        measurements: dict[int, list[MeasurementResult]] = {}
        for idx, name, value, unit, limits, outcome, note in conn.execute(
                select(m.step_idx, m.name, m.value_json, m.unit, m.limits, m.outcome, m.note)
                .where(m.run_id == run_id).order_by(m.step_idx, m.seq)):
            measurements.setdefault(idx, []).append(MeasurementResult(
                name, json.loads(value) if value is not None else None, unit or "",
                limits or "", MeasurementOutcome(outcome), note or ""))
        s = run_steps.c
        return tuple(
            StepResult(index=idx, name=name, kind=kind, outcome=StepOutcome(outcome),
                       started=from_db(started), ended=from_db(ended),
                       measurements=tuple(measurements.get(idx, ())), message=message or "",
                       attempts=attempts if attempts is not None else 1,
                       teardown=bool(teardown), answer=answer or "")
            for idx, name, kind, teardown, outcome, started, ended, attempts, message, answer
            in conn.execute(select(s.idx, s.name, s.kind, s.teardown, s.outcome, s.started,
                                   s.ended, s.attempts, s.message, s.answer)
                            .where(s.run_id == run_id).order_by(s.idx)))

    @staticmethod
    def _devices(conn: Connection, run_id: int) -> tuple[RunDevice, ...]:
        d = run_devices.c
        return tuple(
            RunDevice(label, kind, device_id or "", mpxn or "", manufacturer or "", model or "",
                      firmware or "", device_ref)
            for label, kind, device_id, mpxn, manufacturer, model, firmware, device_ref
            in conn.execute(select(d.label, d.kind, d.device_id, d.mpxn, d.manufacturer,
                                   d.model, d.firmware, d.device_ref)
                            .where(d.run_id == run_id).order_by(d.seq)))

    @staticmethod
    def _evidence(conn: Connection, run_id: int) -> tuple[RunEvidence, ...]:
        e = run_evidence.c
        return tuple(
            RunEvidence(sid, device or "", path or "", size or 0, sha or "")
            for sid, device, path, size, sha in conn.execute(
                select(e.capture_session_id, e.device, e.path, e.bytes, e.sha256)
                .where(e.run_id == run_id).order_by(e.capture_session_id, e.path)))


def _required(moment: datetime | None) -> datetime:
    if moment is None:  # NOT NULL in the schema
        raise ValueError("a stored run lacks its start time")
    return moment
