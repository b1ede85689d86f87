"""The runs service on either lab store: the workstation's file, or a PostgreSQL server while the
file stays the bench store. Organisations, the history and the run records come from the lab
store, and the recorder writes there."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.domain.clock import FixedClock
from app.domain.participants import Organisation
from app.domain.runs import Verdict
from app.services.runs.api import RunResult
from app.services.runs.service import RunsService
from app.services.runtime import DEMO_DEVICES
from app.storage.capture_sessions import current_owner
from app.storage.db import open_database
from app.storage.labstore import LabStore, PostgresLabStore, lab_store
from app.storage.people import OrgRepo

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def service(request, tmp_path: Path) -> Iterator[tuple[RunsService, LabStore]]:
    path = tmp_path / "bench.db"
    db = open_database(path)
    server = (PostgresLabStore(request.getfixturevalue("pg_url"))
              if request.param == "postgresql" else None)
    store = server or lab_store(db)
    OrgRepo(store, FixedClock(NOW)).add(Organisation("Acme", ("IS",)))
    svc = RunsService(db, path, FixedClock(NOW), "tester", devices=DEMO_DEVICES, store=server)
    yield svc, store
    svc.close()
    db.conn.close()
    if server is not None:
        server.close()


def test_a_run_is_checked_recorded_and_read_in_the_lab_store(service) -> None:
    svc, store = service
    assert [name for _id, name in svc.organisations()] == ["Acme"]
    start = svc.prepare("power-outage", "Bench 1", org="acme").start
    assert start.org_id == svc.organisations()[0][0] and start.booking_id is None
    rid = svc.recorder.started(start)
    svc.recorder.finished(RunResult(rid, Verdict.PASS, NOW + timedelta(minutes=3), ()))
    assert svc.recorder.flush(30) and svc.recorder.unstored == 0
    assert [(r.id, r.org_name, r.verdict) for r in svc.history()] == [(rid, "Acme",
                                                                       Verdict.PASS)]
    record = svc.get(rid)
    assert record is not None and record.workstation == current_owner().host
    local = sqlite3.connect(svc.db_path)
    try:
        in_file = local.execute("SELECT count(*) FROM runs").fetchone()[0]
    finally:
        local.close()
    assert in_file == (1 if store.dialect == "sqlite" else 0)
