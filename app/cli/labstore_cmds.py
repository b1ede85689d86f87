"""`meterlab lab-store upgrade`: create or upgrade the lab store's schema on a PostgreSQL server.

The server's URL comes from ``--lab-store`` or the MELAB_LAB_STORE environment variable, in libpq's
form (``postgresql://user@host[:port]/database``; ``?host=/run/postgresql`` for a Unix socket). A
password is never given in ``--lab-store`` (process lists show the command line to every user):
libpq's PGPASSWORD, ~/.pgpass or PGPASSFILE supply it.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from app.cli import EXIT_OK, EXIT_STORAGE, emit, fail, lab_store_url
from app.domain.clock import Clock
from app.domain.errors import ValidationError
from app.storage.labstore import LAB_STORE_ENV

if TYPE_CHECKING:
    from sqlalchemy.engine import URL


def _lab_store_url(args: argparse.Namespace) -> URL:
    """The lab store's URL, checked, from `--lab-store` or the environment.

    Raises:
        ValidationError: none given, a password in `--lab-store`, or not a PostgreSQL URL.
    """
    url = lab_store_url(args)
    if url is None:
        raise ValidationError("lab_store", f"Give the PostgreSQL database to upgrade, e.g. "
                                           f"postgresql://meterlab@dbhost/meterlab (or set "
                                           f"{LAB_STORE_ENV}).")
    return url


def lab_store_upgrade(args: argparse.Namespace, clock: Clock) -> int:
    del clock  # a schema change does not depend on the time
    url = _lab_store_url(args)
    from sqlalchemy.exc import DBAPIError

    from app.storage.db import DatabaseError
    from app.storage.labstore import upgrade_lab_store

    try:
        before, after = upgrade_lab_store(url)
    except DatabaseError as exc:
        return fail(f"--lab-store: {exc}", EXIT_STORAGE)
    except DBAPIError as exc:  # e.g. the role may not create tables there
        reason = (str(exc.orig).strip().splitlines() or [type(exc.orig).__name__])[0]
        return fail(f"--lab-store: the server refused the upgrade: {reason}.", EXIT_STORAGE)
    emit({"lab_store": url.render_as_string(hide_password=True).replace(
              "postgresql+psycopg://", "postgresql://", 1),
          "from": before, "to": after, "upgraded": before != after})
    return EXIT_OK


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add `meterlab lab-store upgrade`."""
    store = sub.add_parser(
        "lab-store", help="the lab store shared by a lab's workstations on a PostgreSQL server",
    ).add_subparsers(dest="lab_store_cmd", required=True, metavar="ACTION")
    p = store.add_parser(
        "upgrade",
        help="create or upgrade the lab store's tables on a PostgreSQL database (JSON: the "
             "schema revision before and after)",
        description="Create the lab store's tables in an empty PostgreSQL database, or bring an "
                    "existing one to this MeterLab's schema, in one transaction. Run it once per "
                    "MeterLab version, before the workstations use the new version. A password "
                    "comes from ~/.pgpass, PGPASSFILE or PGPASSWORD, never from the command line.",
        epilog="example:\n  meterlab lab-store upgrade --lab-store postgresql://meterlab@dbhost/meterlab",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lab-store", metavar="URL", default=argparse.SUPPRESS,
                   help=f"postgresql://user@host[:port]/database (default: ${LAB_STORE_ENV})")
    p.set_defaults(handler=lab_store_upgrade)
