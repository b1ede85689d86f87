"""The gbcs-hex streaming codec: events, bad lines, prefixes, chunking."""

from __future__ import annotations

from datetime import UTC, datetime

from app.domain.events import EventKind
from devices.codecs.base import make_codec
from devices.codecs.gbcs_build import build_alert_apdu
from devices.codecs.gbcs_codec import GbcsHexCodec

WHEN = datetime(2026, 11, 25, 10, 3, tzinfo=UTC)


def hex_apdu(code: int = 0x8F36, **kwargs: object) -> str:
    return (
        build_alert_apdu(
            alert_code=code,
            originator="00-DB-12-34-56-78-90-A0",
            recipient="00-DB-12-34-56-78-90-A2",
            alert_time=WHEN,
            **kwargs,
        )
        .hex()
        .upper()
    )


def test_alert_event_fields_and_device_time() -> None:
    events = make_codec("gbcs-hex").feed((hex_apdu() + "\r\n").encode())
    assert len(events) == 1
    event = events[0]
    assert event.kind is EventKind.ALERT
    assert event.fields == {
        "alert_code": "8F36",
        "alert_name": "Supply Outage Restored - Outage >= 3 minutes",
        "severity": "critical",
        "originator": "00-DB-12-34-56-78-90-A0",
        "recipient": "00-DB-12-34-56-78-90-A2",
        "message_code": "0067",
        "wrapper": "general_signing",
        "content_kind": "dlms",
    }
    assert event.device_time == WHEN


def test_bad_lines_become_errors_and_the_stream_goes_on() -> None:
    codec = GbcsHexCodec()
    good = hex_apdu(0x8F57, content="gbz")
    data = f"zz top\n{good[:40]}\n\n{good}\n".encode()
    events = codec.feed(data)
    assert [e.kind for e in events] == [EventKind.ERROR, EventKind.ERROR, EventKind.ALERT]
    assert events[0].fields["offset"] == 0
    assert events[1].fields["message"].startswith("truncated")
    assert events[2].fields["severity"] == "info"
    assert (codec.stats.frames, codec.stats.errors) == (1, 2)


def test_prefix_before_the_apdu_is_skipped_and_counted() -> None:
    codec = GbcsHexCodec()
    events = codec.feed(f"12:00:01 RX: {hex_apdu(content='der', ciphered=True)}\n".encode())
    assert events[0].kind is EventKind.ALERT
    assert events[0].fields["wrapper"] == "general_ciphering"
    assert codec.stats.resyncs == 1
    assert codec.stats.dropped_bytes == len("12:00:01 RX: ")


def test_garbage_injected_mid_stream_costs_only_that_line() -> None:
    lines = [hex_apdu(code) for code in (0x8F35, 0x8F36, 0x8F1D)]
    stream = "\n".join(lines) + "\n"
    broken = stream[:50] + "\x00\x07garbage" + stream[50:]
    events = GbcsHexCodec().feed(broken.encode("latin-1"))
    assert [e.kind for e in events] == [EventKind.ERROR, EventKind.ALERT, EventKind.ALERT]


def test_one_byte_at_a_time_and_dropped_bytes() -> None:
    stream = "".join(hex_apdu(code, counter=i) + "\r\n" for i, code in enumerate((0x8F35, 0x8F36)))
    codec = GbcsHexCodec()
    events = []
    for byte in stream.encode():
        events += codec.feed(bytes([byte]))
    assert [e.fields["alert_code"] for e in events] == ["8F35", "8F36"]
    lossy = stream[:30] + stream[31:]  # one hex digit lost
    events = GbcsHexCodec().feed(lossy.encode())
    assert [e.kind for e in events] == [EventKind.ERROR, EventKind.ALERT]


def test_over_long_line_is_bounded() -> None:
    codec = GbcsHexCodec(max_line_bytes=64)
    for _ in range(100):
        codec.feed(b"AB" * 50)  # 10,000 bytes without a line end
    assert len(codec._framer._pending) <= 64
    events = codec.feed(b"\n")
    assert [e.kind for e in events] == [EventKind.ERROR]
    assert codec.stats.dropped_bytes == 10_000 - 64
    assert codec.stats.resyncs == 1
