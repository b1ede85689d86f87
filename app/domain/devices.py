"""Devices on a lab bench and their identifiers (EUI-64 Device ID, MPAN, MPRN)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from enum import Enum
from typing import Any

from app.domain.errors import ValidationError


class DeviceKind(str, Enum):
    ESME = "ESME"
    GSME = "GSME"
    CHF = "CHF"
    GPF = "GPF"
    IHD = "IHD"
    PPMID = "PPMID"
    RELAY = "relay board"
    RADIO = "radio adapter"


def parse_kind(text: str) -> DeviceKind:
    wanted = text.strip().casefold().replace("_", " ").replace("-", " ")
    for kind in DeviceKind:
        if kind.value.casefold() == wanted or kind.name.casefold() == wanted:
            return kind
    allowed = ", ".join(k.value for k in DeviceKind)
    raise ValidationError("kind", f"Kind must be one of {allowed}, not {text!r}.")


_HEX_ONLY = re.compile(r"^[0-9A-Fa-f]{16}$")
_EUI_FORMS = re.compile(r"^[0-9A-Fa-f]{2}([-: ]?[0-9A-Fa-f]{2}){7}$")

#: MPAN core check-digit weights for the first 12 digits.
_MPAN_WEIGHTS = (3, 5, 7, 13, 17, 19, 23, 29, 31, 37, 41, 43)


def normalise_eui64(text: str, field: str = "device_id") -> str:
    """Validate an EUI-64 Device ID and return it as ``00-DB-12-34-56-78-90-A0``.

    Accepts hyphen, colon or space separators, or 16 hex digits without separators.
    """
    value = text.strip()
    if not (_EUI_FORMS.match(value) or _HEX_ONLY.match(value)):
        raise ValidationError(
            field,
            f"Device ID must be an EUI-64: 8 bytes as hex pairs, e.g. 00-DB-12-34-56-78-90-A0, "
            f"not {text!r}.",
        )
    digits = re.sub(r"[-: ]", "", value).upper()
    return "-".join(digits[i:i + 2] for i in range(0, 16, 2))


def mpan_check_digit(first_12: str) -> int:
    """The MPAN core check digit for its first 12 digits."""
    return sum(w * int(d) for w, d in zip(_MPAN_WEIGHTS, first_12)) % 11 % 10


def validate_mpan(text: str, field: str = "mpan") -> str:
    """A 13-digit MPAN core whose check digit is right (spaces allowed between groups)."""
    digits = re.sub(r"\s", "", text)
    if not re.fullmatch(r"\d{13}", digits):
        raise ValidationError(field, f"MPAN must be the 13-digit MPAN core, e.g. 1312345678907, not {text!r}.")
    expected = mpan_check_digit(digits[:12])
    if int(digits[12]) != expected:
        raise ValidationError(
            field, f"MPAN {digits} fails its check digit: the last digit should be {expected}."
        )
    return digits


def validate_mprn(text: str, field: str = "mprn") -> str:
    """An MPRN: 1 to 10 digits (DUIS). No check digit is enforced (the rule is unconfirmed)."""
    digits = re.sub(r"\s", "", text)
    if not re.fullmatch(r"\d{1,10}", digits):
        raise ValidationError(field, f"MPRN must be 1 to 10 digits, e.g. 1234567890, not {text!r}.")
    return digits


# --- connection settings ----------------------------------------------------------------------

#: How a device is reached: a serial port, Bluetooth LE (Nordic UART), the demo emulator, through a
#: comms hub's HAN, or "" (not connected to the workstation).
TRANSPORT_KINDS: tuple[str, ...] = ("serial", "ble", "emulator", "han", "")
#: Transports the workstation opens itself (HAN devices are heard through their hub).
DIRECT_TRANSPORTS: tuple[str, ...] = ("serial", "ble", "emulator")
#: The setting naming where each transport reaches its device.
WHERE_KEY: dict[str, str] = {"serial": "port", "ble": "address", "emulator": "endpoint",
                             "han": "via"}
IEC_62056_21 = "iec62056-21"
#: Protocol of a streaming device whose settings name none (the emulator's debug-log profile).
DEFAULT_PROTOCOL = "profile:emulator"
#: Data bits, parity letters and stop bits a UART supports; the highest plausible baud rate.
VALID_BYTESIZES: tuple[int, ...] = (5, 6, 7, 8)
VALID_PARITIES: tuple[str, ...] = ("N", "E", "O", "M", "S")
VALID_STOPBITS: tuple[float, ...] = (1, 1.5, 2)
MAX_BAUD = 4_000_000
#: Seconds between IEC 62056-21 readouts when the settings name none.
DEFAULT_POLL_S = 30.0


def default_baud(protocol: str) -> int:
    """The line speed a device of `protocol` starts at when its settings name none.

    - IEC 62056-21 optical ports: 300 baud; mode C always opens at 300 and the meter offers a
      faster rate in its identification (clause 6.3.2).
    - Relay boards (``profile:relay``): 9600, what USB relay boards ship with almost always.
    - Everything else (comms hub debug ports, GBCS hex from a radio adapter, other line
      profiles): 115200, the usual rate of a debug UART, and the rate of the emulated bench.
    """
    if protocol == IEC_62056_21:
        return 300
    if protocol == "profile:relay":
        return 9600
    return 115200


def _whole(name: str, value: object) -> int:
    """An int from an int or a string of digits (older records stored some numbers as text)."""
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(name, f"{name} must be a whole number, got {value!r}.")
    return value


def _number(name: str, value: object) -> float:
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            pass
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValidationError(name, f"{name} must be a number, got {value!r}.")
    return value


@dataclass(frozen=True, slots=True)
class ConnectionSettings:
    """How the workstation reaches a device; validated on creation.

    Attributes:
        transport: one of :data:`TRANSPORT_KINDS`.
        port: serial port path or name (``/dev/ttyUSB0``, ``COM3``).
        address: Bluetooth LE address.
        endpoint: emulator endpoint (``esme_optical``, ``ch_debug``, ``relay``).
        protocol: codec name (``iec62056-21``, ``gbcs-hex``, ``profile:<name>``), "" for none.
        baud: line speed, or None for the protocol's :func:`default_baud`.
        bytesize, parity, stopbits: serial framing (IEC 62056-21 always uses 7E1).
        poll_s: seconds between IEC 62056-21 readouts.
        via: the comms hub a HAN device is heard through (its label).
        extra: settings this version does not know, kept as stored so nothing is lost.

    Raises:
        ValidationError: naming the first field that is out of range.
    """

    transport: str = ""
    port: str = ""
    address: str = ""
    endpoint: str = ""
    protocol: str = ""
    baud: int | None = None
    bytesize: int = 8
    parity: str = "N"
    stopbits: float = 1
    poll_s: float = DEFAULT_POLL_S
    via: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if self.transport not in TRANSPORT_KINDS:
            kinds = ", ".join(k for k in TRANSPORT_KINDS if k)
            raise ValidationError(
                "transport", f"transport must be one of {kinds} (or none), not {self.transport!r}.")
        baud = self.baud
        if baud is not None and (isinstance(baud, bool) or not isinstance(baud, int)
                                 or not 1 <= baud <= MAX_BAUD):
            raise ValidationError(
                "baud", f"baud must be a whole number from 1 to {MAX_BAUD}, got {baud!r}.")
        if isinstance(self.bytesize, bool) or self.bytesize not in VALID_BYTESIZES:
            raise ValidationError(
                "bytesize", f"bytesize must be one of 5, 6, 7, 8, got {self.bytesize!r}.")
        if self.parity not in VALID_PARITIES:
            raise ValidationError(
                "parity", f"parity must be one of {', '.join(VALID_PARITIES)}, got {self.parity!r}.")
        if isinstance(self.stopbits, bool) or self.stopbits not in VALID_STOPBITS:
            raise ValidationError(
                "stopbits", f"stopbits must be one of 1, 1.5, 2, got {self.stopbits!r}.")
        if not (math.isfinite(self.poll_s) and 0 < self.poll_s <= 86_400):
            raise ValidationError(
                "poll_s", f"poll_s must be more than 0 and at most a day, got {self.poll_s!r}.")
        for name in ("port", "address", "endpoint", "protocol", "via"):
            if not isinstance(getattr(self, name), str):
                raise ValidationError(name, f"{name} must be text, got {getattr(self, name)!r}.")
        # A frozen value must not share a dict its creator can still change.
        object.__setattr__(self, "extra", dict(self.extra))

    @property
    def is_direct(self) -> bool:
        """True when the workstation opens the link itself (serial, BLE, emulator)."""
        return self.transport in DIRECT_TRANSPORTS

    @property
    def where(self) -> str:
        """The port, address, endpoint or hub the transport reaches the device by ("" if none)."""
        key = WHERE_KEY.get(self.transport)
        return str(getattr(self, key)) if key else ""

    @property
    def protocol_or_default(self) -> str:
        return self.protocol or DEFAULT_PROTOCOL

    @property
    def line_baud(self) -> int:
        """The baud rate to open the line at: the stored one, else the protocol's default."""
        return self.baud if self.baud is not None else default_baud(self.protocol_or_default)

    def missing(self) -> str:
        """The setting a direct transport needs but lacks ("port" ...), or ""."""
        key = WHERE_KEY.get(self.transport)
        return key if key and not self.where.strip() else ""

    @staticmethod
    def from_dict(data: Mapping[str, Any], *, lenient: bool = False) -> ConnectionSettings:
        """Parse stored settings (the ``connection_json`` of the registry, a CLI's options).

        Unknown keys are kept in :attr:`extra`. A record without ``transport`` that names a
        port is a serial device (what ``device add --port`` stored).

        Args:
            data: the stored dict.
            lenient: keep a value that does not validate in :attr:`extra` under its own key
                instead of raising (used when loading, so one bad record cannot stop the
                application; saving writes it back unchanged).

        Raises:
            ValidationError: naming the first bad field (never when `lenient`).
        """
        known = {f.name for f in fields(ConnectionSettings)} - {"extra"}
        extra = {k: v for k, v in data.items() if k not in known}
        values: dict[str, Any] = {}
        for key in known & set(data):
            value = data[key]
            try:
                if key in ("baud", "bytesize"):
                    value = None if value is None and key == "baud" else _whole(key, value)
                elif key in ("stopbits", "poll_s"):
                    value = _number(key, value)
                elif value is None:
                    value = ""
                ConnectionSettings(**{key: value})  # validates this one field
            except ValidationError:
                if not lenient:
                    raise
                extra[key] = data[key]
                continue
            values[key] = value
        if "transport" not in data and values.get("port"):
            values["transport"] = "serial"
        return ConnectionSettings(**values, extra=extra)

    def to_dict(self) -> dict[str, Any]:
        """The settings as stored: what is set, plus the unknown keys as they were."""
        out: dict[str, Any] = dict(self.extra)
        for name in ("transport", "port", "address", "endpoint", "protocol", "via"):
            if getattr(self, name):
                out[name] = getattr(self, name)
        if self.baud is not None:
            out["baud"] = self.baud
        if (self.bytesize, self.parity, self.stopbits) != (8, "N", 1):
            out.update(bytesize=self.bytesize, parity=self.parity, stopbits=self.stopbits)
        if self.poll_s != DEFAULT_POLL_S:
            out["poll_s"] = self.poll_s
        return out


