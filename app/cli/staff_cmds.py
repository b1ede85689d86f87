"""`meterlab staff add|list|passwd|disable`: staff accounts from the command line.

A password is read only from standard input (`--password-stdin`), never from an argument: an
argument stays in the shell's history and is visible to every user in the process list. The
command acts as the staff account mapped to the operating-system login; until the first account
exists, the workstation acts as admin.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from app.cli import EXIT_OK, db_path_of, emit
from app.domain.clock import Clock
from app.domain.errors import ValidationError
from app.domain.principals import Principal
from app.services.accounts import MAX_PASSWORD_CHARS, AccountService, check_password, cli_principal
from app.storage.db import open_database

#: Bytes read from standard input at most: enough for the longest password in any UTF-8, so a
#: longer input is refused as too long without reading it all.
_MAX_STDIN_BYTES = MAX_PASSWORD_CHARS * 4 + 2


def read_password(args: argparse.Namespace) -> str:
    """The password from standard input (one line; its line ending is not part of it).

    From a terminal it is asked for without echo.

    Raises:
        ValidationError: field "password" when it was given as an argument; "password_stdin"
            when it was not asked for or is empty, too long, not UTF-8 or holds control
            characters.
    """
    if getattr(args, "password_argv", None) is not None:
        raise ValidationError("password", "Passwords are never taken as arguments (they would stay "
                                          "in the shell history and the process list); pipe it "
                                          "in with --password-stdin.")
    if not args.password_stdin:
        raise ValidationError("password_stdin", "The password is read only from standard "
                                                "input: add --password-stdin and pipe it in.")
    stream = sys.stdin
    if stream is None:
        raise ValidationError("password_stdin", "Standard input is closed; pipe the password in.")
    if stream.isatty():
        text = getpass.getpass("Password: ")
    else:
        data = stream.buffer.read(_MAX_STDIN_BYTES + 1)
        if len(data) > _MAX_STDIN_BYTES:
            raise ValidationError("password_stdin", f"The password must be at most "
                                                    f"{MAX_PASSWORD_CHARS} characters.")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise ValidationError("password_stdin", "The password on standard input is not "
                                                    "valid UTF-8 text.") from None
    for ending in ("\r\n", "\n"):
        if text.endswith(ending):
            text = text[: -len(ending)]
            break
    try:
        return check_password(text)
    except ValidationError as exc:
        raise ValidationError("password_stdin", exc.message) from None


@contextmanager
def _accounts(args: argparse.Namespace, clock: Clock) -> Iterator[tuple[AccountService, Principal]]:
    """The account service on the lab store (the --db file's, or the --lab-store server's), and
    who the command acts as."""
    url = getattr(args, "lab_store_url", None)
    if url is not None:
        from app.storage.labstore import open_lab_store

        store = open_lab_store(url)
        try:
            yield AccountService(store, clock), cli_principal(store, clock, os_login=_os_login())
        finally:
            store.close()
        return
    db = open_database(db_path_of(args))
    try:
        yield AccountService(db, clock), cli_principal(db, clock, os_login=_os_login())
    finally:
        db.conn.close()


def _os_login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


def staff_add(args: argparse.Namespace, clock: Clock) -> int:
    password = read_password(args)  # refused before the database is opened: nothing written
    with _accounts(args, clock) as (service, principal):
        emit(service.add(principal, args.name, args.role, password, login=args.login).to_dict())
    return EXIT_OK


def staff_list(args: argparse.Namespace, clock: Clock) -> int:
    with _accounts(args, clock) as (service, principal):
        emit([account.to_dict() for account in service.list(principal)])
    return EXIT_OK


def staff_passwd(args: argparse.Namespace, clock: Clock) -> int:
    password = read_password(args)
    with _accounts(args, clock) as (service, principal):
        service.set_password(principal, args.name, password)
        emit({"name": service.get(principal, args.name).name, "password_changed": True})
    return EXIT_OK


def staff_disable(args: argparse.Namespace, clock: Clock) -> int:
    with _accounts(args, clock) as (service, principal):
        emit(service.disable(principal, args.name).to_dict())
    return EXIT_OK


def _password_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--password-stdin", dest="password_stdin", action="store_true",
                   help="read the password from standard input (one line); it is never taken "
                        "as an argument")
    # Declared only so that `--password SECRET` is refused without repeating SECRET: otherwise
    # argparse would read it as `--password-stdin` and print SECRET as an unknown argument.
    p.add_argument("--password", dest="password_argv", metavar="X", help=argparse.SUPPRESS)


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    staff = sub.add_parser(
        "staff", help="staff accounts (admins; the first account may be added by anyone and "
                      "must be an admin)").add_subparsers(
        dest="staff_cmd", required=True, metavar="ACTION")
    p = staff.add_parser("add", parents=[common],
                         help="add a staff account, the password piped in (JSON)")
    p.add_argument("--name", required=True, help="the account's name (unique, ignoring case)")
    p.add_argument("--role", required=True, choices=["admin", "staff"],
                   help="admin: everything; staff: bookings, devices, runs, inductions")
    p.add_argument("--login", default=None, metavar="OS_LOGIN",
                   help="the operating-system login the command line maps to this account")
    _password_options(p)
    p.set_defaults(handler=staff_add)
    p = staff.add_parser("list", parents=[common], help="the staff accounts (JSON)")
    p.set_defaults(handler=staff_list)
    p = staff.add_parser("passwd", parents=[common],
                         help="set an account's password, piped in (admins; staff their own)")
    p.add_argument("name", metavar="NAME", help="the account's name")
    _password_options(p)
    p.set_defaults(handler=staff_passwd)
    p = staff.add_parser("disable", parents=[common],
                         help="disable an account: it can no longer sign in or use the command line")
    p.add_argument("name", metavar="NAME", help="the account's name")
    p.set_defaults(handler=staff_disable)
