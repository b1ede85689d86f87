"""Append-only raw capture files: every byte a device sent, hashed as it is written."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


class CaptureFile:
    """A new file receiving a device's raw bytes; its SHA-256 is known when it is closed.

    Bytes are flushed to the operating system on every write, so a crash of the application
    loses nothing already read; ``close`` also syncs the file to disk.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # "xb": a capture file is evidence; never overwrite an existing one.
        self._file = open(self.path, "xb", buffering=0)  # noqa: SIM115 - closed in close()
        self._hash = hashlib.sha256()
        self.bytes_written = 0
        self.sha256: str | None = None

    @property
    def closed(self) -> bool:
        return self.sha256 is not None

    def write(self, data: bytes) -> None:
        if self.sha256 is not None or not data:
            return
        self._file.write(data)
        self._hash.update(data)
        self.bytes_written += len(data)

    def close(self) -> str:
        """Sync and close the file; return its SHA-256 (hex). Safe to call twice."""
        if self.sha256 is None:
            try:
                os.fsync(self._file.fileno())
            finally:
                self._file.close()
            self.sha256 = self._hash.hexdigest()
        return self.sha256


def sha256_of(path: Path) -> str:
    """SHA-256 of a file on disk (to verify a capture against its recorded hash)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
