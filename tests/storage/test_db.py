"""The database file: pragmas, migrations, fixture upgrades."""

import shutil
import sqlite3
from pathlib import Path

import pytest

from app.storage.db import DatabaseError, open_database, schema_version
from app.storage.migrations import migrations

FIXTURES = Path(__file__).parent / "fixtures"


def test_new_database_is_wal_with_foreign_keys(tmp_path) -> None:
    db = open_database(tmp_path / "a.db")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert schema_version(db) == [m.name for m in migrations._migrations]
    with pytest.raises(sqlite3.IntegrityError):
        db.execute("INSERT INTO benches (lab_id, number, name) VALUES (999, 1, 'x')")


def test_opening_twice_applies_nothing_new(tmp_path) -> None:
    open_database(tmp_path / "a.db").conn.close()
    db = open_database(tmp_path / "a.db")
    assert len(schema_version(db)) == len(migrations._migrations)


def test_not_a_database_is_a_clear_error(tmp_path) -> None:
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(DatabaseError, match="bad.db"):
        open_database(bad)


@pytest.mark.parametrize("fixture", sorted(p.name for p in FIXTURES.glob("*.db")))
def test_released_schema_fixtures_upgrade_and_keep_their_data(tmp_path, fixture) -> None:
    copy = tmp_path / fixture
    shutil.copy(FIXTURES / fixture, copy)
    raw = sqlite3.connect(copy)
    tables = [r[0] for r in raw.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "AND name != '_sqlite_migrations'")]
    before = {t: raw.execute(f"SELECT count(*) FROM [{t}]").fetchone()[0] for t in tables}
    raw.close()
    assert before["bookings"] > 0
    db = open_database(copy)
    assert schema_version(db) == [m.name for m in migrations._migrations]
    after = {t: db.execute(f"SELECT count(*) FROM [{t}]").fetchone()[0] for t in tables}
    assert after == before
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert db.execute("PRAGMA foreign_key_check").fetchall() == []
