"""Real faults for storage tests: a small tmpfs (full or read-only) and a lock held by another
process. Nothing here is mocked: the kernel refuses the writes and SQLite reports them."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

NEEDS_ROOT = pytest.mark.skipif(
    os.geteuid() != 0, reason="mounting a tmpfs needs root (a full or read-only file system)")


@contextmanager
def tmpfs(path: Path, size: str = "2m") -> Iterator[Path]:
    """A fresh tmpfs of `size` mounted at `path` for the duration of the block."""
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def remount_read_only(path: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(path)], check=True)


def fill(folder: Path) -> None:
    """Write until the file system refuses (ENOSPC), down to the last byte."""
    fd = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        for size in (65536, 4096, 1):
            try:
                while os.write(fd, b"\0" * size):
                    pass
            except OSError:
                pass
    finally:
        os.close(fd)


def _hold_exclusive(db: str, ready: multiprocessing.synchronize.Event,
                    release: multiprocessing.synchronize.Event) -> None:
    import sqlite3

    conn = sqlite3.connect(db, timeout=0)
    conn.execute("BEGIN EXCLUSIVE")
    ready.set()
    release.wait(120)
    conn.rollback()
    conn.close()


@contextmanager
def locked_by_another_process(db: Path) -> Iterator[None]:
    """Another OS process holds ``BEGIN EXCLUSIVE`` on `db` until the block ends."""
    mp = multiprocessing.get_context("spawn")
    ready, release = mp.Event(), mp.Event()
    proc = mp.Process(target=_hold_exclusive, args=(str(db), ready, release), daemon=True)
    proc.start()
    try:
        assert ready.wait(30), "the locking process did not start"
        yield
    finally:
        release.set()
        proc.join(30)
