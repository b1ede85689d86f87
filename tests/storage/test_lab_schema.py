"""The lab store's Alembic history: the baseline on PostgreSQL, stamping SQLite files, refusals."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from app.storage import lab_schema
from app.storage.db import DatabaseError, DbErrorKind, open_database
from app.storage.labstore import upgrade_lab_store
from tests.storage.test_lab_store_tables import _differences, _sqlite_quirk

FIXTURES = Path(__file__).parent / "fixtures"


def _revision(url: str) -> str | None:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return lab_schema.current_revision(conn)
    finally:
        engine.dispose()


def test_the_newest_revision_is_the_one_the_code_names() -> None:
    assert lab_schema.head_revision() == lab_schema.HEAD
    assert lab_schema.known_revisions()[0] == lab_schema.BASELINE


def test_an_empty_server_database_gets_the_whole_lab_store(pg_cluster) -> None:
    pg_cluster.admin("CREATE DATABASE fresh_upgrade")
    url = pg_cluster.url("fresh_upgrade")
    try:
        assert upgrade_lab_store(url) == (None, lab_schema.HEAD)
        assert _differences(url) == []
        assert upgrade_lab_store(url) == (lab_schema.HEAD, lab_schema.HEAD)  # nothing to do
    finally:
        pg_cluster.admin("DROP DATABASE fresh_upgrade WITH (FORCE)")


def test_a_server_upgraded_by_a_newer_meterlab_is_refused(pg_url) -> None:
    engine = create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    engine.dispose()
    with pytest.raises(DatabaseError, match="9999_future, newer than this MeterLab") as err:
        upgrade_lab_store(pg_url)
    assert err.value.kind is DbErrorKind.NEWER_SCHEMA


def test_a_new_sqlite_file_is_stamped_at_the_baseline_then_upgraded(tmp_path) -> None:
    open_database(tmp_path / "a.db").conn.close()
    assert _revision(f"sqlite:///{tmp_path / 'a.db'}") == lab_schema.HEAD
    assert [d for d in _differences(f"sqlite:///{tmp_path / 'a.db'}")
            if not _sqlite_quirk(d)] == []


def test_runs_stored_before_the_workstation_revision_are_their_owners(tmp_path) -> None:
    copy = tmp_path / "m006.db"
    shutil.copy(FIXTURES / "schema_m006.db", copy)
    open_database(copy).conn.close()
    conn = sqlite3.connect(copy)
    try:
        assert conn.execute("SELECT owner_host, workstation FROM runs").fetchall() == [
            ("lab-pc-2", "lab-pc-2"), ("lab-pc-2", "lab-pc-2")]
    finally:
        conn.close()


def test_the_workstation_revision_on_a_server_keeps_its_runs(pg_cluster) -> None:
    from alembic import command

    pg_cluster.admin("CREATE DATABASE at_baseline")
    url = pg_cluster.url("at_baseline")
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            command.upgrade(lab_schema.alembic_config(conn), lab_schema.BASELINE)
            conn.execute(text("INSERT INTO runs (plan_name, bench, emulated, started, "
                              "owner_host, owner_pid) VALUES ('p', 'Bench 1', 0, "
                              "'2026-11-25T10:00:00+00:00', 'bench-pc-1', 42)"))
        assert upgrade_lab_store(url) == (lab_schema.BASELINE, lab_schema.HEAD)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT workstation FROM runs")).all() == [("bench-pc-1",)]
        assert _differences(url) == []
    finally:
        engine.dispose()
        pg_cluster.admin("DROP DATABASE at_baseline WITH (FORCE)")


@pytest.mark.parametrize("fixture", sorted(p.name for p in FIXTURES.glob("*.db")))
def test_released_sqlite_files_are_carried_over_to_alembic(tmp_path, fixture) -> None:
    copy = tmp_path / fixture
    shutil.copy(FIXTURES / fixture, copy)
    open_database(copy).conn.close()
    assert _revision(f"sqlite:///{copy}") == lab_schema.HEAD
    assert [d for d in _differences(f"sqlite:///{copy}") if not _sqlite_quirk(d)] == []


def test_a_sqlite_file_upgraded_by_a_newer_meterlab_is_refused_untouched(tmp_path) -> None:
    path = tmp_path / "a.db"
    open_database(path).conn.close()
    raw = sqlite3.connect(path)
    raw.execute("UPDATE alembic_version SET version_num = '9999_future'")
    raw.commit()
    raw.close()
    before = path.read_bytes()
    with pytest.raises(DatabaseError, match="revision 9999_future, newer") as err:
        open_database(path)
    assert err.value.kind is DbErrorKind.NEWER_SCHEMA
    assert path.read_bytes() == before

