"""The `meterlab` command: the GUI by default, subcommands for scripting (JSON on stdout).

Exit codes:
    0   success (`report verify`: the seal is valid; evidence files kept on another
        workstation are named there, not checked).
    1   an unexpected failure (a bug: the traceback is printed).
    2   bad input: one sentence on stderr naming the option and what was expected; nothing written.
    3   refused by a lab rule, or a run's first report asked for on another workstation than
        the one keeping its evidence.
    4   a device did not answer or its data failed its check.
    5   a test run ended FAIL (a device under test out of its limits).
    6   a test run ended ERROR (the bench failed: a port gone, a relay without acknowledgement,
        no operator answer).
    7   a test run was ABORTED (Ctrl-C or Abort; its teardown ran).
    8   a report's seal does not verify: the report, its run's stored data or an evidence file
        changed (what differs is said).
    9   storage: the database cannot be opened or written (read-only, locked beyond the busy
        timeout, damaged, disk full, or written by a newer MeterLab) or evidence could not be
        stored; one sentence says which and what to do.
    130 interrupted (Ctrl-C).
    141 stdout was closed early (e.g. piped into `head`): output stops quietly, as with SIGPIPE.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn
from zoneinfo import ZoneInfo

from app.domain.clock import Clock, FixedClock, SystemClock
from app.domain.errors import NotFoundError, RuleRefusal, ValidationError
from app.domain.parsing import (
    LONDON,
    MAX_NAME_CHARS,
    MAX_NOTE_CHARS,
    MAX_SCREENSHOT_AFTER_S,
    check_ref,
    check_text,
    parse_positive_float,
)
from app.domain.parsing import parse_now as parse_now_instant
from app.storage.db import DatabaseError, classify_sqlite_error, default_db_path

if TYPE_CHECKING:
    from sqlalchemy.engine import URL
    from sqlite_utils import Database

    from app.domain.principals import Principal
    from app.main import AppContext
    from app.storage.labstore import LabStore

EXIT_OK, EXIT_FAILURE, EXIT_BAD_INPUT, EXIT_REFUSED, EXIT_NO_ANSWER = 0, 1, 2, 3, 4
EXIT_RUN_FAIL, EXIT_RUN_ERROR, EXIT_RUN_ABORTED = 5, 6, 7
EXIT_SEAL = 8
EXIT_STORAGE = 9
EXIT_INTERRUPTED, EXIT_PIPE_CLOSED = 130, 141

#: Options naming files or devices: the OS takes any bytes there, so their text is not checked.
_PATH_OPTIONS = frozenset({"db", "screenshot", "file", "capture_dir", "profile_dir", "plan_dir",
                           "ics", "csv", "port", "pdf", "html", "json"})
#: Options holding free text, allowed to be longer than a name.
_NOTE_OPTIONS = frozenset({"notes", "reason", "override", "devices"})
#: Options naming a lab, organisation or device by name or id.
_REF_OPTIONS = frozenset({"lab", "org", "device"})
#: Options holding data rather than names (an APDU in hex can be a few kilobytes).
_DATA_OPTIONS = {"gbcs": 20_000, "lab_store": 2_000}


class UsageError(Exception):
    """Bad command-line input: the message is one sentence naming the option."""


class _Parser(argparse.ArgumentParser):
    """argparse that reports a mistake as one sentence (no usage dump) and exit code 2."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message[0].upper() + message[1:] + f" (see `{self.prog} --help`).")


def _global_options(parser: argparse.ArgumentParser, suppress: bool) -> None:
    default: Any = argparse.SUPPRESS if suppress else None
    parser.add_argument("--db", type=Path, default=default,
                        help="SQLite database file (default: the user data directory)")
    parser.add_argument("--now", default=default, metavar="ISO",
                        help="what 'now' is, e.g. 2026-11-25T09:00+00:00 (default: the clock)")
    parser.add_argument("--actor", default=default,
                        help="who is acting, for the audit trail (default: the login name)")
    parser.add_argument("--participant", default=default, metavar="EMAIL",
                        help="act as this participant: only its organisation's data, no changes")
    parser.add_argument("--lab-store", default=default, metavar="URL",
                        help="the lab's shared lab store, postgresql://user@host[:port]/database "
                             "(default: $MELAB_LAB_STORE; none: everything in --db)")


