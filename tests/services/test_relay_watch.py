"""Relay switching is ground truth whoever writes the command; the raw log lists a command before
its reply."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.domain.clock import OffsetClock
from app.domain.devices import ConnectionSettings, Device, DeviceKind
from app.domain.events import DeviceEvent, EventKind
from app.services.device_manager import DeviceManager
from app.services.ingest import EventQueue
from app.services.outages import EvidenceMapper
from app.services.relay_watch import RelayWatch, Switch, parse_command
from app.storage.db import open_database
from devices.emulator.bench import BenchConfig, EmulatedBench
from devices.io_loop import IoLoop
from devices.transports.sim import SimTransport

pytestmark = pytest.mark.timeout(30)

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def status(state: str, at: datetime, **fields: object) -> DeviceEvent:
    return DeviceEvent("relay", EventKind.STATUS, at, {"state": state, **fields})


def test_commands_are_paired_with_replies_in_order() -> None:
    watch = RelayWatch("relay", "Bench 1")
    assert parse_command(b"relay 1 off") == Switch(1, True)
    assert parse_command(b"RELAY x OFF") is None and parse_command(b"STATUS") is None
    # Split across writes, CR LF and bare LF, an empty line the board ignores.
    watch.sent(b"STATUS\r\nRELAY 1 O")
    watch.sent(b"FF\r\n\r\nRELAY 9 ON\nRELAY 1 ON\r\n")
    truth = watch.replies([
        status("relay", T0, relay_state="ON", channel=1),  # STATUS: not a switch
        DeviceEvent("relay", EventKind.LOG, T0, {"text": "noise"}),  # not a reply
        status("ok", T0 + timedelta(seconds=1)),  # RELAY 1 OFF
        status("error", T0 + timedelta(seconds=2), error="unknown command"),  # RELAY 9 ON
    ])
    assert [(e.kind, e.host_time, e.fields["channel"], e.fields["bench"]) for e in truth] == [
        (EventKind.OUTAGE_START, T0 + timedelta(seconds=1), 1, "Bench 1")]
    later = watch.replies([status("ok", T0 + timedelta(seconds=5))])  # RELAY 1 ON
    assert [(e.kind, e.fields["source"], e.fields["relay_state"]) for e in later] == [
        (EventKind.OUTAGE_END, "relay", "ON")]
    # A reply to nothing written since the watch began changes nothing.
    assert watch.replies([status("ok", T0 + timedelta(seconds=6))]) == []


def test_only_the_mains_channel_is_an_outage() -> None:
    mapper = EvidenceMapper([Device(label="relay", kind=DeviceKind.RELAY, bench="Bench 1")])
    watch = RelayWatch("relay", "Bench 1")
    watch.sent(b"RELAY 2 OFF\r\nRELAY 1 OFF\r\n")
    truth = watch.replies([status("ok", T0), status("ok", T0)])
    assert [e.fields["channel"] for e in truth] == [2, 1]
    assert [mapper.map(e) is not None for e in truth] == [False, True]


class LateWriteTransport(SimTransport):
    """Stand-in for a serial port whose write returns only after the device has answered (a USB
    adapter draining its buffer): the reply can be read before the write is over."""

    async def write(self, data: bytes) -> int:
        n = await super().write(data)
        await asyncio.sleep(0.1)
        return n


def test_raw_log_lists_the_command_before_its_reply_and_any_writer_makes_ground_truth(
        tmp_path: Path) -> None:
    clock = OffsetClock(T0)
    db = tmp_path / "m.db"
    open_database(db).conn.close()
    bench = EmulatedBench(BenchConfig(time_scale=60.0, start=T0))
    io = IoLoop()
    io.start()
    queue = EventQueue()
    manager = DeviceManager(clock, io, queue, db, tmp_path / "captures")
    manager._transport = lambda device: (  # type: ignore[method-assign]
        LateWriteTransport(bench.relay, poll_interval_s=0.005), "profile:relay")
    relay = Device(label="relay", kind=DeviceKind.RELAY, bench="Bench 1",
                   connection=ConnectionSettings(transport="emulator", endpoint="relay",
                                                 protocol="profile:relay", baud=9600))
    try:
        manager.connect(relay)
        deadline = time.monotonic() + 5
        while manager.health("relay").state.value != "connected":
            assert time.monotonic() < deadline
            time.sleep(0.01)
        # A line typed in the raw console goes out through send(), not switch_supply().
        manager.send("relay", b"RELAY 1 OFF\r\n").result(timeout=5)
        manager.send("relay", b"RELAY 1 ON\r\n").result(timeout=5)
        deadline = time.monotonic() + 5
        while len([c for c in manager.raw("relay").since(0) if c.direction == "rx"]) < 2:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        chunks = manager.raw("relay").since(0)
        assert [(c.direction, c.data) for c in chunks] == [
            ("tx", b"RELAY 1 OFF\r\n"), ("rx", b"OK\r\n"), ("tx", b"RELAY 1 ON\r\n"),
            ("rx", b"OK\r\n")]
        assert [c.seq for c in chunks] == sorted(c.seq for c in chunks)
        # And the board's answers made the ground truth, as switch_supply's would.
        assert manager.switch_supply("relay", "Bench 1", off=True).result(timeout=5) == ""
        deadline = time.monotonic() + 5
        events: list[DeviceEvent] = []
        while len([e for e in events if e.fields.get("source") == "relay"]) < 3:
            assert time.monotonic() < deadline
            events += queue.get_batch(1000, 0.05)
        truth = [e for e in events if e.fields.get("source") == "relay"]
        assert [e.kind for e in truth] == [EventKind.OUTAGE_START, EventKind.OUTAGE_END,
                                          EventKind.OUTAGE_START]
        assert {e.device for e in truth} == {"relay"}
    finally:
        manager.shutdown()
        io.stop()
