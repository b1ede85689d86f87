"""OutageRepo and AckRepo: upserts, the device an outage belongs to, filters, acknowledgements."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from app.domain.devices import Device
from app.domain.events import DeviceEvent, EventKind
from app.domain.outages import Outage
from app.storage.db import open_database
from app.storage.devices import DeviceRepo, EventStore
from app.storage.outages import AckRepo, OutageRepo

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


@pytest.fixture
def db(tmp_path):
    return open_database(tmp_path / "o.db")


def test_upsert_replaces_by_id_and_ties_the_outage_to_the_restoring_device(db, clock) -> None:
    esme = DeviceRepo(db, clock).add(Device.create("Bench 1 ESME", "ESME"))
    repo = OutageRepo(db.conn)
    repo.upsert([Outage(id=1, bench="Bench 1", start=T0)], T0)
    repo.upsert([Outage(id=1, bench="Bench 1", start=T0, end=T0 + timedelta(minutes=3),
                        restore_alert_device="Bench 1 ESME", restore_alert_code="8F35")], T0)
    (row,) = repo.list()
    assert row["end"] and row["restore_alert_code"] == "8F35" and row["device_ref"] == esme.id
    repo.upsert([Outage(id=2, bench="Bench 2", start=T0 + timedelta(days=1))], T0)
    assert [o["id"] for o in repo.list(bench="bench 2")] == [2]
    assert [o["id"] for o in repo.list(device_ref=esme.id)] == [1]
    assert [o["id"] for o in repo.list(day_from=date(2026, 11, 26))] == [2]
    assert [o["id"] for o in repo.list(day_to=date(2026, 11, 25))] == [1]
    assert repo.list(bench="Bench 1")[0]["device_ref"] == esme.id


def test_save_takes_ids_from_the_database_and_updates_what_it_stored(db, clock) -> None:
    esme = DeviceRepo(db, clock).add(Device.create("Bench 1 ESME", "ESME"))
    repo = OutageRepo(db.conn)
    repo.upsert([Outage(id=7, bench="Bench 9", start=T0)], T0)  # stored by another process
    stored: dict[int, int] = {}
    repo.save([Outage(id=1, bench="Bench 1", start=T0)], T0, stored)
    assert stored == {1: 8}  # the tracker's outage 1 is the database's 8
    repo.save([Outage(id=1, bench="Bench 1", start=T0, end=T0 + timedelta(minutes=3),
                      restore_alert_device="Bench 1 ESME", restore_alert_code="8F35")], T0, stored)
    assert stored == {1: 8}
    rows = {o["id"]: o for o in repo.list()}
    assert sorted(rows) == [7, 8]
    assert rows[8]["end"] and rows[8]["device_ref"] == esme.id and rows[7]["end"] is None


def test_acknowledgements_by_event(db) -> None:
    EventStore(db.conn).insert_many([DeviceEvent("CH", EventKind.ALERT, T0, {"alert_code": "8F35"})])
    event_id = db.conn.execute("SELECT id FROM events").fetchone()[0]
    acks = AckRepo(db.conn)
    assert acks.for_events([]) == {}
    acks.acknowledge(event_id, "seen", "tester", T0)
    acks.acknowledge(event_id, "seen again", "tester", T0)
    assert acks.for_events([event_id])[event_id]["note"] == "seen again"
