"""One write transaction per change: `BEGIN IMMEDIATE` ... `COMMIT`, or nothing at all.

Why not `with conn:` or sqlite-utils' `Database.atomic()`: both start a *deferred* transaction
(Python's sqlite3 issues a plain `BEGIN` before the first INSERT/UPDATE; sqlite-utils issues
`BEGIN`). A deferred transaction reads without a lock, so two processes can both read "7 of 10
spaces held" and both write 3 more. Worse, in WAL mode a deferred reader that later tries to write
after another process committed gets SQLITE_BUSY at once, without waiting for the busy timeout.
`BEGIN IMMEDIATE` takes the database's single write lock before the first read (waiting up to the
connection's busy timeout, 10 s in :func:`app.storage.db.connect`), so the reads a rule check makes
and the writes that follow see one consistent state that no other writer can change in between.

Nesting: inside an open transaction, a further `write_transaction` becomes a SAVEPOINT, so a
repository method can be atomic on its own and also part of a service's larger transaction.
sqlite-utils' write methods (`insert`, `update`) nest the same way (they use savepoints when a
transaction is open), so they are safe inside; `with conn:` is not (it commits), so do not use it.
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from sqlite_utils import Database


@contextmanager
def write_transaction(db: Database | sqlite3.Connection) -> Iterator[Database | sqlite3.Connection]:
    """Run a block as one write transaction holding SQLite's write lock from its first statement.

    Commits when the block ends normally; rolls back everything it wrote when the block raises
    (the exception propagates). Inside an open transaction it uses a savepoint instead, so only the
    outermost block commits.

    Args:
        db: the sqlite-utils database (or its sqlite3 connection); the connection must use
            Python's default (legacy) transaction handling, as
            :func:`app.storage.db.open_database` makes it.

    Yields:
        `db`, for convenience.

    Raises:
        sqlite3.OperationalError: the write lock was not free within the busy timeout
            ("database is locked"), or the database cannot be written.
    """
    conn = db if isinstance(db, sqlite3.Connection) else db.conn
    if conn.in_transaction:
        with _savepoint(conn):
            yield db
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        # An error such as RAISE(ROLLBACK) in a trigger may already have ended the transaction;
        # rolling back again would raise and hide the original exception.
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    try:
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


@contextmanager
def _savepoint(conn: sqlite3.Connection) -> Iterator[None]:
    name = f"meterlab_{secrets.token_hex(8)}"
    conn.execute(f"SAVEPOINT {name}")
    try:
        yield
    except BaseException:
        if conn.in_transaction:
            conn.execute(f"ROLLBACK TO SAVEPOINT {name}")
            conn.execute(f"RELEASE SAVEPOINT {name}")
        raise
    conn.execute(f"RELEASE SAVEPOINT {name}")
