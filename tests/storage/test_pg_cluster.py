"""The throwaway PostgreSQL cluster the lab store's tests run on."""

from __future__ import annotations

import os

import psycopg
import pytest
from sqlalchemy.engine import make_url


def _connect(url: str) -> psycopg.Connection:
    parsed = make_url(url)
    return psycopg.connect(host=parsed.query["host"], port=int(parsed.query["port"]),
                           user=parsed.username, dbname=parsed.database, autocommit=True)


def test_the_server_runs_unprivileged_on_a_private_socket_without_fsync(pg_url) -> None:
    with _connect(pg_url) as conn:
        assert conn.execute("SHOW fsync").fetchone()[0] == "off"
        assert conn.execute("SHOW listen_addresses").fetchone()[0] == ""
        socket_dir = conn.execute("SHOW unix_socket_directories").fetchone()[0]
        assert socket_dir.startswith(os.path.realpath(os.environ.get("TMPDIR", "/tmp")))
        pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
    assert os.stat(f"/proc/{pid}").st_uid != 0


@pytest.mark.parametrize("attempt", [1, 2])
def test_each_test_gets_a_database_of_its_own(pg_url, attempt) -> None:
    with _connect(pg_url) as conn:
        conn.execute("CREATE TABLE scratch (n integer)")  # fails if a test left it behind
        conn.execute("INSERT INTO scratch VALUES (%s)", [attempt])
        assert conn.execute("SELECT count(*) FROM scratch").fetchone()[0] == 1
