"""`meterlab replay`: restore a capture session's missing events from its capture file."""

from __future__ import annotations

import argparse
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

from app.cli import (
    EXIT_BAD_INPUT,
    EXIT_OK,
    EXIT_STORAGE,
    db_path_of,
    emit,
    fail,
    lab_store_of,
    principal_of,
)
from app.domain.clock import Clock
from app.domain.errors import ValidationError
from app.domain.principals import Action

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

    from app.storage.capture_sessions import CaptureSessionRepo
    from app.storage.labstore import LabStore


def replay(args: argparse.Namespace, clock: Clock) -> int:
    """Decode the session's capture file and store the events the database lacks.

    Exit codes: 0 done (counts as JSON); 2 bad input (no such session, an id that is not a
    number, a protocol this MeterLab does not know); 9 the evidence or the database cannot be
    used (the session is still open, its file is missing or unreadable, its SHA-256 differs from
    the one recorded, or the database refused the writes).
    """
    from app.main import open_bench_database
    from app.services.restore import RestoreRefused, restore_session
    from app.storage.db import default_profile_dir

    text = str(args.session).strip()
    if not text.isdigit() or len(text) > 18:
        raise ValidationError("session", f"--session must be a capture session id (a whole "
                                         f"number), not {args.session!r}.")
    profile_dirs = (*(Path(p) for p in (args.profile_dir or [])), default_profile_dir())
    db = open_bench_database(db_path_of(args), clock)
    try:
        principal_of(args, db, clock).require(Action.DEVICES, "restore capture sessions")
        result = restore_session(db.conn, int(text), profile_dirs)
    except RestoreRefused as exc:
        return fail(str(exc), EXIT_STORAGE)
    except ValueError as exc:
        return fail(f"The session's protocol cannot be decoded: {exc}", EXIT_BAD_INPUT)
    except sqlite3.Error as exc:
        return fail(f"The missing events could not be stored in the database: {exc}.",
                    EXIT_STORAGE)
    finally:
        db.conn.close()
    emit(result.as_dict())
    return EXIT_OK


def sessions_list(args: argparse.Namespace, clock: Clock) -> int:
    """Capture sessions, newest first: what each captured, how it ended, what may be missing."""
    from app.domain.parsing import parse_positive_int
    from app.main import open_bench_database
    from app.storage.capture_sessions import CaptureSessionRepo

    limit = parse_positive_int(args.limit, "limit", 1, 100_000)
    db = open_bench_database(db_path_of(args), clock)
    try:
        with lab_store_of(args, db) as store:
            principal_of(args, db, clock, store).require(Action.READ_ALL,
                                                         "read the lab's capture sessions")
            url = getattr(args, "lab_store_url", None)
            repo = CaptureSessionRepo(db.conn)
            if url is None or not args.device:
                rows = repo.list(args.device or None, args.missing, limit)
            else:
                rows = _lab_store_device_sessions(repo, store, url, args.device, args.missing,
                                                  limit, clock)
    finally:
        db.conn.close()
    emit([_session_json(r) for r in rows])
    return EXIT_OK


def _lab_store_device_sessions(repo: CaptureSessionRepo, store: LabStore, url: URL,
                               device: str, missing: bool, limit: int,
                               clock: Clock) -> list[dict]:
    """The sessions of the lab store's device `device` (id, label or EUI-64) captured here,
    under its stand-in (see :mod:`app.storage.lab_devices`); a name the lab store's registry
    does not know names a port captured without a device."""
    from app.storage.devices import DeviceRepo
    from app.storage.lab_devices import LabDeviceMap
    from app.storage.labstore import lab_store_key

    found = DeviceRepo(store, clock).find(device)
    if found is None or found.id is None:
        return repo.list(device, missing, limit, by_label=False)
    stand_in = LabDeviceMap(repo.conn, lab_store_key(url)).stand_in(found.id)
    if stand_in is None:
        return []  # never captured on this workstation
    return repo.list(None, missing, limit, device_ref=stand_in)


def _session_json(row: dict) -> dict:
    missing = bool(row.get("events_missing"))
    return {
        "id": row["id"], "device": row["device"], "port": row["port"],
        "protocol": row["protocol"], "started": row["started_at"], "ended": row["ended_at"],
        "end_state": row.get("end_state") or ("open" if row["ended_at"] is None else None),
        "end_reason": row.get("end_reason"), "capture_file": row["capture_path"],
        "bytes_in_capture_file": row["bytes_in"], "sha256": row["sha256"],
        "rx_dropped_bytes": row.get("rx_dropped_bytes") or 0,
        # NULL: the process died, so how many were lost is not known.
        "events_unstored": row.get("events_unstored"),
        "events_restored": row.get("events_restored") or 0,
        "events_missing": missing,
        "restore_with": f"meterlab replay --session {row['id']}" if missing else None,
    }


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "replay", parents=[common],
        help="store a capture session's events that are missing from the database, decoded "
             "again from its capture file (none twice)")
    p.add_argument("--session", required=True, metavar="ID", help="the capture session's id")
    p.add_argument("--profile-dir", dest="profile_dir", action="append", metavar="DIR",
                   help="also look for line profiles here")
    p.set_defaults(handler=replay)

    p = sub.add_parser("sessions", help="capture sessions and what each stored")
    ssub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = ssub.add_parser(
        "list", parents=[common],
        help="capture sessions, newest first: bytes, SHA-256, how each ended, events missing")
    p.add_argument("--device", metavar="LABEL", help="only this device's sessions")
    p.add_argument("--missing", action="store_true",
                   help="only sessions whose events may be missing from the database")
    p.add_argument("--limit", default="100", metavar="N", help="at most N sessions (100)")
    p.set_defaults(handler=sessions_list)