ELECTRICITY_KINDS = (DeviceKind.ESME,)
GAS_KINDS = (DeviceKind.GSME, DeviceKind.GPF)


@dataclass(frozen=True, slots=True)
class Device:
    """A device in the lab's registry.

    Attributes:
        label: unique short name staff use (e.g. "Bench 1 ESME").
        kind: what it is.
        device_id: EUI-64 in ``00-DB-...`` form, or "" for devices without one (relay boards).
        mpxn: MPAN (electricity) or MPRN (gas) of the supply point, or "".
        owner: "lab" or the name of the participant organisation that brought it.
        bench: bench name, or "".
        connection: how to reach it (a mapping given here, e.g. {"transport": "serial",
            "port": "/dev/ttyUSB0", "protocol": "iec62056-21"}, is parsed by
            :meth:`ConnectionSettings.from_dict`).
    """

    label: str
    kind: DeviceKind
    device_id: str = ""
    mpxn: str = ""
    manufacturer: str = ""
    model: str = ""
    firmware: str = ""
    owner: str = "lab"
    bench: str = ""
    connection: ConnectionSettings = field(default_factory=ConnectionSettings)
    id: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.connection, ConnectionSettings):
            object.__setattr__(self, "connection", ConnectionSettings.from_dict(self.connection))

    @staticmethod
    def create(label: str, kind: str | DeviceKind, device_id: str = "", mpxn: str = "",
               **rest: Any) -> Device:
        """Validate and normalise raw input into a Device (ValidationError names the field)."""
        if not label.strip():
            raise ValidationError("label", "Label must not be empty; give the device a short name.")
        k = kind if isinstance(kind, DeviceKind) else parse_kind(kind)
        eui = normalise_eui64(device_id) if device_id.strip() else ""
        supply = ""
        if mpxn.strip():
            if k in ELECTRICITY_KINDS:
                supply = validate_mpan(mpxn, "mpxn")
            elif k in GAS_KINDS:
                supply = validate_mprn(mpxn, "mpxn")
            else:
                supply = validate_mpan(mpxn, "mpxn") if len(re.sub(r"\s", "", mpxn)) == 13 else validate_mprn(mpxn, "mpxn")
        return Device(label=label.strip(), kind=k, device_id=eui, mpxn=supply, **rest)
