"""`meterlab replay`: restore a capture session's missing events from its capture file."""

from __future__ import annotations

import argparse
import sqlite3
from pathlib import Path

from app.cli import EXIT_BAD_INPUT, EXIT_OK, EXIT_STORAGE, db_path_of, emit, fail
from app.domain.clock import Clock
from app.domain.errors import ValidationError


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


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "replay", parents=[common],
        help="store a capture session's events that are missing from the database, decoded "
             "again from its capture file (none twice)")
    p.add_argument("--session", required=True, metavar="ID", help="the capture session's id")
    p.add_argument("--profile-dir", dest="profile_dir", action="append", metavar="DIR",
                   help="also look for line profiles here")
    p.set_defaults(handler=replay)
