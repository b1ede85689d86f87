"""`meterlab staff`: the password only from standard input, never printed, logged or stored."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import TextIO

import pytest

from app.cli import EXIT_BAD_INPUT, EXIT_OK, EXIT_REFUSED, main
from app.domain.clock import FixedClock
from app.domain.parsing import parse_now
from app.services.accounts import AccountService
from app.storage.db import open_database
from tests.cli.helpers import dump

NOW = "2026-11-25T10:00+00:00"
EXE = Path(sys.executable).with_name("meterlab")
ADA_PASSWORD = "ada's Pässword 1"


def piped(data: bytes) -> TextIO:
    """A real pipe holding `data`, closed for writing (as `printf ... | meterlab ...`)."""
    read_fd, write_fd = os.pipe()
    os.write(write_fd, data)
    os.close(write_fd)
    return open(read_fd, encoding="utf-8")  # the caller closes it


@pytest.fixture
def cli(monkeypatch, capsys, db_path):
    """Run `meterlab` in this process as an OS login, with standard input a pipe."""
    streams: list[TextIO] = []

    def run(*args: str, login: str = "ada", password: bytes | None = None) -> tuple[int, str, str]:
        monkeypatch.setenv("LOGNAME", login)  # getpass.getuser() reads LOGNAME first
        streams.append(piped(password if password is not None else b""))
        monkeypatch.setattr(sys, "stdin", streams[-1])
        code = main(["--db", str(db_path), "--now", NOW, *args])
        out, err = capsys.readouterr()
        return code, out, err

    yield run
    for stream in streams:
        stream.close()


@pytest.fixture
def with_admin(cli) -> None:
    code, out, err = cli("staff", "add", "--name", "Ada", "--role", "admin", "--login", "ada",
                         "--password-stdin", password=ADA_PASSWORD.encode() + b"\n")
    assert code == EXIT_OK, err
    assert json.loads(out)["role"] == "admin"


def verify(db_path: Path, name: str, password: str):
    db = open_database(db_path)
    try:
        return AccountService(db, FixedClock(parse_now(NOW))).verify(name, password)
    finally:
        db.conn.close()


def test_first_account_must_be_an_admin(cli, db_path) -> None:
    code, out, err = cli("staff", "add", "--name", "Sam", "--role", "staff", "--login", "sam",
                         "--password-stdin", password=b"sam's password\n")
    assert code == EXIT_BAD_INPUT and out == ""
    assert err.startswith("meterlab: --role: The first staff account must be an admin")
    db = open_database(db_path)
    assert db["staff_accounts"].count == 0 and db["audit"].count == 0
    db.conn.close()


def test_until_an_account_exists_anyone_may_add_the_first_admin(cli, db_path) -> None:
    code, out, err = cli("staff", "add", "--name", "Ada", "--role", "admin", "--password-stdin",
                         login="somebody", password=b"first\n")
    assert code == EXIT_OK, err
    assert json.loads(out)["login"] is None
    # Now nobody is mapped to this login: the command line refuses with one sentence.
    code, out, err = cli("staff", "list", login="somebody")
    assert code == EXIT_REFUSED and out == ""
    assert err == ("meterlab: No MeterLab staff account is mapped to login somebody; an admin "
                   "can add one for that login.\n")


def test_a_staff_account_may_not_manage_accounts(cli, with_admin, db_path) -> None:
    code, _, err = cli("staff", "add", "--name", "Sam", "--role", "staff", "--login", "sam",
                       "--password-stdin", password=b"sam's password\n")
    assert code == EXIT_OK, err
    before = dump(db_path)
    for args, password in (
        (["staff", "add", "--name", "Eve", "--role", "admin", "--password-stdin"], b"eve\n"),
        (["staff", "list"], None),
        (["staff", "passwd", "Ada", "--password-stdin"], b"taken over\n"),
        (["staff", "disable", "Ada"], None),
    ):
        code, out, err = cli(*args, login="sam", password=password)
        assert code == EXIT_REFUSED, (args, err)
        assert out == "" and err.startswith("meterlab: Sam is a staff account and may not ")
    assert dump(db_path) == before
    # Its own password a staff account may change.
    code, out, err = cli("staff", "passwd", "sam", "--password-stdin", login="sam",
                         password=b"sam's new password\n")
    assert code == EXIT_OK, err
    assert json.loads(out) == {"name": "Sam", "password_changed": True}


def test_admin_lists_and_disables(cli, with_admin, db_path) -> None:
    assert cli("staff", "add", "--name", "Sam", "--role", "staff", "--login", "sam",
               "--password-stdin", password=b"sam's password\n")[0] == EXIT_OK
    code, out, _ = cli("staff", "disable", "SAM")
    assert code == EXIT_OK and json.loads(out)["disabled"] is True
    code, out, _ = cli("staff", "list")
    assert [(a["name"], a["role"], a["login"], a["disabled"]) for a in json.loads(out)] == [
        ("Ada", "admin", "ada", False), ("Sam", "staff", "sam", True)]
    code, _, err = cli("staff", "list", login="sam")
    assert code == EXIT_REFUSED and "Sam mapped to login sam is disabled" in err
    code, _, err = cli("staff", "disable", "Ada")
    assert code == EXIT_REFUSED and "last enabled admin" in err


def test_the_password_is_never_printed_logged_or_stored(cli, db_path, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    secrets = ["Tr0ub4dor&3-first", "Tr0ub4dor&3-second", "Tr0ub4dor&3-staff"]
    outputs = [
        cli("staff", "add", "--name", "Ada", "--role", "admin", "--login", "ada",
            "--password-stdin", password=secrets[0].encode() + b"\n"),
        cli("staff", "passwd", "Ada", "--password-stdin", password=secrets[1].encode() + b"\n"),
        cli("staff", "add", "--name", "Sam", "--role", "staff", "--password-stdin",
            password=secrets[2].encode()),
        cli("staff", "list"),
        cli("staff", "disable", "Sam"),
        # refusals and mistakes say nothing of the password either
        cli("staff", "add", "--name", "Ada", "--role", "admin", "--password-stdin",
            password=secrets[0].encode()),
        cli("staff", "passwd", "Sam", "--password-stdin", login="sam",
            password=secrets[1].encode()),
    ]
    assert [code for code, _, _ in outputs] == [0, 0, 0, 0, 0, EXIT_BAD_INPUT, EXIT_REFUSED]
    text = "".join(out + err for _, out, err in outputs) + caplog.text
    db = open_database(db_path)
    audit = json.dumps([dict(r) for r in db["audit"].rows])
    db.conn.close()
    stored = b"".join(p.read_bytes() for p in db_path.parent.glob(db_path.name + "*"))
    for secret in secrets:
        assert secret not in text
        assert secret not in audit
        assert secret.encode() not in stored
    assert "$argon2" not in text + audit
    assert verify(db_path, "Ada", secrets[1]) is not None
    assert verify(db_path, "Ada", secrets[0]) is None


BAD_PASSWORDS = [
    (["--password-stdin"], b"", "--password-stdin: The password must not be empty."),
    (["--password-stdin"], b"\n", "--password-stdin: The password must not be empty."),
    (["--password-stdin"], b"x" * 1001, "at most 1000 characters, not 1001"),
    (["--password-stdin"], b"x" * 5000, "at most 1000 characters"),
    (["--password-stdin"], b"two\nlines\n", "must not contain control characters"),
    (["--password-stdin"], b"tab\tin\n", "must not contain control characters"),
    (["--password-stdin"], b"\xff\xfe\n", "not valid UTF-8"),
    ([], b"piped but not asked for\n", "read only from standard input"),
    (["--password", "on-the-command-line"], b"", "never taken as arguments"),
    (["--password=on-the-command-line", "--password-stdin"], b"x\n", "never taken as arguments"),
]


def test_bad_passwords_exit_2_and_write_nothing(cli, with_admin, db_path) -> None:
    before = dump(db_path)
    for args, password, says in BAD_PASSWORDS:
        for command in (["add", "--name", "Sam", "--role", "staff"], ["passwd", "Ada"]):
            code, out, err = cli("staff", *command, *args, password=password)
            assert (code, out) == (EXIT_BAD_INPUT, ""), (command, args, err)
            assert says in err and err.count("\n") == 1, err
            assert "on-the-command-line" not in err and "lines" not in err
    assert dump(db_path) == before


def test_the_longest_password_is_accepted(cli, with_admin, db_path) -> None:
    code, _, err = cli("staff", "add", "--name", "Sam", "--role", "staff", "--password-stdin",
                       password="é".encode() * 1000 + b"\r\n")
    assert code == EXIT_OK, err
    assert verify(db_path, "Sam", "é" * 1000) is not None


def test_password_stdin_from_a_shell_pipe(tmp_path) -> None:
    db = tmp_path / "piped.db"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "LOGNAME": "ada"}
    res = subprocess.run(
        ["sh", "-c", f"printf '%s\\n' \"$PW\" | '{EXE}' --db '{db}' staff add --name Ada "
                     f"--role admin --login ada --password-stdin"],
        env={**env, "PW": "piped secret"}, capture_output=True, text=True, timeout=60)
    assert res.returncode == EXIT_OK, res.stderr
    assert json.loads(res.stdout)["name"] == "Ada" and "piped secret" not in res.stdout
    res = subprocess.run([str(EXE), "--db", str(db), "staff", "passwd", "Ada",
                          "--password-stdin"], input=b"second secret\n", env=env,
                         capture_output=True, timeout=60)
    assert res.returncode == EXIT_OK, res.stderr
    assert verify(db, "Ada", "second secret") is not None
    assert verify(db, "Ada", "piped secret") is None


def test_only_an_admin_reads_the_audit_trail(cli, with_admin) -> None:
    code, _, err = cli("staff", "add", "--name", "Sam", "--role", "staff", "--login", "sam",
                       "--password-stdin", password=b"sam's password\n")
    assert code == EXIT_OK, err
    code, out, _ = cli("audit", "list", login="ada")
    assert code == EXIT_OK and any(r["entity"] == "staff_account" for r in json.loads(out))
    code, out, err = cli("audit", "list", login="sam")
    assert code == EXIT_REFUSED and out == ""
    assert err.startswith("meterlab: Sam is a staff account and may not read the audit trail")
    code, _, err = cli("audit", "list", login="nobody-mapped")
    assert code == EXIT_REFUSED and "nobody-mapped" in err
