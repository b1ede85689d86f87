"""EventStore: batch inserts of any size, round trips, and lookups by device id and session."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.domain.events import DeviceEvent, EventKind
from app.storage.db import open_database
from app.storage.devices import EventStore

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def ev(i: int, ref: int | None = None, session: int | None = None) -> DeviceEvent:
    return DeviceEvent(f"dev{ref}", EventKind.LOG, T0 + timedelta(seconds=i), {"text": f"l{i}"},
                       T0 + timedelta(seconds=i, milliseconds=5), session, ref)


@pytest.fixture
def store(tmp_path) -> EventStore:
    return EventStore(open_database(tmp_path / "e.db").conn)


@pytest.mark.parametrize("n", [0, 1, 99, 100, 101, 250, 1000])
def test_insert_many_stores_every_event_whatever_the_batch_size(store, n) -> None:
    """Batch sizes around the 100-rows-a-statement grouping, each row stored once."""
    assert store.insert_many([ev(i) for i in range(n)]) == n
    assert store.count() == n
    texts = [e.fields["text"] for e in store.list(limit=n + 1)]
    assert texts == [f"l{i}" for i in range(n)]


def test_round_trip_keeps_times_fields_session_and_device_ref(store) -> None:
    alert = DeviceEvent("CH", EventKind.ALERT, T0, {"alert_code": "8F35", "severity": "critical"},
                        T0 - timedelta(seconds=2), None, 7)
    store.conn.execute("PRAGMA foreign_keys=OFF")  # device 7 / no session: rows alone
    store.insert_many([alert])
    (back,) = store.list()
    assert back == alert
    code = store.conn.execute("SELECT code FROM events").fetchone()[0]
    assert code == "8F35"


def test_list_by_device_ref_kind_and_since(store) -> None:
    store.conn.execute("PRAGMA foreign_keys=OFF")
    store.insert_many([ev(i, ref=1 + i % 2) for i in range(10)])
    assert [e.fields["text"] for e in store.list(device_ref=2)] == [f"l{i}" for i in range(1, 10, 2)]
    assert len(store.list(device_ref=1, since=T0 + timedelta(seconds=5))) == 2
    assert store.list(kind=EventKind.ALERT) == []
    plan = " ".join(r[3] for r in store.conn.execute(
        "EXPLAIN QUERY PLAN SELECT * FROM events WHERE device_ref = 1 ORDER BY host_time"))
    assert "idx_events_device_ref_host_time" in plan


def test_session_fingerprints_match_the_rows_written(store) -> None:
    store.conn.execute("PRAGMA foreign_keys=OFF")
    events = [ev(i, session=3) for i in range(3)] + [ev(9, session=4)]
    store.insert_many(events)
    got = store.session_fingerprints(3)
    assert [fp for fp, _host in got] == [EventStore.fingerprint(r) for r in EventStore.rows(events[:3])]
    assert got[0][1].startswith("2026-11-25T10:00:00")
