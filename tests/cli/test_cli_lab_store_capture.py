"""`meterlab capture --lab-store`: a device of the lab store on a real PostgreSQL server, captured
from the emulator's real pseudo-terminals into the workstation's SQLite bench store under its
stand-in row; `sessions` and `outages` naming the lab store's devices."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from app.cli import main
from devices.emulator.bench import BenchConfig, EmulatedBench
from devices.emulator.runner import EmulatorHost

pytestmark = pytest.mark.timeout(120)


def libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


@pytest.fixture
def host():
    emulator = EmulatorHost(EmulatedBench(BenchConfig(seed=3, time_scale=60)))
    emulator.__enter__()
    yield emulator
    emulator.__exit__(None, None, None)


def run(capsys, db: Path, *args: str, store: str | None = None) -> tuple[int, list, str]:
    """Exit code, the JSON lines on stdout, stderr."""
    code = main([*args, "--db", str(db), *(["--lab-store", store] if store else [])])
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines() if line.strip()], err


def add_device(capsys, db: Path, label: str, kind: str = "CHF", store: str | None = None,
               **extra: str) -> int:
    options = [x for k, v in extra.items() for x in (f"--{k.replace('_', '-')}", v)]
    code, out, err = run(capsys, db, "device", "add", "--label", label, "--kind", kind,
                         *options, store=store)
    assert code == 0, err
    return out[0]["id"]


def capture(capsys, db: Path, host: EmulatorHost, device: str | None, store: str | None,
            tmp_path: Path) -> tuple[int, list, str]:
    return run(capsys, db, "capture", "--port", host.ports["ch_debug"], "--protocol",
               "profile:emulator", "--duration", "1.5",
               *(["--device", device] if device else []),
               "--capture-dir", str(tmp_path / "cap"), store=store)


def rows(db: Path, sql: str, *args: object) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def test_capture_records_events_under_the_devices_stand_in(pg_url, tmp_path, capsys,
                                                             host) -> None:
    store, db = libpq(pg_url), tmp_path / "bench.db"
    code, _, err = run(capsys, db, "lab", "add", "--name", "Lab", "--spaces", "8", "--benches",
                       "2", store=store)
    assert code == 0, err
    lab_id = add_device(capsys, db, "Bench 1 Comms Hub", store=store,
                        device_id="00-DB-12-34-56-78-90-A2", bench="Bench 1")
    code, lines, err = capture(capsys, db, host, "bench 1 comms hub", store, tmp_path)
    assert code == 0, err
    summary = lines[-1]["summary"]
    assert summary["events_stored"] > 0
    assert {e["device"] for e in lines[:-1]} == {"Bench 1 Comms Hub"}  # the lab store's label
    [(local, label, kind, eui, bench, connection)] = rows(
        db, "SELECT id, label, kind, device_id, bench, connection_json FROM devices")
    assert (label, kind, eui, bench, connection) == (
        f"Bench 1 Comms Hub [lab store device {lab_id}; stand-in {local}]", "CHF",
        "00-DB-12-34-56-78-90-A2", "Bench 1", "{}")
    assert rows(db, "SELECT DISTINCT device, device_ref FROM events") == [
        ("Bench 1 Comms Hub", local)]
    assert rows(db, "SELECT device, device_ref FROM capture_sessions") == [
        ("Bench 1 Comms Hub", local)]
    assert rows(db, "SELECT lab_ref, local_ref, label FROM lab_devices") == [
        (lab_id, local, "Bench 1 Comms Hub")]
    # Nothing of the lab store's data went into the file's lab store tables.
    assert rows(db, "SELECT count(*) FROM audit") == [(0,)]
    code, out, err = run(capsys, db, "sessions", "list", "--device", "00-DB-12-34-56-78-90-A2",
                         store=store)
    assert code == 0, err
    assert [(s["id"], s["device"]) for s in out[0]] == [(summary["session_id"],
                                                         "Bench 1 Comms Hub")]
    # A port captured without naming its device is recorded under none, and found by its name.
    code, lines, err = capture(capsys, db, host, None, store, tmp_path)
    assert code == 0, err
    port = host.ports["ch_debug"]
    assert rows(db, "SELECT device, device_ref FROM capture_sessions WHERE id = ?",
                lines[-1]["summary"]["session_id"]) == [(port, None)]
    code, out, err = run(capsys, db, "sessions", "list", "--device", port, store=store)
    assert [s["id"] for s in out[0]] == [lines[-1]["summary"]["session_id"]]


def test_a_device_renamed_on_the_server_keeps_its_stand_in_and_history(pg_url, tmp_path,
                                                                       capsys, host) -> None:
    from app.domain.clock import SystemClock
    from app.storage.devices import DeviceRepo
    from app.storage.labstore import open_lab_store

    store, db = libpq(pg_url), tmp_path / "bench.db"
    lab_id = add_device(capsys, db, "CH 1", store=store)
    assert capture(capsys, db, host, "CH 1", store, tmp_path)[0] == 0
    server = open_lab_store(store)
    try:
        repo = DeviceRepo(server, SystemClock())
        device = repo.get(lab_id)
        repo.update(replace(device, label="CH renamed", firmware="9.9"))
    finally:
        server.close()
    code, _, err = capture(capsys, db, host, "CH renamed", store, tmp_path)
    assert code == 0, err
    [(local, label, firmware)] = rows(db, "SELECT id, label, firmware FROM devices")
    assert label.startswith("CH renamed [") and firmware == "9.9"
    assert rows(db, "SELECT device, count(*) FROM events WHERE device_ref = ? GROUP BY device "
                    "ORDER BY device", local) == [
        ("CH 1", rows(db, "SELECT count(*) FROM events WHERE device = 'CH 1'")[0][0]),
        ("CH renamed", rows(db, "SELECT count(*) FROM events WHERE device = 'CH renamed'")[0][0])]
    # Both sessions are the renamed device's, named by its lab-store label now.
    code, out, err = run(capsys, db, "sessions", "list", "--device", "ch renamed", store=store)
    assert code == 0, err
    assert [s["device"] for s in out[0]] == ["CH renamed", "CH 1"]


def test_a_files_own_older_devices_keep_their_history_apart(pg_url, tmp_path, capsys,
                                                             host) -> None:
    store, db = libpq(pg_url), tmp_path / "bench.db"
    # The workstation on its own first: its device 1, with a session of its own.
    own = add_device(capsys, db, "CH 1")
    assert capture(capsys, db, host, "CH 1", None, tmp_path)[0] == 0
    # The lab store's device 1 is another device, under the same label.
    lab_id = add_device(capsys, db, "CH 1", store=store, firmware="2.0")
    assert own == lab_id == 1
    code, _, err = capture(capsys, db, host, "CH 1", store, tmp_path)
    assert code == 0, err
    stand_in = rows(db, "SELECT local_ref FROM lab_devices")[0][0]
    assert stand_in != own
    sessions = rows(db, "SELECT id, device_ref FROM capture_sessions ORDER BY id")
    assert [ref for _, ref in sessions] == [own, stand_in]
    assert {r for (r,) in rows(db, "SELECT DISTINCT device_ref FROM events")} == {own, stand_in}
    # Each side names only its own device's sessions.
    code, out, _ = run(capsys, db, "sessions", "list", "--device", "CH 1", store=store)
    assert [s["id"] for s in out[0]] == [sessions[1][0]]
    code, out, _ = run(capsys, db, "sessions", "list", "--device", "CH 1")
    assert [s["id"] for s in out[0]] == [sessions[0][0]]
    # The file's own registry is untouched, and its device list shows the stand-in for what
    # it is.
    code, out, _ = run(capsys, db, "device", "list")
    assert [(d["id"], d["label"]) for d in out[0]] == [
        (own, "CH 1"), (stand_in, f"CH 1 [lab store device {lab_id}; stand-in {stand_in}]")]


def test_capture_goes_on_while_the_lab_store_does_not_answer(pg_url, tmp_path, capsys,
                                                             host) -> None:
    store, db = libpq(pg_url), tmp_path / "bench.db"
    # The workstation reaches the server through a socket folder of its own (a link to the
    # server's socket), so that the server can vanish for it alone.
    server_folder = store.split("host=")[1].split("&")[0]
    folder = tmp_path / "sock"
    folder.mkdir()
    link = folder / ".s.PGSQL.5432"
    link.symlink_to(Path(server_folder) / ".s.PGSQL.5432")
    here = store.replace(server_folder, str(folder))
    add_device(capsys, db, "CH 1", store=here)
    add_device(capsys, db, "CH 2", store=here)
    assert capture(capsys, db, host, "CH 1", here, tmp_path)[0] == 0
    stand_in = rows(db, "SELECT local_ref FROM lab_devices")[0][0]
    link.unlink()  # the server is gone

    code, lines, err = capture(capsys, db, host, "ch 1", here, tmp_path)
    assert code == 0, err
    assert err.startswith("meterlab: lab store unreachable: ") and "'CH 1'" in err
    assert lines[-1]["summary"]["events_stored"] > 0
    session = lines[-1]["summary"]["session_id"]
    assert rows(db, "SELECT device, device_ref FROM capture_sessions WHERE id = ?",
                session) == [("CH 1", stand_in)]
    assert rows(db, "SELECT DISTINCT device, device_ref FROM events WHERE session_id = ?",
                session) == [("CH 1", stand_in)]

    # A device never captured here cannot be named while the server is gone.
    sessions = rows(db, "SELECT count(*) FROM capture_sessions")
    code, lines, err = capture(capsys, db, host, "CH 2", here, tmp_path)
    assert (code, lines) == (9, [])
    assert err.startswith("meterlab: --lab-store: lab store unreachable: ")
    assert "'CH 2'" in err and err.count("\n") == 1
    assert rows(db, "SELECT count(*) FROM capture_sessions") == sessions
    # Nor can a participant capture, who cannot be checked.
    code, lines, err = run(capsys, db, "capture", "--port", host.ports["ch_debug"],
                           "--protocol", "profile:emulator", "--once", "--device", "CH 1",
                           "--participant", "ann@acme.example", store=here)
    assert code == 9 and "lab store unreachable" in err
    assert rows(db, "SELECT count(*) FROM capture_sessions") == sessions


def test_outages_name_the_lab_stores_devices_and_benches(pg_url, tmp_path, capsys) -> None:
    store, db = libpq(pg_url), tmp_path / "bench.db"
    own = add_device(capsys, db, "CH 1")
    code, _, err = run(capsys, db, "lab", "add", "--name", "Lab", "--spaces", "8", "--benches",
                       "2", store=store)
    assert code == 0, err
    lab_id = add_device(capsys, db, "CH 1", store=store, bench="Bench 2")
    from app.domain.clock import SystemClock
    from app.storage.db import open_database
    from app.storage.devices import DeviceRepo
    from app.storage.lab_devices import LabDeviceMap
    from app.storage.labstore import lab_store_key, open_lab_store

    server = open_lab_store(store)
    local = open_database(db)
    try:
        stand_in = LabDeviceMap(local.conn, lab_store_key(store)).follow(
            DeviceRepo(server, SystemClock()).get(lab_id), None, SystemClock().now())
        for outage_id, bench, ref in ((1, "Bench 2", stand_in), (2, "Bench 2", own)):
            local.execute("INSERT INTO outages (id, bench, start, restore_alert_device, "
                          "interrupted_alert, device_ref) VALUES (?, ?, ?, 'CH 1', 0, ?)",
                          [outage_id, bench, f"2026-11-2{outage_id}T10:00:00+00:00", ref])
        local.conn.commit()
    finally:
        local.conn.close()
        server.close()
    code, out, err = run(capsys, db, "outages", "list", store=store)
    assert code == 0, err
    assert [(o["id"], o["device_ref"]) for o in out[0]] == [(1, lab_id), (2, None)]
    code, out, err = run(capsys, db, "outages", "list")
    assert [(o["id"], o["device_ref"]) for o in out[0]] == [(1, stand_in), (2, own)]
    # A bench of the lab store's lab, with no outage yet, is a bench (the file has no lab).
    code, out, err = run(capsys, db, "outages", "list", "--bench", "Bench 1", store=store)
    assert (code, out) == (0, [[]]), err
    code, out, err = run(capsys, db, "outages", "list", "--bench", "Bench 1")
    assert code == 2 and "Bench 1" in err


def test_a_device_the_lab_store_lacks_is_bad_input_and_nothing_written(pg_url, tmp_path,
                                                                        capsys, host) -> None:
    store, db = libpq(pg_url), tmp_path / "bench.db"
    add_device(capsys, db, "CH 1")  # the file's own: not the lab store's
    code, lines, err = capture(capsys, db, host, "CH 1", store, tmp_path)
    assert (code, lines) == (2, [])
    assert err.startswith("meterlab: --device: No device 'CH 1' is registered in the lab store")
    assert rows(db, "SELECT count(*) FROM capture_sessions") == [(0,)]
    assert rows(db, "SELECT count(*) FROM lab_devices") == [(0,)]
