"""IEC 62056-21 mode C readout: message bytes, data parsing, the host state machine."""

from __future__ import annotations

import pytest

from app.domain.events import EventKind
from devices.codecs.iec62056_21 import (
    BAUD_BY_CHAR,
    Done,
    IecReadoutClient,
    IecStep,
    Send,
    SetBaud,
    bcc,
    build_data_message,
    build_identification,
    parse_data_block,
    parse_identification,
)

STX, ETX, ACK = b"\x02", b"\x03", b"\x06"

# A data message written out by hand: STX, "0.0.0(1)" CR LF, "!" CR LF, ETX, BCC. The BCC is the
# XOR of every byte after STX up to and including ETX:
# 30^2E^30^2E^30^28^31^29^0D^0A^21^0D^0A^03 = 22.
SMALL_MESSAGE = STX + b"0.0.0(1)\r\n!\r\n" + ETX + b"\x22"

READOUT_LINES = [
    "0.0.0(12345678)",
    "1.8.0(012345.678*kWh)",
    "C.7.0(0003)",
    "1.6.0(0001.234*kW)(26-11-25 10:00)",
    "1.8.1(000100.000*kWh)1.8.2(000200.500*kWh)",
]


def test_mode_c_baud_table() -> None:
    assert BAUD_BY_CHAR == {
        "0": 300,
        "1": 600,
        "2": 1200,
        "3": 2400,
        "4": 4800,
        "5": 9600,
        "6": 19200,
    }


def test_bcc_and_builders_match_hand_written_bytes() -> None:
    assert bcc(b"0.0.0(1)\r\n!\r\n\x03") == 0x22
    assert build_data_message(["0.0.0(1)"]) == SMALL_MESSAGE
    assert build_identification("ISK", "5", "\\2MT382-1000") == b"/ISK5\\2MT382-1000\r\n"
    long_block = bytes(range(256)) * 3
    expected = 0
    for byte in long_block:
        expected ^= byte
    assert bcc(long_block) == expected


def test_identification_parse() -> None:
    ident = parse_identification(b"/ISK5\\2MT382-1000\r\n")
    assert ident is not None
    assert (ident.manufacturer, ident.baud_char, ident.enhanced_id, ident.identification) == (
        "ISK",
        "5",
        "2",
        "MT382-1000",
    )
    assert parse_identification(b"/LGZ4ZMD3104407\r\n").enhanced_id == ""
    assert parse_identification(b"/?!\r\n") is None


def test_parse_data_block_values_units_and_multiples() -> None:
    message = build_data_message([*READOUT_LINES, "0.9.1(123456789012345678.9)", "F.F(00)"])
    readings = parse_data_block(message[1:-2])
    assert [(r.obis, r.value, r.unit, r.index) for r in readings] == [
        ("0.0.0", 12345678.0, None, 0),
        ("1.8.0", 12345.678, "kWh", 0),
        ("C.7.0", 3.0, None, 0),
        ("1.6.0", 1.234, "kW", 0),
        ("1.6.0", "26-11-25 10:00", None, 1),
        ("1.8.1", 100.0, "kWh", 0),
        ("1.8.2", 200.5, "kWh", 0),
        ("0.9.1", "123456789012345678.9", None, 0),  # 19 digits: kept as text, not rounded
        ("F.F", 0.0, None, 0),
    ]
    assert readings[1].raw == "012345.678"


def run_readout(client: IecReadoutClient, meter_bytes: list[bytes]) -> list:
    events = []
    for chunk in meter_bytes:
        events += client.feed(chunk)
    return events


def test_full_mode_c_readout() -> None:
    client = IecReadoutClient()
    assert client.start() == b"/?!\r\n"
    events = client.feed(b"/ISK5\\2MT382\r\n")
    assert client.take_actions() == [Send(ACK + b"050\r\n"), SetBaud(9600)]
    assert client.step is IecStep.OPTION_SELECT
    assert events[0].kind is EventKind.STATUS
    assert events[0].fields["manufacturer"] == "ISK"
    assert events[0].fields["baud"] == 9600
    events = client.feed(build_data_message(READOUT_LINES))
    readings = [e for e in events if e.kind is EventKind.READING]
    assert readings[1].fields == {
        "obis": "1.8.0",
        "value": 12345.678,
        "unit": "kWh",
        "raw": "012345.678",
    }
    assert readings[4].fields["index"] == 1
    assert client.take_actions() == [Done(True)]
    assert client.step is IecStep.DONE
    assert (client.stats.frames, client.stats.errors, client.stats.resyncs) == (2, 0, 0)


