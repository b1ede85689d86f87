"""The profile codec's fast path gives exactly the events of the general, line-by-line path.

The reference is ``ProfileCodec.decode_line`` applied to each framed line decoded on its own: the
general path every rule falls back to. ``feed`` decodes a chunk's lines in one call and runs the
per-rule handlers; the two must agree event for event (kind, fields in order, device time) and in
the counters, whatever the chunking.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.events import CodecEvent, EventKind
from devices.codecs.base import make_codec
from devices.codecs.gbcs_build import build_alert_apdu
from devices.codecs.lines import LineFramer
from devices.codecs.profiles import Profile, ProfileCodec, parse_profile

BASE = datetime(2026, 11, 25, 10, tzinfo=UTC)
APDU = (
    build_alert_apdu(
        alert_code=0x8F36,
        originator="00-DB-12-34-56-78-90-A0",
        recipient="00-DB-12-34-56-78-90-A2",
        alert_time=BASE,
    )
    .hex()
    .upper()
)
EUI = "00-DB-12-34-56-78-90-A0"

#: Emulator log lines of every kind, good and bad, plus lines no rule matches.
TEXT_LINES = [
    "2026-11-25T10:00:00.010Z [INF] SYS status uptime_s=7 wan=UP rssi_dbm=-71 han_devices=3",
    f"2026-11-25T10:00:00.020Z [INF] READ eui={EUI} obis=1.8.0 value=12.125 unit=kWh",
    f"2026-11-25T10:00:00.030Z [INF] HAN join eui={EUI} type=ESME",
    "2026-11-25T10:00:00.040Z [WRN] PWR outage start=2026-11-25T09:59:00.000Z mpxn=1312345678907",
    "2026-11-25T10:00:00.050Z [INF] PWR restored at=2026-11-25T10:00:00Z duration_s=60 mpxn=13",
    f"2026-11-25T10:00:00.060Z [INF] GBCS alert rx eui={EUI} apdu={APDU}",
    f"2026-11-25T10:00:00.070Z [INF] GBCS alert rx eui={EUI} apdu=DF0903",
    f"2026-11-25T10:00:00.080Z [INF] SYS boot fw=CH-EMU 1.4.2 eui={EUI}",
    "2026-11-25T10:00:00.090Z [DBG] MAC retry count=2 channel=11",
    "2026-11-25T10:00:00.100Z [WRN] PWR outage start=yesterday mpxn=1312345678907",
    f"2026-11-25T10:00:00+02:00 [INF] READ eui={EUI} obis=2.8.0 value=-3 unit=kWh",
    f"2026-11-25T10:00:00 [INF] READ eui={EUI} obis=2.8.0 value=+3.5 unit=kWh",
    f"not-a-time [INF] READ eui={EUI} obis=2.8.0 value=1 unit=kWh",
    "2026-11-25T10:00:00.110Z [INF] SYS status uptime_s=99999 wan=DOWN rssi_dbm=-1 han_devices=0",
    "",
    "   ",
]
LINES = [line.encode("ascii") for line in TEXT_LINES] + [
    b"\xff\xfe garbage \xe2\x82",
    "2026-11-25T10:00:00.120Z [INF] SYS boot fw=caf\u00e9 \u2028 eui=".encode() + EUI.encode(),
    b"2026-11-25T10:00:00.130Z [INF] SYS status uptime_s=1\xc3 wan=UP rssi_dbm=1 han_devices=1",
    b"2026-11-25T10:00:00.140Z [INF] HAN join eui=" + EUI.encode() + b" type=" + b"E" * 300,
]

#: A profile using what the emulator's does not: strptime times, optional groups, renames onto
#: other fields and onto ``text``, constants over group values, log rules, an unanchored catch-all.
LAB_PROFILE = """\
name = "lab"
timestamp_format = "%Y-%m-%dT%H:%M:%S.%fZ"
max_line_bytes = 64
prefix = '(?P<ts>\\S+) \\[(?P<level>\\w+)\\] '

