"""The running parts behind the GUI: I/O loop, event queue and writer, demo emulator, devices."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from app.domain.clock import Clock
from app.domain.devices import ConnectionSettings, Device, DeviceKind
from app.domain.outages import TrackerConfig
from app.services.device_manager import (
    DemoEmulator,
    DeviceManager,
    StateCallback,
    demo_bench_config,
)
from app.services.ingest import EventQueue, EventWriter
from app.services.live import LiveData
from app.services.outages import OutageService
from app.storage.devices import DeviceRepo
from devices.emulator.bench import BenchConfig
from devices.io_loop import IoLoop
from devices.sessions import SessionState

logger = logging.getLogger(__name__)

#: The demo bench's devices, wired to the emulator's ports.
DEMO_DEVICES = (
    Device(label="Bench 1 ESME", kind=DeviceKind.ESME, device_id="00-DB-12-34-56-78-90-A0",
           mpxn="1312345678907", manufacturer="Emulated", model="EML ESME", firmware="2.1.0",
           bench="Bench 1",
           connection=ConnectionSettings(transport="emulator", endpoint="esme_optical",
                                         protocol="iec62056-21", baud=300, poll_s=30)),
    Device(label="Bench 1 Comms Hub", kind=DeviceKind.CHF, device_id="00-DB-12-34-56-78-90-A2",
           manufacturer="Emulated", model="CH-EMU", firmware="1.4.2", bench="Bench 1",
           connection=ConnectionSettings(transport="emulator", endpoint="ch_debug",
                                         protocol="profile:emulator", baud=115200)),
    Device(label="Bench 1 relay", kind=DeviceKind.RELAY, manufacturer="Emulated", model="4-channel relay",
           bench="Bench 1",
           connection=ConnectionSettings(transport="emulator", endpoint="relay",
                                         protocol="profile:relay", baud=9600)),
    Device(label="Bench 1 GSME", kind=DeviceKind.GSME, device_id="00-DB-12-34-56-78-90-A1",
           mpxn="1234567890", manufacturer="Emulated", model="EML GSME", firmware="1.0.3",
           bench="Bench 1", connection=ConnectionSettings(transport="han", via="Bench 1 Comms Hub")),
    Device(label="Bench 1 IHD", kind=DeviceKind.IHD, device_id="00-DB-12-34-56-78-90-A3",
           manufacturer="Emulated", model="EML IHD", bench="Bench 1",
           connection=ConnectionSettings(transport="han", via="Bench 1 Comms Hub")),
)


def register_demo_devices(repo: DeviceRepo) -> None:
    for device in DEMO_DEVICES:
        if repo.find(device.label) is None:
            repo.add(device, "demo lab")


@dataclass(frozen=True)
class ScriptedOutage:
    """Cut a bench's supply `after_s` real seconds into the script, for `duration_emulated_s`."""

    after_s: float
    duration_emulated_s: float


#: Longest wait, on closing, for the scripted outages to restore the supply (a relay's answer).
SCRIPT_STOP_S = 4.0

#: The demo: one outage under 3 minutes and one over, on the emulator's clock, every cycle.
DEMO_OUTAGES = (ScriptedOutage(4.0, 100.0), ScriptedOutage(16.0, 240.0))


async def run_outage_script(manager: DeviceManager, relay_label: str, bench: str,
                            plan: tuple[ScriptedOutage, ...], time_scale: float,
                            repeat_s: float | None = 60.0,
                            stop: asyncio.Event | None = None,
                            restore_now: asyncio.Event | None = None) -> None:
    """Drive a bench's relay through `plan` (repeating every `repeat_s`), on the I/O loop.

    Setting `stop` ends the script between outages: an outage that has begun is always
    restored first, so the bench is never left with its supply cut. Setting `restore_now` as
    well restores it at once (the application is closing: the outage ends, recorded, then).
    """
    loop = asyncio.get_running_loop()
    stop = stop or asyncio.Event()
    restore_now = restore_now or asyncio.Event()

    async def wait_until(deadline: float) -> bool:
        """Sleep until `deadline` (loop time); False when told to stop first."""
        try:
            await asyncio.wait_for(stop.wait(), max(0.0, deadline - loop.time()))
        except TimeoutError:
            return True
        return False

    while True:
        t0 = loop.time()
        for step in plan:
            if not await wait_until(t0 + step.after_s):
                return
            why = await asyncio.wrap_future(manager.switch_supply(relay_label, bench, off=True))
            if why:
                logger.warning("outage script: %s", why)
                continue
            try:
                await asyncio.wait_for(restore_now.wait(), step.duration_emulated_s / time_scale)
            except TimeoutError:
                pass
            why = await asyncio.wrap_future(manager.switch_supply(relay_label, bench, off=False))
            if why:
                logger.warning("outage script: %s", why)
        if repeat_s is None:
            return
        if not await wait_until(t0 + repeat_s):
            return


