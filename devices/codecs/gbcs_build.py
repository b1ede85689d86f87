"""Build GBCS alert APDUs (for tests and the emulated Comms Hub).

The APDUs follow the layout :mod:`devices.codecs.gbcs` decodes: a General Signing APDU
(``DF 09``) holding DLMS, GBZ or ASN.1 DER alert content, optionally carried in clear inside a
General Ciphering APDU (``DD``) protected by a MAC only. The signature and the MAC are fixed dummy
bytes: nothing here signs anything, the decoder does not verify them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from devices.codecs.gbcs_types import (
    DLMS_DEVIATION_UNSPECIFIED,
    ZIGBEE_EPOCH,
    encode_der_integer,
    encode_der_length,
    encode_dlms_datetime,
    encode_generalized_time,
    parse_eui,
    to_utc,
)

#: CRA flag of the transaction id (GBCS 7.2.3): 1 command, 2 response, 3 alert.
CRA_FLAG_ALERT = 0x03

#: Placeholder ECDSA P-256 signature (64 bytes, r || s) and AES-GCM MAC (12 bytes).
DUMMY_SIGNATURE = bytes(range(0x40, 0x80))
DUMMY_MAC = bytes(range(0xA0, 0xAC))

#: Security control byte of the General Ciphering security header: authentication only
#: (bit 4 set, bit 5 clear: the content is in clear, protected by the MAC).
SECURITY_CONTROL_AUTH_ONLY = 0x11


def build_alert_apdu(
    *,
    alert_code: int,
    originator: str,
    recipient: str,
    alert_time: datetime,
    content: Literal["dlms", "gbz", "der"] = "dlms",
    ciphered: bool = False,
    counter: int = 1,
    message_code: int = 0x0067,
) -> bytes:
    """Build one GBCS alert APDU.

    Args:
        alert_code: the 16-bit alert code, e.g. ``0x8F36``.
        originator: the raising device's EUI-64, e.g. ``00-DB-12-34-56-78-90-A0``.
        recipient: the recipient's EUI-64 (a remote party's system title).
        alert_time: when the alert was raised (timezone-aware).
        content: ``dlms`` (ESME DataNotification), ``gbz`` (GSME ZigBee payload) or ``der``
            (Comms Hub / security alerts in ASN.1 DER).
        ciphered: wrap the signed APDU in a General Ciphering APDU (MAC only, content in clear).
        counter: the 64-bit originator counter of the transaction id.
        message_code: the GBCS message code carried in other-information.

    Returns:
        The APDU bytes.

    Raises:
        ValueError: a value is out of range, an EUI-64 is malformed or the time is naive.
    """
    if not 0 <= alert_code <= 0xFFFF:
        raise ValueError(f"alert_code {alert_code:#x} does not fit in 16 bits")
    if not 0 <= counter < 1 << 64:
        raise ValueError(f"counter {counter} does not fit in 64 bits")
    if not 0 <= message_code <= 0xFFFF:
        raise ValueError(f"message_code {message_code:#x} does not fit in 16 bits")
    builders = {"dlms": _dlms_content, "gbz": _gbz_content, "der": _der_content}
    if content not in builders:
        raise ValueError(f"content {content!r} is not one of dlms, gbz, der")
    body = builders[content](alert_code, alert_time, counter)
    signed = build_general_signing(
        content=body,
        originator=parse_eui(originator),
        recipient=parse_eui(recipient),
        other_information=message_code.to_bytes(2, "big"),
        counter=counter,
    )
    if not ciphered:
        return signed
    return _general_ciphering(signed, counter)


def build_general_signing(
    *,
    content: bytes,
    originator: bytes = bytes(8),
    recipient: bytes = bytes(8),
    transaction_id: bytes | None = None,
    date_time: bytes | None = None,
    other_information: bytes = b"\x00\x67",
    signature: bytes | None = DUMMY_SIGNATURE,
    counter: int = 1,
) -> bytes:
    """Build a General Signing APDU from raw fields (edge values welcome: nothing is checked).

    Args:
        content: the alert content (see :func:`dlms_content`, :func:`gbz_content`,
            :func:`der_content`) or any bytes.
        originator: the originator system title (written with its length, normally 8 bytes).
        recipient: the recipient system title (written with its length).
        transaction_id: the transaction-id bytes (written with their length); default: CRA flag
            ``03`` (alert) followed by ``counter`` in 8 bytes.
        date_time: a 12-byte DLMS date-time for the header, or None for ``00`` (absent).
        other_information: the other-information bytes (the first two are the message code).
        signature: the signature bytes, or None to end the APDU right after the content.
        counter: the originator counter used by the default transaction id.
    """
    if transaction_id is None:
        transaction_id = bytes([CRA_FLAG_ALERT]) + counter.to_bytes(8, "big")
    # DLMS general-signing: tag DF, transaction-id, originator and recipient system titles,
    # date-time, other-information, content, signature; each but the tag with its length.
    parts = [
        b"\xdf",
        _with_length(transaction_id),
        _with_length(originator),
        _with_length(recipient),
        b"\x00" if date_time is None else _with_length(date_time),
        _with_length(other_information),
        _with_length(content),
    ]
    if signature is not None:
        parts.append(_with_length(signature))
    return b"".join(parts)


def dlms_content(
    alert_code: int,
    alert_date_time: bytes,
    *,
    invoke_id: int = 0x20000001,
    notification_date_time: bytes | None = None,
) -> bytes:
    """DLMS DataNotification alert content with raw date-time fields.

    Args:
        alert_code: the 16-bit alert code.
        alert_date_time: the alert's octet-string date-time (normally 12 bytes; any length is
            written as given).
        invoke_id: the long-invoke-id-and-priority (32 bits).
        notification_date_time: the DataNotification's own date-time (12 bytes), or None for
            ``00`` (absent).
    """
    # DataNotification (tag 0F): long-invoke-id-and-priority, date-time, then the body:
    # structure of 2 { long-unsigned alert code, octet-string DLMS date-time }.
    note = b"\x00" if notification_date_time is None else _with_length(notification_date_time)
    return (
        b"\x0f"
        + invoke_id.to_bytes(4, "big")
        + note
        + b"\x02\x02"
        + b"\x12"
        + alert_code.to_bytes(2, "big")
        + b"\x09"
        + _with_length(alert_date_time)
    )


def gbz_content(alert_code: int, seconds: int, components: bytes = b"") -> bytes:
    """GBZ alert content: profile id 0109, component count, alert code, UTCTime seconds (32 bits)."""
    count = 1 if components else 0
    return (
        b"\x01\x09"
        + bytes([count])
        + alert_code.to_bytes(2, "big")
        + seconds.to_bytes(4, "big")
        + components
    )


def der_content(alert_code: int, time_text: bytes) -> bytes:
    """ASN.1 DER alert content: SEQUENCE { INTEGER alert code, GeneralizedTime ``time_text`` }."""
    time_field = b"\x18" + encode_der_length(len(time_text)) + time_text
    inner = encode_der_integer(alert_code) + time_field
    return b"\x30" + encode_der_length(len(inner)) + inner


def dlms_date_time(
    year: int,
    month: int,
    day: int,
    hour: int,
    minute: int,
    second: int = 0,
    hundredths: int = 0,
    deviation: int = DLMS_DEVIATION_UNSPECIFIED,
    *,
    weekday: int = 0xFF,
    clock_status: int = 0xFF,
) -> bytes:
    """A 12-byte DLMS date-time from raw field values (Blue Book 4.1.6.1), unchecked.

    ``deviation`` is minutes as a signed 16-bit value (negative allowed) or ``0x8000`` for "not
    specified"; every other field is written as given (``0xFF``/``0xFFFF`` = not specified).
    """
    return (
        bytes(
            [year >> 8 & 0xFF, year & 0xFF, month, day, weekday, hour, minute, second, hundredths]
        )
        + (deviation & 0xFFFF).to_bytes(2, "big")
        + bytes([clock_status])
    )


def _with_length(field: bytes) -> bytes:
    return encode_der_length(len(field)) + field


def build_general_ciphering(signed: bytes, counter: int = 1) -> bytes:
    """Carry a General Signing APDU in clear in a General Ciphering APDU (MAC only)."""
    return _general_ciphering(signed, counter)


def _general_ciphering(signed: bytes, counter: int) -> bytes:
    # GBCS leaves the general-ciphering transaction-id, system titles, date-time and
    # other-information empty and key-info absent (six 00 bytes); the ciphered content is the
    # security header (control byte + 4-byte invocation counter), the APDU and the MAC.
    protected = (
        bytes([SECURITY_CONTROL_AUTH_ONLY])
        + (counter & 0xFFFFFFFF).to_bytes(4, "big")
        + signed
        + DUMMY_MAC
    )
    return b"\xdd" + bytes(6) + encode_der_length(len(protected)) + protected


def _dlms_content(alert_code: int, alert_time: datetime, counter: int) -> bytes:
    # The invoke id carries the counter's low 24 bits with the priority bit set.
    invoke_id = 0x20000000 | (counter & 0x00FFFFFF)
    return dlms_content(alert_code, encode_dlms_datetime(alert_time), invoke_id=invoke_id)


def _gbz_content(alert_code: int, alert_time: datetime, counter: int) -> bytes:
    seconds = int((to_utc(alert_time) - ZIGBEE_EPOCH).total_seconds())
    if not 0 <= seconds <= 0xFFFFFFFF:
        raise ValueError("alert_time is outside the ZigBee UTCTime range (2000 to 2136)")
    return gbz_content(alert_code, seconds)


def _der_content(alert_code: int, alert_time: datetime, counter: int) -> bytes:
    return der_content(alert_code, encode_generalized_time(alert_time)[2:])
