"""Line framing: endings, chunk boundaries, the length bound and its counters."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from devices.codecs.lines import DEFAULT_MAX_LINE_BYTES, LineFramer


def feed_all(framer: LineFramer, chunks: list[bytes]) -> list[bytes]:
    lines: list[bytes] = []
    for chunk in chunks:
        lines += framer.feed(chunk)
    return lines


def test_splits_on_lf_and_strips_cr() -> None:
    framer = LineFramer()
    assert framer.feed(b"one\r\ntwo\nthree\r\n\r\nfour") == [b"one", b"two", b"three", b""]
    assert framer.flush() == [b"four"]
    assert framer.stats.frames == 5
    assert framer.stats.bytes_in == len(b"one\r\ntwo\nthree\r\n\r\nfour")


def test_crlf_split_across_chunks_gives_no_empty_line() -> None:
    framer = LineFramer()
    assert feed_all(framer, [b"abc\r", b"\ndef\r", b"\n"]) == [b"abc", b"def"]


def test_one_byte_at_a_time_equals_whole() -> None:
    data = b"2026-11-25T10:00:00.000Z [INF] SYS boot\r\nREAD x\n\nlast\r\n"
    whole = LineFramer().feed(data)
    framer = LineFramer()
    assert feed_all(framer, [bytes([b]) for b in data]) == whole
    assert framer.stats.frames == 4


def test_over_long_line_is_cut_and_counted() -> None:
    framer = LineFramer(max_line_bytes=8)
    lines = feed_all(framer, [b"ok\n", b"0123456789ABCDEF", b"GHIJ\r\n", b"next\n"])
    assert lines == [b"ok", b"01234567", b"next"]
    assert framer.stats.dropped_bytes == 12  # "89ABCDEFGHIJ"
    assert framer.stats.resyncs == 1


def test_over_long_line_inside_one_chunk() -> None:
    framer = LineFramer(max_line_bytes=4)
    assert framer.feed(b"abcdefg\nhi\n") == [b"abcd", b"hi"]
    assert framer.stats.dropped_bytes == 3
    assert framer.stats.resyncs == 1


def test_line_of_exactly_the_limit_with_crlf_split_is_kept_whole() -> None:
    framer = LineFramer(max_line_bytes=4)
    assert feed_all(framer, [b"abcd\r", b"\n"]) == [b"abcd"]
    assert framer.stats.dropped_bytes == 0


def test_reset_counts_the_partial_line_as_dropped() -> None:
    framer = LineFramer()
    framer.feed(b"partial")
    framer.reset()
    assert framer.stats.dropped_bytes == 7
    assert framer.feed(b"x\n") == [b"x"]


def test_default_limit() -> None:
    assert LineFramer().max_line_bytes == DEFAULT_MAX_LINE_BYTES == 4096


@settings(max_examples=200, deadline=None)
@given(
    data=st.binary(max_size=400),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=10),
    limit=st.integers(min_value=1, max_value=40),
)
def test_chunking_never_changes_the_lines_and_memory_stays_bounded(
    data: bytes, cuts: list[int], limit: int
) -> None:
    reference = LineFramer(limit)
    expected = reference.feed(data) + reference.flush()
    framer = LineFramer(limit)
    points = sorted({0, len(data), *[c for c in cuts if c <= len(data)]})
    lines: list[bytes] = []
    for start, end in itertools.pairwise(points):
        lines += framer.feed(data[start:end])
        assert len(framer._pending) <= limit + 1
    lines += framer.flush()
    assert lines == expected
    assert all(len(line) <= limit for line in lines)
    assert framer.stats.dropped_bytes == reference.stats.dropped_bytes
