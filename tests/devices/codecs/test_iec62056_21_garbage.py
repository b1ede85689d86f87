"""IEC 62056-21 on floods of garbage: bounded error events and work that grows linearly.

An STX (02) with no ETX (03) is a data message that never ends (clause 6.3.4); a "/" that is not
followed by an identification (``/MMMZ ... CR LF``, clause 6.3.2) is garbage. Neither may cost an
event per byte, nor time that grows with the square of the flood.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from app.domain.events import EventKind
from devices.codecs.iec62056_21 import IecReadoutClient, build_data_message

STX = b"\x02"
IDENTIFICATION = b"/ISK5MT382\r\n"
GOOD = build_data_message(["1.8.0(000002.000*kWh)"])


def test_stx_flood_gives_one_error_per_discarded_block() -> None:
    client = IecReadoutClient()  # blocks of 65,536 bytes
    events = client.feed(STX * 200_000)
    # 200,000 bytes: three full blocks discarded, the last 3,392 bytes still wait for an ETX.
    assert [e.kind for e in events] == [EventKind.ERROR] * 3
    assert client.stats.errors == 3
    assert client.stats.dropped_bytes == 3 * 65_536
    assert len(client._buf) == 200_000 - 3 * 65_536
    assert [e.fields["offset"] for e in events] == [0, 65_536, 131_072]
    assert "without ETX within 65536 bytes" in events[0].fields["message"]


def test_stx_flood_a_byte_at_a_time_is_bounded_too() -> None:
    client = IecReadoutClient(max_block_bytes=64)
    errors = sum(len(client.feed(STX)) for _ in range(10_000))
    # One error per 64-byte block: the first once 65 bytes are held, then one every 64 bytes.
    assert errors == client.stats.errors == (10_000 - 1) // 64
    assert len(client._buf) <= 65


def test_good_messages_around_a_flood_are_decoded() -> None:
    client = IecReadoutClient(max_block_bytes=1024)
    events = client.feed(IDENTIFICATION + STX * 5_000 + b"/" * 5_000 + b"\x00\x7f")
    # After the identification, a data message that never ends: 1,024-byte blocks are discarded
    # with one error each until what is left (a "/" flood) is no frame at all and is dropped.
    assert [e.kind for e in events] == [EventKind.STATUS] + [EventKind.ERROR] * 5
    assert client.stats.dropped_bytes == 10_002
    assert len(client._buf) == 0
    events = client.feed(GOOD + IDENTIFICATION + GOOD)
    assert [e.fields["value"] for e in events if e.kind is EventKind.READING] == [2.0, 2.0]


@pytest.mark.parametrize("unit", [b"/", b"a/", b"/ABC", b"/ISK5", b"/?", b"/?1!"], ids=repr)
def test_slash_flood_work_grows_linearly(unit: bytes) -> None:
    small = unit * (32_768 // len(unit))
    large = unit * (524_288 // len(unit))

    def feed(data: bytes) -> Callable[[], None]:
        return lambda: IecReadoutClient().feed(data) and None

    # Sixteen times the input: linear work takes about 16 times as long, quadratic 256 times
    # (a quadratic flood of 512 KiB takes seconds where a linear one takes milliseconds). The
    # bound is loose and has an absolute allowance, so a busy machine does not make it fail.
    t_small = best_time(feed(small))
    bound = 40 * t_small + 0.2
    t_large = best_time(feed(large), give_up_after=bound)
    assert t_large < bound, (t_small, t_large)


@pytest.mark.parametrize("unit", [b"/", b"a/", b"/ABC"], ids=repr)
def test_slash_flood_is_dropped_without_events(unit: bytes) -> None:
    client = IecReadoutClient()
    events = client.feed(unit * 20_000)
    assert events == []
    assert client.stats.resyncs == 1
    assert len(client._buf) <= 41
    assert client.stats.dropped_bytes == 20_000 * len(unit) - len(client._buf)
    after = client.feed(b"\r\n" + IDENTIFICATION + GOOD)
    assert [e.fields["value"] for e in after if e.kind is EventKind.READING] == [2.0]


def test_long_data_message_a_byte_at_a_time_is_decoded() -> None:
    lines = [f"1.8.{i % 10}({i:06d}.000*kWh)" for i in range(2_000)]  # about 44 kB
    message = build_data_message(lines)
    events = []
    client = IecReadoutClient()
    for index in range(len(message)):
        events += client.feed(message[index : index + 1])
    assert sum(1 for e in events if e.kind is EventKind.READING) == 2_000
    assert client.stats.errors == 0


def best_time(run: Callable[[], None], rounds: int = 3, give_up_after: float = 60.0) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
        if best >= give_up_after:
            break  # already too slow: no need to confirm it
    return best
