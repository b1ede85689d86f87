"""Restoring a capture session's missing events from its capture file.

When events of a session could not be stored (the database refused writes, the queue was full,
the process was killed), its capture file still holds the raw bytes. Decoding the file again
with the session's protocol gives the session's events in order; those the database lacks are
stored, those it has are not stored twice.

How an event is identified: by its content within its session (kind, device time, code and
fields, exactly as stored), counted. If the database holds k events with a given content for
the session and the file decodes to n, the n - k not yet stored are restored (n <= k: none).
Why content rather than an ordinal (the n-th event of the session): an ordinal is exact only if
decoding the file gives exactly the events the live session gave, in the same number. Decoding
does not always: the live session saw the bytes in other chunks (a codec error event depends on
where a chunk ended), and an ordinal stored with each event would cost a column and a counter in
the hot insert path. Counting content is indifferent to where chunks ended, to events dropped
before the queue, and to repeated runs (a second replay finds nothing missing). Events with the
same content are interchangeable evidence. A restored event gets the host time of the stored
event before it in the file (or the session's start): the host receive time itself was lost.
"""

from __future__ import annotations

import sqlite3
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from app.domain.events import CodecEvent, DeviceEvent, EventKind
from app.storage.capture_sessions import CaptureSessionRepo
from app.storage.devices import EventStore
from app.storage.timefmt import from_db
from devices.capture_file import sha256_of
from devices.codecs.base import CodecError, make_codec

#: Bytes fed to the codec at a time (as a serial read would deliver them).
CHUNK_BYTES = 4096


class RestoreRefused(Exception):
    """The capture file cannot be used as evidence (missing, changed, unreadable); the message
    is one sentence saying which."""


@dataclass(frozen=True)
class RestoreResult:
    """What a restore found and did.

    Attributes:
        decoded: events the capture file decodes to.
        already_stored: of those, events the database already held.
        restored: events stored now.
        stored_not_decoded: events of the session in the database that the file's decoding did
            not give again (e.g. error events that depended on where a chunk ended).
    """

    session_id: int
    capture_path: str
    sha256: str
    decoded: int
    already_stored: int
    restored: int
    stored_not_decoded: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id, "capture_file": self.capture_path,
            "sha256": self.sha256, "events_decoded": self.decoded,
            "events_already_stored": self.already_stored, "events_restored": self.restored,
            "events_stored_not_decoded": self.stored_not_decoded,
        }


def decode_file(path: Path, protocol: str,
                profile_dirs: tuple[Path, ...] = ()) -> Iterator[CodecEvent]:
    """The events a capture file decodes to, in order (a codec error becomes an error event,
    as in a live session)."""
    codec = make_codec(protocol, profile_dirs=profile_dirs)
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK_BYTES):
            try:
                yield from codec.feed(chunk)
            except CodecError as exc:
                yield CodecEvent(EventKind.ERROR, {"message": str(exc), "offset": exc.offset})


def restore_session(conn: sqlite3.Connection, session_id: int,
                    profile_dirs: tuple[Path, ...] = ()) -> RestoreResult:
    """Store the events of capture session `session_id` that its file holds and the database lacks.

    Raises:
        NotFoundError: there is no such session (field ``session``).
        RestoreRefused: the session is still open, its file is missing, unreadable, or its
            SHA-256 is not the one recorded (the file is not the evidence it claims to be).
        ValueError: the session's protocol is unknown to this MeterLab.
    """
    repo = CaptureSessionRepo(conn)
    row = repo.get(session_id)
    path = Path(row["capture_path"] or "")
    if row["ended_at"] is None:
        raise RestoreRefused(f"Capture session {session_id} is still open (being captured, or "
                             "left open by a process that ended: start MeterLab to close it).")
    if not row["capture_path"] or not path.is_file():
        raise RestoreRefused(f"The capture file of session {session_id} is missing: "
                             f"{row['capture_path'] or 'no file was recorded'}.")
    try:
        digest = sha256_of(path)
    except OSError as exc:
        raise RestoreRefused(f"The capture file {path} cannot be read: "
                             f"{exc.strerror or exc}.") from None
    if not row["sha256"] or digest != row["sha256"]:
        raise RestoreRefused(
            f"The capture file {path} has SHA-256 {digest}, not the {row['sha256'] or 'none'} "
            f"recorded for session {session_id}: it was changed, so nothing is restored from it.")
    store = EventStore(conn)
    stored: dict[tuple[Any, ...], deque[str]] = {}
    for fingerprint, host_text in store.session_fingerprints(session_id):
        stored.setdefault(fingerprint, deque()).append(host_text)
    already = sum(len(q) for q in stored.values())
    last_host = from_db(row["started_at"])
    device, device_ref = str(row["device"]), row.get("device_ref")
    missing: list[DeviceEvent] = []
    decoded = matched = 0
    for cev in decode_file(path, str(row["protocol"] or ""), profile_dirs):
        decoded += 1
        ev = DeviceEvent(device, cev.kind, last_host or _epoch(), dict(cev.fields),
                         cev.device_time, session_id, device_ref)
        held = stored.get(EventStore.fingerprint(EventStore.rows([ev])[0]))
        if held:
            matched += 1
            last_host = from_db(held.popleft())
        else:
            missing.append(ev)
    store.insert_many(missing)
    repo.record_restored(session_id, len(missing))
    return RestoreResult(session_id, str(path), digest, decoded, matched, len(missing),
                         already - matched)


def _epoch() -> datetime:
    return datetime.fromisoformat("1970-01-01T00:00:00+00:00")
