"""Fuzzing: no input makes a codec raise anything but its own error type."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from devices.codecs.base import make_codec
from devices.codecs.gbcs import GbcsError, decode_alert, decode_alert_hex
from devices.codecs.gbcs_build import build_alert_apdu
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
