"""Encodings shared by the GBCS alert decoder and builder.

System titles are EUI-64 device identifiers; times come in three forms depending on the content:
the DLMS date-time (Blue Book, IEC 62056-6-2 clause 4.1.6.1), ZigBee UTCTime (seconds since
2000-01-01T00:00:00Z) and ASN.1 GeneralizedTime (X.690 clause 11.7, DER form ``YYYYMMDDhhmmssZ``).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from devices.codecs.base import CodecError

#: ZigBee UTCTime epoch (ZCL clause 2.6.2.8: seconds since 2000-01-01 00:00:00 UTC).
ZIGBEE_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)

#: DLMS date-time "deviation not specified" (Blue Book 4.1.6.1).
DLMS_DEVIATION_UNSPECIFIED = 0x8000

_EUI_RE = re.compile(r"[0-9A-Fa-f]{2}(?:[-:]?[0-9A-Fa-f]{2}){7}")


class GbcsError(CodecError):
    """A GBCS APDU that is truncated or malformed; ``offset`` is the byte where it went wrong."""


def format_eui(raw: bytes) -> str:
    """Format 8 bytes as an EUI-64 in the DUIS form ``00-DB-12-34-56-78-90-A0``."""
    return raw.hex("-").upper()


def parse_eui(text: str) -> bytes:
    """Parse an EUI-64 (``00-DB-12-34-56-78-90-A0``; colons or no separators also accepted).

    Raises:
        ValueError: the text is not 8 hex octets.
    """
    if not _EUI_RE.fullmatch(text.strip()):
        raise ValueError(
            f"EUI-64 {text!r} is not valid: expected 8 hex octets such as 00-DB-12-34-56-78-90-A0."
        )
    return bytes.fromhex(text.strip().replace("-", "").replace(":", ""))


def to_utc(moment: datetime) -> datetime:
    """Return an aware datetime in UTC.

    Raises:
        ValueError: the datetime is naive (a device time must say which zone it is in).
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("alert_time must be timezone-aware (UTC expected)")
    return moment.astimezone(UTC)


def encode_dlms_datetime(moment: datetime) -> bytes:
    """Encode a UTC time as a 12-byte DLMS date-time.

    The deviation is sent as "not specified" and the clock status as ``FF``, as GB smart meters
    report alert times in UTC.
    """
    utc = to_utc(moment)
    return bytes(
        [
            utc.year >> 8,
            utc.year & 0xFF,
            utc.month,
            utc.day,
            utc.isoweekday(),
            utc.hour,
            utc.minute,
            utc.second,
            utc.microsecond // 10_000,
            DLMS_DEVIATION_UNSPECIFIED >> 8,
            DLMS_DEVIATION_UNSPECIFIED & 0xFF,
            0xFF,
        ]
    )


def decode_dlms_datetime(raw: bytes, offset: int) -> datetime | None:
    """Decode a 12-byte DLMS date-time into an aware UTC datetime.

    Args:
        raw: the 12 bytes.
        offset: where they start in the APDU (for the error message).

    Returns:
        The time, or None when the date or time fields are "not specified" (``FF``/``FFFF``).

    Raises:
        GbcsError: a specified field is out of range, or the time in UTC (after the deviation)
            falls outside the years 1 to 9999.
    """
    year = (raw[0] << 8) | raw[1]
    month, day, hour, minute, second, hundredths = raw[2], raw[3], raw[5], raw[6], raw[7], raw[8]
    if year == 0xFFFF or month >= 0xFD or day >= 0xFD or hour == 0xFF or minute == 0xFF:
        return None
    if second == 0xFF:
        second = 0
    if hundredths == 0xFF:
        hundredths = 0
    try:
        moment = datetime(year, month, day, hour, minute, second, hundredths * 10_000, tzinfo=UTC)
    except ValueError as exc:
        raise GbcsError(f"DLMS date-time out of range: {exc}", offset) from None
    deviation = (raw[9] << 8) | raw[10]
    if deviation != DLMS_DEVIATION_UNSPECIFIED:
        # Blue Book 4.1.6.1: deviation is the difference local time to UTC in minutes, signed,
        # with the convention UTC = local time + deviation.
        if deviation >= 0x8000:
            deviation -= 0x10000
        try:
            moment += timedelta(minutes=deviation)
        except OverflowError:
            # Valid fields near either end of the calendar (9999-12-31 23:59 with +1, year 1
            # with a negative deviation) leave datetime's range once the deviation is applied.
            raise GbcsError(
                f"DLMS date-time {moment.replace(tzinfo=None).isoformat(' ', 'minutes')} with a "
                f"deviation of {deviation:+d} min is outside the years 1 to 9999 in UTC",
                offset,
            ) from None
    return moment


def encode_der_length(length: int) -> bytes:
    """Encode a length in the A-XDR/DER form: one byte below 128, else ``81 nn`` or ``82 nn nn``."""
    if length < 0x80:
        return bytes([length])
    if length <= 0xFF:
        return bytes([0x81, length])
    if length <= 0xFFFF:
        return bytes([0x82, length >> 8, length & 0xFF])
    raise ValueError(f"length {length} is too large for a GBCS APDU")


def encode_der_integer(value: int) -> bytes:
    """Encode a non-negative INTEGER (X.690 8.3: minimal two's complement: 0x8F67 -> 00 8F 67)."""
    body = value.to_bytes(max(1, (value.bit_length() + 8) // 8), "big")
    return bytes([0x02, len(body)]) + body


def encode_generalized_time(moment: datetime) -> bytes:
    """Encode a GeneralizedTime in DER form (X.690 11.7): ``18 0F YYYYMMDDhhmmssZ``."""
    text = to_utc(moment).strftime("%Y%m%d%H%M%SZ").encode("ascii")
    return bytes([0x18, len(text)]) + text


def decode_generalized_time(raw: bytes, offset: int) -> datetime:
    """Decode a GeneralizedTime body (``YYYYMMDDhhmmss[.f]Z``) to an aware UTC datetime.

    Raises:
        GbcsError: the text is not a UTC GeneralizedTime.
    """
    # DER (X.690 11.7) requires UTC with a trailing Z and seconds present.
    if len(raw) < 15 or raw[-1:] != b"Z" or not raw[:14].isdigit():
        raise GbcsError(f"GeneralizedTime {raw!r} is not YYYYMMDDhhmmss[.f]Z", offset)
    fraction = raw[14:-1]
    microsecond = 0
    if fraction:
        digits = fraction[1:]
        if fraction[:1] != b"." or not digits.isdigit():
            raise GbcsError(f"GeneralizedTime {raw!r} has a bad fraction", offset)
        microsecond = int(digits[:6].ljust(6, b"0"))
    try:
        return datetime(
            int(raw[0:4]),
            int(raw[4:6]),
            int(raw[6:8]),
            int(raw[8:10]),
            int(raw[10:12]),
            int(raw[12:14]),
            microsecond,
            tzinfo=UTC,
        )
    except ValueError as exc:
        raise GbcsError(f"GeneralizedTime {raw!r} is out of range: {exc}", offset) from None
