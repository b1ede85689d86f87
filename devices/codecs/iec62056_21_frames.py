"""IEC 62056-21 message formats: identification, data message, BCC, data-set lines.

Meter-side builders (for tests and the emulated optical port) and host-side parsers live here; the
host's state machine is :mod:`devices.codecs.iec62056_21`.
"""

from __future__ import annotations

import re
from functools import reduce
from operator import xor
from typing import NamedTuple

STX = 0x02
ETX = 0x03
ACK = 0x06

#: Mode C baud rate characters (IEC 62056-21 clause 6.3.14, item 13c).
BAUD_BY_CHAR: dict[str, int] = {
    "0": 300,
    "1": 600,
    "2": 1200,
    "3": 2400,
    "4": 4800,
    "5": 9600,
    "6": 19200,
}

#: Mode B baud rate characters (clause 6.3.14, item 13b): the meter switches on its own.
MODE_B_BAUD_BY_CHAR: dict[str, int] = {
    "A": 600,
    "B": 1200,
    "C": 2400,
    "D": 4800,
    "E": 9600,
    "F": 19200,
}

#: Speed of the sign-on exchange (clause 6.3.1: 300 baud, 7 data bits, even parity, 1 stop bit).
INITIAL_BAUD = 300

#: A 7E1 port read as 8N1 shows the parity in bit 7: clear it.
PARITY_MASK = bytes(b & 0x7F for b in range(256))

# Identification message (clause 6.3.2): / MMM Z [\W] identification CR LF, MMM the manufacturer.
# Z is any printable character but / ! and \ (mode A meters use other characters than the mode
# B/C tables). The standard limits the identification to 16 characters; meters in the field send
# more, so up to 32 are accepted.
_IDENT_RE = re.compile(
    rb"/([A-Za-z]{3})([\x22-\x2e\x30-\x5b\x5d-\x7e])((?:\\[0-9A-Za-z])*)([\x20-\x7e]{1,32})\r\n"
)
_OBJECT_RE = re.compile(rb"([^()\r\n]*)\(([^()\r\n]*)\)")
_NUMBER_RE = re.compile(rb"[-+]?\d+(?:\.\d*)?")
# A decimal of up to 15 significant digits survives a float round trip (IEEE 754 double).
_FLOAT_SAFE_DIGITS = 15


class Identification(NamedTuple):
    """The meter's identification message."""

    manufacturer: str
    baud_char: str
    enhanced_id: str
    identification: str


class Reading(NamedTuple):
    """One value of a data set ``address(value*unit)``.

    Attributes:
        obis: the address (OBIS code in reduced form, e.g. ``1.8.0``).
        value: a float when the value is a decimal number of at most 15 significant digits (so
            the float's shortest repr gives back the same number), the decimal text for longer
            numbers, the text as sent for anything else; ``raw`` always holds the meter's text.
        unit: the unit after ``*``, or None.
        raw: the value as sent, without the unit.
        index: 0 for the first value of a data set, 1.. for further ``(..)`` values.
    """

    obis: str
    value: float | str
    unit: str | None
    raw: str
    index: int


def bcc(data: bytes) -> int:
    """Block check character: XOR of the bytes given (clause 6.3.4: after STX/SOH up to ETX)."""
    return reduce(xor, data, 0) if len(data) < 64 else _bcc_wide(data)


def _bcc_wide(data: bytes) -> int:
    # XOR eight bytes at a time through big integers (much faster than a byte loop).
    value = int.from_bytes(data, "little")
    folded = 0
    while value:
        folded ^= value & 0xFFFFFFFFFFFFFFFF
        value >>= 64
    return reduce(xor, folded.to_bytes(8, "little"), 0)


def build_request(address: str = "") -> bytes:
    """The request message ``/? address ! CR LF`` (clause 6.3.1)."""
    return b"/?" + address.encode("ascii") + b"!\r\n"


def build_identification(manufacturer: str, baud_char: str, ident: str) -> bytes:
    """The identification message ``/MMMZ ident CR LF`` (ident may start with ``\\W``)."""
    if len(manufacturer) != 3 or not manufacturer.isalpha():
        raise ValueError(f"manufacturer {manufacturer!r} must be 3 letters")
    if len(baud_char) != 1:
        raise ValueError(f"baud_char {baud_char!r} must be one character")
    return b"/" + (manufacturer + baud_char + ident).encode("ascii") + b"\r\n"


def build_option_select(baud_char: str, mode_char: str = "0") -> bytes:
    """Acknowledgement/option select ``ACK 0 Z Y CR LF`` (clause 6.3.3; Y ``0`` = data readout)."""
    return bytes([ACK]) + ("0" + baud_char + mode_char).encode("ascii") + b"\r\n"


def build_data_message(lines: list[str]) -> bytes:
    """The data message ``STX lines ! CR LF ETX BCC`` (each line ends CR LF)."""
    body = "".join(line + "\r\n" for line in lines).encode("ascii") + b"!\r\n" + bytes([ETX])
    return bytes([STX]) + body + bytes([bcc(body)])


def parse_identification(line: bytes) -> Identification | None:
    """Parse an identification message (with its CR LF); None if it is not one."""
    match = _IDENT_RE.fullmatch(line)
    if match is None:
        return None
    manufacturer, baud_char, enhanced, ident = match.groups()
    return Identification(
        manufacturer.decode("ascii"),
        baud_char.decode("ascii"),
        enhanced[1:2].decode("ascii"),
        ident.decode("ascii"),
    )


def parse_data_block(block: bytes) -> list[Reading]:
    """Parse the data sets of a data block (the bytes between STX and ETX).

    Data sets are ``address(value*unit)``; several may share a line and one address may carry
    several values ``(..)(..)`` (clause 6.5). Parsing stops at the end mark ``!``.

    Returns:
        One :class:`Reading` per value.
    """
    stop = block.find(b"!")
    if stop >= 0:
        block = block[:stop]
    readings: list[Reading] = []
    append = readings.append
    number = _NUMBER_RE.fullmatch
    obis = ""
    index = 0
    for address, content in _OBJECT_RE.findall(block):
        if address:
            obis = address.strip().decode("ascii", "replace")
            index = 0
        else:
            index += 1
        star = content.find(b"*")
        if star >= 0:
            unit: str | None = content[star + 1 :].decode("ascii", "replace")
            content = content[:star]
        else:
            unit = None
        raw = content.decode("ascii", "replace")
        value: float | str = raw
        if number(content):
            digits = content.lstrip(b"+-").replace(b".", b"").lstrip(b"0")
            if len(digits) <= _FLOAT_SAFE_DIGITS:
                value = float(content)
        append(Reading(obis, value, unit, raw, index))
    return readings
