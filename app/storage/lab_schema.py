"""The lab store's schema history in Alembic, on PostgreSQL and on a workstation's SQLite file.

How the two histories meet:

- A SQLite file keeps its sqlite-utils migrations m001..m009 (``app/storage/migrations.py``), which
  build both stores. That list is closed: no sqlite-utils migration is added for the lab store.
- Alembic's first revision, the baseline (``0001_baseline``), is the lab store as m009 left it. A
  SQLite file brought up to m009 is *stamped* at the baseline (its ``alembic_version`` table names
  it; nothing else is written), and an empty PostgreSQL database is *upgraded* through it (the
  baseline creates the tables there).
- Every later change to the lab store is an Alembic revision that runs on both engines (SQLite in
  Alembic's batch mode), applied by :func:`app.storage.db.open_database` to a SQLite file and by
  ``meterlab lab-store upgrade`` to a server.
- A database whose revision this MeterLab does not know was upgraded by a newer one: it is refused
  rather than changed.

Alembic runs from code: the scripts are in ``app/storage/alembic`` and no alembic.ini is needed.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # Alembic is imported only when a schema changes (it slows every start)
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from sqlalchemy import Connection

SCRIPT_LOCATION = Path(__file__).with_name("alembic")
#: The revision that is the lab store as the sqlite-utils migrations m001..m009 built it.
BASELINE = "0001_baseline"
#: The newest revision (a test checks it is the scripts' head): a database at it needs no Alembic.
HEAD = "0003_run_workstation"
VERSION_TABLE = "alembic_version"


class NewerSchemaError(RuntimeError):
    """The database names a revision this MeterLab does not know (a newer one upgraded it)."""

    def __init__(self, revision: str, head: str) -> None:
        super().__init__(revision)
        self.revision = revision
        self.head = head


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration, built in code; `connection` is what env.py migrates."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@cache
def _scripts() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    """The newest revision this MeterLab knows."""
    head = _scripts().get_current_head()
    assert head is not None, "the lab store has no Alembic revisions"
    return head


def known_revisions() -> list[str]:
    """Every revision this MeterLab knows, oldest first."""
    return [s.revision for s in reversed(list(_scripts().walk_revisions()))]


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at, or None when Alembic has never touched it."""
    from alembic.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


def check_not_newer(revision: str | None) -> None:
    """Refuse a revision this MeterLab does not know.

    Raises:
        NewerSchemaError: `revision` is not one of :func:`known_revisions`.
    """
    if revision is not None and revision != HEAD and revision not in known_revisions():
        raise NewerSchemaError(revision, head_revision())


def upgrade(connection: Connection) -> tuple[str | None, str]:
    """Bring the lab store on `connection` to the newest revision, in the connection's open
    transaction (the caller commits).

    An empty database gets every table; a database at an older revision gets the later ones.

    Returns:
        The revision before (None: none) and after.

    Raises:
        NewerSchemaError: a newer MeterLab upgraded the database.
    """
    from alembic import command

    before = current_revision(connection)
    if before == HEAD:
        return before, HEAD  # nothing to do, and no scripts to load
    check_not_newer(before)
    command.upgrade(alembic_config(connection), "head")
    return before, head_revision()


def stamp_baseline_if_new(connection: Connection) -> bool:
    """Mark a SQLite file brought up to m009 by sqlite-utils as at the baseline revision.

    Writes only Alembic's version table (as Alembic itself creates it), so that opening a file
    needs no migration scripts; the tables are there already. Does nothing to a file that
    Alembic has touched before.

    Returns:
        True when the file was stamped now.
    """
    from sqlalchemy import Column, MetaData, PrimaryKeyConstraint, String, Table

    if current_revision(connection) is not None:
        return False
    version = Table(VERSION_TABLE, MetaData(), Column("version_num", String(32), nullable=False),
                    PrimaryKeyConstraint("version_num", name=f"{VERSION_TABLE}_pkc"))
    version.create(connection, checkfirst=True)
    connection.execute(version.insert().values(version_num=BASELINE))
    return True
