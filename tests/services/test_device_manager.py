"""Devices running through the manager against the demo emulator (ptys, and in-process)."""

from __future__ import annotations

import os
import sqlite3
import time

import pytest

from app.domain.clock import SystemClock
from app.domain.devices import Device, DeviceKind
from app.services.runtime import DEMO_DEVICES, DeviceRuntime
from app.storage.db import open_database
from devices.capture_file import sha256_of
from devices.sessions import SessionState
from tests.devices.small_disk import small_disk

pytestmark = pytest.mark.timeout(60)


def wait_for(cond, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


@pytest.fixture
def runtime(tmp_path):
    db = tmp_path / "m.db"
    open_database(db).conn.close()
    states: list[tuple[str, str, str]] = []
    rt = DeviceRuntime(SystemClock(), db, tmp_path / "cap", on_state=lambda l, s, r: states.append((l, s.value, r)))
    rt.start(with_emulator=True)
    rt.states = states  # type: ignore[attr-defined]
    rt.db = db  # type: ignore[attr-defined]
    yield rt
    rt.stop()


def test_demo_devices_connect_and_store_events(runtime) -> None:
    runtime.connect_all(list(DEMO_DEVICES))
    mgr = runtime.manager
    assert set(mgr.connected_labels()) == {"Bench 1 ESME", "Bench 1 Comms Hub", "Bench 1 relay"}
    wait_for(lambda: (mgr.health("Bench 1 Comms Hub").events or 0) >= 3)
    wait_for(lambda: (mgr.health("Bench 1 ESME").frames or 0) >= 2)
    assert mgr.health("Bench 1 Comms Hub").state is SessionState.CONNECTED
    assert mgr.raw("Bench 1 Comms Hub").since(0)
    mgr.send("Bench 1 relay", b"STATUS\r\n").result(timeout=5)
    wait_for(lambda: any(c.direction == "rx" for c in mgr.raw("Bench 1 relay").since(0)))
    mgr.disconnect("Bench 1 Comms Hub")
    runtime.writer.stop()
    conn = sqlite3.connect(runtime.db)
    path, sha = conn.execute(
        "SELECT capture_path, sha256 FROM capture_sessions WHERE device = 'Bench 1 Comms Hub'").fetchone()
    assert sha == sha256_of(path)
    assert conn.execute("SELECT count(*) FROM events WHERE device = 'Bench 1 Comms Hub'").fetchone()[0] >= 3
    readings = conn.execute("SELECT count(*) FROM events WHERE device = 'Bench 1 ESME' AND kind = 'reading'").fetchone()[0]
    assert readings >= 4


def test_in_process_simulation_without_ptys(runtime) -> None:
    runtime.emulator.ports.clear()  # as on a platform without pseudo-terminals
    hub = next(d for d in DEMO_DEVICES if d.label == "Bench 1 Comms Hub")
    runtime.manager.connect(hub)
    wait_for(lambda: (runtime.manager.health(hub.label).events or 0) >= 2)
    assert "emulated" in runtime.manager._sessions[hub.label].transport.description


def test_missing_port_is_a_failed_state_not_a_crash(runtime) -> None:
    dev = Device(label="Ghost", kind=DeviceKind.CHF,
                 connection={"transport": "serial", "port": "/dev/ttyUSB-nope", "protocol": "gbcs-hex"})
    runtime.manager.connect(dev)
    wait_for(lambda: runtime.manager.health("Ghost").state is SessionState.FAILED
             or any(s == "failed" for l, s, r in runtime.states if l == "Ghost"))
    reason = next(r for l, s, r in runtime.states if l == "Ghost" and s == "failed")
    assert "/dev/ttyUSB-nope" in reason
    runtime.manager.disconnect("Ghost")


def test_a_session_that_ends_by_itself_is_recorded_at_once(runtime, tmp_path) -> None:
    """A full capture disk ends the session; the manager closes and records it unasked."""
    master, slave = os.openpty()
    mgr = runtime.manager
    try:
        with small_disk(tmp_path / "small") as disk:
            mgr.capture_dir = disk
            hub = Device(label="Hub on a pty", kind=DeviceKind.CHF, id=None,
                         connection={"transport": "serial", "port": os.ttyname(slave),
                                     "protocol": "profile:emulator", "baud": 115200})
            mgr.connect(hub)
            wait_for(lambda: mgr.health(hub.label).state is SessionState.CONNECTED)
            line = b"2026-03-01T12:00:00Z INFO SYS heartbeat\r\n" * 20
            deadline = time.monotonic() + 20
            while hub.label in mgr.connected_labels() and time.monotonic() < deadline:
                os.write(master, line)
                time.sleep(0.005)
            assert hub.label not in mgr.connected_labels()  # noticed without a disconnect
            assert mgr.wait_finished(30)  # generous: the suite may share the machine
            health = mgr.health(hub.label)
            assert health.state is SessionState.FAILED
            assert health.reason.startswith("capture disk full: ")
            assert (hub.label, "failed", health.reason) in runtime.states
            conn = sqlite3.connect(runtime.db)
            path, sha, end_state, ended = conn.execute(
                "SELECT capture_path, sha256, end_state, ended_at FROM capture_sessions "
                "WHERE device = ?", (hub.label,)).fetchone()
            conn.close()
            assert (end_state, bool(ended)) == ("failed", True)
            assert sha == sha256_of(path)
            assert health.capture_bytes == os.path.getsize(path)
    finally:
        os.close(master)
        os.close(slave)


def test_manager_dialog_and_table_open_a_line_at_the_same_default_baud(runtime) -> None:
    """A relay board stored without a baud rate: every reader of the settings says 9600."""
    from ui.dialogs.device_form import DeviceForm
    from ui.widgets.device_table import describe_connection

    master, slave = os.openpty()
    path = os.ttyname(slave)
    relay = Device(label="Relay on a pty", kind=DeviceKind.RELAY,
                   connection={"transport": "serial", "port": path,
                               "protocol": "profile:relay"})
    try:
        runtime.manager.connect(relay)
        runtime.manager.disconnect(relay.label)
    finally:
        os.close(master)
        os.close(slave)
    conn = sqlite3.connect(runtime.db)
    (port,) = conn.execute("SELECT port FROM capture_sessions WHERE device = ?",
                           (relay.label,)).fetchone()
    conn.close()
    assert port == f"serial {path} 9600 8N1"
    assert DeviceForm.from_device(relay).baud == "9600"
    assert describe_connection(relay.connection) == f"serial {path} 9600 · profile:relay"
