"""Start-up recovery: capture sessions whose process ended without closing them.

A process killed outright (``kill -9``, a power cut) leaves its capture session records open:
no end time, no byte count, no SHA-256. On the next start they are closed as ``interrupted``
with the size and SHA-256 of what the capture file holds (or "capture file missing"), and marked
as possibly missing events (those still queued when the process died), so a replay of the file
can restore them. Sessions whose process still runs (another MeterLab on this workstation) are
left alone.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from app.domain.clock import Clock
from app.storage.capture_sessions import (
    CaptureSessionRepo,
    OpenSession,
    ProcessOwner,
    current_owner,
    owner_is_gone,
)
from devices.capture_file import sha256_of

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RecoveredSession:
    """A session closed as interrupted, with what its capture file held."""

    session_id: int
    device: str
    capture_path: str
    bytes_in_file: int
    sha256: str | None
    reason: str


def close_interrupted_sessions(conn: sqlite3.Connection, clock: Clock,
                               here: ProcessOwner | None = None) -> list[RecoveredSession]:
    """Close every capture session left open by a process that no longer runs.

    Args:
        conn: the database.
        clock: the time recorded as the sessions' end (when the loss was noticed; the file's
            last byte may be earlier).
        here: this process (default: the current one), whose own sessions are never touched.

    Returns:
        The sessions closed now. A database that cannot be written is logged and skipped:
        recovery must never keep the application from starting; it is tried again next time.
    """
    me = here or current_owner()
    repo = CaptureSessionRepo(conn, me)
    closed: list[RecoveredSession] = []
    try:
        for session in repo.open_sessions():
            if not _abandoned(session, me):
                continue
            recovered = _close(repo, session, clock)
            closed.append(recovered)
            logger.warning("capture session %d (%s) was left open by a process that ended; "
                           "closed as interrupted: %s", session.id, session.device,
                           recovered.reason)
    except sqlite3.Error as exc:
        logger.error("capture sessions left open could not be closed: %s", exc)
    return closed


def _abandoned(session: OpenSession, me: ProcessOwner) -> bool:
    # Records written before owners were recorded (schema m004) have no owner: no MeterLab of
    # that age can still be running against this schema, so they are closed.
    return session.owner is None or owner_is_gone(session.owner, me)


def _close(repo: CaptureSessionRepo, session: OpenSession, clock: Clock) -> RecoveredSession:
    path = Path(session.capture_path) if session.capture_path else None
    if path is None or not path.is_file():
        reason = ("interrupted: the process ended without closing the session; "
                  "capture file missing" + (f" ({path})" if path else ""))
        size, digest = 0, None
    else:
        try:
            size, digest = path.stat().st_size, sha256_of(path)
            reason = ("interrupted: the process ended without closing the session; size and "
                      "SHA-256 are of what the capture file holds")
        except OSError as exc:
            size, digest = 0, None
            reason = f"interrupted: the capture file could not be read ({exc.strerror or exc})"
    repo.close_interrupted(session.id, clock.now(), size, digest, reason)
    return RecoveredSession(session.id, session.device, session.capture_path, size, digest, reason)
