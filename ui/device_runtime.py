"""Starting and stopping the device runtime behind the GUI (I/O loop, writer, emulator, sessions).

Called from the GUI's start-up: it builds the bridge, starts the runtime, hands both to the
Devices page and connects every directly reachable device. A fault here is shown in the one error
dialog and leaves the rest of the application running without live devices.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QWidget

from app.main import AppContext
from app.services.runtime import DeviceRuntime
from app.storage.db import capture_dir_for
from app.storage.devices import DeviceRepo
from ui.bridge import DeviceBridge
from ui.errors import ErrorReporter

log = logging.getLogger(__name__)


class DeviceRuntimeHandle:
    """A started runtime with its bridge; :meth:`stop` is safe to call more than once."""

    def __init__(self, runtime: DeviceRuntime, bridge: DeviceBridge,
                 on_stop: Callable[[], None]) -> None:
        self.runtime, self.bridge = runtime, bridge
        self._on_stop = on_stop
        self._stopped = False

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        app = QCoreApplication.instance()
        if app is not None:
            try:
                app.aboutToQuit.disconnect(self.stop)
            except (RuntimeError, TypeError):  # already disconnected, or never connected
                pass
        self._on_stop()
        if not self.bridge.shutdown():
            log.warning("device actions were still running at exit")
        self.runtime.stop()


def start_device_runtime(ctx: AppContext, pages: dict[str, QWidget], errors: ErrorReporter,
                         db_given: bool) -> DeviceRuntimeHandle | None:
    """Start device I/O for the GUI and stop it when the application quits.

    Args:
        ctx: the application context (database, clock).
        pages: the main window's pages by name; the Devices page is attached when present.
        errors: where a start-up fault is reported.
        db_given: whether the database was named with ``--db`` (captures then go beside it).

    Returns:
        The handle (also stopped on ``aboutToQuit``), or None when the runtime could not start.
    """
    from ui.pages.devices import DevicesPage

    page = pages.get("devices")
    bridge = DeviceBridge(page)
    try:
        # The registry is the lab store's; on a server each device is recorded in the bench
        # store under its stand-in (made as it connects, on the bridge's worker thread).
        devices = DeviceRepo(ctx.lab_source, ctx.clock).list()
        runtime = DeviceRuntime(ctx.clock, ctx.db_path, capture_dir_for(ctx.db_path, db_given),
                                devices=devices, on_state=bridge.on_state,
                                on_write_error=bridge.on_write_error,
                                device_refs=ctx.device_refs())
        runtime.start(with_emulator=any(
            d.connection.transport == "emulator" for d in devices))
    except Exception as exc:  # the GUI still works without live devices
        log.exception("device I/O did not start")
        errors.report(f"Device I/O could not start, so devices cannot be connected ({exc}).",
                      "Devices")
        return None
    if isinstance(page, DevicesPage):
        page.attach(runtime, bridge)
    handle = DeviceRuntimeHandle(
        runtime, bridge, page.detach if isinstance(page, DevicesPage) else lambda: None)
    # Opening ports and capture files waits on the OS: done on the bridge's worker thread.
    bridge.run_for_device("devices", lambda: runtime.connect_all(devices))
    app = QCoreApplication.instance()
    if app is not None:
        app.aboutToQuit.connect(handle.stop)
    return handle
