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
    signed = _general_signing(
        parse_eui(originator), parse_eui(recipient), counter, message_code, body
    )
    if not ciphered:
        return signed
    return _general_ciphering(signed, counter)


def _general_signing(
    originator: bytes, recipient: bytes, counter: int, message_code: int, body: bytes
) -> bytes:
    # DLMS general-signing: tag DF, transaction-id (length 09: CRA flag + 8-byte counter),
    # originator and recipient system titles (length 08), date-time absent (00),
    # other-information (the 2-byte message code), content, signature.
    return b"".join(
        [
            b"\xdf\x09",
            bytes([CRA_FLAG_ALERT]),
            counter.to_bytes(8, "big"),
            b"\x08",
            originator,
            b"\x08",
            recipient,
            b"\x00",
            b"\x02",
            message_code.to_bytes(2, "big"),
            encode_der_length(len(body)),
            body,
            encode_der_length(len(DUMMY_SIGNATURE)),
            DUMMY_SIGNATURE,
        ]
    )


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
    # DataNotification (tag 0F): long-invoke-id-and-priority, date-time absent, then the body:
    # structure of 2 { long-unsigned alert code, octet-string(12) DLMS date-time }.
    invoke_id = 0x20000000 | (counter & 0x00FFFFFF)
    return (
        b"\x0f"
        + invoke_id.to_bytes(4, "big")
        + b"\x00"
        + b"\x02\x02"
        + b"\x12"
        + alert_code.to_bytes(2, "big")
        + b"\x09\x0c"
        + encode_dlms_datetime(alert_time)
    )


def _gbz_content(alert_code: int, alert_time: datetime, counter: int) -> bytes:
    # GBZ alert: profile id 0109, component count (none follow here), alert code, UTCTime.
    seconds = int((to_utc(alert_time) - ZIGBEE_EPOCH).total_seconds())
    if not 0 <= seconds <= 0xFFFFFFFF:
        raise ValueError("alert_time is outside the ZigBee UTCTime range (2000 to 2136)")
    return b"\x01\x09\x00" + alert_code.to_bytes(2, "big") + seconds.to_bytes(4, "big")


def _der_content(alert_code: int, alert_time: datetime, counter: int) -> bytes:
    # SEQUENCE { INTEGER alert code, GeneralizedTime }.
    inner = encode_der_integer(alert_code) + encode_generalized_time(alert_time)
    return b"\x30" + encode_der_length(len(inner)) + inner
