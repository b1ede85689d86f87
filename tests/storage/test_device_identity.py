"""Migration m005: events, capture sessions and outages follow the device's stable id."""

from __future__ import annotations

import dataclasses
import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from app.domain.clock import FixedClock
from app.domain.devices import Device
from app.domain.events import DeviceEvent, EventKind
from app.domain.outages import Outage
from app.storage.db import open_database
from app.storage.devices import CaptureSessionRepo, DeviceRepo, EventStore
from app.storage.outages import OutageRepo

FIXTURES = Path(__file__).parent / "fixtures"
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def test_m004_rows_are_carried_over_by_label(tmp_path) -> None:
    """Fails before m005: there was no device_ref column."""
    copy = tmp_path / "m004.db"
    shutil.copy(FIXTURES / "schema_m004.db", copy)
    db = open_database(copy)
    rows = db.execute(
        "SELECT e.device, e.device_ref, d.id FROM events e LEFT JOIN devices d ON d.label = e.device"
    ).fetchall()
    assert rows and all(ref == dev_id and ref is not None for _, ref, dev_id in rows)
    sessions = db.execute("SELECT c.device_ref, d.id FROM capture_sessions c "
                          "LEFT JOIN devices d ON d.label = c.device").fetchall()
    assert sessions and all(ref == dev_id for ref, dev_id in sessions)
    assert db.execute("SELECT events_missing, events_restored FROM capture_sessions").fetchall() \
        == [(0, 0)] * len(sessions)
    indexes = {r[1] for r in db.execute("PRAGMA index_list(events)")}
    assert "idx_events_device_ref_host_time" in indexes
    assert "idx_events_device_host_time" not in indexes and len(indexes) == 2


def test_m005_fixture_has_a_row_in_every_table_and_the_new_columns_filled() -> None:
    raw = sqlite3.connect(FIXTURES / "schema_m005.db")
    names = [r[0] for r in raw.execute("SELECT name FROM _sqlite_migrations ORDER BY rowid")]
    assert names[-1] == "m005_device_ref_and_capture_evidence"
    for table in [r[0] for r in raw.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]:
        assert raw.execute(f"SELECT count(*) FROM [{table}]").fetchone()[0] > 0, table
    for table in ("events", "capture_sessions", "outages"):
        assert raw.execute(f"SELECT count(device_ref) FROM {table}").fetchone()[0] > 0, table
    assert raw.execute("SELECT count(*) FROM capture_sessions WHERE owner_pid IS NOT NULL "
                       "AND events_unstored > 0 AND rx_dropped_bytes > 0").fetchone()[0] == 1


def test_renaming_a_device_keeps_its_history(tmp_path) -> None:
    """Fails on the old code: history was looked up by the label, which a rename changes."""
    db = open_database(tmp_path / "r.db")
    clock = FixedClock(NOW)
    devices = DeviceRepo(db, clock)
    esme = devices.add(Device.create("Bench 1 ESME", "ESME"))
    other = devices.add(Device.create("Bench 2 ESME", "ESME"))
    sid = CaptureSessionRepo(db.conn).open("Bench 1 ESME", "/dev/x", "gbcs-hex", "", NOW)
    store = EventStore(db.conn)
    store.insert_many([
        DeviceEvent("Bench 1 ESME", EventKind.ALERT, NOW, {"alert_code": "8F35"}, None, sid,
                    esme.id),
        DeviceEvent("Bench 2 ESME", EventKind.ALERT, NOW, {"alert_code": "8F36"}, None, None,
                    other.id),
    ])
    OutageRepo(db.conn).upsert([Outage(id=1, bench="Bench 1", start=NOW,
                                       restore_alert_device="Bench 1 ESME")], NOW)
    renamed = devices.update(dataclasses.replace(esme, label="Meter A"))
    assert renamed.label == "Meter A" and renamed.id == esme.id
    history = store.list(device_ref=esme.id)
    assert [e.fields["alert_code"] for e in history] == ["8F35"]
    assert history[0].device_ref == esme.id and history[0].device == "Bench 1 ESME"
    assert CaptureSessionRepo(db.conn).get(sid)["device_ref"] == esme.id
    assert [o["id"] for o in OutageRepo(db.conn).list(device_ref=esme.id)] == [1]
    # A new session under the new label is the same device's.
    sid2 = CaptureSessionRepo(db.conn).open("Meter A", "/dev/x", "gbcs-hex", "", NOW)
    assert CaptureSessionRepo(db.conn).get(sid2)["device_ref"] == esme.id
