"""`meterlab audit list` on a real database: filters, newest first, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.cli import main
from tests.cli.helpers import dump


def run(capsys, db: Path, now: str, *args: str) -> tuple[int, object, str]:
    code = main(["--db", str(db), "--now", now, *args])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else None), err


@pytest.fixture
def trail(tmp_path, capsys) -> Path:
    """A lab on Monday by alice, an organisation and a person on Wednesday by bob."""
    db = tmp_path / "audit.db"
    monday, wednesday = "2026-11-23T09:00+00:00", "2026-11-25T10:00+00:00"
    assert run(capsys, db, monday, "--actor", "alice", "lab", "add", "--name", "Northampton",
               "--spaces", "10")[0] == 0
    assert run(capsys, db, wednesday, "--actor", "bob", "org", "add", "--name", "Acme")[0] == 0
    assert run(capsys, db, wednesday, "--actor", "bob", "person", "add", "--org", "Acme",
               "--name", "Ann", "--email", "ann@acme.example")[0] == 0
    return db


NOW = "2026-11-26T10:00+00:00"


def test_lists_everything_newest_first_with_london_times(trail, capsys) -> None:
    code, out, err = run(capsys, trail, NOW, "audit", "list")
    assert code == 0, err
    assert [(r["entity"], r["actor"], r["action"]) for r in out] == [
        ("person", "bob", "created"), ("organisation", "bob", "created"),
        ("lab", "alice", "created")]
    assert out[2]["at"] == "2026-11-23T09:00:00+00:00"
    assert out[0]["details"]["email"] == "ann@acme.example"
    assert isinstance(out[0]["entity_id"], int)


def test_filters_combine(trail, capsys) -> None:
    code, out, _ = run(capsys, trail, NOW, "audit", "list", "--actor", "bob")
    assert code == 0 and {r["actor"] for r in out} == {"bob"} and len(out) == 2
    code, out, _ = run(capsys, trail, NOW, "audit", "list", "--entity", "lab")
    assert code == 0 and [r["entity"] for r in out] == ["lab"]
    code, out, _ = run(capsys, trail, NOW, "audit", "list", "--since", "2026-11-24")
    assert code == 0 and {r["entity"] for r in out} == {"person", "organisation"}
    code, out, _ = run(capsys, trail, NOW, "audit", "list", "--since", "2026-11-25T10:00+00:00",
                       "--entity", "person", "--actor", "bob")
    assert code == 0 and [r["entity"] for r in out] == ["person"]
    code, out, _ = run(capsys, trail, NOW, "audit", "list", "--actor", "nobody")
    assert code == 0 and out == []
    code, out, _ = run(capsys, trail, NOW, "audit", "list", "--limit", "1")
    assert code == 0 and [r["entity"] for r in out] == ["person"]


@pytest.mark.parametrize(("args", "field"), [
    (("--since", "last week"), "--since"),
    (("--limit", "0"), "--limit"),
    (("--limit", "many"), "--limit"),
])
def test_bad_input_names_the_option_and_writes_nothing(trail, capsys, args, field) -> None:
    before = dump(trail)
    code, out, err = run(capsys, trail, NOW, "audit", "list", *args)
    assert code == 2 and out is None
    assert err.startswith(f"meterlab: {field}:") and err.count("\n") == 1
    assert dump(trail) == before


def test_other_commands_keep_their_own_actor_option(trail, capsys) -> None:
    code, out, err = run(capsys, trail, NOW, "org", "add", "--name", "Bolt", "--actor", "carol")
    assert code == 0, err
    code, out, _ = run(capsys, trail, NOW, "audit", "list", "--actor", "carol")
    assert code == 0 and [(r["entity"], r["details"].get("name")) for r in out] == [
        ("organisation", "Bolt")]


def test_runs_devices_and_acknowledgements_are_in_the_trail(tmp_path) -> None:
    """Not only bookings: a device registered, a run started and finished, an alert
    acknowledged each leave a row naming who and what."""
    from datetime import UTC, datetime

    from app.domain.clock import FixedClock
    from app.domain.devices import Device
    from app.domain.events import DeviceEvent, EventKind
    from app.domain.runs import Verdict
    from app.main import build_context
    from app.services.device_registry import DeviceRegistry
    from app.services.runs.api import RunResult, RunStart
    from app.storage.audit import list_audit
    from app.storage.devices import EventStore
    from app.storage.outages import AckRepo
    from app.storage.runs import RunRepo

    t0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    ctx = build_context(tmp_path / "lab.db", FixedClock(t0), "tester")
    try:
        DeviceRegistry(ctx.db, ctx.clock).add(Device.create("Spare ESME", "ESME"))
        repo = RunRepo(ctx.db.conn)
        run_id = repo.start(RunStart("power-outage", "1.0", "", "builtin:power-outage", {},
                                     "Bench 1", t0, True, operator="sam"))
        assert repo.finish(RunResult(run_id, Verdict.FAIL, t0, ()))
        EventStore(ctx.db.conn).insert_many([DeviceEvent("Spare ESME", EventKind.ALERT, t0,
                                                         {"alert_code": "8F35"})])
        event_id = ctx.db.conn.execute("SELECT max(id) FROM events").fetchone()[0]
        AckRepo(ctx.db.conn).acknowledge(event_id, "seen", "sam", t0)
        rows = {(r.entity, r.action): r for r in list_audit(ctx.db)}
    finally:
        ctx.close()
    assert rows[("device", "created")].details["label"] == "Spare ESME"
    assert rows[("run", "started")].actor == "sam"
    assert rows[("run", "finished")].details["verdict"] == "FAIL"
    assert rows[("alert", "acknowledged")].details == {"note": "seen"}
