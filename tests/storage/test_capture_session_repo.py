"""CaptureSessionRepo: opening, closing, the owner, and what the record says is missing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.domain.devices import Device
from app.domain.errors import NotFoundError
from app.storage.capture_sessions import ProcessOwner, current_owner
from app.storage.db import open_database
from app.storage.devices import CaptureSessionRepo, DeviceRepo

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


@pytest.fixture
def db(tmp_path):
    return open_database(tmp_path / "s.db")


def test_open_records_owner_and_registered_device(db, clock) -> None:
    ref = DeviceRepo(db, clock).add(Device.create("CH 1", "CHF")).id
    repo = CaptureSessionRepo(db.conn, ProcessOwner("ws-1", 77, "900"))
    sid = repo.open("CH 1", "/dev/ttyUSB0", "gbcs-hex", "", T0)
    unregistered = repo.open("/dev/ttyUSB1", "/dev/ttyUSB1", "gbcs-hex", "", T0)
    row = repo.get(sid)
    assert row["device_ref"] == ref and row["ended_at"] is None
    assert (row["owner_host"], row["owner_pid"], row["owner_started"]) == ("ws-1", 77, "900")
    assert (row["events_missing"], row["events_restored"]) == (0, 0)
    assert repo.get(unregistered)["device_ref"] is None
    repo.set_path(sid, "/cap/a.bin")
    assert next((s.id, s.capture_path, s.owner) for s in repo.open_sessions()) == (
        sid, "/cap/a.bin", ProcessOwner("ws-1", 77, "900"))


def test_close_records_counters_the_files_bytes_and_what_was_not_stored(db) -> None:
    repo = CaptureSessionRepo(db.conn)
    sid = repo.open("CH", "/dev/x", "gbcs-hex", "/cap/a.bin", T0)
    repo.close(sid, T0 + timedelta(minutes=1), "ab" * 32,
               {"bytes_in": 500, "bytes_out": 2, "frames": 9, "errors": 1,
                "rx_dropped_bytes": 40, "state": "failed"},
               "failed", bytes_in_file=300, events_unstored=5, end_reason="capture disk full")
    row = repo.get(sid)
    assert row["bytes_in"] == 300 and row["rx_dropped_bytes"] == 40
    assert (row["events_unstored"], row["events_missing"]) == (5, 1)
    assert row["end_state"] == "failed" and row["end_reason"] == "capture disk full"
    assert repo.open_sessions() == []
    repo.record_restored(sid, 5)
    row = repo.get(sid)
    assert (row["events_missing"], row["events_restored"]) == (0, 5)


def test_close_without_loss_leaves_nothing_missing(db) -> None:
    repo = CaptureSessionRepo(db.conn)
    sid = repo.open("CH", "/dev/x", "gbcs-hex", "", T0)
    repo.close(sid, T0, "cd" * 32, {"bytes_in": 10}, "disconnected")
    row = repo.get(sid)
    assert (row["bytes_in"], row["events_unstored"], row["events_missing"]) == (10, 0, 0)
    assert row["rx_dropped_bytes"] == 0 and row["end_reason"] is None


def test_close_interrupted_touches_only_open_sessions(db) -> None:
    repo = CaptureSessionRepo(db.conn, current_owner())
    closed = repo.open("CH", "/dev/x", "gbcs-hex", "", T0)
    repo.close(closed, T0, "ef" * 32, {"bytes_in": 1}, "disconnected")
    repo.close_interrupted(closed, T0, 99, None, "interrupted")
    assert repo.get(closed)["end_state"] == "disconnected"
    left = repo.open("CH", "/dev/x", "gbcs-hex", "", T0)
    repo.close_interrupted(left, T0, 99, "12" * 32, "interrupted: test")
    row = repo.get(left)
    assert (row["end_state"], row["bytes_in"], row["events_missing"]) == ("interrupted", 99, 1)
    assert row["events_unstored"] is None


def test_unknown_session_is_not_found(db) -> None:
    with pytest.raises(NotFoundError) as caught:
        CaptureSessionRepo(db.conn).get(42)
    assert caught.value.field == "session"
