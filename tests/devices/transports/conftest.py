"""Fixtures for transport tests: the I/O loop, real pseudo-terminals, a BlueZ stand-in."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from devices.io_loop import IoLoop
from tests.devices.transports.bluez_stub import BluezStub, dbus_daemon_path


@pytest.fixture
def io_loop() -> Iterator[IoLoop]:
    """A running I/O loop, stopped after the test."""
    loop = IoLoop(name="test-io")
    loop.start()
    yield loop
    assert loop.stop(timeout_s=5.0), "the I/O thread did not stop"


@dataclass
class Pty:
    """A real pseudo-terminal: the test plays the device on ``master``; ``path`` is the port."""

    master: int
    slave: int
    path: str

    def close_master(self) -> None:
        if self.master >= 0:
            os.close(self.master)
            self.master = -1


@pytest.fixture
def pty_pair() -> Iterator[Pty]:
    """A pseudo-terminal pair; the slave fd stays open so termios settings can be inspected."""
    master, slave = os.openpty()
    pair = Pty(master, slave, os.ttyname(slave))
    yield pair
    pair.close_master()
    os.close(slave)


@pytest.fixture(scope="module")
def bluez() -> Iterator[BluezStub]:
    """A private system bus with a mock bluetoothd and one adapter, shared by a test module."""
    if dbus_daemon_path() is None:
        pytest.skip("dbus-daemon is not installed (Debian package 'dbus-daemon' or 'dbus')")
    stub = BluezStub()
    try:
        stub.start()
        stub.start_advertising()
        yield stub
    finally:
        stub.stop()


@pytest.fixture(scope="module")
def ble_loop(bluez: BluezStub) -> Iterator[IoLoop]:
    """One I/O loop for a BLE test module: bleak keeps one BlueZ manager per event loop."""
    loop = IoLoop(name="test-ble-io")
    loop.start()
    yield loop
    assert loop.stop(timeout_s=10.0), "the BLE I/O thread did not stop"
