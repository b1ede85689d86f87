"""The Devices page: the registry, each device's connection state, raw bytes and counters.

State changes arrive as bridge signals; bytes and counters are pulled by one display timer
(about 10 Hz) from the device manager, never pushed per chunk.
"""

from __future__ import annotations

from collections.abc import Callable
from zoneinfo import ZoneInfo

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.domain.devices import Device
from app.services.runtime import DeviceRuntime
from app.storage.devices import DeviceRepo
from ui.bridge import DeviceBridge
from ui.dialogs.device_dialog import DeviceDialog
from ui.dialogs.device_form import DeviceForm
from ui.pages.registry import PageEnv
from ui.widgets.device_health import HealthPanel
from ui.widgets.device_table import (
    DeviceTable,
    DeviceTableModel,
    describe_connection,
    is_direct,
    state_colour,
    state_text,
)
from ui.widgets.discovered_hardware import DiscoveredHardwarePanel
from ui.widgets.raw_console import RawConsole

#: Display timer period: bytes and counters are pulled this often.
REFRESH_MS = 100
ACTIVE_STATES = ("connected", "connecting", "reconnecting")

#: Asks a yes/no question: (title, text) -> yes?
Confirm = Callable[[str, str], bool]


class DevicesPage(QWidget):
    """The lab's devices. Works without a runtime (registry only) until :meth:`attach` is called."""

    def __init__(self, env: PageEnv, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.env = env
        self.ctx, self.errors = env.ctx, env.errors
        self.repo = DeviceRepo(env.ctx.lab_source, env.ctx.clock)
        self.runtime: DeviceRuntime | None = None
        self.bridge: DeviceBridge | None = None
        self.device_dialog: DeviceDialog | None = None
        self.confirm: Confirm = self._confirm
        tz = ZoneInfo("Europe/London")

        self.add_button = QPushButton("&Add…")
        self.add_button.setToolTip("Add a device to the registry (Ctrl+N)")
        self.edit_button = QPushButton("&Edit…")
        self.edit_button.setToolTip("Edit the selected device (Enter)")
        self.delete_button = QPushButton("De&lete")
        self.delete_button.setToolTip("Remove the selected device from the registry (Delete)")
        self.connect_button = QPushButton("&Connect")
        self.connect_button.setToolTip("Open the selected device's link (Ctrl+K)")
        self.disconnect_button = QPushButton("&Disconnect")
        self.disconnect_button.setToolTip("Close the selected device's link (Ctrl+Shift+K)")
        self.runtime_note = QLabel("Device I/O is not running: the registry can be edited.")
        self.runtime_note.setStyleSheet("color: #7a7a7a;")
        top = QHBoxLayout()
        for w in (self.add_button, self.edit_button, self.delete_button):
            top.addWidget(w)
        top.addSpacing(18)
        top.addWidget(self.connect_button)
        top.addWidget(self.disconnect_button)
        top.addStretch(1)
        top.addWidget(self.runtime_note)

        self.model = DeviceTableModel(self)
        self.table = DeviceTable(self.model)

        self.selected_title = QLabel()
        self.selected_title.setObjectName("selectedDevice")
        self.selected_title.setStyleSheet("font-size: 11pt; font-weight: bold;")
        self.selected_state = QLabel()
        self.selected_state.setObjectName("selectedState")
        self.selected_state.setWordWrap(True)
        self.console = RawConsole(tz)
        self.health = HealthPanel(tz)
        self.send_edit = QLineEdit()
        self.send_edit.setObjectName("sendLine")
        self.send_edit.setPlaceholderText("Text to send, e.g. RELAY 1 OFF (sent with CR LF)")
        self.send_button = QPushButton("Se&nd")
        self.send_status = QLabel()
        self.send_status.setStyleSheet("color: #c62828;")

        heading = QHBoxLayout()
        heading.addWidget(self.selected_title)
        heading.addWidget(self.selected_state, 1)
        send_row = QHBoxLayout()
        send_row.addWidget(QLabel("Send:"))
        send_row.addWidget(self.send_edit, 1)
        send_row.addWidget(self.send_button)
        send_row.addWidget(self.send_status)
        console_box = QWidget()
        console_layout = QVBoxLayout(console_box)
        console_layout.setContentsMargins(0, 0, 0, 0)
        console_layout.addLayout(heading)
        console_layout.addWidget(self.console, 1)
        console_layout.addLayout(send_row)

        self.discovered = DiscoveredHardwarePanel()
        self.discovered.set_idle("device I/O is not running")

        lower = QSplitter(Qt.Orientation.Horizontal)
        lower.addWidget(console_box)
        lower.addWidget(self.health)
        lower.addWidget(self.discovered)
        lower.setStretchFactor(0, 5)
        lower.setStretchFactor(1, 0)
        lower.setStretchFactor(2, 2)
        lower.setSizes([760, 190, 330])
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(lower)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 3)
        split.setSizes([210, 520])
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(split, 1)

        self.add_button.clicked.connect(lambda: self.open_add_dialog())
        self.edit_button.clicked.connect(self.open_edit_dialog)
        self.delete_button.clicked.connect(self.delete_selected)
        self.connect_button.clicked.connect(self.connect_selected)
        self.disconnect_button.clicked.connect(self.disconnect_selected)
        self.send_button.clicked.connect(self.send_line)
        self.send_edit.returnPressed.connect(self.send_line)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self.table.activated.connect(lambda _index: self.open_edit_dialog())
        self.discovered.sig_add_requested.connect(
            lambda transport, where: self.open_add_dialog(transport, where))
        QShortcut(QKeySequence.StandardKey.New, self, lambda: self.open_add_dialog())
        QShortcut(QKeySequence(Qt.Key.Key_Delete), self.table, self.delete_selected)
        QShortcut(QKeySequence("Ctrl+K"), self, self.connect_selected)
        QShortcut(QKeySequence("Ctrl+Shift+K"), self, self.disconnect_selected)

        self.timer = QTimer(self)
        self.timer.setInterval(REFRESH_MS)
        self.timer.timeout.connect(self.refresh)
        self.reload()

    # --- runtime -------------------------------------------------------------------------------
    def attach(self, runtime: DeviceRuntime, bridge: DeviceBridge) -> None:
        """Show live state from `runtime`; its callbacks must already emit through `bridge`."""
        self.runtime, self.bridge = runtime, bridge
        self.runtime_note.hide()
        bridge.sig_device_state_changed.connect(self.set_device_state)
        bridge.sig_write_error.connect(self._write_error)
        bridge.sig_ports_changed.connect(self._ports_changed)
        bridge.sig_ble_availability_checked.connect(self.discovered.set_ble_available)
        bridge.sig_ble_scan_progressed.connect(self.discovered.scan_progressed)
        bridge.sig_ble_scan_finished.connect(self.discovered.scan_finished)
        bridge.sig_send_failed.connect(self._send_failed)
        self.discovered.sig_scan_requested.connect(self.start_scan)
        self.discovered.ble_status.setText("Checking Bluetooth…")
        for device in self.model.devices:
            health = runtime.manager.health(device.label)
            if health is not None:
                self.model.set_state(device.label, health.state.value, health.reason)
        with self.errors.guard("Devices"):
            bridge.watch_ports(runtime.io)
            bridge.check_ble(runtime.io)
        self.timer.start()
        self._update_actions()

    def detach(self) -> None:
        """Stop pulling from the runtime (it is being stopped)."""
        self.timer.stop()
        self.runtime = None
        self._update_actions()

    # --- registry ------------------------------------------------------------------------------
    def reload(self) -> None:
        """Re-read the registry, keeping the selection."""
        label = self.selected_label()
        self.model.set_devices(self.repo.list())
        row = self.model.row_of(label) if label else None
        if row is None:
            # Start on the first device with a link of its own: its console has something to show.
            row = next((i for i, d in enumerate(self.model.devices) if is_direct(d)), None)
        if row is not None:
            self.table.selectRow(row)
        self._selection_changed()

    def selected_device(self) -> Device | None:
        row = self.table.selected_row()
        return self.model.device_at(row) if row is not None else None

    def selected_label(self) -> str:
        device = self.selected_device()
        return device.label if device else ""

    def select(self, label: str) -> None:
        row = self.model.row_of(label)
        if row is not None:
            self.table.selectRow(row)

    def _port_names(self) -> list[str]:
        return self.discovered.port_names()

    def open_add_dialog(self, transport: str = "", where: str = "") -> DeviceDialog:
        """Open the device dialog for a new device (optionally on a discovered port)."""
        start = DeviceForm(transport=transport, where=where) if transport else None
        return self._open_dialog(None, start)

    def open_edit_dialog(self) -> DeviceDialog | None:
        device = self.selected_device()
        if device is None:
            return None
        return self._open_dialog(device, None)

    def _open_dialog(self, device: Device | None, start: DeviceForm | None) -> DeviceDialog:
        if self.device_dialog is not None:
            self.device_dialog.raise_()
            return self.device_dialog

        def save(d: Device) -> Device:
            actor = self.ctx.actor
            return self.repo.update(d, actor) if d.id is not None else self.repo.add(d, actor)

        dialog = DeviceDialog(self.repo.find, save, device, self._port_names(), self)
        if start is not None:
            dialog.transport_combo.setCurrentIndex(dialog.transport_combo.findData(start.transport))
            dialog.where_combo.setEditText(start.where)
        dialog.accepted.connect(lambda: self._saved(dialog.saved, device))
        dialog.finished.connect(self._dialog_closed)
        self.device_dialog = dialog
        dialog.open()
        return dialog

    def _dialog_closed(self) -> None:
        if self.device_dialog is not None:
            self.device_dialog.deleteLater()
        self.device_dialog = None

    def _saved(self, saved: Device | None, before: Device | None) -> None:
        if saved is None:
            return
        if before is not None and before.label != saved.label:
            self.model.states.pop(before.label, None)
        if before is not None:
            self._reconnect_if_changed(before, saved)
        self.reload()
        self.select(saved.label)
        self.env.show_status(f"Saved device {saved.label}.")

    def _reconnect_if_changed(self, before: Device, after: Device) -> None:
        """A running session follows an edit of its label or connection settings."""
        if self.runtime is None or self.bridge is None:
            return
        manager = self.runtime.manager
        if before.label not in manager.connected_labels():
            return
        if before.label == after.label and before.connection == after.connection:
            return

        def reconnect() -> None:
            manager.disconnect(before.label)
            if is_direct(after):
                manager.connect(after)

        self.bridge.run_for_device(after.label, reconnect)

    def delete_selected(self) -> None:
        device = self.selected_device()
        if device is None or device.id is None:
            return
        if not self.confirm("Delete device",
                            f"Remove {device.label} from the registry? Its captures and events "
                            "are kept."):
            return
        if self.runtime is not None and self.bridge is not None:
            manager = self.runtime.manager
            self.bridge.run_for_device(device.label, lambda: manager.disconnect(device.label))
        with self.errors.guard("Devices"):
            self.repo.delete(device.id, self.ctx.actor)
            self.model.states.pop(device.label, None)
            self.reload()
            self.env.show_status(f"Deleted device {device.label}.")

    def _confirm(self, title: str, text: str) -> bool:
        answer = QMessageBox.question(self, title, text)
        return answer == QMessageBox.StandardButton.Yes

    # --- connecting ----------------------------------------------------------------------------
    def connect_selected(self) -> None:
        device = self.selected_device()
        if device is None or self.runtime is None or self.bridge is None or not is_direct(device):
            return
        manager = self.runtime.manager

        def connect() -> None:
            # A session that gave up (failed) is still registered: end it before starting anew.
            if device.label in manager.connected_labels():
                manager.disconnect(device.label)
            manager.connect(device)

        self.model.set_state(device.label, "connecting", "")
        self._selection_changed()
        self.bridge.run_for_device(device.label, connect)

    def disconnect_selected(self) -> None:
        device = self.selected_device()
        if device is None or self.runtime is None or self.bridge is None:
            return
        manager = self.runtime.manager
        label = device.label

        def disconnect() -> None:
            manager.disconnect(label)
            # A session that had already failed ends without a new state: say it is closed now.
            health = manager.health(label)
            if health is None or health.state.value == "failed":
                self.bridge.sig_device_state_changed.emit(label, "disconnected", "")

        self.bridge.run_for_device(label, disconnect)

    def set_device_state(self, label: str, state: str, reason: str) -> None:
        self.model.set_state(label, state, reason)
        if label == self.selected_label():
            self._show_selected_state()
            self._update_actions()

    def _write_error(self, message: str) -> None:
        if message:
            self.errors.report(message, "Devices")

    def _ports_changed(self, ports: list) -> None:
        self.discovered.set_ports(ports)
        if self.device_dialog is not None:
            self.device_dialog.set_ports(self._port_names())

    def start_scan(self) -> None:
        if self.runtime is None or self.bridge is None or self.bridge.scanning:
            return
        self.discovered.scan_started()
        self.bridge.scan_ble(self.runtime.io)

    # --- the selected device -------------------------------------------------------------------
    def _selection_changed(self, *_args: object) -> None:
        device = self.selected_device()
        self.console.reset()
        self.health.show_health(None)
        self.send_status.clear()
        self.selected_title.setText(device.label if device else "No device selected")
        hub = device.connection.via if device and not is_direct(device) else None
        self.console.view.setPlaceholderText(
            f"{device.label} is reached through {hub}: select the hub to see its bytes."
            if device and hub else "Select a connected device to see the bytes on its link.")
        self._show_selected_state()
        self._update_actions()
        self.refresh()

    def _show_selected_state(self) -> None:
        device = self.selected_device()
        if device is None:
            self.selected_state.clear()
            return
        if not is_direct(device):
            self.selected_state.setText(describe_connection(device.connection) or "—")
            self.selected_state.setStyleSheet("color: #7a7a7a;")
            return
        s = self.model.state_of(device.label)
        self.selected_state.setText(state_text(s.state, s.reason))
        self.selected_state.setStyleSheet(f"color: {state_colour(s.state).name()};")

    def _update_actions(self) -> None:
        device = self.selected_device()
        live = self.runtime is not None
        state = self.model.state_of(device.label).state if device else "disconnected"
        direct = device is not None and is_direct(device)
        self.edit_button.setEnabled(device is not None)
        self.delete_button.setEnabled(device is not None)
        self.connect_button.setEnabled(live and direct and state not in ACTIVE_STATES)
        self.disconnect_button.setEnabled(live and direct and state != "disconnected")
        self.send_edit.setEnabled(live and direct and state == "connected")
        self.send_button.setEnabled(live and direct and state == "connected")

    def refresh(self) -> None:
        """Display timer: pull new raw bytes and counters of the selected device."""
        runtime, device = self.runtime, self.selected_device()
        if runtime is None:
            return
        manager = runtime.manager
        # Bytes a capture does not hold are shown beside every device, selected or not.
        for label in manager.connected_labels():
            health = manager.health(label)
            if health is not None:
                self.model.set_missing(label, health.rx_dropped_bytes, health.capture_lost_bytes)
        if device is None or not is_direct(device):
            return
        if not self.console.paused:
            self.console.append_chunks(manager.raw(device.label).since(self.console.last_seq))
        self.health.show_health(manager.health(device.label))

    def send_line(self) -> None:
        device = self.selected_device()
        text = self.send_edit.text()
        if device is None or self.runtime is None or self.bridge is None or not text:
            return
        try:
            data = (text + "\r\n").encode("ascii")
        except UnicodeEncodeError:
            self.send_status.setText("Only ASCII text can be sent.")
            return
        try:
            future = self.runtime.manager.send(device.label, data)
        except KeyError:
            self.send_status.setText(f"{device.label} is not connected.")
            return
        self.bridge.report_send(device.label, future)
        self.send_status.clear()
        self.send_edit.clear()

    def _send_failed(self, label: str, message: str) -> None:
        if label == self.selected_label():
            self.send_status.setText(message)
        else:
            self.errors.report(f"{label}: {message}", "Devices")
