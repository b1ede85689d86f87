"""Replaying a stored capture file through the current codecs into the Live page's ring buffers.

A capture file holds the raw bytes a device sent, without timing. Replayed events are placed on
the device's own clock (the time each event carries), each no earlier than the one before, so the
timeline is ordered; events without a device time take the last one seen (or the capture
session's start). Replay runs on its own thread; the page polls :attr:`CaptureReplay.progress`.
When the file belongs to a capture session of the database, the replay then stores the session's
events the database lacks (:func:`app.services.restore.restore_session`: none twice).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path

from app.domain.devices import Device
from app.domain.events import CodecEvent, DeviceEvent, EventKind
from app.domain.outages import Outage, OutageTracker, TrackerConfig
from app.services.live import LiveData
from app.services.outages import EvidenceMapper
from app.services.restore import RestoreRefused, RestoreResult, restore_session
from app.storage.db import connect
from app.storage.timefmt import from_db
from devices.codecs.base import CodecError, make_codec

logger = logging.getLogger(__name__)

#: Bytes fed to the codec at a time (as a serial read would deliver them).
CHUNK_BYTES = 4096


@dataclass(frozen=True)
class CaptureInfo:
    """What the database knows about a capture file (its capture session)."""

    session_id: int
    device: str
    protocol: str
    started: datetime | None


def find_capture(conn: sqlite3.Connection, path: Path) -> CaptureInfo | None:
    """The capture session that wrote `path`, matched by full path, else by file name."""
    row = conn.execute("SELECT id, device, protocol, started_at FROM capture_sessions "
                       "WHERE capture_path = ? ORDER BY id DESC LIMIT 1", (str(path),)).fetchone()
    if row is None:
        row = conn.execute("SELECT id, device, protocol, started_at FROM capture_sessions "
                           "WHERE capture_path LIKE ? ORDER BY id DESC LIMIT 1",
                           (f"%{Path(path).name}",)).fetchone()
    if row is None:
        return None
    return CaptureInfo(int(row[0]), str(row[1]), str(row[2] or ""), from_db(row[3]))


class ReplayState(str, Enum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    STOPPED = "stopped"


class CaptureReplay:
    """Plays one capture file through a codec into its own :class:`LiveData` and outage tracker.

    Args:
        path: the capture file.
        protocol: codec name as for ``make_codec`` (``profile:emulator``, ``gbcs-hex``...).
        device: the label events are attributed to.
        devices: the registry (lanes and outage attribution).
        started: when the capture began (time of events that carry no time of their own).
        profile_dirs: extra line-profile directories.
        db_path, session_id: the database and capture session the file belongs to: when both
            are given, the events the database lacks are stored once the file has played.

    Raises:
        ValueError: the protocol is unknown.
        OSError: the file cannot be read.
    """

    def __init__(self, path: Path, protocol: str, device: str, devices: list[Device],
                 started: datetime | None = None, profile_dirs: tuple[Path, ...] = (),
                 db_path: Path | None = None, session_id: int | None = None) -> None:
        self.path = Path(path)
        self.db_path, self.session_id, self.profile_dirs = db_path, session_id, profile_dirs
        #: What the restore of missing events did (None: not run, or refused: see restore_message).
        self.restored: RestoreResult | None = None
        self.restore_message = ""
        self.protocol, self.device = protocol, device
        self.codec = make_codec(protocol, profile_dirs=profile_dirs)
        self.total_bytes = self.path.stat().st_size
        self.done_bytes = 0
        self.events = 0
        self.errors = 0
        self.state = ReplayState.RUNNING
        self.message = ""
        self.live = LiveData()
        self.live.set_devices(devices)
        self._to_live = self.live.on_event
        self._mapper = EvidenceMapper(devices)
        self._tracker = OutageTracker(TrackerConfig())
        self._lock = threading.Lock()
        self._outages: list[Outage] = []
        self.outage_version = 0
        self._last = started or datetime.fromtimestamp(self.path.stat().st_mtime, UTC)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def progress(self) -> float:
        """Fraction of the file played, 0..1."""
        return 1.0 if self.total_bytes == 0 else min(self.done_bytes / self.total_bytes, 1.0)

    def start(self) -> None:
        """Play the file on a background thread."""
        self._thread = threading.Thread(target=self.run, name="meterlab-replay", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def run(self) -> None:
        """Play the whole file (blocking); the state tells how it ended."""
        try:
            with open(self.path, "rb") as f:
                while chunk := f.read(CHUNK_BYTES):
                    if self._stop.is_set():
                        self.state = ReplayState.STOPPED
                        return
                    self._feed(chunk)
                    self.done_bytes += len(chunk)
            self._tracker.evaluate(self._last)
            self._publish()
            self._restore_missing()
            self.state = ReplayState.DONE
        except OSError as exc:
            self.message = f"The capture file could not be read: {exc}."
            self.state = ReplayState.FAILED
        except Exception as exc:
            logger.exception("replay of %s failed", self.path)
            self.message = f"Replay stopped: {exc}."
            self.state = ReplayState.FAILED

    def _restore_missing(self) -> None:
        if self.db_path is None or self.session_id is None:
            return
        conn = connect(self.db_path)
        try:
            self.restored = restore_session(conn, self.session_id, self.profile_dirs)
        except (RestoreRefused, ValueError) as exc:
            self.restore_message = f"Missing events were not restored: {exc}"
        except sqlite3.Error as exc:
            self.restore_message = f"Missing events could not be stored: {exc}."
        finally:
            conn.close()

    def _feed(self, chunk: bytes) -> None:
        try:
            decoded = self.codec.feed(chunk)
        except CodecError as exc:
            decoded = [CodecEvent(EventKind.ERROR, {"message": str(exc), "offset": exc.offset})]
        changed = False
        for cev in decoded:
            if cev.device_time is not None and cev.device_time > self._last:
                self._last = cev.device_time
            ev = DeviceEvent(self.device, cev.kind, self._last, dict(cev.fields), cev.device_time)
            self.events += 1
            self.errors += cev.kind is EventKind.ERROR
            self._to_live(ev)
            evidence = self._mapper.map(ev)
            if evidence is not None:
                self._tracker.feed(evidence)
                changed = True
        if changed:
            self._tracker.evaluate(self._last)
            self._publish()

    def _publish(self) -> None:
        with self._lock:
            self._outages = [replace(o, flags=list(o.flags)) for o in self._tracker.outages]
            self.outage_version += 1

    def snapshot(self) -> tuple[int, list[Outage]]:
        """(version, outages) found so far; safe from any thread."""
        with self._lock:
            return self.outage_version, list(self._outages)