[[rule]]
pattern = 'SYS status uptime_s=(?P<up>\\d+)(?: wan=(?P<wan>\\w+))?'
event = "log"
time_group = "ts"
types = { up = "int" }
rename = { wan = "text", level = "lvl" }
fields = { up = "constant wins", source = "hub" }

[[rule]]
pattern = 'READ eui=(?P<a>\\S+) obis=(?P<b>\\S+) value=(?P<v>\\S+)'
event = "reading"
rename = { a = "x", b = "x" }
types = { a = "str", v = "float" }

[[rule]]
pattern = 'PWR (?P<what>\\w+)'
event = "log"
time_group = "ts"

[[rule]]
pattern = '(?P<word>\\w+) (?P<rest>.*)'
event = "status"
types = { word = "int" }
"""

#: Rules matched one by one (a numbered back-reference), with unmatched lines dropped.
SEQUENTIAL_PROFILE = """\
name = "seq"
unmatched = "ignore"

[[rule]]
pattern = '(?P<t>[^ ]+) .*(R)EAD .*(?P<unit>k\\S+)$'
event = "reading"
time_group = "t"

[[rule]]
pattern = '(\\d)\\1.*HAN (?P<what>\\w+)'
event = "status"
"""


def reference_events(
    profile: Profile, data: bytes, chunk_bytes: int
) -> tuple[list[CodecEvent], Any]:
    """Events of the general path: each framed line decoded on its own, then ``decode_line``."""
    codec = ProfileCodec(profile)
    framer = LineFramer(profile.max_line_bytes)
    framer.stats = codec.stats
    events = []
    for start in range(0, len(data), chunk_bytes):
        for line in framer.feed(data[start : start + chunk_bytes]):
            event = codec.decode_line(line.decode("utf-8", "replace"))
            if event is not None:
                events.append(event)
    # Frames are the lines turned into events other than errors (feed publishes the count).
    codec.stats.frames = sum(event.kind is not EventKind.ERROR for event in events)
    return events, codec.stats


def fed_events(profile: Profile, data: bytes, chunk_bytes: int) -> tuple[list[CodecEvent], Any]:
    codec = ProfileCodec(profile)
    events = []
    for start in range(0, len(data), chunk_bytes):
        events += codec.feed(data[start : start + chunk_bytes])
    return events, codec.stats


def shape(events: list[CodecEvent]) -> list[tuple[Any, ...]]:
    """Events with their fields in order and the time's zone (equality alone ignores both)."""
    return [
        (e.kind, list(e.fields.items()), e.device_time, getattr(e.device_time, "tzinfo", None))
        for e in events
    ]


def profiles() -> list[Profile]:
    emulator = make_codec("profile:emulator")
    assert isinstance(emulator, ProfileCodec)
    return [
        emulator.profile,
        parse_profile(LAB_PROFILE, "lab.toml"),
        parse_profile(SEQUENTIAL_PROFILE, "seq.toml"),
    ]


def corpus(endings: list[bytes]) -> bytes:
    return b"".join(line + endings[i % len(endings)] for i, line in enumerate(LINES * 3))


@pytest.mark.parametrize("profile", profiles(), ids=lambda p: p.name)
@pytest.mark.parametrize("chunk_bytes", [1, 5, 64, 4096])
def test_feed_matches_the_general_path_line_by_line(profile: Profile, chunk_bytes: int) -> None:
    data = corpus([b"\r\n", b"\n", b"\r\n\r\n"])
    expected, expected_stats = reference_events(profile, data, chunk_bytes)
    events, stats = fed_events(profile, data, chunk_bytes)
    assert shape(events) == shape(expected)
    assert stats == expected_stats
    assert expected_stats.errors > 0 or profile.name == "seq"


