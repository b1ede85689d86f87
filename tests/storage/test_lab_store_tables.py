"""The lab store's table definitions mirror the schema the SQLite migrations build."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine
from sqlalchemy.types import Float

from app.storage.db import open_database
from app.storage.tables import LAB_STORE_TABLES, metadata

#: The bench store: local to a workstation, high rate, staying in its SQLite file.
BENCH_STORE_TABLES = {"events", "capture_sessions", "outages", "alert_acks", "lab_devices"}
#: Bookkeeping of the two migration tools.
MIGRATION_TABLES = {"_sqlite_migrations", "alembic_version"}


def _same_float_family(context, inspected_column, metadata_column, inspected_type,
                       metadata_type) -> bool | None:
    # sqlite-utils declared floats as REAL (SQLite's only floating-point type, 8 bytes); the
    # definitions say DOUBLE PRECISION so that PostgreSQL keeps the same precision.
    if isinstance(inspected_type, Float) and isinstance(metadata_type, Float):
        return False
    return None


def _differences(url: str) -> list:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={
                "compare_type": _same_float_family, "compare_server_default": True,
                "include_name": lambda name, kind, parent: not (
                    kind == "table" and name in BENCH_STORE_TABLES | MIGRATION_TABLES)})
            return compare_metadata(context, metadata)
    finally:
        engine.dispose()


def _sqlite_quirk(diff) -> bool:
    """SQLite reports an INTEGER PRIMARY KEY (the rowid) as nullable, and lets a column of a
    composite primary key hold NULL; neither is a difference in what MeterLab stores."""
    if not isinstance(diff, list) or len(diff) != 1 or diff[0][0] != "modify_nullable":
        return False
    _, _, table, column, *_ = diff[0]
    return column == "id" or (table, column) == ("run_evidence", "path")


def test_every_table_of_the_sqlite_file_is_in_one_store(tmp_path) -> None:
    db = open_database(tmp_path / "a.db")
    tables = set(db.table_names())
    db.conn.close()
    assert tables - MIGRATION_TABLES == set(LAB_STORE_TABLES) | BENCH_STORE_TABLES
    assert not set(LAB_STORE_TABLES) & BENCH_STORE_TABLES


def test_the_definitions_match_a_new_sqlite_file(tmp_path) -> None:
    open_database(tmp_path / "a.db").conn.close()
    differences = [d for d in _differences(f"sqlite:///{tmp_path / 'a.db'}")
                   if not _sqlite_quirk(d)]
    assert differences == []
