"""The desktop's devices running from a lab store on a real PostgreSQL server: the manager
records them in the workstation's SQLite bench store under their stand-ins."""

from __future__ import annotations

import sqlite3
import time

import pytest

from app.domain.clock import SystemClock
from app.services.lab_store_devices import StandIns
from app.services.runtime import DEMO_DEVICES, DeviceRuntime
from app.storage.db import open_database
from app.storage.devices import DeviceRepo
from app.storage.labstore import lab_store_key, open_lab_store

pytestmark = pytest.mark.timeout(60)


def wait_for(cond, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_the_manager_records_a_lab_store_device_under_its_stand_in(pg_url, tmp_path) -> None:
    db = tmp_path / "bench.db"
    local = open_database(db)
    # The file's own registry holds a device whose id the server's device will also have.
    from app.domain.devices import Device, DeviceKind

    own = DeviceRepo(local, SystemClock()).add(Device(label="Old meter", kind=DeviceKind.ESME))
    local.conn.close()
    store = open_lab_store(pg_url)
    try:
        hub = next(d for d in DEMO_DEVICES if d.label == "Bench 1 Comms Hub")
        served = DeviceRepo(store, SystemClock()).add(hub)
        assert served.id == own.id
        runtime = DeviceRuntime(SystemClock(), db, tmp_path / "cap", devices=[served],
                                device_refs=StandIns(db, store, lab_store_key(pg_url),
                                                     SystemClock()))
        runtime.start(with_emulator=True)
        try:
            runtime.manager.connect(served)
            wait_for(lambda: (runtime.manager.health(served.label).events or 0) >= 2)
            runtime.manager.disconnect(served.label)
        finally:
            runtime.stop()
    finally:
        store.close()
    conn = sqlite3.connect(db)
    try:
        [(stand_in, lab_ref)] = conn.execute("SELECT local_ref, lab_ref FROM lab_devices")
        assert lab_ref == served.id and stand_in != own.id
        assert conn.execute("SELECT device, device_ref FROM capture_sessions").fetchall() == [
            ("Bench 1 Comms Hub", stand_in)]
        assert conn.execute("SELECT DISTINCT device_ref FROM events").fetchall() == [(stand_in,)]
    finally:
        conn.close()