def test_the_corpus_reaches_every_path() -> None:
    emulator, lab, _seq = profiles()
    events, stats = fed_events(emulator, corpus([b"\n"]), 4096)
    kinds = {e.kind for e in events}
    assert kinds == set(EventKind)
    assert stats.errors == 3 * 3  # bad APDU, bad start=, bad log time
    lab_events, lab_stats = fed_events(lab, corpus([b"\n"]), 4096)
    assert lab_stats.resyncs > 0  # over-long lines cut at 64 bytes
    messages = [e.fields["message"] for e in lab_events if e.kind is EventKind.ERROR]
    assert any("field 'word' holds" in message for message in messages)
    status = [e for e in lab_events if e.fields.get("source") == "hub"]
    assert status and all(e.fields["up"] == "constant wins" for e in status)
    assert any(e.fields.get("text") == "UP" for e in status)  # the renamed group, not the line
    assert all(e.device_time is not None for e in status)


def test_invalid_utf8_is_replaced_per_line_as_on_its_own() -> None:
    emulator = profiles()[0]
    events, _ = fed_events(emulator, b"ab\xe2\x82\ncd\xff\r\n\xe2\x82\xacok\n", 4096)
    assert [e.fields["text"] for e in events] == ["ab\ufffd", "cd\ufffd", "\u20acok"]


def test_bad_strptime_time_is_the_general_error_and_cached_times_are_utc() -> None:
    lab = profiles()[1]
    data = (
        b"2026-11-25T10:00:00.000000Z [INF] PWR up\n"
        b"2026-11-25T10:00:00.000000Z [INF] PWR down\n"
        b"2026-11-25 [INF] PWR up\n"
    )
    events, stats = fed_events(lab, data, 4096)
    assert events[0].device_time == events[1].device_time == BASE
    assert events[2].kind is EventKind.ERROR
    assert "which is not the format" in events[2].fields["message"]
    assert stats.errors == 1 and stats.frames == 2


def test_ignored_unmatched_lines_and_padding_index() -> None:
    seq = profiles()[2]
    events, stats = fed_events(seq, b"nothing here\n11 HAN join\n22 HAN\n", 4096)
    assert shape(events) == [(EventKind.STATUS, [("what", "join")], None, None)]
    assert stats.frames == 1


LINE_PARTS = st.sampled_from([*LINES, b"\xc3", b"\xe9", b"[INF] ", b"READ eui=", b"\x85", b" "])


@settings(max_examples=200, deadline=None)
@given(
    parts=st.lists(st.tuples(LINE_PARTS, st.sampled_from([b"", b"\n", b"\r\n", b"\r"]))),
    chunk_bytes=st.integers(min_value=1, max_value=300),
    which=st.integers(min_value=0, max_value=2),
)
def test_any_stream_gives_the_general_path_events(
    parts: list[tuple[bytes, bytes]], chunk_bytes: int, which: int
) -> None:
    profile = profiles()[which]
    data = b"".join(part + ending for part, ending in parts)
    expected, expected_stats = reference_events(profile, data, chunk_bytes)
    events, stats = fed_events(profile, data, chunk_bytes)
    assert shape(events) == shape(expected)
    assert stats == expected_stats


def test_log_line_timestamps_step_by_milliseconds() -> None:
    emulator = profiles()[0]
    lines = [
        (BASE + timedelta(milliseconds=7 * i)).isoformat(timespec="milliseconds")
        + " [INF] HAN join eui="
        + EUI
        + " type=GSME"
        for i in range(500)
    ]
    data = "\n".join(lines).replace("+00:00", "Z").encode() + b"\n"
    events, _ = fed_events(emulator, data, 777)
    assert [e.device_time for e in events] == [
        BASE + timedelta(milliseconds=7 * i) for i in range(500)
    ]


def test_time_out_of_range_in_utc_is_an_error_event() -> None:
    emulator = profiles()[0]
    data = b"0001-01-01T00:00:00+01:00 [INF] HAN join eui=" + EUI.encode() + b" type=ESME\n"
    events, stats = fed_events(emulator, data, 4096)
    assert [e.kind for e in events] == [EventKind.ERROR]
    assert "0001-01-01T00:00:00+01:00" in events[0].fields["message"]
    assert stats.errors == 1 and stats.frames == 0
