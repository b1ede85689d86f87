"""Commands with `--lab-store`: labs, people and bookings on a real PostgreSQL server, shared by
workstations that each keep their own SQLite bench file."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from app.cli import main

NOW = "2026-11-25T10:00+00:00"
EXE = Path(sys.executable).with_name("meterlab")


def libpq(url: str) -> str:
    """The URL as a lab writes it (libpq's scheme, no driver)."""
    return url.replace("postgresql+psycopg://", "postgresql://")


def run(capsys, db: Path, *args: str, store: str | None = None) -> tuple[int, object, str]:
    extra = ["--lab-store", store] if store else []
    code = main([*args, "--db", str(db), "--now", NOW, *extra])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else None), err


def lab_rows(db: Path) -> dict[str, int]:
    """How many rows the workstation's file holds in the lab store's tables."""
    conn = sqlite3.connect(db)
    try:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for t in ("labs", "organisations", "people", "inductions", "bookings", "audit")}
    finally:
        conn.close()


def setup_lab(capsys, db: Path, store: str) -> None:
    for args in (
        ("lab", "add", "--name", "Northampton", "--spaces", "280", "--benches", "3"),
        ("org", "add", "--name", "Acme", "--roles", "IS,GS", "--completed-roles", "IS"),
        ("person", "add", "--org", "acme", "--name", "Ann", "--email", "ann@acme.example"),
        ("person", "induct", "--email", "ann@acme.example", "--lab", "1", "--date",
         "2026-11-01", "--reason", "held at Acme's site"),
    ):
        code, _, err = run(capsys, db, *args, store=store)
        assert code == 0, err


def test_two_workstations_share_labs_people_and_bookings(pg_url, tmp_path, capsys) -> None:
    store = libpq(pg_url)
    first, second = tmp_path / "ws1" / "bench.db", tmp_path / "ws2" / "bench.db"
    first.parent.mkdir()
    second.parent.mkdir()
    setup_lab(capsys, first, store)
    code, out, err = run(capsys, first, "booking", "request", "--lab", "Northampton", "--org",
                         "Acme", "--start", "2026-11-30T09:00", "--end", "2026-11-30T17:00",
                         "--spaces", "20", "--phase", "device", "--attendee",
                         "ann@acme.example", store=store)
    assert (code, out, err) == (0, {"status": "requested", "id": 1, "reasons": []}, "")

    # The second workstation is another process with its own bench file, the URL in its
    # environment: it sees the lab, the person and the booking, and books the same lab.
    env = {"MELAB_LAB_STORE": store, "PATH": "/usr/bin:/bin", "QT_QPA_PLATFORM": "offscreen"}

    def other(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(EXE), *args, "--db", str(second), "--now", NOW],
                              capture_output=True, text=True, env=env, timeout=60, check=False)

    listed = other("booking", "list", "--lab", "Northampton")
    assert listed.returncode == 0, listed.stderr
    assert [(b["id"], b["org"], b["spaces"]) for b in json.loads(listed.stdout)] == [
        (1, "Acme", 20)]
    again = other("booking", "request", "--lab", "Northampton", "--org", "Acme", "--start",
                  "2026-12-01T09:00", "--end", "2026-12-01T12:00", "--spaces", "5", "--phase",
                  "device", "--attendee", "ann@acme.example")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["id"] == 2

    code, out, _ = run(capsys, first, "booking", "list", store=store)
    assert code == 0 and [b["id"] for b in out] == [1, 2]
    code, out, _ = run(capsys, first, "audit", "list", "--entity", "booking", store=store)
    assert code == 0 and len(out) == 2
    # Nothing of the lab's data went into either workstation's file.
    assert lab_rows(first) == lab_rows(second) == dict.fromkeys(lab_rows(first), 0)
    # Without the lab store, a workstation's file is a lab store of its own, still empty.
    code, out, _ = run(capsys, first, "booking", "list")
    assert (code, out) == (0, [])


def test_a_participant_is_a_person_of_the_shared_lab_store(pg_url, tmp_path, capsys) -> None:
    store = libpq(pg_url)
    db = tmp_path / "bench.db"
    setup_lab(capsys, db, store)
    code, out, err = run(capsys, db, "person", "list", "--participant", "ann@acme.example",
                         store=store)
    assert code == 0, err
    assert [p["email"] for p in out] == ["ann@acme.example"]
    code, _, err = run(capsys, db, "person", "list", "--participant", "ann@acme.example")
    assert code == 2 and "ann@acme.example" in err  # the local file has no such person


def test_an_unreachable_server_is_one_sentence_exit_9_and_nothing_written(tmp_path,
                                                                          capsys) -> None:
    db = tmp_path / "bench.db"
    store = f"postgresql://meterlab@/meterlab?host={tmp_path}&port=5432"  # no server there
    code, out, err = run(capsys, db, "lab", "add", "--name", "Lab", "--spaces", "4",
                         store=store)
    assert (code, out) == (9, None)
    assert err.startswith("meterlab: --lab-store: lab store unreachable: ")
    assert err.count("\n") == 1
    assert not db.exists()  # nothing queued or kept locally for later
    # A bench-store command still asks the server who is running it.
    code, out, err = run(capsys, db, "sessions", "list", store=store)
    assert (code, out) == (9, None) and "lab store unreachable" in err
    # Test runs and their reports are on the server only: nothing is made locally instead.
    other = tmp_path / "other.db"
    for argv in (("run", "list"), ("run", "start", "power-outage", "--bench", "Bench 1",
                                   "--emulate"), ("report", "1", "--json", str(tmp_path / "r"))):
        code, out, err = run(capsys, other, *argv, store=store)
        assert (code, out) == (9, None) and "lab store unreachable" in err, argv
    assert not other.exists() and not (tmp_path / "r").exists()


