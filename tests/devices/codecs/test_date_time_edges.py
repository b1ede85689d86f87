"""Date-times at the ends of the calendar: the codec's own error, never a crash of the stream.

Byte tables: a DLMS date-time is year (2), month, day, weekday, hour, minute, second, hundredths,
deviation (2, signed minutes, UTC = local + deviation; 8000 = not specified), clock status
(Blue Book 4.1.6.1). ``27 0F`` is the year 9999, ``00 01`` the year 1.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from app.cli import main
from app.domain.events import EventKind
from devices.codecs.base import CodecError, make_codec
from devices.codecs.gbcs import GbcsError, decode_alert, decode_alert_hex
from devices.codecs.gbcs_build import (
    build_alert_apdu,
    build_general_signing,
    dlms_content,
    dlms_date_time,
)

ESME = "00-DB-12-34-56-78-90-A0"
WHEN = datetime(2026, 11, 25, 10, 3, tzinfo=UTC)

# 9999-12-31 (weekday FF) 23:59:00.00, deviation +1 minute, status FF: 10000-01-01 in UTC.
LAST_MINUTE_PLUS_ONE = bytes.fromhex("27 0F 0C 1F FF 17 3B 00 00 00 01 FF")
# 0001-01-01 00:00:00.00, deviation -1 minute (FFFF): 0000-12-31 23:59 in UTC.
FIRST_MINUTE_MINUS_ONE = bytes.fromhex("00 01 01 01 FF 00 00 00 00 FF FF FF")
OVERFLOWS = [LAST_MINUTE_PLUS_ONE, FIRST_MINUTE_MINUS_ONE]

# The General Signing header of build_general_signing with its defaults: DF, 09 03 + counter 1,
# 08 + 8 zero bytes twice, then the date-time at byte 29.
HEADER_DATE_TIME_AT = 29


def dlms_apdu(alert_date_time: bytes, **kwargs: object) -> bytes:
    return build_general_signing(content=dlms_content(0x8F36, alert_date_time), **kwargs)


def test_builder_writes_the_date_time_fields_as_given() -> None:
    assert dlms_date_time(9999, 12, 31, 23, 59, deviation=1) == LAST_MINUTE_PLUS_ONE
    assert dlms_date_time(1, 1, 1, 0, 0, deviation=-1) == FIRST_MINUTE_MINUS_ONE
    # Position of the alert date-time: header 29 + date-time 1 + other-information 3 + content
    # length 1, then 0F + invoke id 4 + 00 + 02 02 + 12 + code 2 + 09 0C.
    data = dlms_apdu(LAST_MINUTE_PLUS_ONE)
    assert data[47:59] == LAST_MINUTE_PLUS_ONE


@pytest.mark.parametrize("raw", OVERFLOWS, ids=["9999+1min", "0001-1min"])
def test_alert_date_time_out_of_range_after_deviation_is_a_gbcs_error(raw: bytes) -> None:
    with pytest.raises(GbcsError) as info:
        decode_alert(dlms_apdu(raw))
    assert info.value.offset == 47
    assert "outside the years 1 to 9999 in UTC" in info.value.message


@pytest.mark.parametrize("raw", OVERFLOWS, ids=["9999+1min", "0001-1min"])
def test_header_and_notification_date_times_out_of_range_are_gbcs_errors(raw: bytes) -> None:
    good = dlms_date_time(2026, 11, 25, 10, 3)
    with pytest.raises(GbcsError) as info:
        decode_alert(dlms_apdu(good, date_time=raw))
    assert info.value.offset == HEADER_DATE_TIME_AT + 1
    content = dlms_content(0x8F36, good, notification_date_time=raw)
    with pytest.raises(GbcsError) as info:
        decode_alert(build_general_signing(content=content))
    # Header 29 + 00 + other-information 3 + content length 1 + 0F + invoke id 4 + length 0C.
    assert info.value.offset == 40
    assert "outside the years 1 to 9999" in info.value.message


def test_the_last_and_first_minutes_themselves_decode() -> None:
    last = decode_alert(dlms_apdu(dlms_date_time(9999, 12, 31, 23, 59, deviation=0)))
    assert last.timestamp == datetime(9999, 12, 31, 23, 59, tzinfo=UTC)
    first = decode_alert(dlms_apdu(dlms_date_time(1, 1, 1, 0, 1, deviation=-1)))
    assert first.timestamp == datetime(1, 1, 1, 0, 0, tzinfo=UTC)


def test_gbcs_hex_stream_reports_the_bad_line_and_delivers_the_others() -> None:
    good = [
        build_alert_apdu(alert_code=code, originator=ESME, recipient=ESME, alert_time=WHEN)
        for code in (0x8F35, 0x8F36)
    ]
    lines = [good[0], dlms_apdu(LAST_MINUTE_PLUS_ONE), good[1], dlms_apdu(FIRST_MINUTE_MINUS_ONE)]
    codec = make_codec("gbcs-hex")
    events = codec.feed(b"".join(line.hex().encode() + b"\r\n" for line in lines))
    assert [e.kind for e in events] == [
        EventKind.ALERT,
        EventKind.ERROR,
        EventKind.ALERT,
        EventKind.ERROR,
    ]
    assert [events[0].fields["alert_code"], events[2].fields["alert_code"]] == ["8F35", "8F36"]
    assert "outside the years 1 to 9999" in events[1].fields["message"]
    assert events[1].fields["offset"] == 47
    assert (codec.stats.frames, codec.stats.errors) == (2, 2)


def test_profile_stream_reports_the_bad_alert_line_and_delivers_the_others() -> None:
    good = build_alert_apdu(alert_code=0x8F36, originator=ESME, recipient=ESME, alert_time=WHEN)
    stamp = "2026-11-25T10:03:00.000Z [INF] "
    lines = [
        f"{stamp}GBCS alert rx eui={ESME} apdu={good.hex().upper()}",
        f"{stamp}GBCS alert rx eui={ESME} apdu={dlms_apdu(LAST_MINUTE_PLUS_ONE).hex()}",
        f"{stamp}PWR outage start=2026-11-25T10:01:00.000Z mpxn=1312345678907",
        f"{stamp}GBCS alert rx eui={ESME} apdu={dlms_apdu(FIRST_MINUTE_MINUS_ONE).hex()}",
        f"{stamp}PWR restored at=2026-11-25T10:02:59.000Z duration_s=119.0 mpxn=1312345678907",
    ]
    codec = make_codec("profile:emulator")
    events = codec.feed("\n".join(lines).encode() + b"\n")
    assert [e.kind for e in events] == [
        EventKind.ALERT,
        EventKind.ERROR,
        EventKind.OUTAGE_START,
        EventKind.ERROR,
        EventKind.OUTAGE_END,
    ]
    assert events[1].fields["message"].startswith("rule 1: DLMS date-time 9999-12-31 23:59")
    assert events[0].device_time == WHEN
    assert (codec.stats.frames, codec.stats.errors) == (3, 2)


@pytest.mark.parametrize(
    "stamp", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:00-01:00", "2026-02-30T10:00:00Z"]
)
def test_profile_time_group_out_of_range_in_utc_is_an_error_event(stamp: str) -> None:
    codec = make_codec("profile:emulator")
    line = f"2026-11-25T10:03:00.000Z [WRN] PWR outage start={stamp} mpxn=1312345678907\n"
    events = codec.feed(line.encode() + line.replace(stamp, "2026-11-25T10:01:00Z").encode())
    assert [e.kind for e in events] == [EventKind.ERROR, EventKind.OUTAGE_START]
    assert "time group 'start'" in events[0].fields["message"]


def test_decode_gbcs_cli_says_one_sentence_and_exits_2(capsys) -> None:
    code = main(["decode", "--gbcs", dlms_apdu(LAST_MINUTE_PLUS_ONE).hex()])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "outside the years 1 to 9999" in err


def test_decode_file_cli_goes_on_after_a_bad_alert_line(tmp_path, capsys) -> None:
    good = build_alert_apdu(alert_code=0x8F36, originator=ESME, recipient=ESME, alert_time=WHEN)
    log = tmp_path / "alerts.hex"
    log.write_text(f"{dlms_apdu(FIRST_MINUTE_MINUS_ONE).hex()}\n{good.hex()}\n")
    code = main(["decode", "--file", str(log), "--protocol", "gbcs-hex"])
    out, _ = capsys.readouterr()
    assert code == 0
    assert [json.loads(line)["kind"] for line in out.splitlines()] == ["error", "alert"]


def test_every_gbcs_error_is_a_codec_error() -> None:
    with pytest.raises(CodecError):
        decode_alert_hex(dlms_apdu(LAST_MINUTE_PLUS_ONE).hex())


def test_an_unexpected_decoder_failure_is_still_a_gbcs_error(monkeypatch) -> None:
    # Stands in for a decoder bug met by crafted input: the stream must see one bad APDU.
    import devices.codecs.gbcs as gbcs

    def broken(data: bytes, pos: int, end: int) -> None:
        raise IndexError("index out of range")

    monkeypatch.setattr(gbcs, "decode_content", broken)
    with pytest.raises(GbcsError) as info:
        decode_alert(dlms_apdu(dlms_date_time(2026, 11, 25, 10, 3)))
    assert info.value.message.startswith(gbcs.INTERNAL_ERROR_PREFIX)
    assert isinstance(info.value.__cause__, IndexError)
