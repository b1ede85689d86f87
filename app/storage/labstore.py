"""The lab store's connection: SQLAlchemy Core over a workstation's SQLite file or PostgreSQL.

Repositories of the lab store take a :class:`LabStore` (or the sqlite-utils ``Database`` they always
took, which :func:`lab_store` turns into one) and run every statement through it:

- ``with store.transaction() as conn:`` for a change: one transaction, committed when the block
  ends and rolled back when it raises; inside another such block it is a savepoint, so a
  repository method is atomic on its own and also part of a service's larger transaction.
- ``with store.reading() as conn:`` for a read: inside a transaction of this thread it reads there
  (and sees what the transaction wrote), otherwise it reads the committed state.

On SQLite the store shares the sqlite3 connection of the workstation's ``Database`` (no second
connection): SQLAlchemy executes on it but never commits or rolls it back; transactions are
:func:`app.storage.transactions.write_transaction`'s ``BEGIN IMMEDIATE``, exactly as for the rest
of the file, so a booking, its day rows, its audit row and anything else the same transaction
writes through sqlite-utils are committed together. A failing statement raises the sqlite3 error
itself, as it always did.

On PostgreSQL the store has an engine of its own (psycopg 3). A server that cannot be reached is a
:class:`LabStoreError` (a :class:`~app.storage.db.DatabaseError`) saying "lab store
unreachable: ...". :func:`open_lab_store` opens it for a workstation, checking its schema.
"""

from __future__ import annotations

import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, InterfaceError, OperationalError
from sqlalchemy.pool import StaticPool
from sqlite_utils import Database

from app.storage.db import DatabaseError, DbErrorKind
from app.storage.transactions import write_transaction

#: Seconds a connection to the server may take before the lab store counts as unreachable.
CONNECT_TIMEOUT_S = 5
#: Where the lab store is when no ``--lab-store`` is given (else: the workstation's SQLite file).
LAB_STORE_ENV = "MELAB_LAB_STORE"


class LabStore(ABC):
    """The lab store of one workstation: an engine and the transaction of each thread. Each
    engine's store says how a write transaction is opened (:meth:`transaction`)."""

    def __init__(self, engine: Engine, reader: Engine | None = None) -> None:
        self.engine = engine
        #: The engine reads outside a transaction take their connection from (the same pool).
        self._reader = reader or engine
        self._local = threading.local()

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self.engine.dialect.name

    @abstractmethod
    def transaction(self) -> AbstractContextManager[Connection]:
        """One write transaction (a savepoint when one is open on this thread)."""

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A connection to read from: this thread's open transaction, or the connection its
        reads share (:meth:`reads_together`), else a fresh one."""
        current = getattr(self._local, "conn", None) or getattr(self._local, "reads", None)
        if current is not None:
            yield current
            return
        with self._translated(), self._reader.connect() as conn:
            yield conn

    @contextmanager
    def reads_together(self) -> Iterator[None]:
        """Let the reads of one use case (a booking check reads four tables) share one
        connection: on a server each connection taken from the pool costs a ping and a
        rollback. Writes still take their own transaction."""
        if getattr(self._local, "conn", None) is not None or \
                getattr(self._local, "reads", None) is not None:
            yield
            return
        with self._translated(), self._reader.connect() as conn:
            self._local.reads = conn
            try:
                yield
            finally:
                self._local.reads = None

    @contextmanager
    def _translated(self) -> Iterator[None]:
        yield

    def close(self) -> None:
        """Give back the engine's connections (the SQLite file's connection stays its owner's)."""
        self.engine.dispose()


