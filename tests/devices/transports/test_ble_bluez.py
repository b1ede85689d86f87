"""BLE through bleak's real BlueZ backend against a BlueZ stand-in on a private system bus."""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from devices.io_loop import IoLoop
from devices.transports.base import InvalidSettingError, Transport, TransportError
from devices.transports.base import TransportErrorReason as R
from devices.transports.ble import (
    NUS_SERVICE_UUID,
    BleDeviceInfo,
    BleNusTransport,
    ble_available,
    scan,
)
from tests.devices.transports.bluez_stub import BluezStub, NusDevice, dbus_daemon_path

pytestmark = pytest.mark.timeout(60)

BRIDGE = "AA:BB:CC:DD:EE:01"
BIG_MTU = "AA:BB:CC:DD:EE:02"
NO_NUS = "AA:BB:CC:DD:EE:03"
STALLS = "AA:BB:CC:DD:EE:04"


@pytest.fixture(scope="module")
def devices(bluez: BluezStub) -> dict[str, NusDevice]:
    return {
        BRIDGE: bluez.add_nus_device(BRIDGE, "HAN bridge", rssi=-40),
        BIG_MTU: bluez.add_nus_device(BIG_MTU, "Fast bridge", rssi=-55, mtu=185, echo=False),
        NO_NUS: bluez.add_nus_device(NO_NUS, "Heart rate strap", rssi=-70, with_nus=False),
    }


async def read_exactly(transport: BleNusTransport, n_bytes: int, timeout_s: float = 5.0) -> bytes:
    data = b""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while len(data) < n_bytes and loop.time() < deadline:
        data += await transport.read(n_bytes - len(data), timeout_s=0.2)
    return data


def test_available(ble_loop: IoLoop, devices: dict[str, NusDevice]) -> None:
    assert ble_loop.run(ble_available(), timeout_s=10) == (True, "")


def test_scan_reports_progress_and_devices(ble_loop: IoLoop, devices: dict[str, NusDevice]) -> None:
    progress: list[tuple[float, list[BleDeviceInfo], bool]] = []

    def on_progress(fraction: float, found: list[BleDeviceInfo]) -> None:
        progress.append((fraction, found, ble_loop.is_io_thread()))

    found = ble_loop.run(scan(0.6, on_progress, progress_interval_s=0.1), timeout_s=15)
    by_address = {d.address: d for d in found}
    assert by_address[BRIDGE] == BleDeviceInfo("HAN bridge", BRIDGE, -40, (NUS_SERVICE_UUID,))
    assert by_address[NO_NUS].service_uuids == ()
    assert [d.rssi for d in found] == sorted((d.rssi for d in found), reverse=True)
    fractions = [f for f, _found, _thread in progress]
    assert fractions[0] == 0.0 and fractions[-1] == 1.0
    assert fractions == sorted(fractions) and len(fractions) >= 4
    assert progress[-1][1] == found
    assert all(on_io for _f, _found, on_io in progress)


def test_scan_filters_by_service(ble_loop: IoLoop, devices: dict[str, NusDevice]) -> None:
    found = ble_loop.run(scan(0.3, service_uuids=[NUS_SERVICE_UUID]), timeout_s=15)
    assert {d.address for d in found} == {BRIDGE, BIG_MTU}


def test_connect_write_and_notification(
    ble_loop: IoLoop, bluez: BluezStub, devices: dict[str, NusDevice]
) -> None:
    transport = BleNusTransport(BRIDGE, connect_timeout_s=5)
    assert isinstance(transport, Transport)
    assert transport.description == f"BLE NUS {BRIDGE}"
    ble_loop.run(transport.open(), timeout_s=20)
    try:
        assert transport.is_open and bluez.is_connected(devices[BRIDGE])
        assert transport.write_chunk_bytes == 20  # ATT_MTU 23 - 3
        message = b"/?!\r\n then a line longer than one 20-byte BLE packet"
        assert ble_loop.run(transport.write(message), timeout_s=10) == len(message)
        chunks = bluez.written(devices[BRIDGE])
        assert b"".join(chunks) == message
        assert max(map(len, chunks)) == 20 and len(chunks) == 3
        # The stand-in echoes each chunk as a TX notification.
        assert ble_loop.run(read_exactly(transport, len(message)), timeout_s=10) == message
        # Unsolicited data from the peripheral.
        bluez.notify(devices[BRIDGE], b"8F36 outage restored")
        assert ble_loop.run(read_exactly(transport, 20), timeout_s=10) == b"8F36 outage restored"
        ble_loop.run(transport.set_line(9600), timeout_s=5)  # no UART here: accepted, ignored
    finally:
        ble_loop.run(transport.close(), timeout_s=20)
    assert not transport.is_open
    assert not bluez.is_connected(devices[BRIDGE])


def test_writes_are_chunked_to_the_link_mtu(
    ble_loop: IoLoop, bluez: BluezStub, devices: dict[str, NusDevice]
) -> None:
    transport = BleNusTransport(BIG_MTU, connect_timeout_s=5)
    ble_loop.run(transport.open(), timeout_s=20)
    try:
        assert transport.write_chunk_bytes == 182
        payload = bytes(range(256)) * 2
        ble_loop.run(transport.write(payload), timeout_s=10)
        assert [len(c) for c in bluez.written(devices[BIG_MTU])] == [182, 182, 148]
    finally:
        ble_loop.run(transport.close(), timeout_s=20)


