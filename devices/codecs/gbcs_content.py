"""Decoders for the alert content carried in a GBCS General Signing APDU.

Three encodings exist (GBCS section 10 and the DLMS/ZigBee/ASN.1 standards they reuse):

* ``dlms``: a DLMS DataNotification (tag ``0F``, Green Book 9.5) whose body is a structure holding
  the alert code (long-unsigned), the alert's DLMS date-time and alert-specific data;
* ``gbz``: a GBZ payload (profile id ``01 09``) with the alert code and a ZigBee UTCTime;
* ``der``: an ASN.1 DER SEQUENCE with the alert code as INTEGER and a GeneralizedTime.

Every function takes the whole APDU with absolute positions so error offsets point into it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, NamedTuple

from devices.codecs.gbcs_types import (
    ZIGBEE_EPOCH,
    GbcsError,
    decode_dlms_datetime,
    decode_generalized_time,
)

#: Nesting depth accepted in alert-specific DLMS data (structures inside arrays ...).
MAX_DLMS_DEPTH = 8

# A-XDR fixed-size DLMS data types (Blue Book 4.1.5): tag -> (size, signed).
_DLMS_INTS = {
    0x03: (1, False),  # boolean (reported as 0/1)
    0x05: (4, True),  # double-long
    0x06: (4, False),  # double-long-unsigned
    0x0D: (1, False),  # bcd
    0x0F: (1, True),  # integer
    0x10: (2, True),  # long
    0x11: (1, False),  # unsigned
    0x12: (2, False),  # long-unsigned
    0x14: (8, True),  # long64
    0x15: (8, False),  # long64-unsigned
    0x16: (1, False),  # enum
}
# Fixed-size types reported as hex: float32, float64, date-time, date, time.
_DLMS_FIXED_HEX = {0x17: 4, 0x18: 8, 0x19: 12, 0x1A: 5, 0x1B: 4}


class AlertContent(NamedTuple):
    """What the content says: kind, alert code, time (None if absent) and extra fields."""

    kind: str
    alert_code: int
    timestamp: datetime | None
    extra: dict[str, Any]


def need(data: bytes, pos: int, count: int, end: int, what: str) -> None:
    """Raise GbcsError unless ``count`` bytes for ``what`` are available before ``end``."""
    if pos + count > end:
        raise GbcsError(f"truncated {what}: needs {count} bytes, {max(end - pos, 0)} left", pos)


def read_length(data: bytes, pos: int, end: int, what: str) -> tuple[int, int]:
    """Read an A-XDR/DER length (``nn``, ``81 nn``, ``82 nn nn``); return (length, next pos)."""
    need(data, pos, 1, end, what)
    first = data[pos]
    if first < 0x80:
        return first, pos + 1
    size = first & 0x7F
    if size == 0 or size > 2:
        raise GbcsError(f"{what}: length form {first:02X} is not supported", pos)
    need(data, pos + 1, size, end, what)
    return int.from_bytes(data[pos + 1 : pos + 1 + size], "big"), pos + 1 + size


def decode_content(data: bytes, pos: int, end: int) -> AlertContent:
    """Decode alert content occupying ``data[pos:end]``."""
    need(data, pos, 1, end, "alert content")
    first = data[pos]
    if first == 0x0F:
        return _dlms(data, pos, end)
    if first == 0x01 and pos + 1 < end and data[pos + 1] == 0x09:
        return _gbz(data, pos, end)
    if first == 0x30:
        return _der(data, pos, end)
    raise GbcsError(
        f"alert content starts with {first:02X}: expected 0F (DLMS), 01 09 (GBZ) or 30 (DER)", pos
    )


def _dlms(data: bytes, pos: int, end: int) -> AlertContent:
    need(data, pos, 6, end, "DLMS DataNotification header")
    invoke_id = int.from_bytes(data[pos + 1 : pos + 5], "big")
    pos += 5
    note_time = None
    size = data[pos]
    if size == 12:
        need(data, pos + 1, 12, end, "DataNotification date-time")
        note_time = decode_dlms_datetime(data[pos + 1 : pos + 13], pos + 1)
    elif size != 0:
        raise GbcsError(f"DataNotification date-time has length {size}: expected 0 or 12", pos)
    pos += 1 + size
    need(data, pos, 2, end, "notification body")
    if data[pos] != 0x02:
        raise GbcsError(f"notification body tag {data[pos]:02X}: expected 02 (structure)", pos)
    count = data[pos + 1]
    if count < 2:
        raise GbcsError(f"notification body has {count} elements: expected at least 2", pos + 1)
    pos += 2
    need(data, pos, 3, end, "alert code")
    if data[pos] != 0x12:
        raise GbcsError(f"alert code tag {data[pos]:02X}: expected 12 (long-unsigned)", pos)
    code = (data[pos + 1] << 8) | data[pos + 2]
    pos += 3
    need(data, pos, 2, end, "alert date-time")
    if data[pos] != 0x09:
        raise GbcsError(f"alert date-time tag {data[pos]:02X}: expected 09 (octet-string)", pos)
    size = data[pos + 1]
    need(data, pos + 2, size, end, "alert date-time")
    alert_time = None
    if size == 12:
        alert_time = decode_dlms_datetime(data[pos + 2 : pos + 14], pos + 2)
    elif size != 0:
        raise GbcsError(f"alert date-time has length {size}: expected 12", pos + 1)
    pos += 2 + size
    extra: dict[str, Any] = {"invoke_id": invoke_id}
    if count > 2:
        values = []
        for _ in range(count - 2):
            value, pos = decode_dlms_data(data, pos, end, 0)
            values.append(value)
        extra["data"] = values
    if pos < end:
        extra["unparsed_hex"] = data[pos:end].hex().upper()
    return AlertContent("dlms", code, alert_time or note_time, extra)


def decode_dlms_data(data: bytes, pos: int, end: int, depth: int) -> tuple[Any, int]:
    """Decode one A-XDR DLMS data element into a JSON-friendly value; return (value, next pos).

    Octet strings and floats/dates come back as upper-case hex, visible strings as text.
    """
    need(data, pos, 1, end, "DLMS data")
    tag = data[pos]
    pos += 1
    if tag == 0x00:
        return None, pos
    if tag in _DLMS_INTS:
        size, signed = _DLMS_INTS[tag]
        need(data, pos, size, end, "DLMS data")
        return int.from_bytes(data[pos : pos + size], "big", signed=signed), pos + size
    if tag in _DLMS_FIXED_HEX:
        size = _DLMS_FIXED_HEX[tag]
        need(data, pos, size, end, "DLMS data")
        return data[pos : pos + size].hex().upper(), pos + size
    if tag in (0x01, 0x02):
        if depth >= MAX_DLMS_DEPTH:
            raise GbcsError(f"DLMS data nested deeper than {MAX_DLMS_DEPTH}", pos - 1)
        count, pos = read_length(data, pos, end, "DLMS array/structure")
        items = []
        for _ in range(count):
            item, pos = decode_dlms_data(data, pos, end, depth + 1)
            items.append(item)
        return items, pos
    if tag in (0x09, 0x0A, 0x0C, 0x04):
        size, pos = read_length(data, pos, end, "DLMS string")
        if tag == 0x04:  # bit-string: the length counts bits
            size = (size + 7) // 8
        need(data, pos, size, end, "DLMS string")
        raw = data[pos : pos + size]
        if tag == 0x0A:
            return raw.decode("ascii", "replace"), pos + size
        if tag == 0x0C:
            return raw.decode("utf-8", "replace"), pos + size
        return raw.hex().upper(), pos + size
    raise GbcsError(f"DLMS data type {tag:02X} is not supported", pos - 1)


def _gbz(data: bytes, pos: int, end: int) -> AlertContent:
    # GBZ alert header: profile id 01 09, component count, alert code (2), UTCTime (4),
    # big-endian, followed by the use-case specific components.
    need(data, pos, 9, end, "GBZ alert header")
    components = data[pos + 2]
    code = (data[pos + 3] << 8) | data[pos + 4]
    seconds = int.from_bytes(data[pos + 5 : pos + 9], "big")
    # ZCL: 0 and FFFFFFFF mean "no time".
    alert_time = None if seconds in (0, 0xFFFFFFFF) else ZIGBEE_EPOCH + timedelta(seconds=seconds)
    extra: dict[str, Any] = {"component_count": components}
    if pos + 9 < end:
        extra["components_hex"] = data[pos + 9 : end].hex().upper()
    return AlertContent("gbz", code, alert_time, extra)


def _der(data: bytes, pos: int, end: int) -> AlertContent:
    length, body = read_length(data, pos + 1, end, "DER SEQUENCE")
    seq_end = body + length
    need(data, body, length, end, "DER SEQUENCE")
    need(data, body, 2, seq_end, "DER alert code")
    if data[body] != 0x02:
        raise GbcsError(f"DER alert code tag {data[body]:02X}: expected 02 (INTEGER)", body)
    size, pos = read_length(data, body + 1, seq_end, "DER alert code")
    if size == 0 or size > 3:
        raise GbcsError(f"DER alert code has {size} bytes: expected 1 to 3", body + 1)
    need(data, pos, size, seq_end, "DER alert code")
    code = int.from_bytes(data[pos : pos + size], "big", signed=True)
    if not 0 <= code <= 0xFFFF:
        raise GbcsError(f"DER alert code {code} is not a 16-bit code", pos)
    pos += size
    need(data, pos, 2, seq_end, "DER alert time")
    if data[pos] != 0x18:
        raise GbcsError(f"DER alert time tag {data[pos]:02X}: expected 18 (GeneralizedTime)", pos)
    size, pos = read_length(data, pos + 1, seq_end, "DER alert time")
    need(data, pos, size, seq_end, "DER alert time")
    alert_time = decode_generalized_time(data[pos : pos + size], pos)
    pos += size
    extra: dict[str, Any] = {}
    if pos < seq_end:
        extra["fields_hex"] = data[pos:seq_end].hex().upper()
    if seq_end < end:
        extra["unparsed_hex"] = data[seq_end:end].hex().upper()
    return AlertContent("der", code, alert_time, extra)