class _SharedSqliteConnection:
    """The workstation's sqlite3 connection as SQLAlchemy sees it: SQLAlchemy may execute on it
    but neither commit, roll back nor close it (the transactions and the connection belong to
    :func:`write_transaction` and the sqlite-utils Database)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def commit(self) -> None:
        pass

    def rollback(self) -> None:
        pass

    def close(self) -> None:
        pass

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db.conn, name)


class SqliteLabStore(LabStore):
    """The lab store in the workstation's SQLite file, on the file's one connection."""

    def __init__(self, db: Database) -> None:
        self.db = db
        shared = _SharedSqliteConnection(db)
        super().__init__(create_engine(
            "sqlite://", creator=lambda: shared, poolclass=StaticPool,
            pool_reset_on_return=None))

    @property
    def conn(self) -> sqlite3.Connection:
        """The Database's sqlite3 connection."""
        return self.db.conn

    @contextmanager
    def reads_together(self) -> Iterator[None]:
        """Reads already share the file's one connection: nothing to hold."""
        yield

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        with self._translated(), write_transaction(self.conn):
            outer = getattr(self._local, "conn", None)
            if outer is not None:
                yield outer
                return
            with self.engine.connect() as conn:
                self._local.conn = conn
                try:
                    yield conn
                finally:
                    self._local.conn = None

    @contextmanager
    def _translated(self) -> Iterator[None]:
        # The sqlite3 error itself, as every caller (and the CLI's exit codes) always knew it.
        try:
            yield
        except DBAPIError as exc:
            if isinstance(exc.orig, sqlite3.Error):
                raise exc.orig from None
            raise


class PostgresLabStore(LabStore):
    """The lab store on a PostgreSQL server shared by the lab's workstations."""

    def __init__(self, url: str | URL) -> None:
        parsed = postgres_url(url)
        # A server that does not answer is a sentence within seconds, not a window that hangs.
        options = {} if "connect_timeout" in parsed.query else {
            "connect_timeout": CONNECT_TIMEOUT_S}
        engine = create_engine(parsed, pool_pre_ping=True, connect_args=options)
        # A read outside a transaction runs in autocommit: no BEGIN before it and no ROLLBACK
        # when its connection goes back to the pool, two round trips of a booking check's five.
        # What must be read consistently is read inside a transaction (a booking request's
        # check runs in its write transaction, with the lab's row locked).
        super().__init__(engine, engine.execution_options(isolation_level="AUTOCOMMIT"))

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        outer = getattr(self._local, "conn", None)
        with self._translated():
            if outer is not None:
                with outer.begin_nested():
                    yield outer
                return
            with self.engine.begin() as conn:
                self._local.conn = conn
                try:
                    yield conn
                finally:
                    self._local.conn = None

    @contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            yield
        except (OperationalError, InterfaceError) as exc:
            if exc.connection_invalidated or _is_connection_error(exc):
                raise LabStoreError(f"lab store unreachable: {_first_line(exc.orig)}",
                                    DbErrorKind.UNREACHABLE) from exc
            raise


class LabStoreError(DatabaseError):
    """The lab store on its server cannot be used (unreachable, no or another schema); the
    message says why and what to do. A :class:`DatabaseError` of the ``--lab-store``, not the
    workstation's file."""


def open_lab_store(url: str | URL) -> PostgresLabStore:
    """The lab store on a PostgreSQL server, checked: it answers and has this MeterLab's schema.

    Nothing is written: an empty or older database is refused, not upgraded (that is
    ``meterlab lab-store upgrade``'s job, done once for the lab, not by every workstation).

    Raises:
        ValueError: `url` is not a PostgreSQL database URL.
        LabStoreError: the server does not answer, or the database has no, an older or a newer
            schema.
    """
    from app.storage import lab_schema

    store = PostgresLabStore(url)
    try:
        with store.reading() as conn:
            revision = lab_schema.current_revision(conn)
        if revision is None:
            raise LabStoreError(
                "the lab store's database has no MeterLab tables yet; create them with "
                "`meterlab lab-store upgrade`.", DbErrorKind.CANNOT_OPEN)
        if revision != lab_schema.HEAD:
            try:
                lab_schema.check_not_newer(revision)
            except lab_schema.NewerSchemaError as exc:
                raise LabStoreError(
                    f"The lab store has schema revision {exc.revision}, newer than this "
                    f"MeterLab understands (up to {exc.head}); upgrade MeterLab on this "
                    f"workstation.", DbErrorKind.NEWER_SCHEMA) from None
            raise LabStoreError(
                f"the lab store has schema revision {revision}, older than this MeterLab's "
                f"{lab_schema.HEAD}; upgrade it once with `meterlab lab-store upgrade`.",
                DbErrorKind.CANNOT_OPEN)
    except BaseException:
        store.close()
        raise
    return store


