"""The device dialog's view-model: what was typed and what is wrong with it, field by field.

No Qt here, so every rule is tested without widgets. Each field gets at most one sentence (the
:class:`ValidationError` text from the domain, or the transport's setting error).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from app.domain.devices import (
    DIRECT_TRANSPORTS,
    WHERE_KEY,
    ConnectionSettings,
    Device,
    DeviceKind,
    default_baud,
    normalise_eui64,
)
from app.domain.errors import ValidationError
from devices.codecs.profiles import available_profiles
from devices.emulator.bench import CH_DEBUG, ESME_OPTICAL, RELAY
from devices.transports.base import InvalidSettingError, validate_line
from devices.transports.ble import validate_ble_address

#: (value stored in the connection, what the dialog shows)
TRANSPORTS: tuple[tuple[str, str], ...] = (
    ("serial", "Serial port"),
    ("ble", "Bluetooth LE (Nordic UART)"),
    ("emulator", "Emulator (demo bench)"),
    ("han", "HAN, through a comms hub"),
    ("", "Not connected to the workstation"),
)
EMULATOR_ENDPOINTS = (ESME_OPTICAL, CH_DEBUG, RELAY)

#: What the "where" field means for each transport, and the connection key it is stored under.
WHERE_FIELD: dict[str, tuple[str, str]] = {
    kind: (title, WHERE_KEY[kind])
    for kind, title in (("serial", "Port"), ("ble", "Address"), ("emulator", "Endpoint"),
                        ("han", "Via hub"))
}
#: Transports that have a line speed and a protocol.
STREAM_TRANSPORTS = DIRECT_TRANSPORTS


def protocols() -> list[str]:
    """Protocol names the codecs accept: IEC 62056-21, GBCS hex and every line profile."""
    return ["iec62056-21", "gbcs-hex", *(f"profile:{n}" for n in sorted(available_profiles()))]


@dataclass(frozen=True)
class DeviceForm:
    """The fields of the device dialog, as typed."""

    label: str = ""
    kind: DeviceKind = DeviceKind.ESME
    device_id: str = ""
    mpxn: str = ""
    manufacturer: str = ""
    model: str = ""
    firmware: str = ""
    owner: str = "lab"
    bench: str = ""
    transport: str = "serial"
    where: str = ""
    baud: str = "300"
    protocol: str = "iec62056-21"
    #: connection keys the dialog does not edit (poll_s, parity ...), kept on save
    extra: dict[str, Any] = field(default_factory=dict)
    id: int | None = None

    @staticmethod
    def from_device(device: Device) -> DeviceForm:
        settings = device.connection
        conn = settings.to_dict()
        for key in ("transport", "protocol", "baud", WHERE_KEY.get(settings.transport, "")):
            conn.pop(key, None)
        transport = settings.transport
        where = settings.where
        protocol = settings.protocol or default_protocol(device.kind)
        baud = str(settings.baud if settings.baud is not None else default_baud(protocol))
        return DeviceForm(
            label=device.label, kind=device.kind, device_id=device.device_id, mpxn=device.mpxn,
            manufacturer=device.manufacturer, model=device.model, firmware=device.firmware,
            owner=device.owner, bench=device.bench, transport=transport, where=where,
            baud=baud, protocol=protocol, extra=conn, id=device.id,
        )


def default_protocol(kind: DeviceKind) -> str:
    if kind is DeviceKind.ESME:
        return "iec62056-21"
    if kind is DeviceKind.RELAY:
        return "profile:relay"
    return "profile:emulator"


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _check_where(form: DeviceForm) -> str:
    where = form.where.strip()
    if form.transport == "serial" and not where:
        return "Port must be a device path or name such as /dev/ttyUSB0 or COM3."
    if form.transport == "ble":
        try:
            validate_ble_address(where)
        except InvalidSettingError as exc:
            return _sentence(exc.message)
    if form.transport == "emulator" and where not in EMULATOR_ENDPOINTS:
        return f"Endpoint must be one of {', '.join(EMULATOR_ENDPOINTS)}, not {where!r}."
    if form.transport == "han" and not where:
        return "Via hub must name the comms hub the device is reached through."
    return ""


def _check_baud(form: DeviceForm) -> str:
    if form.transport not in ("serial", "emulator"):
        return ""
    text = form.baud.strip()
    try:
        validate_line(int(text) if text.isdigit() else text, 8, "N", 1)
    except InvalidSettingError as exc:
        return _sentence(exc.message)
    return ""


def check(form: DeviceForm, find: Callable[[str], Device | None]) -> dict[str, str]:
    """Every field that is wrong, with its sentence (empty when the form can be saved).

    Args:
        form: what was typed.
        find: looks a device up by label (the registry's ``find``), for unique labels.
    """
    errors: dict[str, str] = {}
    if not form.label.strip():
        errors["label"] = "Label must not be empty; give the device a short name."
    else:
        label = form.label.strip()
        other = find(label)
        if other is not None and other.id != form.id and other.label.casefold() == label.casefold():
            errors["label"] = f"A device labelled {label!r} already exists."
    if form.device_id.strip():
        try:
            normalise_eui64(form.device_id)
        except ValidationError as exc:
            errors["device_id"] = exc.message
    if form.mpxn.strip():
        try:
            Device.create("check", form.kind, mpxn=form.mpxn)
        except ValidationError as exc:
            errors["mpxn"] = exc.message
    where = _check_where(form)
    if where:
        errors["where"] = where
    baud = _check_baud(form)
    if baud:
        errors["baud"] = baud
    if form.transport in STREAM_TRANSPORTS and form.protocol not in protocols():
        errors["protocol"] = f"Protocol must be one of {', '.join(protocols())}."
    return errors


def connection_of(form: DeviceForm) -> ConnectionSettings:
    """The connection settings the form describes (settings the form does not edit kept).

    Raises:
        ValidationError: a kept setting that does not validate (the form's own are checked by
            :func:`check`).
    """
    if not form.transport:
        return ConnectionSettings()
    conn: dict[str, Any] = {**form.extra, "transport": form.transport}
    conn[WHERE_FIELD[form.transport][1]] = form.where.strip()
    if form.transport in STREAM_TRANSPORTS:
        conn["protocol"] = form.protocol
    if form.transport in ("serial", "emulator"):
        conn["baud"] = int(form.baud.strip())
    return ConnectionSettings.from_dict(conn)


def build(form: DeviceForm) -> Device:
    """The device to store.

    Raises:
        ValidationError: when a field is wrong (call :func:`check` first to show them all).
    """
    device = Device.create(
        form.label, form.kind, form.device_id, form.mpxn,
        manufacturer=form.manufacturer.strip(), model=form.model.strip(),
        firmware=form.firmware.strip(), owner=form.owner.strip() or "lab",
        bench=form.bench.strip(), connection=connection_of(form),
    )
    return device if form.id is None else replace(device, id=form.id)
