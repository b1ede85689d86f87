"""Opening the MeterLab database: one SQLite file, WAL, foreign keys on, migrations applied."""

from __future__ import annotations

import os
import sqlite3
from enum import StrEnum
from pathlib import Path

import platformdirs
from sqlite_utils import Database

from app.storage import lab_schema
from app.storage.migrations import migrations

APP_NAME = "MeterLab"


def default_db_path() -> Path:
    """The database in the user's data directory (e.g. ~/.local/share/MeterLab/meterlab.db)."""
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)) / "meterlab.db"


def default_capture_dir() -> Path:
    """Where raw capture files go unless told otherwise."""
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)) / "captures"


def capture_dir_for(db_path: Path, db_given: bool) -> Path:
    """Captures go beside a database named with ``--db``, else into the user's data directory."""
    return Path(db_path).parent / "captures" if db_given else default_capture_dir()


def default_profile_dir() -> Path:
    """Where a lab keeps its own line profiles (searched before the shipped ones)."""
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)) / "profiles"


def default_plan_dir() -> Path:
    """Where a lab keeps its own test plans (a plan there overrides a shipped one of its name)."""
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)) / "plans"


#: How long a write waits for another program's lock before giving up.
BUSY_TIMEOUT_S = 10.0


class DbErrorKind(StrEnum):
    """Why the database cannot be used (each kind has its own advice)."""

    READ_ONLY = "read-only"
    LOCKED = "locked"
    CORRUPT = "corrupt"
    FULL = "full"
    NOT_A_DATABASE = "not a database"
    NEWER_SCHEMA = "newer schema"
    CANNOT_OPEN = "cannot open"
    UNREACHABLE = "unreachable"


class DatabaseError(RuntimeError):
    """The database file cannot be opened, upgraded or written; the message says why and what to do.

    Attributes:
        kind: which of the known reasons it is.
    """

    def __init__(self, message: str, kind: DbErrorKind = DbErrorKind.CANNOT_OPEN) -> None:
        super().__init__(message)
        self.kind = kind


def classify_sqlite_error(exc: BaseException, path: Path | str | None = None,
                          busy_timeout_s: float | None = None) -> DatabaseError:
    """Turn an sqlite3 error (at open or at any later write) into a one-sentence DatabaseError.

    SQLite reports these conditions only as message text, so the mapping is by message.
    """
    text = str(exc)
    low = text.lower()
    where = f"the database {path}" if path else "the database"
    wait = BUSY_TIMEOUT_S if busy_timeout_s is None else busy_timeout_s
    if "readonly" in low or "read-only" in low or (
            "unable to open" in low and path is not None and _is_read_only(Path(path))):
        return DatabaseError(
            f"Cannot write {where}: the file or its folder is read-only; give MeterLab write "
            f"access to both (or copy the file somewhere writable and use --db).",
            DbErrorKind.READ_ONLY)
    if "locked" in low or "busy" in low:
        return DatabaseError(
            f"Cannot write {where}: another program held it locked for more than {wait:g} s; "
            f"close other MeterLab windows or commands using it and try again.",
            DbErrorKind.LOCKED)
    if "malformed" in low or "corrupt" in low:
        return DatabaseError(
            f"Cannot use {where}: the file is damaged (database disk image is malformed); "
            f"restore it from a backup, or keep it aside for inspection and start a new one.",
            DbErrorKind.CORRUPT)
    if "full" in low or "no space" in low:
        return DatabaseError(
            f"Cannot write {where}: the disk is full; free some space and try again.",
            DbErrorKind.FULL)
    if "not a database" in low or "file is encrypted" in low:
        return DatabaseError(
            f"Cannot use {where}: the file is not an SQLite database; check the --db path.",
            DbErrorKind.NOT_A_DATABASE)
    return DatabaseError(
        f"Cannot use {where} ({text}); check that the path is a MeterLab database you may write.",
        DbErrorKind.CANNOT_OPEN)


def _is_read_only(path: Path) -> bool:
    """True when the file (or, for a new file, its folder) cannot be written."""
    target = path if path.exists() else path.parent
    # os.access reports read-only mounts too (EROFS), not only permission bits.
    return not os.access(target, os.W_OK) or (
        path.exists() and not os.access(path.parent, os.W_OK))


