"""Devices on a lab bench and their identifiers (EUI-64 Device ID, MPAN, MPRN)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
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
        connection: how to reach it, e.g. {"transport": "serial", "port": "/dev/ttyUSB0",
            "baud": 9600, "protocol": "iec62056-21"}.
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
    connection: dict[str, Any] = field(default_factory=dict)
    id: int | None = None

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
