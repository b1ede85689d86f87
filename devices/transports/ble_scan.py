"""Bluetooth availability and scanning (bleak), for radio adapters and BLE bridges.

Runs only on the I/O thread. Every bleak failure that means "no Bluetooth here" becomes a
:class:`TransportError` with reason ``unavailable`` and the sentence "Bluetooth unavailable: ...".
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

from bleak import BleakScanner
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.exc import BleakBluetoothNotAvailableError, BleakDBusError, BleakError

from devices.transports.base import TransportError, TransportErrorReason

logger = logging.getLogger(__name__)

_BLUEZ_SERVICE = "org.bluez"
_ADAPTER_INTERFACE = "org.bluez.Adapter1"


@dataclass(frozen=True, slots=True)
class BleDeviceInfo:
    """One advertising BLE device seen in a scan.

    Attributes:
        name: advertised local name, or "" when the device sent none.
        address: Bluetooth address (a UUID on macOS), used to connect.
        rssi: last received signal strength in dBm.
        service_uuids: advertised service UUIDs, lower case.
    """

    name: str
    address: str
    rssi: int
    service_uuids: tuple[str, ...] = field(default_factory=tuple)


ScanProgress = Callable[[float, list[BleDeviceInfo]], None]


def unavailable(reason: str) -> TransportError:
    """The error for "there is no usable Bluetooth on this machine"."""
    return TransportError(TransportErrorReason.UNAVAILABLE, f"Bluetooth unavailable: {reason}")


def map_bluetooth_error(exc: BaseException) -> TransportError | None:
    """Turn an error that means Bluetooth itself is missing into a TransportError, else None."""
    if isinstance(exc, BleakBluetoothNotAvailableError):
        text = exc.args[0] if exc.args and isinstance(exc.args[0], str) else ""
        return unavailable(text.rstrip(".") or "no usable Bluetooth adapter")
    if isinstance(exc, (FileNotFoundError, ConnectionRefusedError)):
        return unavailable(f"no D-Bus system bus ({exc})")
    if isinstance(exc, BleakDBusError) and exc.dbus_error in (
        "org.freedesktop.DBus.Error.ServiceUnknown",
        "org.freedesktop.DBus.Error.NameHasNoOwner",
    ):
        return unavailable("the BlueZ service is not running")
    return None


async def _probe_bluez(timeout_s: float) -> tuple[bool, str]:
    # dbus_fast ships with bleak on Linux; asking D-Bus directly avoids starting a scan.
    from dbus_fast import BusType, Message, MessageType
    from dbus_fast.aio import MessageBus

    bus = MessageBus(bus_type=BusType.SYSTEM)
    try:
        try:
            await asyncio.wait_for(bus.connect(), timeout_s)
        except TimeoutError:
            return False, "the D-Bus system bus did not answer"
        except Exception as exc:
            return False, f"no D-Bus system bus ({exc})"
        reply = await asyncio.wait_for(
            bus.call(
                Message(
                    destination=_BLUEZ_SERVICE,
                    path="/",
                    interface="org.freedesktop.DBus.ObjectManager",
                    member="GetManagedObjects",
                )
            ),
            timeout_s,
        )
        if reply is None or reply.message_type == MessageType.ERROR:
            return False, "the BlueZ service is not running"
        adapters = [
            interfaces[_ADAPTER_INTERFACE]
            for interfaces in reply.body[0].values()
            if _ADAPTER_INTERFACE in interfaces
        ]
        if not adapters:
            return False, "no Bluetooth adapter"
        if not any(adapter["Powered"].value for adapter in adapters if "Powered" in adapter):
            return False, "the Bluetooth adapter is switched off"
        return True, ""
    except TimeoutError:
        return False, "the BlueZ service did not answer"
    finally:
        bus.disconnect()


async def ble_available(timeout_s: float = 3.0) -> tuple[bool, str]:
    """Whether Bluetooth LE can be used here, and if not, why.

    Args:
        timeout_s: how long the check may take.

    Returns:
        ``(True, "")``, or ``(False, reason)`` with a reason such as "no D-Bus system bus (...)",
        "the BlueZ service is not running", "no Bluetooth adapter".
    """
    if sys.platform.startswith("linux"):
        return await _probe_bluez(timeout_s)
    scanner = BleakScanner()
    try:
        await asyncio.wait_for(scanner.start(), timeout_s)
    except TimeoutError:
        return False, "the Bluetooth stack did not answer"
    except (BleakError, OSError) as exc:
        return False, str(exc) or type(exc).__name__
    try:
        await asyncio.wait_for(scanner.stop(), timeout_s)
    except (TimeoutError, BleakError, OSError):
        logger.debug("stopping the availability probe scan failed", exc_info=True)
    return True, ""


def _info(device: BLEDevice, adv: AdvertisementData) -> BleDeviceInfo:
    return BleDeviceInfo(
        name=adv.local_name or device.name or "",
        address=device.address,
        rssi=int(adv.rssi),
        service_uuids=tuple(u.lower() for u in adv.service_uuids),
    )


async def scan(
    timeout_s: float,
    on_progress: ScanProgress | None = None,
    *,
    progress_interval_s: float = 0.25,
    service_uuids: list[str] | None = None,
    stop_timeout_s: float = 5.0,
) -> list[BleDeviceInfo]:
    """Scan for advertising BLE devices.

    Args:
        timeout_s: how long to scan.
        on_progress: called every ``progress_interval_s`` and once at the end with the fraction
            of the scan done (0.0 to 1.0) and the devices found so far.
        progress_interval_s: time between progress calls.
        service_uuids: only report devices advertising one of these services.
        stop_timeout_s: how long stopping the scan may take.

    Returns:
        The devices found, strongest signal first.

    Raises:
        TransportError: unavailable (no D-Bus, no BlueZ, no adapter, adapter off), or io_error.
    """
    found: dict[str, BleDeviceInfo] = {}

    def on_advertisement(device: BLEDevice, adv: AdvertisementData) -> None:
        found[device.address] = _info(device, adv)

    def snapshot() -> list[BleDeviceInfo]:
        return sorted(found.values(), key=lambda d: (-d.rssi, d.address))

    def report(fraction: float) -> None:
        if on_progress is None:
            return
        try:
            on_progress(min(max(fraction, 0.0), 1.0), snapshot())
        except Exception:  # a faulty listener must not abort the scan
            logger.exception("scan progress callback failed")

    scanner = BleakScanner(detection_callback=on_advertisement, service_uuids=service_uuids)
    try:
        await asyncio.wait_for(scanner.start(), max(timeout_s, 1.0))
    except TimeoutError:
        raise unavailable("the Bluetooth stack did not start scanning") from None
    except Exception as exc:
        error = map_bluetooth_error(exc)
        if error is not None:
            raise error from exc
        raise TransportError(TransportErrorReason.IO_ERROR, f"BLE scan failed: {exc}") from exc
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        report(0.0)
        while (elapsed_s := loop.time() - started) < timeout_s:
            await asyncio.sleep(min(progress_interval_s, timeout_s - elapsed_s))
            elapsed_s = loop.time() - started
            if elapsed_s < timeout_s:
                report(elapsed_s / timeout_s)
    finally:
        try:
            await asyncio.wait_for(scanner.stop(), stop_timeout_s)
        except Exception:  # the results stand even if stopping the radio failed
            logger.warning("stopping the BLE scan failed", exc_info=True)
    report(1.0)
    return snapshot()
