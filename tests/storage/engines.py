"""The lab store's repositories under test on both engines: a SQLite file and PostgreSQL.

A test module imports :func:`engine` (a fixture parametrized over ``sqlite`` and ``postgresql``) and
gives its repositories ``engine.source``: the workstation's sqlite-utils Database on SQLite (as the
application does), a :class:`PostgresLabStore` on PostgreSQL (a fresh database from
``tests/pg.py``). The helpers read the database behind the repositories' back and make a real
trigger fail an insert, on either engine.
"""

from __future__ import annotations

import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy.exc
from sqlalchemy import create_engine, text

from app.storage.db import open_database
from app.storage.labstore import LabStore, PostgresLabStore


class Engine(ABC):
    """One engine's lab store for one test."""

    name: str
    #: What a statement that a trigger aborts raises through the repositories.
    integrity_error: type[BaseException]
    source: Any

    @abstractmethod
    def sql(self, statement: str, **params: Any) -> list[tuple]:
        """Run one statement in a transaction of its own; its rows (empty for a change)."""

    def count(self, table: str, where: str = "1 = 1") -> int:
        return self.sql(f"SELECT count(*) FROM {table} WHERE {where}")[0][0]

    @abstractmethod
    def fail_insert(self, table: str, condition: str, message: str = "injected failure") -> None:
        """Make an insert into `table` whose new row meets `condition` (SQL over NEW) fail."""

    @abstractmethod
    def idle(self) -> bool:
        """No transaction left open by the repositories."""

    @abstractmethod
    def second_workstation(self) -> AbstractContextManager[Any]:
        """Another workstation's view of the same lab store (a second connection)."""

    @abstractmethod
    def close(self) -> None:
        """Close what the test opened."""


class SqliteEngine(Engine):
    name = "sqlite"
    integrity_error = sqlite3.IntegrityError

    def __init__(self, path: Path) -> None:
        self.path = path
        self.source = open_database(path)

    def sql(self, statement: str, **params: Any) -> list[tuple]:
        rows = self.source.execute(statement, params).fetchall()
        if self.source.conn.in_transaction:
            self.source.conn.commit()
        return rows

    def fail_insert(self, table: str, condition: str, message: str = "injected failure") -> None:
        self.sql(f"CREATE TRIGGER fail_{table} BEFORE INSERT ON {table} WHEN {condition} "
                 f"BEGIN SELECT RAISE(ABORT, '{message}'); END")

    def idle(self) -> bool:
        return not self.source.conn.in_transaction

    @contextmanager
    def second_workstation(self) -> Iterator[Any]:
        other = open_database(self.path)
        try:
            yield other
        finally:
            other.conn.close()

    def close(self) -> None:
        self.source.conn.close()


class PostgresEngine(Engine):
    name = "postgresql"
    integrity_error = sqlalchemy.exc.IntegrityError

    def __init__(self, url: str) -> None:
        self.url = url
        self.source: LabStore = PostgresLabStore(url)
        self._raw = create_engine(url)

    def sql(self, statement: str, **params: Any) -> list[tuple]:
        with self._raw.begin() as conn:
            result = conn.execute(text(statement), params)
            return result.all() if result.returns_rows else []

    def fail_insert(self, table: str, condition: str, message: str = "injected failure") -> None:
        # integrity_constraint_violation, as a constraint of the server's own would report it.
        self.sql(f"CREATE FUNCTION fail_{table}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                 f"IF {condition} THEN RAISE EXCEPTION '{message}' USING ERRCODE = '23000'; "
                 f"END IF; RETURN NEW; END $$")
        self.sql(f"CREATE TRIGGER fail_{table} BEFORE INSERT ON {table} FOR EACH ROW "
                 f"EXECUTE FUNCTION fail_{table}()")

    def idle(self) -> bool:
        return getattr(self.source._local, "conn", None) is None

    @contextmanager
    def second_workstation(self) -> Iterator[Any]:
        other = PostgresLabStore(self.url)
        try:
            yield other
        finally:
            other.close()

    def close(self) -> None:
        self.source.close()
        self._raw.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """The lab store on a new SQLite file, then on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        under_test: Engine = SqliteEngine(tmp_path / "labstore.db")
    else:
        under_test = PostgresEngine(request.getfixturevalue("pg_url"))
    try:
        yield under_test
    finally:
        under_test.close()