def build_parser() -> argparse.ArgumentParser:
    from app.cli import (
        audit_cmds,
        bench_cmds,
        bookings_cmds,
        device_cmds,
        evidence_cmds,
        induction_cmds,
        labstore_cmds,
        plan_cmds,
        report_cmds,
        run_cmds,
        staff_cmds,
    )

    parser = _Parser(prog="meterlab", description="MeterLab: run a smart-metering test lab.")
    _global_options(parser, suppress=False)
    parser.add_argument("--screenshot", type=Path, metavar="FILE",
                        help="render the main window offscreen into a PNG and exit")
    parser.add_argument("--page", default="bookings",
                        help="page for --screenshot or to open first (bookings, devices, live, "
                             "runs, reports, induction)")
    parser.add_argument("--after", default="0", metavar="S",
                        help="seconds to let the demo run before --screenshot")
    parser.add_argument("--no-demo", action="store_true",
                        help="do not create the demo lab in an empty database")
    parser.add_argument("--version", action="store_true", help="print versions and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    common = _Parser(add_help=False)
    _global_options(common, suppress=True)
    bookings_cmds.register(sub, common)
    device_cmds.register(sub, common)
    bench_cmds.register(sub, common)
    evidence_cmds.register(sub, common)
    plan_cmds.register(sub, common)
    run_cmds.register(sub, common)
    report_cmds.register(sub, common)
    induction_cmds.register(sub, common)
    audit_cmds.register(sub, common)
    staff_cmds.register(sub, common)
    labstore_cmds.register(sub, common)
    return parser


def lab_store_url(args: argparse.Namespace) -> URL | None:
    """The lab store's URL, checked, from `--lab-store` or MELAB_LAB_STORE; None: neither.

    Raises:
        ValidationError: a password in `--lab-store` (process lists show it), or not a
            PostgreSQL database URL.
    """
    from app.storage.labstore import LAB_STORE_ENV

    given = getattr(args, "lab_store", None)
    return parse_lab_store_url(given or os.environ.get(LAB_STORE_ENV, ""),
                               refuse_password=bool(given))


def parse_lab_store_url(text: str, refuse_password: bool = True) -> URL | None:
    """`text` as the lab store's URL, checked; None when it is empty (no lab store).

    Args:
        text: ``postgresql://user@host[:port]/database`` (libpq's form).
        refuse_password: refuse a URL holding a password (given on the command line, process
            lists show it; kept in a settings file, anyone reading the file would see it).

    Raises:
        ValidationError: a password where it is refused, or not a PostgreSQL database URL
            (field ``lab_store``).
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    from app.storage.labstore import postgres_url

    text = text.strip()
    if not text:
        return None
    control = next((c for c in text if ord(c) < 32 or 127 <= ord(c) < 160), None)
    if control is not None:  # typed or pasted into the dialog, or set in the environment
        raise ValidationError("lab_store", f"The URL must not contain control characters "
                                           f"(found U+{ord(control):04X}).")
    try:
        parsed = make_url(text)
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        raise ValidationError("lab_store", "Expected a URL like "
                                           "postgresql://meterlab@dbhost/meterlab.") from None
    if refuse_password and parsed.password is not None:
        raise ValidationError("lab_store", "Leave the password out of the URL (process lists "
                                           "show it); put it in ~/.pgpass or PGPASSWORD.")
    try:
        return postgres_url(parsed)
    except ValueError as exc:
        raise ValidationError("lab_store", f"Expected a URL like postgresql://meterlab@dbhost/"
                                           f"meterlab: {exc}.") from None


def check_lab_store_option(args: argparse.Namespace) -> None:
    """Keep the lab store's URL in ``args.lab_store_url`` (None: no lab store): every command,
    and the desktop, reads and writes the lab's shared data there when one is given.

    Raises:
        ValidationError: a bad URL (a password in it, or not a PostgreSQL database URL).
    """
    args.lab_store_url = lab_store_url(args)


def parse_now(text: str | None) -> Clock:
    """The clock for `--now` (read like `--start`: without an offset, Europe/London time)."""
    if text is None:
        return SystemClock()
    return FixedClock(parse_now_instant(text))


def check_text_options(args: argparse.Namespace) -> None:
    """Refuse undecodable bytes, control characters, overlong text and unusable ids in options.

    One generic pass over the parsed values, so a new option is covered without remembering to.

    Raises:
        ValidationError: naming the first option at fault.
    """
    for dest, value in sorted(vars(args).items()):
        if dest in _PATH_OPTIONS:
            continue
        limit = _DATA_OPTIONS.get(dest, MAX_NOTE_CHARS if dest in _NOTE_OPTIONS else MAX_NAME_CHARS)
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str):
                check_text(item, dest, limit)
                if dest in _REF_OPTIONS:
                    check_ref(item, dest)


def check_db_option(args: argparse.Namespace) -> None:
    """Refuse a `--db` in a folder that does not exist: creating it would hide a typo.

    The default location is created as needed (by :func:`app.storage.db.open_database`).
    """
    db = getattr(args, "db", None)
    if db is None:
        return
    path = Path(db)
    if path.is_dir():
        raise ValidationError("db", f"{path} is a folder; give the database file's path.")
    if not path.parent.is_dir():
        raise ValidationError("db", f"Folder {path.parent} does not exist; create it first or "
                                    f"correct the path.")


def local_iso(moment: datetime | str | None, tz: ZoneInfo | None = None) -> str | None:
    """An instant as ISO-8601 in the lab's local time (Europe/London if none) with its offset."""
    if moment is None:
        return None
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if moment.tzinfo is None:  # a device time without an offset says nothing about its zone
        return moment.isoformat()
    return moment.astimezone(tz or LONDON).isoformat()


def emit(value: Any) -> None:
    """Print a JSON value on stdout and flush (so output can be piped as it happens)."""
    sys.stdout.write(json.dumps(value, default=_json_default) + "\n")
    sys.stdout.flush()


def _json_default(value: Any) -> Any:
    # An instant left in a structure is shown in London time with its offset, never bare UTC.
    if isinstance(value, datetime) and value.tzinfo is not None:
        return local_iso(value)
    return str(value)


def fail(message: str, code: int) -> int:
    sys.stderr.write(f"meterlab: {message}\n")
    sys.stderr.flush()
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `meterlab` command."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    try:
        parser = build_parser()
        args = parser.parse_args(args_list)
        check_text_options(args)
        check_db_option(args)
        clock = parse_now(args.now)
        args.after = parse_positive_float(args.after, "after", MAX_SCREENSHOT_AFTER_S,
                                          allow_zero=True)
        if args.version:
            from app.about import versions

            emit(versions())
            return EXIT_OK
        check_lab_store_option(args)
        if args.command is None:
            from app.gui_launch import launch_gui

            return launch_gui(args, clock)
        handler: Callable[[argparse.Namespace, Clock], int] = args.handler
        return handler(args, clock)
    except UsageError as exc:
        return fail(str(exc), EXIT_BAD_INPUT)
    except (ValidationError, NotFoundError) as exc:
        return fail(f"--{exc.field.replace('_', '-')}: {exc.message}", EXIT_BAD_INPUT)
    except RuleRefusal as exc:
        return fail(str(exc), EXIT_REFUSED)
    except DatabaseError as exc:
        from app.storage.labstore import LabStoreError

        option = "--lab-store" if isinstance(exc, LabStoreError) else "--db"
        return fail(f"{option}: {exc}", EXIT_STORAGE)
    except sqlite3.IntegrityError:
        raise  # a broken constraint is a bug to see, not a storage condition to advise on
    except sqlite3.DatabaseError as exc:
        # Reached from any later write (locked, read-only, full, damaged page), not only opening.
        return fail(f"--db: {classify_sqlite_error(exc, _db_path_for_message(args_list))}", EXIT_STORAGE)
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_PIPE_CLOSED
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # stdout without a file descriptor (captured in tests)
        pass


def _db_path_for_message(args_list: list[str]) -> Path | None:
    """The database path for a message, from argv (the parsed namespace may not exist yet)."""
    for i, arg in enumerate(args_list):
        if arg == "--db" and i + 1 < len(args_list):
            return Path(args_list[i + 1])
        if arg.startswith("--db="):
            return Path(arg.removeprefix("--db="))
    return default_db_path()


def db_path_of(args: argparse.Namespace) -> Path:
    return Path(args.db) if getattr(args, "db", None) else default_db_path()


@contextmanager
def server_lab_store(args: argparse.Namespace) -> Iterator[LabStore | None]:
    """The lab store on a server when a lab store URL was given (opened now, closed after),
    else None.

    Raises:
        LabStoreError: the server does not answer or has another schema.
    """
    from app.storage.labstore import open_lab_store

    url = getattr(args, "lab_store_url", None)
    if url is None:
        yield None
        return
    store = open_lab_store(url)
    try:
        yield store
    finally:
        store.close()


@contextmanager
def lab_store_of(args: argparse.Namespace, db: Database) -> Iterator[LabStore]:
    """The lab store a command works with: the server's (opened now, closed after) when a lab
    store URL was given, else the one in the workstation's file `db`.

    Raises:
        LabStoreError: the server does not answer or has another schema.
    """
    from app.storage.labstore import lab_store

    with server_lab_store(args) as server:
        yield server if server is not None else lab_store(db)


def principal_of(args: argparse.Namespace, db: Database, clock: Clock,
                 store: LabStore | None = None) -> Principal:
    """Who a command acts for: the participant named by `--participant`; else the staff account
    mapped to the OS login once staff accounts exist; else the workstation admin.

    People and staff accounts are those of the lab store (`store`, else
    :func:`lab_store_of`'s).

    Raises:
        NotFoundError / ValidationError: `--participant` names no person (field
            ``participant``).
        RuleRefusal: staff accounts exist and none is mapped to the OS login.
    """
    from app.services.principals import participant_principal

    if store is None:
        with lab_store_of(args, db) as opened:
            return principal_of(args, db, clock, opened)
    email = getattr(args, "participant", None)
    if email is not None:
        return participant_principal(store, clock, email)
    from app.services.accounts import cli_principal

    return cli_principal(store, clock)


def cli_context(args: argparse.Namespace, clock: Clock) -> AppContext:
    """The context a command works in, its services acting for :func:`principal_of`."""
    from app.main import build_context

    ctx = build_context(db_path_of(args), clock, getattr(args, "actor", None),
                        lab_store_url=getattr(args, "lab_store_url", None))
    try:
        ctx.act_as(principal_of(args, ctx.db, clock, ctx.store))
    except BaseException:
        ctx.close()
        raise
    return ctx


def cli_principal_for(args: argparse.Namespace, clock: Clock,
                      store: LabStore | None = None) -> Principal:
    """:func:`principal_of` for a command that opens the database itself later (`store`: the
    lab store it has opened already, if any)."""
    from app.storage.db import open_database

    db = open_database(db_path_of(args))
    try:
        return principal_of(args, db, clock, store)
    finally:
        db.conn.close()


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