def _is_connection_error(exc: DBAPIError) -> bool:
    import psycopg

    return isinstance(exc.orig, psycopg.OperationalError) and (
        exc.orig.sqlstate is None or exc.orig.sqlstate.startswith("08"))


def _first_line(exc: BaseException | None) -> str:
    return (str(exc).strip().splitlines() or ["no answer"])[0]


def postgres_url(url: str | URL) -> URL:
    """`url` (``postgresql://user@host/db``, libpq's form) as SQLAlchemy's psycopg 3 URL.

    A password is taken from the environment or a password file the libpq way (PGPASSWORD,
    ~/.pgpass, PGPASSFILE) when the URL has none.

    Raises:
        ValueError: not a PostgreSQL URL, no database named, or a port outside 1-65535.
    """
    try:
        parsed = make_url(url) if isinstance(url, str) else url
    except (ArgumentError, ValueError) as exc:
        raise ValueError(f"not a database URL ({exc})") from exc
    if parsed.port is not None and not 1 <= parsed.port <= 65535:
        raise ValueError(f"the port must be from 1 to 65535, not {parsed.port}")
    if parsed.get_backend_name() not in ("postgresql", "postgres"):
        raise ValueError(f"expected a postgresql:// URL, not {parsed.drivername}://")
    if not parsed.database:
        raise ValueError("the URL names no database (postgresql://user@host/DATABASE)")
    return parsed.set(drivername="postgresql+psycopg")


def lab_store_key(url: str | URL) -> str:
    """What names a lab store for the workstation's bench store: its server (host name, or the
    socket folder) and port, and its database; not the role connecting, which may differ from
    one workstation to the next. Known without asking the server, so that it serves while the
    server does not answer.

    Raises:
        ValueError: `url` is not a PostgreSQL database URL.
    """
    parsed = postgres_url(url)
    host = parsed.host or str(parsed.query.get("host") or "")
    if not host.startswith("/"):
        host = host.lower()  # host names ignore case; socket folders do not
    port = parsed.port or str(parsed.query.get("port") or "") or "5432"
    return f"postgresql://{host}:{port}/{parsed.database}"


#: The attribute of a sqlite-utils Database that holds its lab store (made on first use).
_STORE_ATTRIBUTE = "_meterlab_lab_store"


def lab_store(source: LabStore | Database) -> LabStore:
    """The lab store of `source`: itself, or the one sharing a workstation Database's connection
    (made once per Database, and kept with it: it lives and goes with the Database)."""
    if isinstance(source, LabStore):
        return source
    store = getattr(source, _STORE_ATTRIBUTE, None)
    if store is None:
        store = SqliteLabStore(source)
        setattr(source, _STORE_ATTRIBUTE, store)
    return store


def upgrade_lab_store(url: str | URL) -> tuple[str | None, str]:
    """Create or upgrade the lab store's schema on a PostgreSQL server, in one transaction.

    Returns:
        The revision before (None: an empty database) and after.

    Raises:
        ValueError: `url` is not a PostgreSQL database URL.
        DatabaseError: the server cannot be reached, or a newer MeterLab upgraded the database.
    """
    from app.storage import lab_schema

    store = PostgresLabStore(url)
    try:
        with store.transaction() as conn:
            return lab_schema.upgrade(conn)
    except lab_schema.NewerSchemaError as exc:
        raise LabStoreError(
            f"The lab store has schema revision {exc.revision}, newer than this MeterLab "
            f"understands (up to {exc.head}); upgrade MeterLab on this workstation.",
            DbErrorKind.NEWER_SCHEMA) from None
    finally:
        store.close()
