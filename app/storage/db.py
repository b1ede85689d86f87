"""Opening the MeterLab database: one SQLite file, WAL, foreign keys on, migrations applied."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import platformdirs
from sqlite_utils import Database

from app.storage.migrations import migrations

APP_NAME = "MeterLab"


def default_db_path() -> Path:
    """The database in the user's data directory (e.g. ~/.local/share/MeterLab/meterlab.db)."""
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)) / "meterlab.db"


def default_capture_dir() -> Path:
    """Where raw capture files go unless told otherwise."""
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)) / "captures"


def default_profile_dir() -> Path:
    """Where a lab keeps its own line profiles (searched before the shipped ones)."""
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)) / "profiles"


class DatabaseError(RuntimeError):
    """The database file cannot be opened or upgraded; the message says why."""


def connect(path: Path | str, *, check_same_thread: bool = True) -> sqlite3.Connection:
    """A raw connection with MeterLab's pragmas (WAL, synchronous=NORMAL, foreign keys)."""
    conn = sqlite3.connect(str(path), timeout=10.0, check_same_thread=check_same_thread)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=10000")
    return conn


def open_database(path: Path | str, *, check_same_thread: bool = True) -> Database:
    """Open (creating if needed) and upgrade the database at `path`.

    Raises:
        DatabaseError: the file cannot be created, is not a database, or cannot be upgraded.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = Database(connect(path, check_same_thread=check_same_thread))
        migrations.apply(db)
    except sqlite3.DatabaseError as exc:
        raise DatabaseError(f"Cannot open database {path}: {exc}.") from exc
    except OSError as exc:
        raise DatabaseError(f"Cannot create database {path}: {exc.strerror or exc}.") from exc
    return db


def schema_version(db: Database) -> list[str]:
    """Names of the migrations applied, oldest first."""
    return [m.name for m in migrations.applied(db)]
