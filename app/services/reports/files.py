"""Writing report files whole or not at all: a temporary file in the same folder, then a rename."""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Callable
from pathlib import Path


def temporary_beside(path: Path) -> Path:
    """A temporary name in `path`'s folder (so the rename stays on one file system)."""
    return path.with_name(f".{path.name}.{os.getpid()}.part")


def write_atomically(path: str | Path, write: Callable[[Path], None]) -> None:
    """Have `write` write a temporary file beside `path`, then put it in `path`'s place: a reader
    sees the old file or the whole new one, never a part. The temporary file is removed if
    `write` fails."""
    path = Path(path)
    tmp = temporary_beside(path)
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def write_bytes_atomically(path: Path, data: bytes) -> None:
    write_atomically(path, lambda tmp: tmp.write_bytes(data))


def sha256_file(path: str | Path, size: int | None = None) -> str:
    """The SHA-256 of a file's first `size` bytes (all of it if None)."""
    h = hashlib.sha256()
    left = size
    with open(path, "rb") as f:
        while left is None or left > 0:
            chunk = f.read(1 << 20 if left is None else min(1 << 20, left))
            if not chunk:
                break
            h.update(chunk)
            if left is not None:
                left -= len(chunk)
    return h.hexdigest()
