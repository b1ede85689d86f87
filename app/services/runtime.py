"""The running parts behind the GUI: I/O loop, event queue and writer, demo emulator, devices."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from app.domain.clock import Clock
from app.domain.devices import Device, DeviceKind
from app.services.device_manager import DemoEmulator, DeviceManager, StateCallback, demo_bench_config
from app.services.ingest import EventQueue, EventWriter
from app.storage.devices import DeviceRepo
from devices.io_loop import IoLoop

logger = logging.getLogger(__name__)

#: The demo bench's devices, wired to the emulator's ports.
DEMO_DEVICES = (
    Device(label="Bench 1 ESME", kind=DeviceKind.ESME, device_id="00-DB-12-34-56-78-90-A0",
           mpxn="1312345678907", manufacturer="Emulated", model="EML ESME", firmware="2.1.0",
           bench="Bench 1",
           connection={"transport": "emulator", "endpoint": "esme_optical", "protocol": "iec62056-21",
                       "baud": 300, "poll_s": 30}),
    Device(label="Bench 1 Comms Hub", kind=DeviceKind.CHF, device_id="00-DB-12-34-56-78-90-A2",
           manufacturer="Emulated", model="CH-EMU", firmware="1.4.2", bench="Bench 1",
           connection={"transport": "emulator", "endpoint": "ch_debug", "protocol": "profile:emulator",
                       "baud": 115200}),
    Device(label="Bench 1 relay", kind=DeviceKind.RELAY, manufacturer="Emulated", model="4-channel relay",
           bench="Bench 1",
           connection={"transport": "emulator", "endpoint": "relay", "protocol": "profile:relay",
                       "baud": 9600}),
    Device(label="Bench 1 GSME", kind=DeviceKind.GSME, device_id="00-DB-12-34-56-78-90-A1",
           mpxn="1234567890", manufacturer="Emulated", model="EML GSME", firmware="1.0.3",
           bench="Bench 1", connection={"transport": "han", "via": "Bench 1 Comms Hub"}),
    Device(label="Bench 1 IHD", kind=DeviceKind.IHD, device_id="00-DB-12-34-56-78-90-A3",
           manufacturer="Emulated", model="EML IHD", bench="Bench 1",
           connection={"transport": "han", "via": "Bench 1 Comms Hub"}),
)


def register_demo_devices(repo: DeviceRepo) -> None:
    for device in DEMO_DEVICES:
        if repo.find(device.label) is None:
            repo.add(device)


class DeviceRuntime:
    """Starts and stops everything that runs in the background for the GUI."""

    def __init__(self, clock: Clock, db_path: Path, capture_dir: Path,
                 on_state: StateCallback | None = None,
                 on_write_error: Callable[[str], None] | None = None) -> None:
        self.io = IoLoop()
        self.events = EventQueue()
        self.writer = EventWriter(db_path, self.events, on_error=on_write_error)
        self.emulator: DemoEmulator | None = None
        self.manager = DeviceManager(clock, self.io, self.events, db_path, capture_dir,
                                     on_state=on_state)

    def start(self, with_emulator: bool) -> None:
        self.io.start()
        self.writer.start()
        if with_emulator:
            self.emulator = DemoEmulator(demo_bench_config())
            self.emulator.start()
            self.manager.emulator = self.emulator

    def connect_all(self, devices: list[Device]) -> None:
        """Connect every device that has a direct link (HAN devices are reached via their hub)."""
        for device in devices:
            if device.connection.get("transport") in ("serial", "emulator", "ble"):
                try:
                    self.manager.connect(device)
                except (ValueError, OSError) as exc:
                    logger.error("cannot connect %s: %s", device.label, exc)

    def stop(self) -> None:
        self.manager.shutdown()
        if self.emulator is not None:
            self.emulator.stop()
        self.io.stop()
        self.writer.stop()
