"""Append-only raw capture files: every byte a device sent, hashed as it is written.

A capture file is evidence, so its recorded byte count and SHA-256 must describe exactly the bytes
that are in the file: a short write is continued until every byte is written, and a write that
fails (a full disk) leaves the count and hash at what the file holds. Bytes offered after the file
failed or was closed are counted in :attr:`CaptureFile.lost_bytes`, never silently discarded.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import threading
from pathlib import Path

logger = logging.getLogger(__name__)

#: The reason given when the file system holding a capture file is full.
DISK_FULL_REASON = "capture disk full"


class CaptureWriteError(Exception):
    """A capture file could not be written; the file holds only the bytes written before.

    Attributes:
        path: the capture file.
        reason: short cause, ``"capture disk full"`` or the operating system's text
            (e.g. ``"Input/output error"``).
        errno: the operating system's error number, or None.
    """

    def __init__(self, path: Path, reason: str, errno_: int | None = None) -> None:
        super().__init__(f"{reason}: {path}")
        self.path = path
        self.reason = reason
        self.errno = errno_


def _reason_of(exc: OSError) -> str:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return DISK_FULL_REASON
    return exc.strerror or str(exc) or type(exc).__name__


class CaptureFile:
    """A new file receiving a device's raw bytes; its SHA-256 is known when it is closed.

    Bytes go to the operating system on every write (no buffering here), so a crash of the
    application loses nothing already read; ``close`` also syncs the file to disk. ``write`` and
    ``close`` may be called from different threads (a session writes on the I/O thread while the
    device manager closes the file on another): a lock keeps a write from reaching a closed file.

    Attributes:
        path: the file.
        bytes_written: bytes that are in the file.
        lost_bytes: bytes offered to :meth:`write` that are not in the file (after a failed write
            or after :meth:`close`).
        failure: why writing stopped (see :class:`CaptureWriteError`), or None.
        sha256: hex SHA-256 of the file's bytes once closed, else None.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # "xb": a capture file is evidence; never overwrite an existing one.
        self._file = open(self.path, "xb", buffering=0)  # noqa: SIM115 - closed in close()
        self._hash = hashlib.sha256()
        self._lock = threading.Lock()
        self.bytes_written = 0
        self.lost_bytes = 0
        self.failure: str | None = None
        self._errno: int | None = None
        self.sha256: str | None = None

    @property
    def closed(self) -> bool:
        return self.sha256 is not None

    def write(self, data: bytes) -> None:
        """Append `data`, continuing short writes until every byte is in the file.

        After :meth:`close` the bytes are only counted in :attr:`lost_bytes` (a session that is
        being stopped may still deliver a last chunk).

        Raises:
            CaptureWriteError: the file could not take the bytes (now, or at an earlier write);
                the bytes not written are counted in :attr:`lost_bytes` and later writes fail
                the same way.
        """
        if not data:
            return
        with self._lock:
            if self.sha256 is not None:
                self.lost_bytes += len(data)
                return
            if self.failure is not None:
                self.lost_bytes += len(data)
                raise CaptureWriteError(self.path, self.failure, self._errno)
            view = memoryview(data)
            while view:
                try:
                    written = self._file.write(view)
                    if not written:  # a regular file never returns 0 unless it cannot grow
                        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                except OSError as exc:
                    self.failure, self._errno = _reason_of(exc), exc.errno
                    self.lost_bytes += len(view)
                    raise CaptureWriteError(self.path, self.failure, exc.errno) from exc
                # Hash exactly what reached the file, so a partial write keeps the hash honest.
                self._hash.update(view[:written])
                self.bytes_written += written
                view = view[written:]

    def close(self) -> str:
        """Sync and close the file; return the SHA-256 (hex) of its bytes. Safe to call twice.

        Never raises for a failing sync (a full disk can fail ``fsync``): the failure is logged,
        remembered in :attr:`failure` when none was, and the file is closed all the same.
        """
        with self._lock:
            if self.sha256 is None:
                try:
                    os.fsync(self._file.fileno())
                except OSError as exc:
                    logger.warning("capture %s: sync failed: %s", self.path, exc)
                    if self.failure is None:
                        self.failure, self._errno = _reason_of(exc), exc.errno
                finally:
                    try:
                        self._file.close()
                    except OSError as exc:  # unbuffered: nothing is left to flush, but be safe
                        logger.warning("capture %s: close failed: %s", self.path, exc)
                self.sha256 = self._hash.hexdigest()
            return self.sha256


def sha256_of(path: Path) -> str:
    """SHA-256 of a file on disk (to verify a capture against its recorded hash)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
