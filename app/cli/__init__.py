"""The `meterlab` command: the GUI by default, subcommands for scripting (JSON on stdout).

Exit codes: 0 success; 1 an unexpected failure (database unreadable); 2 bad input (one sentence
on stderr, nothing written); 3 refused by a lab rule; 4 a device did not answer or its data failed
its check; 9 storage failed: events or bytes could not be stored (database not writable, capture
disk full), the summary counts what was not stored.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

from app.domain.clock import Clock, FixedClock, SystemClock
from app.domain.errors import NotFoundError, ValidationError
from app.storage.db import DatabaseError, default_db_path

EXIT_OK, EXIT_FAILURE, EXIT_BAD_INPUT, EXIT_REFUSED, EXIT_NO_ANSWER = 0, 1, 2, 3, 4
#: Storage failed: events or bytes could not be stored (database not writable, capture disk full);
#: the summary counts what was not stored.
EXIT_STORAGE = 9


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


def build_parser() -> argparse.ArgumentParser:
    from app.cli import bench_cmds, bookings_cmds, device_cmds, evidence_cmds

    parser = _Parser(prog="meterlab", description="MeterLab: run a smart-metering test lab.")
    _global_options(parser, suppress=False)
    parser.add_argument("--screenshot", type=Path, metavar="FILE",
                        help="render the main window offscreen into a PNG and exit")
    parser.add_argument("--page", default="bookings",
                        help="page for --screenshot or to open first (bookings, devices, live, "
                             "runs, reports, induction)")
    parser.add_argument("--after", type=float, default=0.0, metavar="S",
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
    return parser


def parse_now(text: str | None) -> Clock:
    if text is None:
        return SystemClock()
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValidationError(
            "now", f"--now must be an ISO-8601 date and time with an offset, e.g. "
                   f"2026-11-25T09:00+00:00, not {text!r}."
        ) from None
    if moment.tzinfo is None:
        raise ValidationError("now", f"--now needs a UTC offset, e.g. {text}+00:00.")
    return FixedClock(moment)


def emit(value: Any) -> None:
    """Print a JSON value on stdout and flush (so output can be piped as it happens)."""
    sys.stdout.write(json.dumps(value, default=str) + "\n")
    sys.stdout.flush()


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
        clock = parse_now(args.now)
        if args.version:
            from app.about import versions

            emit(versions())
            return EXIT_OK
        if args.command is None:
            from app.gui_launch import launch_gui

            return launch_gui(args, clock)
        handler: Callable[[argparse.Namespace, Clock], int] = args.handler
        return handler(args, clock)
    except UsageError as exc:
        return fail(str(exc), EXIT_BAD_INPUT)
    except (ValidationError, NotFoundError) as exc:
        return fail(f"--{exc.field.replace('_', '-')}: {exc.message}", EXIT_BAD_INPUT)
    except DatabaseError as exc:
        return fail(f"--db: {exc}", EXIT_BAD_INPUT)
    except KeyboardInterrupt:
        return 130


def db_path_of(args: argparse.Namespace) -> Path:
    return Path(args.db) if getattr(args, "db", None) else default_db_path()


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
