"""Fuzzing: no input makes a codec raise anything but its own error type."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.events import EventKind
from devices.codecs.base import make_codec
from devices.codecs.gbcs import (
    INTERNAL_ERROR_PREFIX,
    GbcsAlert,
    GbcsError,
    decode_alert,
    decode_alert_hex,
)
from devices.codecs.gbcs_build import (
    DUMMY_SIGNATURE,
    build_alert_apdu,
    build_general_ciphering,
    build_general_signing,
    der_content,
    dlms_content,
    dlms_date_time,
    gbz_content,
)
from devices.codecs.gbcs_types import decode_dlms_datetime, decode_generalized_time
from devices.codecs.iec62056_21 import IecReadoutClient, build_data_message, parse_data_block

SEEDS = [
    build_alert_apdu(
        alert_code=0x8F36,
        originator="00-DB-12-34-56-78-90-A0",
        recipient="00-DB-12-34-56-78-90-A2",
        alert_time=datetime(2026, 11, 25, 10, 3, tzinfo=UTC),
        content=content,
        ciphered=ciphered,
    )
    for content in ("dlms", "gbz", "der")
    for ciphered in (False, True)
]

chunked = st.lists(st.binary(max_size=64), max_size=20)


@settings(max_examples=200, deadline=None)
@given(chunks=chunked)
def test_stream_codecs_never_raise(chunks: list[bytes]) -> None:
    for name in ("iec62056-21", "gbcs-hex", "profile:emulator"):
        codec = make_codec(name)
        for chunk in chunks:
            codec.feed(chunk)


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=300))
def test_decode_alert_raises_only_gbcs_error(data: bytes) -> None:
    try:
        decode_alert(data)
    except GbcsError as exc:
        assert 0 <= exc.offset <= len(data)


@settings(max_examples=200, deadline=None)
@given(
    seed=st.sampled_from(SEEDS),
    edits=st.lists(st.tuples(st.integers(0, 300), st.integers(0, 255)), min_size=1, max_size=4),
    cut=st.integers(0, 300),
)
def test_mutated_apdus_raise_only_gbcs_error(
    seed: bytes, edits: list[tuple[int, int]], cut: int
) -> None:
    data = bytearray(seed)
    for position, value in edits:
        data[position % len(data)] = value
    data = data[: max(cut, 1)] if cut < len(data) else data
    try:
        decode_alert(bytes(data))
    except GbcsError:
        pass


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=200))
def test_decode_alert_hex_raises_only_gbcs_error(text: str) -> None:
    try:
        decode_alert_hex(text)
    except GbcsError:
        pass


@settings(max_examples=200, deadline=None)
@given(block=st.binary(max_size=300))
def test_parse_data_block_never_raises(block: bytes) -> None:
    parse_data_block(block)


@settings(max_examples=200, deadline=None)
@given(
    noise=st.binary(max_size=40),
    position=st.integers(0, 60),
    split=st.integers(1, 16),
)
def test_readout_survives_injected_garbage(noise: bytes, position: int, split: int) -> None:
    message = build_data_message(["1.8.0(000001.000*kWh)", "C.7.0(0003)"])
    stream = b"/ISK5MT382\r\n" + message
    at = position % len(stream)
    stream = stream[:at] + noise + stream[at:]
    client = IecReadoutClient()
    client.start()
    for start in range(0, len(stream), split):
        client.feed(stream[start : start + split])
    assert len(client._buf) <= client.max_block_bytes + 1
    # Resynchronisation: the noise can spoil at most the next message (an STX in the noise is
    # closed by that message's ETX); the one after it is always decoded.
    good = build_data_message(["1.8.0(000002.000*kWh)"])
    events = client.feed(good) + client.feed(good)
    assert any(e.fields.get("value") == 2.0 for e in events)


# Structured inputs: valid-shaped APDUs whose date-time fields and General Signing header take
# edge values (Blue Book 4.1.6.1 for DLMS date-times: FF/FFFF "not specified", deviation 8000
# "not specified"; ZCL UTCTime 0/FFFFFFFF "no time"; X.690 11.7 GeneralizedTime).
def edges(values: list[int], low: int, high: int) -> st.SearchStrategy[int]:
    return st.one_of(st.sampled_from(values), st.integers(low, high))


any_dlms_times = st.builds(
    dlms_date_time,
    year=edges([0, 1, 2, 1999, 2000, 2026, 9998, 9999, 10000, 0xFFFE, 0xFFFF], 0, 0xFFFF),
    month=edges([0, 1, 2, 12, 13, 0xFD, 0xFE, 0xFF], 0, 0xFF),
    day=edges([0, 1, 28, 29, 30, 31, 32, 0xFD, 0xFE, 0xFF], 0, 0xFF),
    hour=edges([0, 23, 24, 0xFF], 0, 0xFF),
    minute=edges([0, 59, 60, 0xFF], 0, 0xFF),
    second=edges([0, 59, 60, 0xFF], 0, 0xFF),
    hundredths=edges([0, 99, 100, 0xFF], 0, 0xFF),
    deviation=edges([0, 1, -1, 720, -720, 721, 0x7FFF, -0x7FFF, 0x8000], -0x8000, 0xFFFF),
    weekday=edges([0, 1, 7, 0xFF], 0, 0xFF),
    clock_status=edges([0x00, 0x80, 0xFF], 0, 0xFF),
)
# Valid fields at either end of the calendar, where a deviation can carry the time out of range.
calendar_end_times = st.builds(
    dlms_date_time,
    year=st.sampled_from([1, 9999]),
    month=st.sampled_from([1, 12]),
    day=st.sampled_from([1, 31]),
    hour=st.sampled_from([0, 23]),
    minute=st.sampled_from([0, 59]),
    deviation=edges([0, 1, -1, 720, -720, 0x7FFF, -0x7FFF, 0x8000], -0x8000, 0x7FFF),
)
dlms_times = st.one_of(any_dlms_times, calendar_end_times)
gbz_seconds = edges([0, 1, 0x7FFFFFFF, 0xFFFFFFFE, 0xFFFFFFFF], 0, 0xFFFFFFFF)
der_times = st.one_of(
    st.sampled_from(
        [
            b"00000101000000Z",
            b"00010101000000Z",
            b"99991231235959Z",
            b"99991231235959.999999Z",
            b"20261125100300.5Z",
            b"20261125100300.Z",
            b"20261125100300.1234567Z",
            b"20261325100300Z",
            b"20260230100300Z",
            b"20261125240000Z",
            b"20261125100360Z",
            b"2026112510030Z",
            b"20261125100300",
            b"+0261125100300Z",
            b"20261125100300+0100",
        ]
    ),
    st.text("0123456789.Z+-", max_size=24).map(str.encode),
    st.binary(max_size=24),
)
alert_codes = edges([0, 0x8F36, 0x8F67, 0xFFFF], 0, 0xFFFF)
contents = st.one_of(
    st.builds(
        dlms_content,
        alert_codes,
        st.one_of(dlms_times, st.binary(max_size=14)),
        invoke_id=st.integers(0, 0xFFFFFFFF),
        notification_date_time=st.one_of(st.none(), dlms_times),
    ),
    st.builds(gbz_content, alert_codes, gbz_seconds, st.binary(max_size=8)),
    st.builds(der_content, alert_codes, der_times),
)
eui = st.one_of(st.binary(min_size=8, max_size=8), st.binary(max_size=10))
headers = st.fixed_dictionaries(
    {
        "originator": eui,
        "recipient": eui,
        "transaction_id": st.one_of(
            st.none(),
            st.builds(
                lambda cra, counter: bytes([cra]) + counter.to_bytes(8, "big"),
                edges([1, 2, 3], 0, 0xFF),
                edges([0, 1, (1 << 64) - 1], 0, (1 << 64) - 1),
            ),
            st.binary(max_size=12),
        ),
        "date_time": st.one_of(st.none(), dlms_times, st.binary(max_size=14)),
        "other_information": st.one_of(st.just(b"\x00\x67"), st.binary(max_size=4)),
        "signature": st.one_of(st.none(), st.just(DUMMY_SIGNATURE), st.binary(max_size=70)),
    }
)
structured_apdus = st.builds(
    lambda content, header, ciphered: (
        build_general_ciphering(build_general_signing(content=content, **header))
        if ciphered
        else build_general_signing(content=content, **header)
    ),
    contents,
    headers,
    st.booleans(),
)


def decode_or_codec_error(data: bytes) -> GbcsAlert | None:
    """Decode; only a GbcsError may come out, and never the stand-in for a decoder bug."""
    try:
        alert = decode_alert(data)
    except GbcsError as exc:
        assert not exc.message.startswith(INTERNAL_ERROR_PREFIX), exc.message
        assert 0 <= exc.offset <= len(data)
        return None
    if alert.timestamp is not None:
        assert alert.timestamp.utcoffset() == timedelta(0)
    return alert


@settings(max_examples=300, deadline=None)
@given(data=structured_apdus)
def test_structured_apdus_decode_or_raise_only_gbcs_error(data: bytes) -> None:
    decode_or_codec_error(data)


@settings(max_examples=300, deadline=None)
@given(raw=dlms_times)
def test_dlms_date_time_gives_utc_none_or_gbcs_error(raw: bytes) -> None:
    try:
        moment = decode_dlms_datetime(raw, 5)
    except GbcsError as exc:
        assert exc.offset == 5
        return
    assert moment is None or moment.utcoffset() == timedelta(0)


@settings(max_examples=200, deadline=None)
@given(raw=der_times)
def test_generalized_time_gives_utc_or_gbcs_error(raw: bytes) -> None:
    try:
        moment = decode_generalized_time(raw, 3)
    except GbcsError as exc:
        assert exc.offset == 3
        return
    assert moment.utcoffset() == timedelta(0)


GOOD = build_alert_apdu(
    alert_code=0x8F35,
    originator="00-DB-12-34-56-78-90-A0",
    recipient="00-DB-12-34-56-78-90-A2",
    alert_time=datetime(2026, 11, 25, 10, 3, tzinfo=UTC),
)


@settings(max_examples=150, deadline=None)
@given(data=structured_apdus, split=st.integers(1, 97))
def test_streams_deliver_the_good_lines_around_a_structured_one(data: bytes, split: int) -> None:
    expected_middle = EventKind.ALERT if decode_or_codec_error(data) else EventKind.ERROR
    stamp = "2026-11-25T10:03:00.000Z [INF] GBCS alert rx eui=00-DB-12-34-56-78-90-A0 apdu="
    for name, prefix in (("gbcs-hex", ""), ("profile:emulator", stamp)):
        stream = "".join(f"{prefix}{apdu.hex()}\r\n" for apdu in (GOOD, data, GOOD)).encode()
        codec = make_codec(name)
        events = []
        for start in range(0, len(stream), split):
            events += codec.feed(stream[start : start + split])
        assert [e.kind for e in events] == [EventKind.ALERT, expected_middle, EventKind.ALERT]
        assert events[0].fields["alert_code"] == events[2].fields["alert_code"] == "8F35"