def connect(path: Path | str, *, check_same_thread: bool = True,
            busy_timeout_s: float | None = None) -> sqlite3.Connection:
    """A raw connection with MeterLab's pragmas (WAL, synchronous=NORMAL, foreign keys)."""
    wait = BUSY_TIMEOUT_S if busy_timeout_s is None else busy_timeout_s
    conn = sqlite3.connect(str(path), timeout=wait, check_same_thread=check_same_thread)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute(f"PRAGMA busy_timeout={int(wait * 1000)}")
    return conn


def open_database(path: Path | str, *, check_same_thread: bool = True) -> Database:
    """Open (creating if needed) and upgrade the database at `path`.

    Raises:
        DatabaseError: the file cannot be created, is not a database, or cannot be upgraded.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _refuse_newer_schema(path)
        db = Database(connect(path, check_same_thread=check_same_thread))
        migrations.apply(db)
        _bring_lab_store_to_head(db)
    except sqlite3.DatabaseError as exc:
        raise classify_sqlite_error(exc, path) from exc
    except OSError as exc:
        raise DatabaseError(
            f"Cannot create the database {path}: {exc.strerror or exc}; check the --db path.",
            DbErrorKind.CANNOT_OPEN) from exc
    return db


def _alembic_revision(conn: sqlite3.Connection) -> str | None:
    """The lab store's Alembic revision in the file, or None (never stamped)."""
    if not conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                        [lab_schema.VERSION_TABLE]).fetchone():
        return None
    row = conn.execute(f"SELECT version_num FROM {lab_schema.VERSION_TABLE}").fetchone()
    return row[0] if row else None


def _bring_lab_store_to_head(db: Database) -> None:
    """Stamp a file the sqlite-utils migrations just finished at the lab store's Alembic baseline,
    and apply the lab store's later Alembic revisions (see :mod:`app.storage.lab_schema`)."""
    revision = _alembic_revision(db.conn)
    if revision == lab_schema.HEAD:
        return  # the usual case: no Alembic at all
    from app.storage.labstore import lab_store

    with lab_store(db).transaction() as conn:
        if revision is None:
            lab_schema.stamp_baseline_if_new(conn)
        lab_schema.upgrade(conn)


def known_migrations() -> list[str]:
    """Names of the migrations this MeterLab knows, oldest first."""
    return [m.name for m in migrations.pending(Database(memory=True))]


def _refuse_newer_schema(path: Path) -> None:
    """Refuse a file upgraded by a newer MeterLab before anything is written to it.

    The check runs on a read-only connection: opening normally would switch the file to WAL and
    could apply migrations over a schema this version does not understand.
    """
    if not path.exists() or path.stat().st_size == 0:
        return
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S)
    try:
        has_table = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
            [migrations.migrations_table]).fetchone()
        if not has_table:
            return
        applied = [row[0] for row in conn.execute(
            f"SELECT name FROM [{migrations.migrations_table}] WHERE migration_set = ? "
            "ORDER BY rowid", [migrations.name])]
        revision = _alembic_revision(conn)
    finally:
        conn.close()
    try:
        lab_schema.check_not_newer(revision)
    except lab_schema.NewerSchemaError as exc:
        raise DatabaseError(
            f"The database {path} has lab store schema revision {exc.revision}, newer than this "
            f"MeterLab understands (up to {exc.head}); open it with the newer MeterLab that "
            f"wrote it.", DbErrorKind.NEWER_SCHEMA) from None
    known = known_migrations()
    unknown = [name for name in applied if name not in known]
    if unknown:
        raise DatabaseError(
            f"The database {path} has schema version {unknown[-1]}, newer than this MeterLab "
            f"understands (up to {known[-1]}); open it with the newer MeterLab that wrote it.",
            DbErrorKind.NEWER_SCHEMA)


def schema_version(db: Database) -> list[str]:
    """Names of the migrations applied, oldest first."""
    return [m.name for m in migrations.applied(db)]
