"""write_transaction on a real SQLite file: commit, rollback, nesting, and the write lock."""

from __future__ import annotations

import sqlite3

import pytest

from app.storage.db import connect, open_database
from app.storage.transactions import write_transaction


@pytest.fixture
def db(tmp_path):
    database = open_database(tmp_path / "t.db")
    database.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL)")
    yield database
    database.conn.close()


def texts(db) -> list[str]:
    return [r[0] for r in db.execute("SELECT text FROM notes ORDER BY id").fetchall()]


def test_commits_everything_at_the_end(db, tmp_path) -> None:
    with write_transaction(db):
        db["notes"].insert({"text": "a"})  # sqlite-utils nests in a savepoint, no early commit
        db.conn.execute("INSERT INTO notes (text) VALUES ('b')")
        other = connect(tmp_path / "t.db")
        assert other.execute("SELECT count(*) FROM notes").fetchone()[0] == 0  # not yet visible
        other.close()
    assert not db.conn.in_transaction
    assert texts(db) == ["a", "b"]


def test_an_exception_leaves_nothing_written(db) -> None:
    with pytest.raises(RuntimeError, match="half-way"), write_transaction(db):
        db["notes"].insert({"text": "a"})
        raise RuntimeError("half-way")
    assert texts(db) == [] and not db.conn.in_transaction


def test_nested_block_is_a_savepoint(db) -> None:
    with write_transaction(db):
        db["notes"].insert({"text": "outer"})
        with pytest.raises(ValueError), write_transaction(db):
            db["notes"].insert({"text": "inner"})
            raise ValueError("inner fails")
        with write_transaction(db):
            db["notes"].insert({"text": "inner ok"})
        assert db.conn.in_transaction  # only the outermost block commits
    assert texts(db) == ["outer", "inner ok"]


def test_trigger_raising_rollback_keeps_the_original_error(db) -> None:
    db.execute("CREATE TRIGGER no_x BEFORE INSERT ON notes WHEN NEW.text = 'x' "
               "BEGIN SELECT RAISE(ROLLBACK, 'x refused'); END")
    with pytest.raises(sqlite3.IntegrityError, match="x refused"), write_transaction(db):
        db.conn.execute("INSERT INTO notes (text) VALUES ('a')")
        db.conn.execute("INSERT INTO notes (text) VALUES ('x')")
    assert texts(db) == [] and not db.conn.in_transaction


def test_holds_the_write_lock_from_its_first_statement(db, tmp_path) -> None:
    other = sqlite3.connect(tmp_path / "t.db", timeout=0.1)
    try:
        with write_transaction(db):
            # Nothing written yet, but a second writer cannot start: reads made here stay true
            # until the commit.
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
            # Readers are not blocked (WAL).
            assert other.execute("SELECT count(*) FROM notes").fetchone()[0] == 0
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
    finally:
        other.close()
