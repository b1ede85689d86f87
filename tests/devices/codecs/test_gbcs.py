"""GBCS alert APDUs: byte tables written out from the structure, decoding, building, errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from devices.codecs.base import CodecError
from devices.codecs.gbcs import GbcsError, decode_alert, decode_alert_hex
from devices.codecs.gbcs_build import build_alert_apdu

ESME = "00-DB-12-34-56-78-90-A0"
REMOTE = "90-B3-D5-1F-30-01-00-00"
WHEN = datetime(2026, 11, 25, 10, 3, tzinfo=UTC)  # a Wednesday

SIGNATURE = "40" + bytes(range(0x40, 0x80)).hex()  # length 64 + the builder's dummy signature

# General Signing header: DF, transaction-id length 09, CRA flag 03 (alert), counter 1,
# originator 08 + EUI, recipient 08 + system title, date-time absent, other-info 02 + 0067.
HEADER = (
    "DF 09 03 00 00 00 00 00 00 00 01"
    " 08 00 DB 12 34 56 78 90 A0"
    " 08 90 B3 D5 1F 30 01 00 00"
    " 00"
    " 02 00 67"
)
# DataNotification: 0F, long-invoke-id 20000001, date-time absent (00), structure of 2:
# long-unsigned 8F36, octet-string(12) 2026-11-25 (Wed=3) 10:03:00.00, deviation 8000, status FF.
DLMS_CONTENT = "0F 20 00 00 01 00 02 02 12 8F 36 09 0C 07 EA 0B 19 03 0A 03 00 00 80 00 FF"
# GBZ: profile 0109, 0 components, alert 8F36, 848916180 s after 2000-01-01 = 32 99 6E D4.
GBZ_CONTENT = "01 09 00 8F 36 32 99 6E D4"
# DER: SEQUENCE(22) { INTEGER 00 8F 36, GeneralizedTime "20261125100300Z" }.
DER_CONTENT = "30 16 02 03 00 8F 36 18 0F" + " 32 30 32 36 31 31 32 35 31 30 30 33 30 30 5A"


def apdu(content: str) -> bytes:
    body = bytes.fromhex(content)
    return bytes.fromhex(HEADER) + bytes([len(body)]) + body + bytes.fromhex(SIGNATURE)


def test_zigbee_time_constant_is_right() -> None:
    assert 0x32996ED4 == (9825 * 86400) + 10 * 3600 + 3 * 60  # 9825 days from 2000-01-01
    assert WHEN - timedelta(seconds=0x32996ED4) == datetime(2000, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("content", "table"), [("dlms", DLMS_CONTENT), ("gbz", GBZ_CONTENT), ("der", DER_CONTENT)]
)
def test_builder_writes_the_expected_bytes(content: str, table: str) -> None:
    built = build_alert_apdu(
        alert_code=0x8F36, originator=ESME, recipient=REMOTE, alert_time=WHEN, content=content
    )
    assert built == apdu(table)


@pytest.mark.parametrize(
    ("table", "kind"), [(DLMS_CONTENT, "dlms"), (GBZ_CONTENT, "gbz"), (DER_CONTENT, "der")]
)
def test_decodes_hand_built_general_signing(table: str, kind: str) -> None:
    alert = decode_alert(apdu(table))
    assert alert.alert_code == "8F36"
    assert alert.alert_name == "Supply Outage Restored - Outage >= 3 minutes"
    assert alert.originator == ESME
    assert alert.recipient == REMOTE
    assert alert.message_code == "0067"
    assert alert.timestamp == WHEN
    assert alert.timestamp.tzinfo is not None
    assert alert.wrapper == "general_signing"
    assert alert.content_kind == kind
    assert alert.extra["originator_counter"] == 1
    assert alert.extra["signature_length"] == 64


def test_general_ciphering_bytes_and_decode() -> None:
    inner = apdu(DLMS_CONTENT)
    mac = bytes(range(0xA0, 0xAC))
    # DD, six empty/absent fields, ciphered content length 81 8D (141 = 5 + 124 + 12),
    # security control 11 (authenticated, not encrypted), invocation counter 00000001.
    expected = bytes.fromhex("DD 00 00 00 00 00 00 81 8D 11 00 00 00 01") + inner + mac
    assert len(inner) == 124
    built = build_alert_apdu(
        alert_code=0x8F36, originator=ESME, recipient=REMOTE, alert_time=WHEN, ciphered=True
    )
    assert built == expected
    alert = decode_alert(expected)
    assert alert.wrapper == "general_ciphering"
    assert alert.alert_code == "8F36"
    assert alert.extra["invocation_counter"] == 1
    assert alert.extra["security_control"] == 0x11


def test_general_ciphering_with_transaction_id_and_identified_key() -> None:
    inner = apdu(GBZ_CONTENT)
    protected = bytes.fromhex("11 00 00 00 07") + inner + bytes(12)
    header = bytes.fromhex("DD 09 03 00 00 00 00 00 00 00 05 00 00 00 00 01 00 02")
    alert = decode_alert(header + bytes([0x81, len(protected)]) + protected)
    assert alert.content_kind == "gbz"
    assert alert.extra["ciphering_transaction_id"] == "030000000000000005"


def test_encrypted_ciphering_is_refused_with_offset() -> None:
    inner = apdu(GBZ_CONTENT)
    protected = bytes.fromhex("31 00 00 00 07") + inner + bytes(12)
    data = bytes.fromhex("DD 00 00 00 00 00 00") + bytes([0x81, len(protected)]) + protected
    with pytest.raises(GbcsError) as info:
        decode_alert(data)
    assert info.value.offset == 9
    assert "encrypted" in info.value.message


def test_dlms_alert_specific_data_and_header_time() -> None:
    # structure of 4: code 8F1D, time not specified (all FF), octet-string(2) 0102,
    # double-long-unsigned 7; the General Signing date-time gives the time instead.
    content = bytes.fromhex(
        "0F 00 00 00 09 00 02 04 12 8F 1D 09 0C FF FF FF FF FF FF FF FF FF 80 00 FF"
        " 09 02 01 02 06 00 00 00 07"
    )
    header = bytearray(bytes.fromhex(HEADER))
    header[29:30] = bytes.fromhex("0C 07 EA 0B 19 03 0A 03 00 00 80 00 FF")
    data = bytes(header) + bytes([len(content)]) + content + b"\x00"
    alert = decode_alert(data)
    assert alert.alert_code == "8F1D"
    assert alert.alert_name == "GSME Power Supply Loss"
    assert alert.timestamp == WHEN
    assert alert.extra["data"] == ["0102", 7]
    assert alert.extra["signature_length"] == 0


def test_dlms_deviation_is_applied() -> None:
    # 11:03 local with deviation -60 minutes (FFC4): UTC = local + deviation = 10:03.
    content = DLMS_CONTENT.replace("0A 03 00 00 80 00", "0B 03 00 00 FF C4")
    assert decode_alert(apdu(content)).timestamp == WHEN


def test_signature_may_be_absent() -> None:
    data = apdu(GBZ_CONTENT)[: -len(bytes.fromhex(SIGNATURE))]
    assert decode_alert(data).extra["signature_length"] == 0


def test_unknown_alert_code_is_named_unknown() -> None:
    alert = decode_alert(apdu(GBZ_CONTENT.replace("8F 36", "12 34")))
    assert (alert.alert_code, alert.alert_name) == ("1234", "unknown")


def test_long_form_content_length() -> None:
    content = bytes.fromhex(GBZ_CONTENT) + bytes(200)  # 209 bytes: length 81 D1
    data = bytes.fromhex(HEADER) + b"\x81\xd1" + content
    alert = decode_alert(data)
    assert alert.extra["components_hex"] == "00" * 200


def test_hex_text_is_tolerant() -> None:
    raw = apdu(DER_CONTENT)
    spaced = raw.hex(" ").lower()
    coloned = raw.hex(":")
    assert decode_alert_hex(spaced) == decode_alert(raw)
    assert decode_alert_hex("0x" + coloned.upper()).alert_code == "8F36"
    assert decode_alert_hex("  " + raw.hex() + "\t").content_kind == "der"


def test_bad_hex_reports_the_character_offset() -> None:
    with pytest.raises(GbcsError) as info:
        decode_alert_hex("DF 09 0G")
    assert info.value.offset == 7
    with pytest.raises(GbcsError):
        decode_alert_hex("DF0")


@pytest.mark.parametrize(
    ("mutate", "offset", "words"),
    [
        (lambda b: b"\x00" + b[1:], 0, "APDU tag 00"),
        (lambda b: b[:1] + b"\x0a" + b[2:], 1, "transaction-id length"),
        (lambda b: b[:2] + b"\x01" + b[3:], 2, "CRA flag 01 (command)"),
        (lambda b: b[:11] + b"\x07" + b[12:], 11, "originator system title"),
        (lambda b: b[:20] + b"\x09" + b[21:], 20, "recipient system title"),
        (lambda b: b[:29] + b"\x05" + b[30:], 29, "date-time length 5"),
        (lambda b: b[:34] + b"\x99" + b[35:], 34, "alert content starts with 99"),
        (lambda b: b + b"\x00", len(apdu(GBZ_CONTENT)), "unexpected bytes"),
    ],
)
def test_malformed_apdus_raise_with_offset(mutate, offset: int, words: str) -> None:
    with pytest.raises(GbcsError) as info:
        decode_alert(mutate(apdu(GBZ_CONTENT)))
    assert info.value.offset == offset
    assert words in str(info.value)
    assert isinstance(info.value, CodecError)


def test_every_truncation_raises_gbcs_error() -> None:
    for table in (DLMS_CONTENT, GBZ_CONTENT, DER_CONTENT):
        full = apdu(table)
        cut_at_signature = len(full) - 65
        for size in range(len(full)):
            if size == cut_at_signature:
                continue  # ends right after the content: a valid unsigned APDU
            with pytest.raises(GbcsError) as info:
                decode_alert(full[:size])
            assert 0 <= info.value.offset <= size


def test_builder_round_trips_every_form() -> None:
    moment = datetime(2027, 3, 28, 1, 30, 15, tzinfo=timezone(timedelta(hours=1)))
    for content in ("dlms", "gbz", "der"):
        for ciphered in (False, True):
            data = build_alert_apdu(
                alert_code=0x8F67,
                originator="00-db-12-34-56-78-90-a2",
                recipient=ESME,
                alert_time=moment,
                content=content,
                ciphered=ciphered,
                counter=0x0102030405060708,
                message_code=0x00CC,
            )
            alert = decode_alert(data)
            assert alert.alert_code == "8F67"
            assert alert.originator == "00-DB-12-34-56-78-90-A2"
            assert alert.message_code == "00CC"
            assert alert.timestamp == moment
            assert alert.content_kind == content
            assert alert.extra["originator_counter"] == 0x0102030405060708


@pytest.mark.parametrize(
    "kwargs",
    [
        {"alert_code": 0x10000},
        {"originator": "00-DB-12"},
        {"alert_time": datetime(2026, 11, 25, 10, 3)},
        {"content": "xml"},
        {"counter": -1},
    ],
)
def test_builder_rejects_bad_values(kwargs: dict) -> None:
    args = {"alert_code": 0x8F36, "originator": ESME, "recipient": REMOTE, "alert_time": WHEN}
    args.update(kwargs)
    with pytest.raises(ValueError):
        build_alert_apdu(**args)
