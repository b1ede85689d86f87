"""The only object that crosses from the I/O thread into Qt.

Callbacks given to the Qt-free core (device state, writer errors, port hot-plug, BLE scan
progress, finished futures) run on the I/O or writer thread. They do nothing but emit a signal of
this object, which lives in the GUI thread, so Qt queues the call to the GUI thread. Signals carry
state changes only; bytes and counters are pulled by the pages' display timers.
"""

from __future__ import annotations

import concurrent.futures
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal

from devices.io_loop import IoLoop, IoLoopError
from devices.sessions import SessionState
from devices.transports.base import TransportError
from devices.transports.ports import PortInfo, PortWatcher

log = logging.getLogger(__name__)

#: How long a Bluetooth scan started from the Devices page lasts.
BLE_SCAN_S = 5.0


def _error_sentence(exc: BaseException) -> str:
    if isinstance(exc, TransportError):
        return exc.message
    return str(exc) or type(exc).__name__


class DeviceBridge(QObject):
    """Signals from the device runtime, and the callbacks that emit them from other threads."""

    #: (label, state value such as "connected", reason)
    sig_device_state_changed = Signal(str, str, str)
    #: a sentence when writing events to the database fails; "" when it recovered
    sig_write_error = Signal(str)
    #: the serial ports present now (list of PortInfo)
    sig_ports_changed = Signal(list)
    #: (available, reason) from the Bluetooth probe
    sig_ble_availability_checked = Signal(bool, str)
    #: (fraction done 0..1, devices found so far as BleDeviceInfo)
    sig_ble_scan_progressed = Signal(float, list)
    #: (devices found, error sentence or "")
    sig_ble_scan_finished = Signal(list, str)
    #: (label, error sentence) when bytes typed in the send line could not be written
    sig_send_failed = Signal(str, str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._ports: dict[PortInfo, None] = {}
        self._watcher: PortWatcher | None = None
        self._scan: concurrent.futures.Future[Any] | None = None
        self._worker: threading.Thread | None = None
        self._actions: queue.SimpleQueue[tuple[str, Callable[[], object]] | None] = (
            queue.SimpleQueue())

    # --- callbacks for the Qt-free core (any thread) -------------------------------------------
    def on_state(self, label: str, state: SessionState, reason: str) -> None:
        """A device session changed state (``DeviceManager.on_state``)."""
        self.sig_device_state_changed.emit(label, state.value, reason)

    def on_write_error(self, message: str) -> None:
        """The event writer failed ("" when it recovered)."""
        self.sig_write_error.emit(message)

    def _on_ports_changed(self, added: list[PortInfo], removed: list[PortInfo]) -> None:
        for port in removed:
            self._ports.pop(port, None)
        self._ports.update(dict.fromkeys(added))
        self.sig_ports_changed.emit(sorted(self._ports, key=lambda p: p.device))

    def _on_scan_progress(self, fraction: float, found: list[Any]) -> None:
        self.sig_ble_scan_progressed.emit(float(fraction), list(found))

    # --- work started from the GUI thread ------------------------------------------------------
    def watch_ports(self, io: IoLoop, interval_s: float = 1.0) -> None:
        """Start hot-plug watching of serial ports on the I/O loop (reports the initial list)."""
        if self._watcher is not None:
            return
        self._watcher = PortWatcher(self._on_ports_changed, interval_s=interval_s)
        future = io.submit(self._watcher.start(report_initial=True))
        future.add_done_callback(self._port_watch_started)

    def _port_watch_started(self, future: concurrent.futures.Future[Any]) -> None:
        if future.cancelled():
            return
        exc = future.exception()
        if exc is not None:
            log.warning("serial port watching did not start: %s", exc)
        else:
            # The first listing may be empty, which reports nothing: say so once.
            self.sig_ports_changed.emit(sorted(self._ports, key=lambda p: p.device))

    def check_ble(self, io: IoLoop) -> None:
        """Ask whether Bluetooth LE is usable here; answers with sig_ble_availability_checked."""
        from devices.transports.ble_scan import ble_available

        def done(future: concurrent.futures.Future[tuple[bool, str]]) -> None:
            if future.cancelled():
                return
            exc = future.exception()
            if exc is not None:
                self.sig_ble_availability_checked.emit(False, _error_sentence(exc))
            else:
                ok, reason = future.result()
                self.sig_ble_availability_checked.emit(bool(ok), reason)

        try:
            io.submit(ble_available()).add_done_callback(done)
        except IoLoopError as exc:
            self.sig_ble_availability_checked.emit(False, str(exc))

    @property
    def scanning(self) -> bool:
        return self._scan is not None and not self._scan.done()

    def scan_ble(self, io: IoLoop, timeout_s: float = BLE_SCAN_S) -> None:
        """Scan for BLE devices on the I/O loop; progress and the result arrive as signals."""
        from devices.transports.ble_scan import scan

        if self.scanning:
            return

        def done(future: concurrent.futures.Future[list[Any]]) -> None:
            if future.cancelled():
                self.sig_ble_scan_finished.emit([], "The scan was stopped.")
                return
            exc = future.exception()
            if exc is not None:
                self.sig_ble_scan_finished.emit([], _error_sentence(exc))
            else:
                self.sig_ble_scan_finished.emit(list(future.result()), "")

        try:
            self._scan = io.submit(scan(timeout_s, self._on_scan_progress))
        except IoLoopError as exc:
            self.sig_ble_scan_finished.emit([], str(exc))
            return
        self._scan.add_done_callback(done)

    def report_send(self, label: str, future: concurrent.futures.Future[Any]) -> None:
        """Turn a failed ``DeviceManager.send`` future into sig_send_failed."""

        def done(f: concurrent.futures.Future[Any]) -> None:
            if f.cancelled():
                return
            exc = f.exception()
            if exc is not None:
                self.sig_send_failed.emit(label, _error_sentence(exc))

        future.add_done_callback(done)

    # --- blocking device actions, off the GUI thread -------------------------------------------
    def run_for_device(self, label: str, action: Callable[[], object]) -> None:
        """Run a blocking device action (connect, disconnect) on the bridge's worker thread.

        Actions run one at a time in the order given, so a disconnect followed by a connect of the
        same device cannot overtake each other. A failure becomes the device's "failed" state.
        """
        if self._worker is None:
            self._worker = threading.Thread(target=self._work, name="meterlab-device-actions",
                                            daemon=True)
            self._worker.start()
        self._actions.put((label, action))

    def _work(self) -> None:
        while (item := self._actions.get()) is not None:
            label, action = item
            try:
                action()
            except Exception as exc:  # a device fault must never reach Qt
                log.warning("%s: %s", label, exc,
                            exc_info=not isinstance(exc, (ValueError, OSError)))
                self.sig_device_state_changed.emit(label, SessionState.FAILED.value,
                                                   _error_sentence(exc))

    def shutdown(self, timeout_s: float = 10.0) -> bool:
        """Let queued device actions finish (bounded); call when the application quits.

        Returns:
            True when the worker ended in time.
        """
        worker, self._worker = self._worker, None
        if worker is None:
            return True
        self._actions.put(None)
        worker.join(timeout_s)
        return not worker.is_alive()


class RunBridge(QObject):
    """A run's progress (observer calls on the I/O thread) as signals in the GUI thread.

    It implements :class:`app.services.runs.api.RunObserver`: every method only emits.
    """

    #: (run id, RunStart)
    sig_run_started = Signal(int, object)
    #: (run id, step index, name, kind, teardown)
    sig_step_started = Signal(int, int, str, str, bool)
    #: (run id, step index, MeasurementResult)
    sig_measurement = Signal(int, int, object)
    #: PromptRequest
    sig_prompt = Signal(object)
    #: (run id, StepResult)
    sig_step_finished = Signal(int, object)
    #: RunResult
    sig_run_finished = Signal(object)

    def run_started(self, run_id: int, start: Any) -> None:
        self.sig_run_started.emit(run_id, start)

    def step_started(self, run_id: int, index: int, name: str, kind: str, teardown: bool) -> None:
        self.sig_step_started.emit(run_id, index, name, kind, teardown)

    def measurement(self, run_id: int, index: int, result: Any) -> None:
        self.sig_measurement.emit(run_id, index, result)

    def prompt(self, request: Any) -> None:
        self.sig_prompt.emit(request)

    def step_finished(self, run_id: int, result: Any) -> None:
        self.sig_step_finished.emit(run_id, result)

    def run_finished(self, result: Any) -> None:
        self.sig_run_finished.emit(result)


class PromptBoardBridge(QObject):
    """The questions of a shared prompt queue (:class:`app.services.runs.prompts.QueuePrompt`)
    as signals in the GUI thread. It implements ``PromptListener``: both methods only emit."""

    #: PromptRequest: a question now waits for an answer.
    sig_asked = Signal(object)
    #: PromptRequest: it no longer waits (answered, timed out, aborted).
    sig_settled = Signal(object)

    def asked(self, request: Any) -> None:
        self.sig_asked.emit(request)

    def settled(self, request: Any) -> None:
        self.sig_settled.emit(request)


class BackgroundTask(QObject):
    """Work that waits on the disk (an export, a report) on its own thread, with its progress
    and its end as signals in the GUI thread.

    Args:
        work: called on the worker thread with a progress callback (fraction 0..1, what).
    """

    #: (fraction 0..1, what is being done)
    sig_progress = Signal(float, str)
    #: the work's return value
    sig_done = Signal(object)
    #: one sentence saying why the work failed
    sig_failed = Signal(str)

    def __init__(self, work: Callable[[Callable[[float, str], None]], Any],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._work = work
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="background task", daemon=True)
        self._thread.start()

    def wait(self, timeout_s: float) -> bool:
        """Wait for the worker thread; True when it has ended."""
        if self._thread is not None:
            self._thread.join(timeout_s)
            return not self._thread.is_alive()
        return True

    def _run(self) -> None:
        try:
            result = self._work(lambda f, what: self.sig_progress.emit(float(f), str(what)))
        except Exception as exc:  # said in the page, never a crash of the worker
            message = getattr(exc, "message", None) or _error_sentence(exc)
            if not isinstance(exc, ValueError | LookupError | OSError):
                log.exception("background task failed")
            self.sig_failed.emit(str(message))
            return
        self.sig_done.emit(result)
