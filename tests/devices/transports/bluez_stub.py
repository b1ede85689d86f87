"""A BlueZ stand-in on a private D-Bus system bus, so bleak's real BlueZ backend runs in tests.

Built on python-dbusmock's ``bluez5`` template. The template alone is not enough for bleak:
- its default ``ManufacturerData``/``ServiceData`` are arrays, which bleak's scanner rejects,
  so devices are updated with dictionaries;
- its ``Connect`` does not resolve services, so ``Device1.Connect``/``Disconnect`` are replaced
  with code that sets ``Connected`` and ``ServicesResolved`` (as ``dbus.Boolean``);
- bleak learns of GATT objects only from ``InterfacesAdded``, which ``AddObject`` does not emit
  for them, so the signal is emitted from the root object;
- devices are only reported while discovering when their properties change, so an advertiser
  thread re-announces each device's RSSI every few tens of milliseconds, as a real adapter does
  each time it hears an advertisement (the adapter's ``StartDiscovery`` also announces them at
  once, so short scans see them).

The peripheral side of the Nordic UART Service lives in the mock process: ``WriteValue`` on RX
appends to a log and, when echo is on, sets the TX ``Value`` so bleak delivers a notification.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from dataclasses import dataclass

import dbus
import dbusmock
from dbusmock import DBusTestCase

NUS_SERVICE = "6e400001-b5a3-f393-e0a9-e50e24dcca9e"
NUS_RX = "6e400002-b5a3-f393-e0a9-e50e24dcca9e"
NUS_TX = "6e400003-b5a3-f393-e0a9-e50e24dcca9e"

BLUEZ = "org.bluez"
DEVICE_IFACE = "org.bluez.Device1"
ADAPTER_IFACE = "org.bluez.Adapter1"
SERVICE_IFACE = "org.bluez.GattService1"
CHAR_IFACE = "org.bluez.GattCharacteristic1"
OBJECT_MANAGER_IFACE = "org.freedesktop.DBus.ObjectManager"

_START_DISCOVERY = """
self.UpdateProperties('org.bluez.Adapter1', {'Discovering': dbus.Boolean(True)})
prefix = self.path + '/dev_'
for path, obj in list(objects.items()):
    if path.startswith(prefix) and path.count('/') == 4:
        rssi = obj.props['org.bluez.Device1']['RSSI']
        obj.UpdateProperties('org.bluez.Device1', {'RSSI': dbus.Int16(rssi)})
"""

_STOP_DISCOVERY = """
self.UpdateProperties('org.bluez.Adapter1', {'Discovering': dbus.Boolean(False)})
"""

_CONNECT = """
if self.props['org.bluez.Device1']['Connected']:
    raise dbus.exceptions.DBusException('Already Connected', name='org.bluez.Error.AlreadyConnected')
self.UpdateProperties('org.bluez.Device1', {'Connected': dbus.Boolean(True)})
self.UpdateProperties('org.bluez.Device1', {'ServicesResolved': dbus.Boolean(True)})
"""

_DISCONNECT = """
self.UpdateProperties(
    'org.bluez.Device1',
    {'ServicesResolved': dbus.Boolean(False), 'Connected': dbus.Boolean(False)},
)
"""

_NOTIFY_ON = (
    "self.UpdateProperties('org.bluez.GattCharacteristic1', {'Notifying': dbus.Boolean(True)})"
)
_NOTIFY_OFF = (
    "self.UpdateProperties('org.bluez.GattCharacteristic1', {'Notifying': dbus.Boolean(False)})"
)

# args[0] is the written bytes (ay), args[1] the options (a{sv}).
_RX_WRITE = """
written = getattr(self, 'written', [])
written.append(bytes(args[0]))
self.written = written
tx = objects[self.tx_path]
if getattr(self, 'echo', True) and tx.props['org.bluez.GattCharacteristic1']['Notifying']:
    tx.UpdateProperties(
        'org.bluez.GattCharacteristic1',
        {'Value': dbus.Array([dbus.Byte(b) for b in bytes(args[0])], signature='y')},
    )
