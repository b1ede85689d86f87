"""BLE transport over the Nordic UART Service (NUS), the de facto serial link over BLE.

Runs only on the I/O thread (bleak needs one event loop for its whole life). The central writes
to the RX characteristic and receives notifications from the TX characteristic; old Nordic
documents swap the two names, so only the UUIDs are used here.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from bleak import BleakClient
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.exc import BleakDeviceNotFoundError, BleakError

from devices.transports.base import (
    DEFAULT_READ_TIMEOUT_S,
    InvalidSettingError,
    LineSettings,
    TransportError,
    TransportErrorReason,
)
from devices.transports.ble_scan import (
    BleDeviceInfo,
    ble_available,
    map_bluetooth_error,
    scan,
    unavailable,
)
from devices.transports.rx_buffer import DEFAULT_MAX_BUFFER_BYTES, RxBuffer

__all__ = [
    "NUS_RX_UUID",
    "NUS_SERVICE_UUID",
    "NUS_TX_UUID",
    "BleDeviceInfo",
    "BleNusTransport",
    "ble_available",
    "scan",
    "unavailable",
]

logger = logging.getLogger(__name__)

NUS_SERVICE_UUID = "6e400001-b5a3-f393-e0a9-e50e24dcca9e"
#: The central writes here.
NUS_RX_UUID = "6e400002-b5a3-f393-e0a9-e50e24dcca9e"
#: The peripheral notifies here.
NUS_TX_UUID = "6e400003-b5a3-f393-e0a9-e50e24dcca9e"

#: ATT_MTU 23 minus the 3-byte ATT header: the payload every BLE link supports (Core 5.x, Vol 3
#: Part F, 3.2.8).
MIN_WRITE_CHUNK_BYTES = 20

_MAC = re.compile(r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$")
_UUID = re.compile(r"^[0-9A-Fa-f]{8}-([0-9A-Fa-f]{4}-){3}[0-9A-Fa-f]{12}$")


def validate_ble_address(address: str) -> str:
    """Return ``address`` in canonical case, or raise one clear sentence.

    Raises:
        InvalidSettingError: unless it is a MAC such as AA:BB:CC:DD:EE:FF or (macOS) a UUID.
    """
    if isinstance(address, str) and _MAC.match(address):
        return address.upper()
    if isinstance(address, str) and _UUID.match(address):
        return address.upper()
    raise InvalidSettingError(
        "address",
        f"address must be a Bluetooth address such as AA:BB:CC:DD:EE:FF, got {address!r}.",
    )


class BleNusTransport:
    """A BLE device's Nordic UART Service as a :class:`~devices.transports.base.Transport`.

    Reopening after a disconnect reconnects: the session calls :meth:`open` again.

    Args:
        address: Bluetooth address (``AA:BB:CC:DD:EE:FF``; a UUID on macOS).
        connect_timeout_s: limit for finding the device and for connecting and resolving its
            services (bleak applies it to each step; an outer guard of twice that plus one
            second catches a backend that stalls).
        disconnect_timeout_s: limit for disconnecting (bleak's disconnect can stall).
        write_timeout_s: limit for each write chunk.
        max_buffer_bytes: receive buffer capacity; excess is counted in
            :attr:`rx_overflow_bytes`.
    """

    def __init__(
        self,
        address: str,
        *,
        connect_timeout_s: float = 20.0,
        disconnect_timeout_s: float = 5.0,
        write_timeout_s: float = 5.0,
        max_buffer_bytes: int = DEFAULT_MAX_BUFFER_BYTES,
    ) -> None:
        self._address = validate_ble_address(address)
        self._connect_timeout_s = connect_timeout_s
        self._disconnect_timeout_s = disconnect_timeout_s
        self._write_timeout_s = write_timeout_s
        self._max_buffer_bytes = max_buffer_bytes
        self._client: BleakClient | None = None
        self._rx_char: BleakGATTCharacteristic | None = None
        self._rx: RxBuffer | None = None
        # Overflow of receive buffers of earlier connections: the count covers the transport's life.
        self._overflow_before = 0
        self._closing = False
        self._write_lock: asyncio.Lock | None = None
        self._connect_count = 0

    @property
    def description(self) -> str:
        """``BLE NUS AA:BB:CC:DD:EE:FF``."""
        return f"BLE NUS {self._address}"

    @property
    def address(self) -> str:
        """The device address."""
        return self._address

    @property
    def is_open(self) -> bool:
        """True while connected and not failed."""
        return (
            self._client is not None
            and self._client.is_connected
            and self._rx is not None
            and self._rx.failure is None
        )

    @property
    def connect_count(self) -> int:
        """Successful connections so far (reconnects included)."""
        return self._connect_count

    @property
    def write_chunk_bytes(self) -> int:
        """Largest write the link takes in one packet (ATT_MTU - 3), once connected."""
        if self._rx_char is None:
            return MIN_WRITE_CHUNK_BYTES
        return max(MIN_WRITE_CHUNK_BYTES, int(self._rx_char.max_write_without_response_size))

    @property
    def rx_overflow_bytes(self) -> int:
        """Received bytes dropped because nobody read them in time, over every connection."""
        return self._overflow_before + (self._rx.overflow_bytes if self._rx is not None else 0)

    def _on_disconnected(self, client: BleakClient) -> None:
        if client is not self._client or self._closing or self._rx is None:
            return
        logger.info("%s: disconnected", self.description)
        self._rx.fail(
            TransportError(
                TransportErrorReason.DISCONNECTED, f"BLE device {self._address} disconnected"
            )
        )

    def _on_notification(self, _sender: Any, data: bytearray) -> None:
        if self._rx is not None:
            self._rx.put(bytes(data))

    async def open(self) -> None:
        """Find and connect to the device, check it has NUS and enable TX notifications.

        Raises:
            TransportError: missing (not found, or no NUS), unavailable (no Bluetooth), timeout
                or io_error.
        """
        if self.is_open:
            return
        await self.close()
        loop = asyncio.get_running_loop()
        if self._rx is not None:
            self._overflow_before += self._rx.overflow_bytes
        rx = RxBuffer(loop, self._max_buffer_bytes)
        client = BleakClient(
            self._address,
            disconnected_callback=self._on_disconnected,
            timeout=self._connect_timeout_s,
        )
        self._closing = False
        self._client, self._rx = client, rx
        try:
            await asyncio.wait_for(client.connect(), 2 * self._connect_timeout_s + 1.0)
            rx_char, tx_char = self._find_nus(client)
            await asyncio.wait_for(
                client.start_notify(tx_char, self._on_notification), self._connect_timeout_s
            )
        except BaseException as exc:
            await self.close()
            error = self._connect_error(exc)
            if error is exc:
                raise
            raise error from exc
        self._rx_char = rx_char
        self._write_lock = asyncio.Lock()
        self._connect_count += 1
        logger.info(
            "%s: connected (write chunk %d bytes)", self.description, self.write_chunk_bytes
        )

    def _find_nus(
        self, client: BleakClient
    ) -> tuple[BleakGATTCharacteristic, BleakGATTCharacteristic]:
        rx_char = client.services.get_characteristic(NUS_RX_UUID)
        tx_char = client.services.get_characteristic(NUS_TX_UUID)
        if rx_char is None or tx_char is None:
            raise TransportError(
                TransportErrorReason.MISSING,
                f"BLE device {self._address} has no Nordic UART Service",
            )
        return rx_char, tx_char

    def _connect_error(self, exc: BaseException) -> BaseException:
        if isinstance(exc, (TransportError, asyncio.CancelledError)):
            return exc
        if isinstance(exc, TimeoutError):
            return TransportError(
                TransportErrorReason.TIMEOUT,
                f"BLE device {self._address} did not connect within {self._connect_timeout_s} s",
            )
        if isinstance(exc, BleakDeviceNotFoundError):
            return TransportError(
                TransportErrorReason.MISSING,
                f"BLE device {self._address} was not found (out of range or not advertising?)",
            )
        mapped = map_bluetooth_error(exc)
        if mapped is not None:
            return mapped
        if isinstance(exc, (BleakError, OSError, EOFError)):
            return TransportError(
                TransportErrorReason.IO_ERROR, f"BLE device {self._address}: connect failed: {exc}"
            )
        return exc

    async def close(self) -> None:
        """Disconnect within ``disconnect_timeout_s``; never raises, safe to call twice."""
        client, self._client = self._client, None
        self._rx_char = None
        if client is None:
            return
        self._closing = True
        try:
            await asyncio.wait_for(client.disconnect(), self._disconnect_timeout_s)
        except TimeoutError:
            logger.warning(
                "%s: disconnect stalled for %s s; dropping the connection",
                self.description,
                self._disconnect_timeout_s,
            )
        except Exception:  # closing must not fail; the link is gone either way
            logger.debug("%s: disconnect failed", self.description, exc_info=True)

    def _require_open(self) -> tuple[BleakClient, RxBuffer]:
        if self._client is None or self._rx is None:
            raise TransportError(
                TransportErrorReason.IO_ERROR, f"BLE device {self._address} is not connected"
            )
        return self._client, self._rx

    async def read(self, max_bytes: int = 4096, timeout_s: float = DEFAULT_READ_TIMEOUT_S) -> bytes:
        """Return up to ``max_bytes`` notified bytes, or b"" after ``timeout_s`` without any.

        Raises:
            TransportError: disconnected once the link dropped (after earlier bytes are read),
                or io_error if not connected.
        """
        _client, rx = self._require_open()
        return await rx.get(max_bytes, timeout_s)

    async def write(self, data: bytes) -> int:
        """Send ``data`` to RX in chunks of :attr:`write_chunk_bytes`.

        Uses write-without-response when the characteristic allows it (what NUS peripherals
        expect for throughput), else write-with-response.

        Raises:
            TransportError: disconnected, timeout or io_error.
        """
        client, rx = self._require_open()
        if rx.failure is not None:
            raise rx.failure
        rx_char, lock = self._rx_char, self._write_lock
        assert rx_char is not None and lock is not None
        payload = bytes(data)
        response = "write-without-response" not in rx_char.properties
        chunk_bytes = self.write_chunk_bytes
        async with lock:
            for start in range(0, len(payload), chunk_bytes):
                chunk = payload[start : start + chunk_bytes]
                try:
                    await asyncio.wait_for(
                        client.write_gatt_char(rx_char, chunk, response=response),
                        self._write_timeout_s,
                    )
                except TimeoutError:
                    raise TransportError(
                        TransportErrorReason.TIMEOUT,
                        f"BLE device {self._address} did not take a write within "
                        f"{self._write_timeout_s} s",
                    ) from None
                except (BleakError, OSError, EOFError) as exc:
                    if not client.is_connected or rx.failure is not None:
                        raise TransportError(
                            TransportErrorReason.DISCONNECTED,
                            f"BLE device {self._address} disconnected",
                        ) from exc
                    raise TransportError(
                        TransportErrorReason.IO_ERROR,
                        f"BLE device {self._address}: write failed: {exc}",
                    ) from exc
        return len(payload)

    async def set_line(
        self, baud: int, bytesize: int = 8, parity: str = "N", stopbits: float = 1
    ) -> None:
        """Validate and ignore: NUS has no line settings (a bridge's UART is set on the bridge).

        Raises:
            InvalidSettingError: if a setting is out of range.
        """
        LineSettings(baud, bytesize, parity, stopbits)
