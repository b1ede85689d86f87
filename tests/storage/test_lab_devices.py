"""Migration m010 and the stand-ins of a lab store's devices in the bench store."""

from __future__ import annotations

import shutil
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from app.domain.clock import FixedClock
from app.domain.devices import Device, DeviceKind
from app.storage.db import open_database
from app.storage.devices import DeviceRepo
from app.storage.lab_devices import LabDeviceMap, stand_in_label
from app.storage.labstore import lab_store_key
from tests.conftest import NOW
from tests.storage.engines import engine  # noqa: F401 (a fixture: on both engines)

FIXTURES = Path(__file__).parent / "fixtures"
KEY = "postgresql://dbhost:5432/meterlab"


@pytest.mark.parametrize("fixture", sorted(p.name for p in FIXTURES.glob("*.db")))
def test_released_files_upgrade_to_an_empty_map_their_devices_untouched(tmp_path,
                                                                        fixture) -> None:
    copy = tmp_path / fixture
    shutil.copy(FIXTURES / fixture, copy)
    raw = sqlite3.connect(copy)
    has_devices = raw.execute("SELECT 1 FROM sqlite_master WHERE name = 'devices'").fetchone()
    devices = raw.execute("SELECT * FROM devices ORDER BY id").fetchall() if has_devices else []
    raw.close()
    db = open_database(copy)
    try:
        assert db.execute("SELECT count(*) FROM lab_devices").fetchone()[0] == 0
        assert db.execute("SELECT * FROM devices ORDER BY id").fetchall() == devices
        assert [c.name for c in db["lab_devices"].columns] == [
            "store", "lab_ref", "lab_created_at", "local_ref", "label", "device_id", "seen_at"]
        assert db["lab_devices"].foreign_keys[0].other_table == "devices"
    finally:
        db.conn.close()


def served(id_: int, label: str = "Bench 1 ESME", **changes: object) -> Device:
    return replace(Device(id=id_, label=label, kind=DeviceKind.ESME,
                          device_id="00-DB-12-34-56-78-90-A0", bench="Bench 1"), **changes)


@pytest.fixture
def bench(tmp_path):
    db = open_database(tmp_path / "bench.db")
    yield db
    db.conn.close()


def test_a_stand_in_follows_its_device_and_keeps_its_id(bench) -> None:
    stand_ins = LabDeviceMap(bench.conn, KEY)
    first = stand_ins.follow(served(7), "2026-01-01T00:00:00+00:00", NOW)
    again = stand_ins.follow(served(7, "Renamed", firmware="2.0"), "2026-01-01T00:00:00+00:00",
                             NOW)
    assert again == first
    row = bench.execute("SELECT label, firmware, connection_json FROM devices WHERE id = ?",
                        [first]).fetchone()
    assert row == (stand_in_label("Renamed", 7, first), "2.0", "{}")
    found = stand_ins.find("renamed")
    assert (found.local_ref, found.lab_ref, found.label) == (first, 7, "Renamed")
    assert stand_ins.find("7") == found == stand_ins.find("00-db-12-34-56-78-90-a0")
    assert stand_ins.find("Bench 1 ESME") is None
    assert stand_ins.lab_refs() == {first: 7}


def test_another_lab_store_and_a_recreated_database_get_stand_ins_of_their_own(bench) -> None:
    here = LabDeviceMap(bench.conn, KEY)
    first = here.follow(served(1), "2026-01-01T00:00:00+00:00", NOW)
    other = LabDeviceMap(bench.conn, "postgresql://otherhost:5432/meterlab")
    assert other.follow(served(1), "2026-01-01T00:00:00+00:00", NOW) != first
    # The database created again: its device 1 is another device.
    second = here.follow(served(1, "New meter"), "2026-06-01T00:00:00+00:00", NOW)
    assert second != first
    assert here.stand_in(1) == second
    # The earlier stand-in stays, with the earlier device's history.
    assert bench.execute("SELECT label FROM devices WHERE id = ?", [first]).fetchone()[0] == (
        stand_in_label("Bench 1 ESME", 1, first))
    # Not knowing when it was registered (the server gone), the current stand-in is kept.
    assert here.follow(served(1, "New meter"), None, NOW) == second


def test_a_stand_in_never_takes_a_label_of_the_files_own_registry(bench) -> None:
    repo = DeviceRepo(bench, FixedClock(NOW))
    own = repo.add(Device(label="Bench 1 ESME", kind=DeviceKind.ESME))
    local = LabDeviceMap(bench.conn, KEY).follow(served(own.id), None, NOW)
    assert local != own.id
    assert repo.find("Bench 1 ESME").id == own.id


@pytest.mark.parametrize(("url", "key"), [
    ("postgresql://meterlab@DBHost/meterlab", "postgresql://dbhost:5432/meterlab"),
    ("postgresql://other@dbhost:5433/meterlab", "postgresql://dbhost:5433/meterlab"),
    ("postgresql://meterlab@/lab?host=/run/PostgreSQL", "postgresql:///run/PostgreSQL:5432/lab"),
    ("postgresql://meterlab@/lab?host=/tmp/s&port=5999", "postgresql:///tmp/s:5999/lab"),
])
def test_a_lab_store_is_named_by_its_server_and_database(url, key) -> None:
    assert lab_store_key(url) == key


def test_registration_time_on_both_engines(engine) -> None:  # noqa: F811
    repo = DeviceRepo(engine.source, FixedClock(NOW))
    device = repo.add(Device(label="M", kind=DeviceKind.ESME))
    assert repo.registered_at(device.id) == "2026-11-25T10:00:00.000000+00:00"
    assert repo.registered_at(device.id + 1) is None
    assert repo.registered_at(-1) is None