"""

_RX_SETUP = "self.tx_path = args[0]\nself.echo = bool(args[1])\nself.written = []"
_RX_WRITTEN = (
    "ret = dbus.Array([dbus.ByteArray(b) for b in getattr(self, 'written', [])], signature='ay')"
)


def dbus_daemon_path() -> str | None:
    """Where ``dbus-daemon`` is, or None if it is not installed."""
    return shutil.which("dbus-daemon")


@dataclass(frozen=True)
class NusDevice:
    """Object paths of one stand-in NUS peripheral."""

    address: str
    path: str
    service_path: str
    rx_path: str
    tx_path: str


class BluezStub:
    """A private system bus with a mock ``bluetoothd`` and one adapter (``hci0``)."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = None
        self._saved_address: str | None = None
        self.bus: dbus.Bus | None = None
        self.adapter_path = ""
        self._advertised: list[str] = []
        self._advertiser: threading.Thread | None = None
        self._stop_advertising = threading.Event()

    def start(self) -> None:
        """Start the bus and the mock, add ``hci0``; sets ``DBUS_SYSTEM_BUS_ADDRESS``."""
        self._saved_address = os.environ.get("DBUS_SYSTEM_BUS_ADDRESS")
        DBusTestCase.start_system_bus()
        self._process, root = DBusTestCase.spawn_server_template(
            "bluez5", {}, stdout=subprocess.DEVNULL
        )
        self.bus = DBusTestCase.get_dbus(system_bus=True)
        self._mock = dbus.Interface(root, "org.bluez.Mock")
        self.adapter_path = str(self._mock.AddAdapter("hci0", "meterlab-test"))
        adapter = self._mock_iface(self.adapter_path)
        adapter.AddMethod(ADAPTER_IFACE, "StartDiscovery", "", "", _START_DISCOVERY)
        adapter.AddMethod(ADAPTER_IFACE, "StopDiscovery", "", "", _STOP_DISCOVERY)

    def start_advertising(self, interval_s: float = 0.05) -> None:
        """Re-announce every added device's RSSI every ``interval_s`` until :meth:`stop`."""
        address = os.environ["DBUS_SYSTEM_BUS_ADDRESS"]

        def advertise() -> None:
            bus = dbus.bus.BusConnection(address)
            try:
                while not self._stop_advertising.wait(interval_s):
                    for path in list(self._advertised):
                        iface = dbus.Interface(bus.get_object(BLUEZ, path), dbusmock.MOCK_IFACE)
                        props = dbus.Interface(bus.get_object(BLUEZ, path), dbus.PROPERTIES_IFACE)
                        try:
                            rssi = props.Get(DEVICE_IFACE, "RSSI")
                            iface.UpdateProperties(DEVICE_IFACE, {"RSSI": dbus.Int16(rssi)})
                        except dbus.exceptions.DBusException:
                            return  # the mock is going away
            finally:
                bus.close()

        self._stop_advertising.clear()
        self._advertiser = threading.Thread(target=advertise, name="ble-advertiser", daemon=True)
        self._advertiser.start()

    def stop(self) -> None:
        """Stop the mock and the bus; restore ``DBUS_SYSTEM_BUS_ADDRESS``."""
        self._stop_advertising.set()
        if self._advertiser is not None:
            self._advertiser.join(timeout=5)
            self._advertiser = None
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=5)
            self._process = None
        if self.bus is not None:
            self.bus.close()
            self.bus = None
        DBusTestCase.tearDownClass()
        if self._saved_address is None:
            os.environ.pop("DBUS_SYSTEM_BUS_ADDRESS", None)
        else:
            os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = self._saved_address

    def _object(self, path: str) -> dbus.proxies.ProxyObject:
        assert self.bus is not None, "start() first"
        return self.bus.get_object(BLUEZ, path)

    def _mock_iface(self, path: str) -> dbus.Interface:
        return dbus.Interface(self._object(path), dbusmock.MOCK_IFACE)

    def _emit_added(self, path: str, interface: str, props: dict[str, object]) -> None:
        self._mock_iface("/").EmitSignal(
            OBJECT_MANAGER_IFACE,
            "InterfacesAdded",
            "oa{sa{sv}}",
            [
                dbus.ObjectPath(path),
                dbus.Dictionary(
                    {interface: dbus.Dictionary(props, signature="sv")},
                    signature="sa{sv}",
                    variant_level=1,
                ),
            ],
        )

    def add_nus_device(
        self,
        address: str,
        name: str,
        *,
        rssi: int = -50,
        mtu: int = 23,
        echo: bool = True,
        with_nus: bool = True,
        disconnect_stall_s: float = 0.0,
    ) -> NusDevice:
        """Add an advertising peripheral, with a Nordic UART Service unless ``with_nus`` is False.

        Args:
            address: Bluetooth address.
            name: advertised name.
            rssi: signal strength reported to scans.
            mtu: ATT MTU reported on the characteristics (writes are chunked to ``mtu - 3``).
            echo: whether bytes written to RX come back as TX notifications.
            with_nus: whether the device has the service at all.
            disconnect_stall_s: how long ``Disconnect`` blocks the whole stand-in first, as
                a wedged bluetoothd does.
        """
        path = str(self._mock.AddDevice("hci0", address, name))
        self._advertised.append(path)
        device = self._mock_iface(path)
        uuids = [NUS_SERVICE] if with_nus else []
        device.UpdateProperties(
            DEVICE_IFACE,
            {
                "RSSI": dbus.Int16(rssi),
                "UUIDs": dbus.Array(uuids, signature="s"),
                "ManufacturerData": dbus.Dictionary(
                    {dbus.UInt16(0x0059): dbus.Array([dbus.Byte(1)], signature="y")},
                    signature="qv",
                ),
                "ServiceData": dbus.Dictionary({}, signature="sv"),
            },
        )
        device.AddMethod(DEVICE_IFACE, "Connect", "", "", _CONNECT)
        stall = (
            f"import time\ntime.sleep({float(disconnect_stall_s)})\n" if disconnect_stall_s else ""
        )
        device.AddMethod(DEVICE_IFACE, "Disconnect", "", "", stall + _DISCONNECT)
        service_path = f"{path}/service000c"
        rx_path = f"{service_path}/char000d"
        tx_path = f"{service_path}/char000f"
        if with_nus:
            self._add_gatt(path, service_path, rx_path, tx_path, mtu, echo)
        return NusDevice(address, path, service_path, rx_path, tx_path)

    def _add_gatt(
        self, path: str, service_path: str, rx_path: str, tx_path: str, mtu: int, echo: bool
    ) -> None:
        service_props = {
            "UUID": dbus.String(NUS_SERVICE),
            "Primary": dbus.Boolean(True),
            "Device": dbus.ObjectPath(path),
            "Includes": dbus.Array([], signature="o"),
            "Handle": dbus.UInt16(0x000C),
        }
        root = self._mock_iface("/")
        root.AddObject(service_path, SERVICE_IFACE, service_props, [])
        self._emit_added(service_path, SERVICE_IFACE, service_props)
        for char_path, uuid, flags, handle in (
            (rx_path, NUS_RX, ["write", "write-without-response"], 0x000D),
            (tx_path, NUS_TX, ["notify"], 0x000F),
        ):
            props = {
                "UUID": dbus.String(uuid),
                "Service": dbus.ObjectPath(service_path),
                "Value": dbus.Array([], signature="y"),
                "Notifying": dbus.Boolean(False),
                "Flags": dbus.Array(flags, signature="s"),
                "Handle": dbus.UInt16(handle),
                "MTU": dbus.UInt16(mtu),
            }
            root.AddObject(
                char_path,
                CHAR_IFACE,
                props,
                [
                    ("StartNotify", "", "", _NOTIFY_ON),
                    ("StopNotify", "", "", _NOTIFY_OFF),
                    ("ReadValue", "a{sv}", "ay", "ret = self.props[interface]['Value']"),
                ],
            )
            self._emit_added(char_path, CHAR_IFACE, props)
        rx = self._mock_iface(rx_path)
        rx.AddMethod(CHAR_IFACE, "WriteValue", "aya{sv}", "", _RX_WRITE)
        rx.AddMethod("org.meterlab.Test", "Setup", "sb", "", _RX_SETUP)
        rx.AddMethod("org.meterlab.Test", "Written", "", "aay", _RX_WRITTEN)
        dbus.Interface(self._object(rx_path), "org.meterlab.Test").Setup(tx_path, echo)

    def written(self, device: NusDevice) -> list[bytes]:
        """Every chunk the central wrote to the device's RX characteristic, in order."""
        chunks = dbus.Interface(self._object(device.rx_path), "org.meterlab.Test").Written()
        return [bytes(chunk) for chunk in chunks]

    def notify(self, device: NusDevice, data: bytes) -> None:
        """Send ``data`` from the peripheral as a TX notification."""
        self._mock_iface(device.tx_path).UpdateProperties(
            CHAR_IFACE, {"Value": dbus.Array([dbus.Byte(b) for b in data], signature="y")}
        )

    def drop_link(self, device: NusDevice) -> None:
        """Make the peripheral vanish from the link (out of range, powered off)."""
        self._mock_iface(device.path).UpdateProperties(
            DEVICE_IFACE,
            {"ServicesResolved": dbus.Boolean(False), "Connected": dbus.Boolean(False)},
        )

    def is_connected(self, device: NusDevice) -> bool:
        """The stand-in's view of the link."""
        props = dbus.Interface(self._object(device.path), dbus.PROPERTIES_IFACE)
        return bool(props.Get(DEVICE_IFACE, "Connected"))
