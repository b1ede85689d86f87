"""Start-up recovery of test runs whose process ended in the middle (``kill -9``, a power cut).

Such a run has no verdict. It is closed as ERROR (the bench, not the device, failed to finish the
test), ending at its last recorded step's end, or at its start if no step was recorded. Runs
executed right now by another MeterLab on this workstation, or by any process on another machine
sharing the database, are left alone: only an owner known to be gone lets a run be closed.

The runs are in the lab store (the workstation's file, or the lab's server shared by every
workstation, where only this workstation's dead processes' runs are closed); the capture
sessions that become a closed run's evidence are in this workstation's bench store.
"""

from __future__ import annotations

import logging
import sqlite3
from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError

from app.services.runs.api import RunEvidenceItem
from app.storage.capture_sessions import (
    CaptureSessionRepo,
    ProcessOwner,
    current_owner,
    owner_is_gone,
)
from app.storage.db import DatabaseError
from app.storage.labstore import LabStore
from app.storage.runs import OpenRun, RunRepo

logger = logging.getLogger(__name__)

INTERRUPTED_MESSAGE = "interrupted: MeterLab stopped during the run"


def close_interrupted_runs(conn: sqlite3.Connection, now: datetime,
                           here: ProcessOwner | None = None,
                           store: LabStore | None = None) -> int:
    """Close every run left without a verdict by a process that no longer runs.

    Args:
        conn: the workstation's database (its bench store, and its lab store unless `store`
            is given).
        now: when recovery runs (logged; the run's end is taken from what it recorded).
        here: this process (default: the current one), whose own runs are never touched.
        store: the lab store holding the runs (None: the file's). On a server shared by the
            lab's workstations only runs of this workstation's processes can be closed.

    Returns:
        How many runs were closed. A database that cannot be written is logged and skipped:
        recovery never keeps MeterLab from starting, and is tried again at the next start.
    """
    me = here or current_owner()
    repo = RunRepo(store if store is not None else conn, me)
    closed = 0
    try:
        for run in repo.open_runs():
            if not _abandoned(run, me):
                continue
            ended = run.last_step_end or run.started
            message = (f"{INTERRUPTED_MESSAGE}; check that {run.bench}'s supply is on (the "
                       f"run may have ended with it cut)")
            if repo.close_interrupted(run.id, ended, message):
                closed += 1
                evidence = _capture_sessions(conn, repo, run.id, run.started, run.owner)
                if evidence:
                    repo.add_evidence(run.id, evidence)
                logger.warning("run %d on %s was left unfinished by a process that ended; "
                               "closed as ERROR at %s (noticed %s)", run.id, run.bench,
                               ended.isoformat(), now.isoformat())
    except (sqlite3.Error, DatabaseError, SQLAlchemyError) as exc:
        logger.error("runs left unfinished could not be closed: %s", exc)
    return closed


def _capture_sessions(conn: sqlite3.Connection, repo: RunRepo, run_id: int, started: datetime,
                      owner: ProcessOwner | None) -> list[RunEvidenceItem]:
    """The capture sessions the run's process held for its devices from its start on: its
    evidence, kept though the run could not list it itself (recovery has closed them by now).
    The run's devices are read from the lab store (`repo`), the sessions from the bench store
    (`conn`)."""
    if owner is None:
        return []
    record = repo.get(run_id)
    labels = [d.label for d in record.devices] if record is not None else []
    mine = {row[0] for row in conn.execute(
        "SELECT id FROM capture_sessions WHERE owner_host = ? AND owner_pid = ?",
        (owner.host, owner.pid))}
    repo = CaptureSessionRepo(conn)
    items = []
    for label in labels:
        for row in repo.list(device=label):
            ended = row["ended_at"]
            if int(row["id"]) not in mine or (ended is not None and ended < started):
                continue
            items.append(RunEvidenceItem(int(row["id"]), str(row["device"]),
                                         str(row.get("capture_path") or ""),
                                         int(row.get("bytes_in") or 0), str(row["sha256"] or "")))
    return sorted(items, key=lambda e: e.capture_session_id)


def _abandoned(run: OpenRun, me: ProcessOwner) -> bool:
    # Every run row records its owner; one without (written by hand or damaged) cannot belong
    # to a live process that would ever finish it.
    return run.owner is None or owner_is_gone(run.owner, me)
