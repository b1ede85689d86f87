"""Checks against real hardware; they run only with --serial-port PATH or --ble-address ADDR."""

from __future__ import annotations

import pytest

from devices.io_loop import IoLoop
from devices.transports.base import SerialSettings
from devices.transports.ble import BleNusTransport, scan
from devices.transports.serial import SerialTransport

pytestmark = [pytest.mark.hardware, pytest.mark.timeout(90)]


@pytest.fixture
def serial_port(request: pytest.FixtureRequest) -> str:
    port = request.config.getoption("--serial-port")
    if not port:
        pytest.skip("needs --serial-port PATH")
    return str(port)


@pytest.fixture
def ble_address(request: pytest.FixtureRequest) -> str:
    address = request.config.getoption("--ble-address")
    if not address:
        pytest.skip("needs --ble-address ADDRESS")
    return str(address)


def test_real_serial_port_opens_changes_baud_and_closes(io_loop: IoLoop, serial_port: str) -> None:
    transport = SerialTransport(SerialSettings(serial_port, baud=300, bytesize=7, parity="E"))
    io_loop.run(transport.open(), timeout_s=10)
    try:
        assert transport.framing_applied
        io_loop.run(transport.read(timeout_s=0.2), timeout_s=5)
        io_loop.run(transport.set_line(9600), timeout_s=10)
        assert transport.line.baud == 9600
    finally:
        io_loop.run(transport.close(), timeout_s=10)


def test_real_ble_device_is_found_and_connects(io_loop: IoLoop, ble_address: str) -> None:
    found = io_loop.run(scan(5.0), timeout_s=30)
    assert ble_address.upper() in {d.address.upper() for d in found}
    transport = BleNusTransport(ble_address)
    io_loop.run(transport.open(), timeout_s=60)
    try:
        assert transport.is_open
    finally:
        io_loop.run(transport.close(), timeout_s=15)
