"""The desktop on a shared lab store works with the lab store's devices registry: the Devices
page lists the server's devices (not the file's own, registered before the workstation joined
the lab store), and the device runtime records their events in the workstation's file under
their stand-ins."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.domain.devices import Device
from app.main import AppContext, build_context
from app.services.runtime import DEMO_DEVICES
from app.storage.devices import DeviceRepo
from app.storage.lab_devices import LabDeviceMap
from app.storage.labstore import lab_store_key
from ui.device_runtime import start_device_runtime
from ui.main_window import MainWindow

pytestmark = pytest.mark.timeout(120)

ESME = next(d for d in DEMO_DEVICES if d.label == "Bench 1 ESME")


@pytest.fixture
def shared(tmp_path: Path, clock, pg_url: str) -> Iterator[AppContext]:
    # The file was this workstation's own before: a device of its own registry, id 1.
    alone = build_context(tmp_path / "bench.db", clock, "tester")
    DeviceRepo(alone.db, clock).add(Device.create("Old bench meter", "ESME"))
    alone.close()
    ctx = build_context(tmp_path / "bench.db", clock, "tester", lab_store_url=pg_url)
    yield ctx
    ctx.close()


def test_the_devices_page_and_the_runtime_use_the_lab_stores_registry(
        qtbot, shared: AppContext, monkeypatch) -> None:
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/meterlab-test-bus")
    on_server = DeviceRepo(shared.store, shared.clock).add(ESME)
    window = MainWindow(shared)
    qtbot.addWidget(window)
    page = window.pages["devices"]
    page.reload()
    assert [d.label for d in page.model.devices] == ["Bench 1 ESME"]

    handle = start_device_runtime(shared, window.pages, window.errors, db_given=True)
    assert handle is not None
    try:
        key = lab_store_key(shared.lab_store_url)

        def recorded() -> list[tuple[str, int]]:
            return shared.db.execute(
                "SELECT device, device_ref FROM events WHERE device = ? LIMIT 1",
                ["Bench 1 ESME"]).fetchall()

        deadline = time.monotonic() + 60
        while not recorded():
            assert time.monotonic() < deadline, "no event of the lab store's meter"
            qtbot.wait(200)
        stand_in = LabDeviceMap(shared.db.conn, key).stand_in(on_server.id)
        assert stand_in is not None and stand_in != 1  # not the file's own meter
        assert recorded() == [("Bench 1 ESME", stand_in)]
        # The Live page finds the meter's history by its stand-in.
        live = window.pages["live"]
        live.attach(handle.runtime)
        assert {d.label: d.id for d in live.devices} == {"Bench 1 ESME": stand_in}
    finally:
        handle.stop()