def test_request_with_address_and_bad_address() -> None:
    assert IecReadoutClient(address="12345678").start() == b"/?12345678!\r\n"
    with pytest.raises(ValueError):
        IecReadoutClient(address="12!4")


def test_host_baud_limit_selects_a_lower_rate() -> None:
    client = IecReadoutClient(max_baud=4800)
    client.start()
    client.feed(b"/ABC6METER\r\n")
    assert client.take_actions() == [Send(ACK + b"040\r\n"), SetBaud(4800)]


def test_mode_b_and_mode_a_meters() -> None:
    client = IecReadoutClient()
    client.start()
    client.feed(b"/ABCEMETER\r\n")
    assert client.take_actions() == [SetBaud(9600)]
    client.start()
    events = client.feed(b"/ABC:METER\r\n")
    assert events[0].fields["mode"] == "A"
    assert client.take_actions() == []
    client.feed(SMALL_MESSAGE)
    assert client.take_actions() == [Done(True)]


def test_one_byte_at_a_time_with_parity_bits_and_echo() -> None:
    client = IecReadoutClient()
    request = client.start()
    # The optical head echoes the host's request and option select; 7E1 read as 8N1 leaves the
    # parity bit set on some bytes.
    stream = request + b"/ISK5MT382\r\n" + ACK + b"050\r\n" + build_data_message(READOUT_LINES)
    stream = bytes(b | 0x80 if i % 3 == 0 else b for i, b in enumerate(stream))
    events = []
    for index, byte in enumerate(stream):
        events += client.feed(bytes([byte]))
        if index == len(request) + 11:
            assert client.take_actions()[1] == SetBaud(9600)
    assert sum(e.kind is EventKind.READING for e in events) == 7
    assert client.take_actions() == [Done(True)]
    assert client.stats.dropped_bytes == 0
    assert client.stats.resyncs == 0


def test_garbage_before_frames_is_skipped_and_counted() -> None:
    client = IecReadoutClient()
    client.start()
    events = client.feed(b"\x00\xffnoise/bad\r\n/ISK5MT382\r\n")
    assert events[0].fields["identification"] == "MT382"
    assert client.stats.resyncs == 1
    assert client.stats.dropped_bytes == len(b"\x00\xffnoise/bad\r\n")
    client.take_actions()
    events = client.feed(b"zz" + SMALL_MESSAGE)
    assert [e.kind for e in events] == [EventKind.READING, EventKind.STATUS]
    assert client.stats.resyncs == 2


def test_bad_bcc_rejects_the_block() -> None:
    client = IecReadoutClient()
    client.start()
    client.feed(b"/ISK5MT382\r\n")
    client.take_actions()
    bad = SMALL_MESSAGE[:-1] + b"\x23"
    events = client.feed(bad)
    assert len(events) == 1
    assert events[0].kind is EventKind.ERROR
    assert events[0].fields["step"] == "data"
    assert events[0].fields["message"].startswith("BCC mismatch")
    assert events[0].fields["offset"] == len(b"/ISK5MT382\r\n") + len(bad) - 1
    assert client.stats.errors == 1
    assert client.take_actions() == []
    # A good message afterwards still completes the readout.
    client.feed(SMALL_MESSAGE)
    assert client.take_actions() == [Done(True)]


def test_dropped_byte_in_block_fails_bcc() -> None:
    client = IecReadoutClient()
    message = build_data_message(READOUT_LINES)
    events = client.feed(message[:10] + message[11:])
    assert [e.kind for e in events] == [EventKind.ERROR]


def test_timeouts_name_the_step() -> None:
    client = IecReadoutClient()
    client.start()
    event = client.timeout()
    assert event.kind is EventKind.ERROR
    assert event.fields["step"] == "request"
    assert client.take_actions() == [Done(False, event.fields["message"])]
    client.start()
    client.feed(b"/ISK5MT382\r\n")
    client.take_actions()
    event = client.timeout()
    assert event.fields["step"] == "option_select"
    assert "no data message" in event.fields["message"]
    assert client.stats.errors == 2
    assert client.step is IecStep.FAILED


def test_passive_decoding_without_start() -> None:
    client = IecReadoutClient()
    events = client.feed(b"/?!\r\n/ISK5MT382\r\n" + SMALL_MESSAGE)
    assert [e.kind for e in events] == [EventKind.STATUS, EventKind.READING, EventKind.STATUS]
    assert client.take_actions() == []


def test_data_message_without_etx_is_bounded() -> None:
    client = IecReadoutClient(max_block_bytes=64)
    events = client.feed(STX + b"1.8.0(1)\r\n" * 10)
    assert [e.kind for e in events] == [EventKind.ERROR]
    assert len(client._buf) == 0
    assert client.stats.dropped_bytes == 101
