"""The emulator's relay driving a real end-to-end outage run on pseudo-terminals."""

from __future__ import annotations

import json
import time

import pytest

from app.cli import main
from app.domain.clock import SystemClock
from app.services.runtime import DEMO_DEVICES, DeviceRuntime, ScriptedOutage
from app.storage.db import open_database

pytestmark = pytest.mark.timeout(90)


def wait_for(cond, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


def test_relay_outages_are_paired_checked_and_stored(tmp_path, capsys) -> None:
    db = tmp_path / "o.db"
    open_database(db).conn.close()
    rt = DeviceRuntime(SystemClock(), db, tmp_path / "cap", devices=list(DEMO_DEVICES))
    rt.start(with_emulator=True)
    try:
        rt.connect_all(list(DEMO_DEVICES))
        wait_for(lambda: rt.manager.health("Bench 1 relay") is not None
                 and rt.manager.health("Bench 1 relay").state.value == "connected")
        # 100 s and 240 s on the emulator's clock (time scale 60): 1.7 s and 4 s of real time.
        rt.start_demo_outages(plan=(ScriptedOutage(0.5, 100.0), ScriptedOutage(4.0, 240.0)), repeat_s=None)

        def done() -> bool:
            _, outages = rt.outages.snapshot()
            return len(outages) >= 2 and all(o.restore_alert_code and o.device_end for o in outages)

        wait_for(done)
    finally:
        rt.stop()
    _, outages = rt.outages.snapshot()
    short, long_ = outages[0], outages[1]
    assert short.start_source == long_.start_source == "relay"
    assert 90 <= short.duration_s <= 130 and short.long is False and short.restore_alert_code == "8F35"
    assert 230 <= long_.duration_s <= 280 and long_.long is True and long_.restore_alert_code == "8F36"
    assert short.mpxn == "1312345678907" and short.restore_alert_device == "Bench 1 ESME"
    for o in (short, long_):
        assert o.latency_s is not None and 0 <= o.latency_s < 8
        assert [f.code for f in o.flags] == []
    assert main(["--db", str(db), "outages", "list", "--bench", "Bench 1"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [o["restore_alert_code"] for o in listed] == ["8F35", "8F36"]
    assert listed[1]["long"] is True and listed[0]["start_source"] == "relay"


def test_closing_during_a_scripted_outage_restores_the_supply_and_records_the_end(
        tmp_path) -> None:
    db = tmp_path / "o.db"
    open_database(db).conn.close()
    rt = DeviceRuntime(SystemClock(), db, tmp_path / "cap", devices=list(DEMO_DEVICES))
    rt.start(with_emulator=True)
    try:
        rt.connect_all(list(DEMO_DEVICES))
        wait_for(lambda: rt.manager.health("Bench 1 relay") is not None
                 and rt.manager.health("Bench 1 relay").state.value == "connected")
        # An hour on the emulator's clock: still going on when the application closes.
        rt.start_demo_outages(plan=(ScriptedOutage(0.1, 3600.0),), repeat_s=None)
        wait_for(lambda: rt.outages.snapshot()[1] and rt.emulator.bench.relay.state(1).value == "OFF")
        started = time.monotonic()
    finally:
        rt.stop()
    assert time.monotonic() - started < 5.0
    assert rt.emulator.bench.relay.state(1).value == "ON"
    conn = open_database(db).conn
    rows = conn.execute("SELECT start_source, end_source, end FROM outages").fetchall()
    assert len(rows) == 1 and rows[0][:2] == ("relay", "relay") and rows[0][2] is not None