class DeviceRuntime:
    """Starts and stops everything that runs in the background for the GUI.

    Args:
        clock: host time.
        db_path: the database events and outages are written to.
        capture_dir: where raw capture files go.
        devices: the registry (for attributing events to benches).
        on_state: device state changes (I/O thread).
        on_write_error: database write failures and recoveries (writer thread).
        device_refs: with a lab store on a server, gives each of its devices the id the bench
            store records it under (see :class:`app.services.lab_store_devices.StandIns`);
            None: the devices are the file's own.
    """

    def __init__(self, clock: Clock, db_path: Path, capture_dir: Path,
                 devices: list[Device] | None = None,
                 on_state: StateCallback | None = None,
                 on_write_error: Callable[[str], None] | None = None,
                 tracker_config: TrackerConfig | None = None,
                 device_refs: Callable[[Device], int] | None = None) -> None:
        self.clock = clock
        self.io = IoLoop()
        self.events = EventQueue()
        self.live = LiveData()
        self.events.add_batch_listener(self.live.on_events)
        self._devices = list(devices or [])
        self.manager = DeviceManager(clock, self.io, self.events, db_path, capture_dir,
                                     on_state=on_state, device_refs=device_refs)
        self.outages = OutageService(
            clock, self._devices, tracker_config,
            device_ref_of=self.manager.device_ref_of if device_refs is not None else None)
        self.writer = EventWriter(db_path, self.events, on_error=on_write_error,
                                  after_batch=self.outages.on_batch)
        self.emulator: DemoEmulator | None = None
        self._script: concurrent.futures.Future[None] | None = None
        self._script_stop: asyncio.Event | None = None
        self._script_restore: asyncio.Event | None = None
        self._script_bench = ""
        self._script_args: tuple[str, str, tuple[ScriptedOutage, ...], float | None] | None = None
        if devices:
            self.live.set_devices(devices)

    def start(self, with_emulator: bool, emulator_config: BenchConfig | None = None) -> None:
        """Start the I/O loop and the writer, and the emulated bench when asked (the demo's,
        or `emulator_config`: a time scale, faults)."""
        self.io.start()
        self.writer.start()
        if with_emulator:
            self.emulator = DemoEmulator(emulator_config or demo_bench_config(start=self.clock.now()))
            # Outages of an emulated bench last on its clock: the tracker scales relay times.
            scale = self.emulator.bench.clock.time_scale
            for device in self._devices:
                if device.connection.transport == "emulator" and device.bench:
                    self.outages.tracker.config.time_scale[device.bench] = scale
            self.emulator.start()
            self.manager.emulator = self.emulator

    def connect_all(self, devices: list[Device]) -> None:
        """Connect every device that has a direct link (HAN devices are reached via their hub)."""
        for device in devices:
            if device.connection.is_direct:
                try:
                    self.manager.connect(device)
                except (ValueError, OSError) as exc:
                    logger.error("cannot connect %s: %s", device.label, exc)
                    # The user sees the fault as the device's state, like a port that fails later.
                    if self.manager.on_state is not None:
                        self.manager.on_state(device.label, SessionState.FAILED, str(exc))

    def start_demo_outages(self, relay_label: str = "Bench 1 relay", bench: str = "Bench 1",
                           plan: tuple[ScriptedOutage, ...] = DEMO_OUTAGES,
                           repeat_s: float | None = 60.0) -> None:
        """Run the demo's scripted outages through the emulated relay board."""
        if self.emulator is None or self._script is not None:
            return
        scale = self.emulator.bench.clock.time_scale
        self.outages.tracker.config.time_scale[bench] = scale
        self._script_args = (relay_label, bench, plan, repeat_s)
        stop = self._script_stop = asyncio.Event()
        restore = self._script_restore = asyncio.Event()
        self._script_bench = bench
        self._script = self.io.submit(
            run_outage_script(self.manager, relay_label, bench, plan, scale, repeat_s, stop,
                              restore))

    def demo_outages_on(self, bench: str) -> bool:
        """Whether the demo's scripted outages are driving `bench`'s relay."""
        return self._script is not None and not self._script.done() and \
            self._script_bench == bench

    def stop_demo_outages(self) -> concurrent.futures.Future[None] | None:
        """Stop the scripted outages between two outages (one in progress is restored first);
        the returned future is done when the relay is free. None when none were running."""
        script, stop = self._script, self._script_stop
        if script is None or stop is None:
            return None
        self._script = None
        self.io.call_soon_threadsafe(stop.set)
        return script

    def resume_demo_outages(self) -> None:
        """Start the scripted outages again after :meth:`stop_demo_outages`."""
        if self._script is None and self._script_args is not None:
            relay_label, bench, plan, repeat_s = self._script_args
            self.start_demo_outages(relay_label, bench, plan, repeat_s)

    def stop(self) -> None:
        script, stop, restore = self._script, self._script_stop, self._script_restore
        if script is not None and stop is not None and restore is not None:
            # An outage in progress is restored now, through the relay, so that the record
            # has its end (cancelling the script would leave the supply cut and the outage open).
            self._script = None
            self.io.call_soon_threadsafe(stop.set)
            self.io.call_soon_threadsafe(restore.set)
            try:
                script.result(timeout=SCRIPT_STOP_S)
            except Exception:  # closing goes on whatever the script did
                script.cancel()
        self.manager.shutdown()
        if self.emulator is not None:
            self.emulator.stop()
        self.io.stop()
        self.writer.stop()
