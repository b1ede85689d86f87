"""A real, small file system for disk-full tests: a tmpfs mounted for one test (needs root)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

#: Size of the file system: small enough to fill in a moment, a whole number of pages.
SMALL_DISK_BYTES = 64 * 1024


@contextmanager
def small_disk(where: Path, size_bytes: int = SMALL_DISK_BYTES) -> Iterator[Path]:
    """Mount a tmpfs of `size_bytes` on `where` for the duration; skip the test if impossible."""
    if os.name != "posix" or os.geteuid() != 0:
        pytest.skip("a full disk is made by mounting a small tmpfs, which needs root")
    if shutil.which("mount") is None:
        pytest.skip("the mount command is not available")
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_bytes}", "tmpfs", str(where)],
        capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)
