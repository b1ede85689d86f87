"""Decode GBCS alert APDUs (as shown in hex by sniffers and Comms Hub debug ports).

Layout (GBCS section 7, DLMS Green Book 9.5 general-signing / general-ciphering):

* General Signing ``DF``: transaction-id (length ``09``: CRA flag ``03`` = alert + 8-byte
  originator counter), originator system title (``08`` + EUI-64), recipient system title
  (``08`` + 8 bytes), date-time (``00`` absent or ``0C`` + 12), other-information (length + bytes;
  the first 2 are the message code), content (DER-style length + content), signature (length +
  bytes; the APDU may also end right after the content).
* General Ciphering ``DD``: transaction-id, originator and recipient system titles, date-time,
  other-information (each length + bytes, empty in GBCS), key-info (``00`` absent), then the
  ciphered content: security header (control byte + 4-byte invocation counter), the General
  Signing APDU in clear and a 12-byte MAC (authentication only).

Signatures and MACs are not verified: that needs the devices' keys, which a lab workstation does
not hold.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from devices.codecs.alert_catalogue import AlertCatalogue, default_catalogue
from devices.codecs.gbcs_content import decode_content, need, read_length
from devices.codecs.gbcs_types import GbcsError, decode_dlms_datetime

__all__ = ["GbcsAlert", "GbcsError", "decode_alert", "decode_alert_hex", "hex_to_bytes"]

#: CRA flag values of the transaction id (GBCS 7.2.3).
_CRA_NAMES = {0x01: "command", 0x02: "response", 0x03: "alert"}

#: Security control bits (Green Book 9.2.7.2.4): authentication, encryption.
_SC_AUTHENTICATED = 0x10
_SC_ENCRYPTED = 0x20
_MAC_SIZE = 12

_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


@dataclass(frozen=True, slots=True)
class GbcsAlert:
    """One decoded alert.

    Attributes:
        alert_code: 4 upper-case hex digits, e.g. ``8F36``.
        alert_name: the catalogue name, or ``unknown``.
        originator: the raising device's EUI-64 (``00-DB-12-34-56-78-90-A0``).
        recipient: the recipient system title as an EUI-64.
        message_code: the GBCS message code, 4 upper-case hex digits (``0067``).
        timestamp: when the device raised the alert (aware UTC), or None if it sent no time.
        wrapper: ``general_signing`` or ``general_ciphering``.
        content_kind: ``dlms``, ``gbz`` or ``der``.
        extra: further JSON-friendly values (``originator_counter``, ``invoke_id``, alert data).
    """

    alert_code: str
    alert_name: str
    originator: str
    recipient: str
    message_code: str
    timestamp: datetime | None
    wrapper: str
    content_kind: str
    extra: dict[str, Any] = field(default_factory=dict, hash=False)


def decode_alert(apdu: bytes, catalogue: AlertCatalogue | None = None) -> GbcsAlert:
    """Decode one alert APDU.

    Args:
        apdu: the APDU bytes, starting with ``DF`` or ``DD``.
        catalogue: where alert names come from (default: the shipped catalogue).

    Raises:
        GbcsError: the APDU is truncated, malformed, not an alert, or its content is encrypted.
    """
    data = bytes(apdu)
    end = len(data)
    if end == 0:
        raise GbcsError("empty APDU", 0)
    try:
        return _decode(data, end, catalogue or default_catalogue())
    except GbcsError:
        raise
    except (ArithmeticError, IndexError, ValueError) as exc:
        # Every field is checked before use, so this is a decoder bug met by crafted input. It is
        # still that APDU's fault as far as a live session goes: one bad line, not a dead session.
        # The fuzz tests fail on this wording, so such bugs are found rather than hidden.
        raise GbcsError(f"{INTERNAL_ERROR_PREFIX} ({type(exc).__name__}: {exc})", 0) from exc


#: Start of the message of a :class:`GbcsError` that stands for an unexpected decoder failure.
INTERNAL_ERROR_PREFIX = "APDU not decoded: internal decoder error"


def _decode(data: bytes, end: int, catalogue: AlertCatalogue) -> GbcsAlert:
    tag = data[0]
    extra: dict[str, Any] = {}
    if tag == 0xDF:
        start, stop, wrapper = 0, end, "general_signing"
    elif tag == 0xDD:
        start, stop = _unwrap_ciphering(data, end, extra)
        wrapper = "general_ciphering"
    else:
        raise GbcsError(
            f"APDU tag {tag:02X} is not DF (general signing) or DD (general ciphering)", 0
        )
    return _general_signing(data, start, stop, wrapper, extra, catalogue)


def hex_to_bytes(text: str) -> bytes:
    """Turn hex text into bytes, ignoring case, whitespace, ``:`` and a leading ``0x``.

    Raises:
        GbcsError: a character is not hex or the digit count is odd; ``offset`` is the character
            position in ``text``.
    """
    cleaned = text.strip()
    if cleaned[:2] in ("0x", "0X"):
        cleaned = cleaned[2:]
    cleaned = cleaned.replace(":", "").replace(" ", "").replace("\t", "")
    try:
        return bytes.fromhex(cleaned)
    except ValueError:
        pass
    digits = 0
    for index, char in enumerate(text):
        if char in _HEX_DIGITS:
            digits += 1
        elif not (char.isspace() or char == ":" or (char in "xX" and digits == 1)):
            raise GbcsError(f"{char!r} is not a hex digit", index) from None
    raise GbcsError(f"odd number of hex digits ({digits})", len(text)) from None


def decode_alert_hex(text: str, catalogue: AlertCatalogue | None = None) -> GbcsAlert:
    """Decode an alert APDU written as hex (any case; spaces and colons allowed).

    Raises:
        GbcsError: the text is not hex (offset = character position) or the APDU is malformed
            (offset = byte position in the APDU).
    """
    return decode_alert(hex_to_bytes(text), catalogue)


def _unwrap_ciphering(data: bytes, end: int, extra: dict[str, Any]) -> tuple[int, int]:
    """Walk a General Ciphering header; return the bounds of the General Signing APDU inside."""
    pos = 1
    for what in (
        "transaction-id",
        "originator-system-title",
        "recipient-system-title",
        "date-time",
        "other-information",
    ):
        size, pos = read_length(data, pos, end, f"general-ciphering {what}")
        need(data, pos, size, end, f"general-ciphering {what}")
        if size and what == "transaction-id":
            extra["ciphering_transaction_id"] = data[pos : pos + size].hex().upper()
        pos += size
    need(data, pos, 1, end, "general-ciphering key-info")
    if data[pos] != 0x00:
        pos = _skip_key_info(data, pos, end)
    else:
        pos += 1
    size, pos = read_length(data, pos, end, "ciphered content")
    need(data, pos, size, end, "ciphered content")
    content_end = pos + size
    if content_end != end:
        raise GbcsError(
            f"{end - content_end} unexpected bytes after the ciphered content", content_end
        )
    need(data, pos, 5, content_end, "security header")
    control = data[pos]
    if control & _SC_ENCRYPTED:
        raise GbcsError(
            f"security control {control:02X}: the content is encrypted and cannot be read", pos
        )
    extra["security_control"] = control
    extra["invocation_counter"] = int.from_bytes(data[pos + 1 : pos + 5], "big")
    inner_start = pos + 5
    inner_end = content_end - (_MAC_SIZE if control & _SC_AUTHENTICATED else 0)
    if inner_end <= inner_start:
        raise GbcsError("ciphered content is too short for an APDU and its MAC", inner_start)
    if data[inner_start] != 0xDF:
        raise GbcsError(
            f"carried APDU tag {data[inner_start]:02X}: expected DF (general signing)", inner_start
        )
    return inner_start, inner_end


def _skip_key_info(data: bytes, pos: int, end: int) -> int:
    # key-info present (01), then the CHOICE (Green Book 9.5 general-ciphering): 0 identified-key
    # (key-id 1 byte), 1 wrapped-key (kek-id 1 byte + octet string), 2 agreed-key (two octet
    # strings).
    if data[pos] != 0x01:
        raise GbcsError(f"key-info flag {data[pos]:02X}: expected 00 or 01", pos)
    need(data, pos + 1, 1, end, "key-info")
    choice = data[pos + 1]
    pos += 2
    if choice == 0:
        need(data, pos, 1, end, "identified-key")
        return pos + 1
    if choice == 1:
        need(data, pos, 1, end, "wrapped-key")
        pos += 1
        strings = 1
    elif choice == 2:
        strings = 2
    else:
        raise GbcsError(f"key-info choice {choice} is not 0, 1 or 2", pos - 1)
    for _ in range(strings):
        size, pos = read_length(data, pos, end, "key-info")
        need(data, pos, size, end, "key-info")
        pos += size
    return pos


def _general_signing(
    data: bytes,
    start: int,
    end: int,
    wrapper: str,
    extra: dict[str, Any],
    catalogue: AlertCatalogue,
) -> GbcsAlert:
    need(data, start, 29, end, "general-signing header")
    if data[start + 1] != 0x09:
        raise GbcsError(
            f"transaction-id length {data[start + 1]:02X}: expected 09 (CRA flag + counter)",
            start + 1,
        )
    cra = data[start + 2]
    if cra != 0x03:
        kind = _CRA_NAMES.get(cra, "unknown")
        raise GbcsError(f"CRA flag {cra:02X} ({kind}): expected 03 (alert)", start + 2)
    counter = int.from_bytes(data[start + 3 : start + 11], "big")
    if data[start + 11] != 0x08:
        raise GbcsError(
            f"originator system title length {data[start + 11]:02X}: expected 08", start + 11
        )
    originator = data[start + 12 : start + 20].hex("-").upper()
    if data[start + 20] != 0x08:
        raise GbcsError(
            f"recipient system title length {data[start + 20]:02X}: expected 08", start + 20
        )
    recipient = data[start + 21 : start + 29].hex("-").upper()
    pos = start + 29
    need(data, pos, 1, end, "date-time")
    size = data[pos]
    header_time = None
    if size == 12:
        need(data, pos + 1, 12, end, "date-time")
        header_time = decode_dlms_datetime(data[pos + 1 : pos + 13], pos + 1)
    elif size != 0:
        raise GbcsError(f"date-time length {size}: expected 00 (absent) or 0C", pos)
    pos += 1 + size
    size, pos = read_length(data, pos, end, "other-information")
    need(data, pos, size, end, "other-information")
    if size < 2:
        raise GbcsError(f"other-information has {size} bytes: expected a 2-byte message code", pos)
    message_code = data[pos : pos + 2].hex().upper()
    pos += size
    size, pos = read_length(data, pos, end, "content")
    need(data, pos, size, end, "content")
    content = decode_content(data, pos, pos + size)
    pos += size
    signature_size = 0
    if pos < end:
        signature_size, pos = read_length(data, pos, end, "signature")
        need(data, pos, signature_size, end, "signature")
        pos += signature_size
        if pos != end:
            raise GbcsError(f"{end - pos} unexpected bytes after the signature", pos)
    extra["originator_counter"] = counter
    extra["signature_length"] = signature_size
    extra.update(content.extra)
    code = f"{content.alert_code:04X}"
    return GbcsAlert(
        alert_code=code,
        alert_name=catalogue.name(code),
        originator=originator,
        recipient=recipient,
        message_code=message_code,
        timestamp=content.timestamp or header_time,
        wrapper=wrapper,
        content_kind=content.kind,
        extra=extra,
    )
