"""Hardware the workstation can see: serial ports (hot-plug) and Bluetooth LE devices (scan)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from devices.transports.ble import NUS_SERVICE_UUID
from devices.transports.ble_scan import BleDeviceInfo
from devices.transports.ports import PortInfo


class DiscoveredHardwarePanel(QGroupBox):
    """Serial ports as they come and go, and a Bluetooth scan with its progress."""

    #: the user asked for a BLE scan
    sig_scan_requested = Signal()
    #: (transport "serial" | "ble", port path or BLE address) to add as a device
    sig_add_requested = Signal(str, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Discovered hardware", parent)
        self.ports_list = QListWidget()
        self.ports_list.setObjectName("serialPorts")
        self.ports_list.setToolTip("Double-click or press Enter to add a device on this port")
        self.ble_status = QLabel("Checking Bluetooth…")
        self.ble_status.setObjectName("bleStatus")
        self.ble_status.setWordWrap(True)
        self.scan_button = QPushButton("&Scan")
        self.scan_button.setToolTip("Scan for Bluetooth LE devices for a few seconds")
        self.scan_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setValue(0)
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(12)
        self.ble_list = QListWidget()
        self.ble_list.setObjectName("bleDevices")
        self.ble_list.setToolTip("Double-click or press Enter to add a device with this address")

        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("<b>Serial ports</b>"))
        layout.addWidget(self.ports_list, 1)
        ble_bar = QHBoxLayout()
        ble_bar.addWidget(QLabel("<b>Bluetooth LE</b>"))
        ble_bar.addStretch(1)
        ble_bar.addWidget(self.scan_button)
        layout.addLayout(ble_bar)
        layout.addWidget(self.ble_status)
        layout.addWidget(self.progress)
        layout.addWidget(self.ble_list, 1)

        self.scan_button.clicked.connect(self.sig_scan_requested)
        self.ports_list.itemActivated.connect(
            lambda item: self.sig_add_requested.emit("serial", item.data(Qt.ItemDataRole.UserRole)))
        self.ble_list.itemActivated.connect(
            lambda item: self.sig_add_requested.emit("ble", item.data(Qt.ItemDataRole.UserRole)))
        self._note(self.ports_list, "Waiting for the port list…")

    @staticmethod
    def _note(widget: QListWidget, text: str) -> None:
        widget.clear()
        item = QListWidgetItem(text)
        item.setFlags(Qt.ItemFlag.NoItemFlags)
        widget.addItem(item)

    def set_idle(self, reason: str) -> None:
        """Nothing is watched or scanned (device I/O is not running)."""
        self._note(self.ports_list, f"Ports are not watched: {reason}")
        self.scan_button.setEnabled(False)
        self.progress.setVisible(False)
        self.ble_status.setText(f"Scanning is off: {reason}")
        self.ble_status.setStyleSheet("color: #7a7a7a;")

    # --- serial --------------------------------------------------------------------------------
    def set_ports(self, ports: list[PortInfo]) -> None:
        self.ports_list.clear()
        for port in ports:
            text = port.device + (f"  —  {port.description}" if port.description
                                  and port.description != "n/a" else "")
            item = QListWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, port.device)
            item.setToolTip(port.hwid or port.device)
            self.ports_list.addItem(item)
        if not ports:
            self._note(self.ports_list, "No serial adapters plugged in")

    def port_names(self) -> list[str]:
        return [self.ports_list.item(i).data(Qt.ItemDataRole.UserRole)
                for i in range(self.ports_list.count())
                if self.ports_list.item(i).data(Qt.ItemDataRole.UserRole)]

    # --- Bluetooth -----------------------------------------------------------------------------
    def set_ble_available(self, available: bool, reason: str) -> None:
        self.scan_button.setEnabled(available)
        if available:
            self.ble_status.setText("Ready to scan.")
            self.ble_status.setStyleSheet("")
        else:
            text = reason if reason.startswith("Bluetooth unavailable") else (
                f"Bluetooth unavailable: {reason}")
            self.ble_status.setText(text)
            self.ble_status.setStyleSheet("color: #7a7a7a;")
        self.progress.setVisible(available)

    def scan_started(self) -> None:
        self.scan_button.setEnabled(False)
        self.progress.setValue(0)
        self.ble_status.setText("Scanning…")

    def scan_progressed(self, fraction: float, found: list[BleDeviceInfo]) -> None:
        self.progress.setValue(round(fraction * 100))
        self._show_found(found)

    def scan_finished(self, found: list[BleDeviceInfo], error: str) -> None:
        self.progress.setValue(100 if not error else 0)
        self._show_found(found)
        if error:
            self.ble_status.setText(error)
            self.ble_status.setStyleSheet("color: #c62828;")
            self.scan_button.setEnabled(not error.startswith("Bluetooth unavailable"))
        else:
            self.ble_status.setText(f"Found {len(found)} device{'s' if len(found) != 1 else ''}.")
            self.ble_status.setStyleSheet("")
            self.scan_button.setEnabled(True)

    def _show_found(self, found: list[BleDeviceInfo]) -> None:
        self.ble_list.clear()
        for dev in found:
            nus = " · UART" if NUS_SERVICE_UUID in dev.service_uuids else ""
            item = QListWidgetItem(f"{dev.name or '(no name)'}  {dev.address}  {dev.rssi} dBm{nus}")
            item.setData(Qt.ItemDataRole.UserRole, dev.address)
            self.ble_list.addItem(item)