def test_a_database_without_the_schema_is_refused_not_upgraded(pg_cluster, tmp_path,
                                                               capsys) -> None:
    pg_cluster.admin("CREATE DATABASE shared_empty")
    try:
        store = libpq(pg_cluster.url("shared_empty"))
        code, _, err = run(capsys, tmp_path / "bench.db", "lab", "list", store=store)
        assert code == 9 and "meterlab lab-store upgrade" in err and err.count("\n") == 1
    finally:
        pg_cluster.admin("DROP DATABASE shared_empty WITH (FORCE)")


def test_the_desktop_opens_on_the_lab_store(pg_url, tmp_path, capsys) -> None:
    """The window reads the server's labs; the workstation's file gets no demo lab."""
    store, db = libpq(pg_url), tmp_path / "ws.db"
    assert run(capsys, db, "lab", "add", "--name", "Shared", "--spaces", "40", store=store)[0] == 0
    shot = tmp_path / "s.png"
    code = main(["--db", str(db), "--lab-store", store, "--now", NOW, "--screenshot", str(shot)])
    assert code == 0, capsys.readouterr().err
    assert shot.stat().st_size > 10_000
    assert lab_rows(db)["labs"] == 0  # the demo lab is never put anywhere on a lab store


def test_the_desktop_with_a_lab_store_that_does_not_answer(tmp_path, capsys) -> None:
    db = tmp_path / "ws.db"
    code = main(["--db", str(db), "--lab-store", f"postgresql://meterlab@/lab?host={tmp_path}",
                 "--screenshot", str(tmp_path / "s.png")])
    err = capsys.readouterr().err
    assert code == 9 and err.startswith("meterlab: --lab-store: lab store unreachable: ")
    assert err.count("\n") == 1 and not db.exists()  # nothing opened or written locally


def test_a_password_in_the_option_is_refused(tmp_path, capsys) -> None:
    code, _, err = run(capsys, tmp_path / "bench.db", "booking", "list",
                       store="postgresql://meterlab:secret@dbhost/meterlab")
    assert code == 2 and "Leave the password out" in err and "secret" not in err


def test_staff_accounts_are_the_shared_lab_stores(pg_url, tmp_path, capsys, monkeypatch) -> None:
    """An account added at one workstation decides who commands act as at every other."""
    store = libpq(pg_url)
    first, second = tmp_path / "ws1.db", tmp_path / "ws2.db"
    monkeypatch.setenv("LOGNAME", "ada")  # getpass.getuser() reads LOGNAME first
    read_fd, write_fd = os.pipe()
    os.write(write_fd, b"a long enough password\n")
    os.close(write_fd)
    with open(read_fd, encoding="utf-8") as stdin:
        monkeypatch.setattr(sys, "stdin", stdin)
        code, out, err = run(capsys, first, "staff", "add", "--name", "Ada", "--role", "admin",
                             "--login", "ada", "--password-stdin", store=store)
    assert code == 0, err
    assert out["name"] == "Ada" and not first.exists()  # nothing of it in the local file
    code, out, _ = run(capsys, second, "staff", "list", store=store)
    assert code == 0 and [a["name"] for a in out] == ["Ada"]
    # Another login, at the second workstation: no account is mapped to it on the server.
    monkeypatch.setenv("LOGNAME", "bob")
    code, _, err = run(capsys, second, "lab", "add", "--name", "Lab", "--spaces", "4",
                       store=store)
    assert code == 3 and "No MeterLab staff account is mapped to login bob" in err
    monkeypatch.setenv("LOGNAME", "ada")
    code, _, err = run(capsys, second, "lab", "add", "--name", "Lab", "--spaces", "4",
                       store=store)
    assert code == 0, err
    code, out, _ = run(capsys, second, "audit", "list", "--entity", "lab", store=store)
    assert [(r["actor"], r["action"]) for r in out] == [("Ada", "created")]


def test_the_devices_registry_is_shared(pg_url, tmp_path, capsys) -> None:
    store = libpq(pg_url)
    first, second = tmp_path / "ws1.db", tmp_path / "ws2.db"
    setup_lab(capsys, first, store)
    code, out, err = run(capsys, first, "device", "add", "--label", "Bench 1 ESME", "--kind",
                         "ESME", "--bench", "Bench 1", "--mpxn", "1312345678907", store=store)
    assert code == 0, err
    code, out, _ = run(capsys, second, "device", "list", store=store)
    assert code == 0 and [(d["label"], d["bench"]) for d in out] == [("Bench 1 ESME", "Bench 1")]
    code, _, err = run(capsys, second, "device", "add", "--label", "bench 1 esme", "--kind",
                       "GSME", store=store)
    assert code == 2 and "already exists" in err
    conn = sqlite3.connect(first)
    try:
        assert conn.execute("SELECT count(*) FROM devices").fetchone()[0] == 0
    finally:
        conn.close()
    code, out, _ = run(capsys, first, "audit", "list", "--entity", "device", store=store)
    assert [r["action"] for r in out] == ["created"]
