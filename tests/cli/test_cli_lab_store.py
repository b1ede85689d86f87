"""`meterlab lab-store upgrade` against a real PostgreSQL server."""

from __future__ import annotations

import json

import pytest

from app.cli import main
from app.storage import lab_schema


def _libpq_url(cluster, database: str) -> str:
    """The URL as a lab would write it (libpq's scheme, no driver)."""
    return cluster.url(database).replace("postgresql+psycopg://", "postgresql://")


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_upgrade_creates_the_lab_store_once(pg_cluster, capsys) -> None:
    pg_cluster.admin("CREATE DATABASE cli_upgrade")
    url = _libpq_url(pg_cluster, "cli_upgrade")
    try:
        code, out, err = run(capsys, "lab-store", "upgrade", "--lab-store", url)
        assert (code, err) == (0, "")
        result = json.loads(out)
        assert result.pop("lab_store").startswith("postgresql://meterlab@/cli_upgrade?")
        assert result == {"from": None, "to": lab_schema.HEAD, "upgraded": True}
        code, out, _ = run(capsys, "lab-store", "upgrade", "--lab-store", url)
        assert code == 0 and json.loads(out)["upgraded"] is False
    finally:
        pg_cluster.admin("DROP DATABASE cli_upgrade WITH (FORCE)")


def test_the_url_may_come_from_the_environment(pg_url, capsys, monkeypatch) -> None:
    monkeypatch.setenv("MELAB_LAB_STORE", pg_url)
    code, out, _ = run(capsys, "lab-store", "upgrade")
    assert code == 0 and json.loads(out)["from"] == lab_schema.HEAD


@pytest.mark.parametrize(("url", "says"), [
    ("postgresql://meterlab:secret@dbhost/meterlab", "Leave the password out"),
    ("mysql://meterlab@dbhost/meterlab", "not mysql://"),
    ("postgresql://meterlab@dbhost", "names no database"),
    ("not a url", "Expected a URL like"),
    ("postgresql://meterlab@dbhost:99999999999/meterlab", "port must be from 1 to 65535"),
    ("postgresql://meterlab@dbhost:0/meterlab", "port must be from 1 to 65535"),
    ("postgresql://meterlab@dbhost:abc/meterlab", "Expected a URL like"),
    ("postgresql://meterlab@dbhost/meter\x07lab", "control characters (found U+0007)"),
    ("", "Give the PostgreSQL database"),
])
def test_a_bad_url_is_one_sentence_and_exit_2(capsys, monkeypatch, url, says) -> None:
    monkeypatch.delenv("MELAB_LAB_STORE", raising=False)
    code, out, err = run(capsys, "lab-store", "upgrade", "--lab-store", url)
    assert code == 2 and out == ""
    assert err.startswith("meterlab: --lab-store: ") and says in err and err.count("\n") == 1, err
    assert "secret" not in err


def test_a_server_that_does_not_answer_is_a_storage_error(tmp_path, capsys) -> None:
    url = f"postgresql://meterlab@/meterlab?host={tmp_path}&port=5432"  # no server there
    code, out, err = run(capsys, "lab-store", "upgrade", "--lab-store", url)
    assert code == 9 and out == ""
    assert err.startswith("meterlab: --lab-store: lab store unreachable: ") and err.count("\n") == 1
