"""`meterlab audit list`: who changed what in the lab store, newest first (JSON)."""

from __future__ import annotations

import argparse
from pathlib import Path

from app.cli import EXIT_OK, db_path_of, emit, local_iso
from app.domain.clock import Clock
from app.domain.parsing import parse_instant, parse_positive_int
from app.storage.audit import list_audit
from app.storage.db import open_database
from app.storage.timefmt import to_db

#: The most rows one listing returns unless told otherwise.
DEFAULT_LIMIT = 1000


def audit_list(args: argparse.Namespace, clock: Clock) -> int:
    since = to_db(parse_instant(args.since, "since")) if args.since else None
    limit = parse_positive_int(args.limit, "limit", maximum=1_000_000)
    db = open_database(db_path_of(args))
    try:
        from app.cli import lab_store_of, principal_of
        from app.domain.principals import Action

        # Admins read the audit trail (before any staff account exists, the workstation is one).
        with lab_store_of(args, db) as store:
            principal_of(args, db, clock, store).require(Action.AUDIT, "read the audit trail")
            rows = list_audit(store, entity=args.entity, actor=args.actor_filter, since=since,
                              limit=limit)
        emit([{**row.to_dict(), "at": local_iso(row.at)} for row in rows])
    finally:
        db.conn.close()
    return EXIT_OK


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add `meterlab audit list`."""
    audit = sub.add_parser("audit", help="the audit trail: who changed what, when and why").add_subparsers(
        dest="audit_cmd", required=True, metavar="ACTION")
    p = audit.add_parser(
        "list",
        help="the audit trail, newest first (JSON): each row's time (London, with its offset), "
             "actor, action, entity, entity id and details",
        description="The audit trail, newest first, as JSON. Filters combine.",
        epilog="example:\n  meterlab audit list --entity booking --since 2026-11-23 --limit 50",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    # Not the shared global options: here --actor filters the rows (listing changes nothing,
    # so no one acts), and the shared --actor action must stay as it is for every other command.
    p.add_argument("--db", type=Path, default=argparse.SUPPRESS,
                   help="SQLite database file (default: the user data directory)")
    p.add_argument("--now", default=argparse.SUPPRESS, metavar="ISO",
                   help="what 'now' is (default: the clock)")
    p.add_argument("--lab-store", default=argparse.SUPPRESS, metavar="URL",
                   help="the lab's shared lab store, postgresql://user@host[:port]/database "
                        "(default: $MELAB_LAB_STORE)")
    p.add_argument("--entity", metavar="E",
                   help="only rows about this kind of thing: booking, device, run, induction, "
                        "person, organisation, lab, account, ...")
    p.add_argument("--actor", dest="actor_filter", metavar="A", help="only rows of this actor (exactly as listed)")
    p.add_argument("--since", metavar="ISO",
                   help="only rows at or after this time, e.g. 2026-11-23 or 2026-11-23T09:00 "
                        "(without an offset: London time)")
    p.add_argument("--limit", default=str(DEFAULT_LIMIT), metavar="N",
                   help=f"at most N rows (default {DEFAULT_LIMIT})")
    p.set_defaults(handler=audit_list)
