"""Records of capture sessions: which port, which file, who holds it open, and what it proves.

Part of the bench store (high rate, local to the workstation that owns the ports).
"""

from __future__ import annotations

import os
import socket
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from app.domain.errors import NotFoundError
from app.storage.timefmt import from_db, to_db


@dataclass(frozen=True)
class ProcessOwner:
    """The process holding a capture session open.

    Attributes:
        host: the machine's name (a pid means nothing on another machine).
        pid: the process id.
        started: the process's start time as the OS reports it (``/proc/PID/stat`` field 22 on
            Linux, in clock ticks since boot), so that a pid reused by a later process is not
            mistaken for the owner; "" where the OS does not tell.
    """

    host: str
    pid: int
    started: str


def process_started(pid: int) -> str | None:
    """The start time of process `pid` as a token, "" when the OS cannot say, None if gone."""
    stat = Path(f"/proc/{pid}/stat")
    if Path("/proc/self/stat").exists():
        try:
            text = stat.read_text()
        except OSError:
            return None
        # The command name (field 2) may hold spaces and parentheses: split after its last ")".
        return text.rsplit(")", 1)[1].split()[19]
    if os.name == "posix":
        try:
            os.kill(pid, 0)  # signal 0 only asks whether the process exists
        except ProcessLookupError:
            return None
        except PermissionError:
            return ""
        return ""
    return ""  # elsewhere liveness cannot be checked without extra packages: assume alive


#: Makes this process pretend to run on the host it names. Only for tests that play several
#: workstations on one machine (a run's evidence is on the host that executed it); a real
#: workstation never sets it.
PRETEND_HOST_ENV = "MELAB_PRETEND_HOST"


def workstation_name() -> str:
    """This workstation's name in the lab store: its host name (the one a run's evidence and a
    process's ownership of a run or capture session are recorded under)."""
    return os.environ.get(PRETEND_HOST_ENV, "").strip() or socket.gethostname()


def current_owner() -> ProcessOwner:
    """This process as the owner of the sessions it opens."""
    return ProcessOwner(workstation_name(), os.getpid(), process_started(os.getpid()) or "")


def owner_is_gone(owner: ProcessOwner, here: ProcessOwner) -> bool:
    """True only when it is certain that `owner` no longer runs.

    Sessions of another machine, or of a process whose start time cannot be read, are treated
    as alive: closing a session another process is still writing would be worse than leaving
    a dead one open.
    """
    if owner.host != here.host:
        return False
    if owner.pid == here.pid and owner.started == here.started:
        return False
    started = process_started(owner.pid)
    if started is None:
        return True
    return bool(owner.started) and bool(started) and started != owner.started


@dataclass(frozen=True)
class OpenSession:
    """A capture session whose record was never closed."""

    id: int
    device: str
    capture_path: str
    started: datetime | None
    owner: ProcessOwner | None


