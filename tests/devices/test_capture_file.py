"""Capture files are honest evidence: on a full disk, after a close, and under a racing writer."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from devices.capture_file import DISK_FULL_REASON, CaptureFile, CaptureWriteError, sha256_of
from tests.devices.small_disk import SMALL_DISK_BYTES, small_disk

#: Not a divisor of the disk's size, so the write that meets the full disk is a short one.
CHUNK = bytes(range(256)) * 19 + b"tail"


def test_a_full_disk_stops_the_file_with_a_reason_and_an_honest_count_and_hash(
        tmp_path: Path) -> None:
    with small_disk(tmp_path / "small") as disk:
        capture = CaptureFile(disk / "hub.bin")
        offered = 0
        with pytest.raises(CaptureWriteError) as caught:
            for _ in range(4 * SMALL_DISK_BYTES // len(CHUNK)):
                offered += len(CHUNK)
                capture.write(CHUNK)
        assert caught.value.reason == DISK_FULL_REASON
        assert str(caught.value) == f"capture disk full: {capture.path}"
        assert capture.failure == DISK_FULL_REASON
        # A later write is refused the same way and counted.
        with pytest.raises(CaptureWriteError):
            capture.write(b"more")
        offered += 4
        digest = capture.close()  # a full disk must not make closing raise
        size = capture.path.stat().st_size
        assert size > 0 and size % len(CHUNK) != 0  # the last write was short and is counted
        assert capture.bytes_written == size
        assert capture.lost_bytes == offered - size
        assert digest == sha256_of(capture.path)


def test_writes_after_close_are_counted_not_written(tmp_path: Path) -> None:
    capture = CaptureFile(tmp_path / "late.bin")
    capture.write(b"first")
    digest = capture.close()
    capture.write(b"late bytes")  # a last chunk of a session being stopped: no error
    assert (capture.bytes_written, capture.lost_bytes) == (5, 10)
    assert capture.path.read_bytes() == b"first"
    assert capture.close() == digest == sha256_of(capture.path)


def test_closing_while_another_thread_writes_never_writes_to_a_closed_file(
        tmp_path: Path) -> None:
    capture = CaptureFile(tmp_path / "race.bin")
    errors: list[BaseException] = []
    offered = 0
    started = threading.Event()

    def writer() -> None:
        nonlocal offered
        try:
            for n in range(20_000):
                capture.write(CHUNK[: 1 + n % 64])
                offered += 1 + n % 64
                started.set()
        except BaseException as exc:
            errors.append(exc)
            started.set()

    thread = threading.Thread(target=writer)
    thread.start()
    started.wait(5)
    digest = capture.close()
    thread.join(10)
    assert not errors
    assert capture.bytes_written + capture.lost_bytes == offered
    assert capture.bytes_written == capture.path.stat().st_size
    assert digest == sha256_of(capture.path)