def test_link_loss_is_reported_then_reconnect_works(
    ble_loop: IoLoop, bluez: BluezStub, devices: dict[str, NusDevice]
) -> None:
    transport = BleNusTransport(BRIDGE, connect_timeout_s=5)
    ble_loop.run(transport.open(), timeout_s=20)
    try:
        bluez.notify(devices[BRIDGE], b"before")
        assert ble_loop.run(read_exactly(transport, 6), timeout_s=10) == b"before"
        bluez.drop_link(devices[BRIDGE])
        with pytest.raises(TransportError) as caught:
            ble_loop.run(transport.read(timeout_s=5), timeout_s=10)
        assert caught.value.reason is R.DISCONNECTED
        assert caught.value.message == f"BLE device {BRIDGE} disconnected"
        with pytest.raises(TransportError, match="disconnected"):
            ble_loop.run(transport.write(b"x"), timeout_s=10)
        assert not transport.is_open
        ble_loop.run(transport.open(), timeout_s=20)  # reconnect
        assert transport.is_open and transport.connect_count == 2
        ble_loop.run(transport.write(b"again"), timeout_s=10)
        assert ble_loop.run(read_exactly(transport, 5), timeout_s=10) == b"again"
    finally:
        ble_loop.run(transport.close(), timeout_s=20)


def test_device_without_nus_is_missing(
    ble_loop: IoLoop, bluez: BluezStub, devices: dict[str, NusDevice]
) -> None:
    transport = BleNusTransport(NO_NUS, connect_timeout_s=5)
    with pytest.raises(TransportError) as caught:
        ble_loop.run(transport.open(), timeout_s=20)
    assert caught.value.reason is R.MISSING
    assert caught.value.message == f"BLE device {NO_NUS} has no Nordic UART Service"
    assert not bluez.is_connected(devices[NO_NUS])  # it was disconnected again


def test_unknown_device_is_missing(ble_loop: IoLoop, devices: dict[str, NusDevice]) -> None:
    transport = BleNusTransport("AA:BB:CC:DD:EE:99", connect_timeout_s=0.5)
    with pytest.raises(TransportError) as caught:
        ble_loop.run(transport.open(), timeout_s=10)
    assert caught.value.reason is R.MISSING
    assert "was not found" in caught.value.message


def test_stalled_disconnect_does_not_hang_close(
    ble_loop: IoLoop, bluez: BluezStub, devices: dict[str, NusDevice]
) -> None:
    device = bluez.add_nus_device(STALLS, "Sticky bridge", disconnect_stall_s=1.5)
    transport = BleNusTransport(STALLS, connect_timeout_s=5, disconnect_timeout_s=0.3)
    ble_loop.run(transport.open(), timeout_s=20)
    ble_loop.run(transport.close(), timeout_s=5)  # returns after ~0.3 s, not 1.5 s
    assert not transport.is_open
    assert not bluez.is_connected(device)  # the stand-in finished disconnecting later


def test_bad_address_is_one_sentence() -> None:
    with pytest.raises(InvalidSettingError) as caught:
        BleNusTransport("not-an-address")
    assert caught.value.field == "address"
    assert str(caught.value).startswith("address must be a Bluetooth address")


@pytest.fixture
def fresh_loop() -> Iterator[IoLoop]:
    """A new loop, so bleak builds a new BlueZ manager against the current bus address."""
    loop = IoLoop(name="test-fresh-io")
    loop.start()
    yield loop
    assert loop.stop(timeout_s=10)


def test_no_system_bus(fresh_loop: IoLoop, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", f"unix:path={tmp_path / 'no-bus.sock'}")
    ok, reason = fresh_loop.run(ble_available(), timeout_s=10)
    assert ok is False and reason.startswith("no D-Bus system bus")
    for operation in (scan(0.2), BleNusTransport(BRIDGE, connect_timeout_s=1).open()):
        with pytest.raises(TransportError) as caught:
            fresh_loop.run(operation, timeout_s=10)
        assert caught.value.reason is R.UNAVAILABLE
        assert caught.value.message.startswith("Bluetooth unavailable: no D-Bus system bus")


def test_bus_without_bluez_and_bluez_without_adapter(
    fresh_loop: IoLoop, monkeypatch: pytest.MonkeyPatch
) -> None:
    if dbus_daemon_path() is None:
        pytest.skip("dbus-daemon is not installed")
    from dbusmock import BusType, PrivateDBus, SpawnedMock

    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", os.environ.get("DBUS_SYSTEM_BUS_ADDRESS", ""))
    with PrivateDBus(BusType.SYSTEM):
        assert fresh_loop.run(ble_available(), timeout_s=10) == (
            False,
            "the BlueZ service is not running",
        )
        mock = SpawnedMock.spawn_with_template("bluez5", {}, BusType.SYSTEM, subprocess.DEVNULL)
        with mock:
            assert fresh_loop.run(ble_available(), timeout_s=10) == (False, "no Bluetooth adapter")
            with pytest.raises(TransportError) as caught:
                fresh_loop.run(scan(0.2), timeout_s=10)
            assert caught.value.reason is R.UNAVAILABLE
            assert caught.value.message == "Bluetooth unavailable: No Bluetooth adapters found"
