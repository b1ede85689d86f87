"""The device registry as a table: identity, connection settings and the live connection state."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import QAbstractItemView, QTableView, QWidget

from app.domain.devices import ConnectionSettings, Device
from ui.widgets.columns import fit_columns
from ui.widgets.table_model import ColumnsTableModel

#: state value -> (text colour, label). Amber while trying, red when failed, grey when idle.
STATE_STYLE: dict[str, tuple[str, str]] = {
    "connected": ("#1e8449", "connected"),
    "connecting": ("#b9770e", "connecting"),
    "reconnecting": ("#b9770e", "reconnecting"),
    "failed": ("#c62828", "failed"),
    "disconnected": ("#7a7a7a", "disconnected"),
}


def state_colour(state: str) -> QColor:
    return QColor(STATE_STYLE.get(state, STATE_STYLE["disconnected"])[0])


def state_text(state: str, reason: str) -> str:
    """``failed: port /dev/ttyUSB9 does not exist (is it plugged in?)``."""
    label = STATE_STYLE.get(state, (None, state))[1]
    return f"{label}: {reason}" if reason else label


def is_direct(device: Device) -> bool:
    return device.connection.is_direct


def describe_connection(connection: ConnectionSettings) -> str:
    """One line such as ``serial /dev/ttyUSB0 300 · iec62056-21`` (the baud the line opens at)."""
    transport = connection.transport
    protocol = connection.protocol
    if transport == "serial":
        where = f"serial {connection.port or '?'} {connection.line_baud}"
    elif transport == "ble":
        where = f"BLE {connection.address or '?'}"
    elif transport == "emulator":
        where = f"emulator {connection.endpoint or '?'}"
    elif transport == "han":
        where = f"HAN via {connection.via or 'its hub'}"
    elif not transport:
        return "not connected to the workstation"
    else:
        where = transport
    return f"{where} · {protocol}" if protocol else where


@dataclass
class DeviceState:
    state: str = "disconnected"
    reason: str = ""


COLUMNS = ("Label", "Kind", "Device ID", "MPAN/MPRN", "Manufacturer", "Model", "Firmware",
           "Owner", "Bench", "Connection", "State")
STATE_COLUMN = COLUMNS.index("State")


class DeviceTableModel(ColumnsTableModel):
    """Devices from the registry plus the last state each one reported."""

    columns = COLUMNS

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.devices: list[Device] = []
        self.states: dict[str, DeviceState] = {}
        #: label -> (bytes dropped before the capture file, bytes read but not written to it)
        self.missing: dict[str, tuple[int, int]] = {}

    # --- data ----------------------------------------------------------------------------------
    def set_devices(self, devices: list[Device]) -> None:
        self.beginResetModel()
        self.devices = list(devices)
        self.endResetModel()

    def set_state(self, label: str, state: str, reason: str) -> None:
        self.states[label] = DeviceState(state, reason)
        if self.devices:
            # Whole column: devices reached through a hub show the hub's state too.
            self.dataChanged.emit(self.index(0, STATE_COLUMN),
                                  self.index(len(self.devices) - 1, STATE_COLUMN))

    def set_missing(self, label: str, rx_dropped: int, capture_lost: int) -> None:
        """Bytes of `label`'s session that its capture file does not hold (shown with its state)."""
        value = (rx_dropped, capture_lost)
        if self.missing.get(label, (0, 0)) == value:
            return
        self.missing[label] = value
        row = self.row_of(label)
        if row is not None:
            index = self.index(row, STATE_COLUMN)
            self.dataChanged.emit(index, index)

    def state_of(self, label: str) -> DeviceState:
        return self.states.get(label, DeviceState())

    def row_of(self, label: str) -> int | None:
        for row, device in enumerate(self.devices):
            if device.label == label:
                return row
        return None

    def device_at(self, row: int) -> Device | None:
        return self.devices[row] if 0 <= row < len(self.devices) else None

    # --- Qt model ------------------------------------------------------------------------------
    def row_total(self) -> int:
        return len(self.devices)

    def _cell(self, device: Device, column: int) -> str:
        if column == STATE_COLUMN:
            if not is_direct(device):
                hub = device.connection.via
                if device.connection.transport == "han" and hub:
                    return f"via hub: {self.state_of(str(hub)).state}"
                return "—"
            s = self.state_of(device.label)
            text = state_text(s.state, s.reason)
            rx_dropped, capture_lost = self.missing.get(device.label, (0, 0))
            if rx_dropped or capture_lost:
                text += f" · {rx_dropped + capture_lost:,} B not captured"
            return text
        values = (device.label, device.kind.value, device.device_id, device.mpxn,
                  device.manufacturer, device.model, device.firmware, device.owner, device.bench,
                  describe_connection(device.connection))
        return values[column]

    def _state_tooltip(self, device: Device) -> str:
        text = self._cell(device, STATE_COLUMN)
        rx_dropped, capture_lost = self.missing.get(device.label, (0, 0))
        if rx_dropped or capture_lost:
            text += (f"\n{rx_dropped:,} bytes dropped by the port's receive buffer (never read); "
                     f"{capture_lost:,} bytes read but not written to the capture file.")
        return text

    def data(self, index: QModelIndex | QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> object:
        device = self.device_at(index.row()) if index.isValid() else None
        if device is None:
            return None
        column = index.column()
        if role == Qt.ItemDataRole.ToolTipRole and column == STATE_COLUMN:
            return self._state_tooltip(device)
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return self._cell(device, column)
        if column != STATE_COLUMN:
            if role == Qt.ItemDataRole.FontRole and column in (2, 3):
                return QFont("monospace")
            return None
        direct = is_direct(device)
        state = self.state_of(device.label).state
        if role == Qt.ItemDataRole.ForegroundRole:
            return QBrush(state_colour(state if direct else "disconnected"))
        if role == Qt.ItemDataRole.FontRole:
            font = QFont()
            font.setBold(direct and state != "disconnected")
            font.setItalic(not direct)
            return font
        if role == Qt.ItemDataRole.DecorationRole and direct:
            return state_colour(state)
        if role == Qt.ItemDataRole.UserRole:
            return state
        return None


class DeviceTable(QTableView):
    """The registry table: one row per device in bench order, whole-row selection."""

    def __init__(self, model: DeviceTableModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("deviceTable")
        self.setModel(model)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setAlternatingRowColors(True)
        self.verticalHeader().setVisible(False)
        self.setWordWrap(False)
        fit_columns(self, stretch=STATE_COLUMN)
        self.setTabKeyNavigation(False)

    def selected_row(self) -> int | None:
        rows = self.selectionModel().selectedRows()
        return rows[0].row() if rows else None