class CaptureSessionRepo:
    """Opens and closes capture session records; finds those left open.

    Args:
        conn: a connection with MeterLab's pragmas.
        owner: the process recorded as holding sessions open (default: this one).
    """

    def __init__(self, conn: sqlite3.Connection, owner: ProcessOwner | None = None) -> None:
        self.conn = conn
        self.owner = owner or current_owner()

    def open(self, device: str, port: str, protocol: str, capture_path: str, started: datetime,
             device_ref: int | None = None, *, by_label: bool = True) -> int:
        """Record a new session; returns its id.

        Args:
            device: the device's label now (for display).
            device_ref: the registered device's id; when None the registry is asked for the
                label, so that every caller records the stable id without having to look it up.
            by_label: False: the devices are a lab store's on a server, whose labels mean
                nothing in this file's registry (`device_ref` is then the device's stand-in,
                see :mod:`app.storage.lab_devices`, or None).
        """
        o = self.owner
        lookup = device if by_label else None
        with self.conn:
            cur = self.conn.execute(
                "INSERT INTO capture_sessions (device, device_ref, port, protocol, capture_path, "
                "started_at, bytes_in, bytes_out, frames, errors, events_missing, events_restored, "
                "owner_host, owner_pid, owner_started) "
                "VALUES (?, coalesce(?, (SELECT id FROM devices WHERE label = ?)), ?,?,?,?,0,0,0,0,"
                "0,0,?,?,?)",
                (device, device_ref, lookup, port, protocol, capture_path, to_db(started),
                 o.host, o.pid, o.started),
            )
        return int(cur.lastrowid or 0)

    def set_path(self, session_id: int, capture_path: str) -> None:
        with self.conn:
            self.conn.execute("UPDATE capture_sessions SET capture_path = ? WHERE id = ?",
                              (capture_path, session_id))

    def close(self, session_id: int, ended: datetime, sha256: str, counters: dict[str, Any],
              end_state: str, *, bytes_in_file: int | None = None, events_unstored: int = 0,
              end_reason: str = "") -> None:
        """Record how a session ended.

        Args:
            counters: the session's health (``SessionHealth.as_dict()``); ``rx_dropped_bytes``
                is read when present.
            bytes_in_file: bytes the capture file holds, when it differs from what was received
                (a failed write); ``bytes_in`` records what the file holds, so that it and
                `sha256` describe the same bytes.
            events_unstored: decoded events of this session that are not in the database.
            end_reason: why it ended, if not normally.
        """
        bytes_in = counters.get("bytes_in", 0) if bytes_in_file is None else bytes_in_file
        with self.conn:
            self.conn.execute(
                "UPDATE capture_sessions SET ended_at = ?, sha256 = ?, bytes_in = ?, bytes_out = ?, "
                "frames = ?, errors = ?, end_state = ?, rx_dropped_bytes = ?, end_reason = ?, "
                "events_unstored = coalesce(events_unstored, 0) + ?, "
                "events_missing = CASE WHEN ? > 0 THEN 1 ELSE coalesce(events_missing, 0) END "
                "WHERE id = ?",
                (to_db(ended), sha256, bytes_in, counters.get("bytes_out", 0),
                 counters.get("frames", 0), counters.get("errors", 0), end_state,
                 int(counters.get("rx_dropped_bytes", 0) or 0), end_reason or None,
                 events_unstored, events_unstored, session_id),
            )

    def close_interrupted(self, session_id: int, ended: datetime, bytes_in: int,
                          sha256: str | None, reason: str) -> None:
        """Close a session its process left open: the file's own size and hash; how many
        events were lost with the process is unknown (NULL), but some may be."""
        with self.conn:
            self.conn.execute(
                "UPDATE capture_sessions SET ended_at = ?, sha256 = ?, bytes_in = ?, "
                "end_state = 'interrupted', end_reason = ?, events_missing = 1, "
                "events_unstored = NULL WHERE id = ? AND ended_at IS NULL",
                (to_db(ended), sha256, bytes_in, reason, session_id),
            )

    def record_restored(self, session_id: int, restored: int) -> None:
        """A replay stored what was missing: the database now holds every decoded event."""
        with self.conn:
            self.conn.execute(
                "UPDATE capture_sessions SET events_restored = coalesce(events_restored, 0) + ?, "
                "events_missing = 0 WHERE id = ?", (restored, session_id))

    def open_sessions(self) -> list[OpenSession]:
        """Sessions whose record was never closed, oldest first."""
        cur = self.conn.execute(
            "SELECT id, device, capture_path, started_at, owner_host, owner_pid, owner_started "
            "FROM capture_sessions WHERE ended_at IS NULL ORDER BY id")
        return [
            OpenSession(int(i), str(d), str(p or ""), from_db(s),
                        ProcessOwner(str(h), int(pid), str(st or "")) if h and pid else None)
            for i, d, p, s, h, pid, st in cur.fetchall()
        ]

    def list(self, device: str | None = None, missing_only: bool = False,
             limit: int = 1000, *, device_ref: int | None = None,
             by_label: bool = True) -> list[dict[str, Any]]:
        """Sessions, newest first, as stored (times as datetimes).

        Args:
            device: only this device's sessions (its label at the time, or its registered id).
            missing_only: only sessions that may lack events in the database (a replay of the
                capture file restores them).
            device_ref: only the sessions of the device with this id in the file's devices
                table (a lab-store device's stand-in), whatever its label was.
            by_label: False: the devices are a lab store's on a server, whose labels mean
                nothing in the file's registry: `device` then matches only sessions of no
                registered device (a port captured without naming its device).
        """
        where, params = [], []  # type: list[str], list[Any]
        if device_ref is not None:
            where.append("device_ref = ?")
            params.append(device_ref)
        if device is not None and not by_label:
            where.append("(device = ? AND device_ref IS NULL)")
            params.append(device)
        elif device is not None:
            # A label as stored matches the file's own devices and ports, not the stand-ins of
            # a lab store's devices (another registry's labels).
            where.append("((device = ? AND (device_ref IS NULL OR device_ref NOT IN "
                         "(SELECT local_ref FROM lab_devices))) "
                         "OR device_ref = (SELECT id FROM devices WHERE label = ?))")
            params += [device, device]
        if missing_only:
            where.append("events_missing = 1")
        sql = "SELECT * FROM capture_sessions"
        if where:
            sql += " WHERE " + " AND ".join(where)
        cur = self.conn.execute(sql + " ORDER BY id DESC LIMIT ?", (*params, limit))
        cols = [c[0] for c in cur.description]
        rows = [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]
        for row in rows:
            for key in ("started_at", "ended_at"):
                row[key] = from_db(row[key]) if row.get(key) else None
        return rows

    def get(self, session_id: int) -> dict[str, Any]:
        cur = self.conn.execute("SELECT * FROM capture_sessions WHERE id = ?", (session_id,))
        cols = [c[0] for c in cur.description]
        row = cur.fetchone()
        if row is None:
            raise NotFoundError("session", f"There is no capture session {session_id}.")
        return dict(zip(cols, row, strict=True))
