"""Capture end to end on real pseudo-terminals against the emulator: sessions, files, events."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest

from app.cli import main
from app.domain.clock import SystemClock
from app.services.capture import CaptureFailed, CaptureOptions, run_capture
from app.storage.db import open_database
from devices.capture_file import sha256_of
from devices.emulator.bench import BenchConfig, EmulatedBench
from devices.emulator.runner import EmulatorHost

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def bench_host():
    hosts = []

    def make(**config):
        host = EmulatorHost(EmulatedBench(BenchConfig(seed=3, **config)))
        host.__enter__()
        hosts.append(host)
        return host

    yield make
    for host in hosts:
        host.__exit__(None, None, None)


def run_cli(capsys, db: Path, *args: str) -> tuple[int, list[dict], str]:
    code, events, _summary, err = run_cli_summary(capsys, db, *args)
    return code, events, err


def run_cli_summary(capsys, db: Path, *args: str) -> tuple[int, list[dict], dict, str]:
    """Exit code, event lines, the summary line (the last, without "kind") and stderr."""
    code = main(["--db", str(db), *args])
    out, err = capsys.readouterr()
    lines = [json.loads(line) for line in out.splitlines() if line.strip()]
    summaries = [line["summary"] for line in lines if "summary" in line]
    assert len(summaries) <= 1 and ("summary" in lines[-1] if summaries else True)
    return code, [e for e in lines if "summary" not in e], (summaries or [{}])[0], err


def test_iec_readout_once_with_baud_switch(tmp_path, capsys, bench_host) -> None:
    host = bench_host(time_scale=1)
    db = tmp_path / "c.db"
    assert run_cli(capsys, db, "device", "add", "--label", "ESME 1", "--kind", "ESME")[0] == 0
    code, events, err = run_cli(capsys, db, "capture", "--port", host.ports["esme_optical"],
                                "--protocol", "iec62056-21", "--once", "--device", "ESME 1",
                                "--capture-dir", str(tmp_path / "cap"))
    assert code == 0, err
    readings = {e["obis"]: e for e in events if e["kind"] == "reading"}
    assert {"0.0.0", "1.8.0", "2.8.0", "C.7.0"} <= set(readings)
    assert readings["1.8.0"]["unit"] == "kWh" and isinstance(readings["1.8.0"]["value"], float)
    ident = next(e for e in events if e.get("step") == "identification")
    assert ident["baud"] == 9600 and ident["manufacturer"] == "EML"
    conn = sqlite3.connect(db)
    path, sha, bytes_in = conn.execute(
        "SELECT capture_path, sha256, bytes_in FROM capture_sessions").fetchone()
    assert sha == sha256_of(Path(path)) and bytes_in == Path(path).stat().st_size > 0
    stored = conn.execute(
        "SELECT count(*) FROM events WHERE device = 'ESME 1' AND kind = 'reading'").fetchone()[0]
    assert stored == sum(1 for e in events if e["kind"] == "reading")
    assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == len(events)


def test_silent_meter_exits_4_naming_the_step(tmp_path, capsys, bench_host) -> None:
    host = bench_host(time_scale=1)
    import serial

    relay = serial.Serial(host.ports["relay"], 9600, timeout=2)
    relay.write(b"RELAY 1 OFF\r\n")
    assert relay.readline().strip() == b"OK"
    relay.close()
    opts = CaptureOptions(port=host.ports["esme_optical"], protocol="iec62056-21", once=True,
                          capture_dir=tmp_path, reply_timeout_s=1.0)
    db = tmp_path / "s.db"
    open_database(db).conn.close()
    with pytest.raises(CaptureFailed, match="no identification"):
        run_capture(opts, db, SystemClock())
    code, _, err = run_cli(capsys, db, "capture", "--port", host.ports["esme_optical"],
                           "--protocol", "iec62056-21", "--once", "--capture-dir", str(tmp_path))
    assert code == 4 and "no identification" in err and err.count("\n") == 1


def test_bad_bcc_exits_4_and_stores_the_error(tmp_path, capsys, bench_host) -> None:
    host = bench_host(time_scale=1, corrupt_bcc=True)
    db = tmp_path / "b.db"
    code, events, err = run_cli(capsys, db, "capture", "--port", host.ports["esme_optical"],
                                "--protocol", "iec62056-21", "--once", "--capture-dir", str(tmp_path))
    assert code == 4 and "BCC" in err
    assert not [e for e in events if e["kind"] == "reading"]
    assert [e for e in events if e["kind"] == "error" and "BCC" in e["message"]]


def test_comms_hub_log_through_the_emulator_profile(tmp_path, capsys, bench_host) -> None:
    host = bench_host(time_scale=60, alert_rate_per_min=120)
    db = tmp_path / "h.db"
    assert run_cli(capsys, db, "device", "add", "--label", "CH 1", "--kind", "CHF")[0] == 0
    code, events, err = run_cli(capsys, db, "capture", "--port", host.ports["ch_debug"],
                                "--protocol", "profile:emulator", "--duration", "3",
                                "--device", "CH 1", "--capture-dir", str(tmp_path))
    assert code == 0, err
    kinds = {e["kind"] for e in events}
    assert {"status", "alert"} <= kinds
    alert = next(e for e in events if e["kind"] == "alert")
    assert alert["originator"].startswith("00-DB-") and len(alert["alert_code"]) == 4
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == len(events)


@pytest.mark.parametrize("args, field", [
    (["--protocol", "modbus", "--once"], "--protocol"),
    (["--protocol", "profile:nosuch", "--once"], "--protocol"),
    (["--protocol", "gbcs-hex", "--duration", "-1"], "--duration"),
    (["--protocol", "gbcs-hex", "--once", "--baud", "fast"], "--baud"),
])
def test_bad_capture_arguments_exit_2(tmp_path, capsys, bench_host, args, field) -> None:
    host = bench_host()
    db = tmp_path / "x.db"
    code, events, err = run_cli(capsys, db, "capture", "--port", host.ports["ch_debug"], *args)
    assert code == 2 and events == [] and field in err
    assert not db.exists()


def test_missing_port_is_bad_input(tmp_path, capsys) -> None:
    code, _, err = run_cli(capsys, tmp_path / "x.db", "capture", "--port", "/dev/does-not-exist",
                           "--protocol", "gbcs-hex", "--once")
    assert code == 2 and "--port" in err


def test_port_vanishing_mid_read_ends_in_reconnecting_without_losing_events(tmp_path, bench_host) -> None:
    from app.services.ingest import EventQueue, EventWriter
    from devices.codecs.base import make_codec
    from devices.io_loop import IoLoop
    from devices.sessions import DeviceSession, ReconnectPolicy, SessionState
    from devices.transports.base import SerialSettings
    from devices.transports.serial import SerialTransport

    host = bench_host(time_scale=60, alert_rate_per_min=240)
    db = tmp_path / "v.db"
    open_database(db).conn.close()
    queue = EventQueue()
    writer = EventWriter(db, queue, flush_interval_s=0.05)
    writer.start()
    states: list[str] = []
    session = DeviceSession(
        "CH", SerialTransport(SerialSettings(host.ports["ch_debug"], 115200)),
        make_codec("profile:emulator"), SystemClock(), queue.put,
        reconnect=ReconnectPolicy(initial_s=0.2, max_s=0.5), on_state=lambda s, r: states.append(s.value),
    )
    io = IoLoop()
    io.start()
    try:
        fut = io.submit(session.run())
        deadline = time.monotonic() + 10
        while session.health.events < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert session.health.events >= 5
        host.close_port("ch_debug")
        deadline = time.monotonic() + 10
        while session.health.state is not SessionState.RECONNECTING and time.monotonic() < deadline:
            time.sleep(0.05)
        assert session.health.state in (SessionState.RECONNECTING, SessionState.FAILED)
        assert "reconnecting" in states
        seen = session.health.events
        io.call_soon_threadsafe(session.stop)
        fut.result(timeout=5)
    finally:
        io.stop()
        writer.stop()
    stored = sqlite3.connect(db).execute("SELECT count(*) FROM events").fetchone()[0]
    assert stored == seen


# --- the summary tells the truth under real storage faults ---------------------------------------
from tests.services.faults import NEEDS_ROOT, fill, locked_by_another_process, tmpfs  # noqa: E402


def _lock_once_session_opens(db: Path):
    """A context that waits (on a thread) for the capture's session row, then locks the
    database from another process until the block ends."""
    import contextlib
    import threading

    @contextlib.contextmanager
    def ctx():
        stop = threading.Event()
        locked = threading.Event()

        def run() -> None:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not stop.is_set():
                try:
                    c = sqlite3.connect(db, timeout=0.1)
                    n = c.execute("SELECT count(*) FROM capture_sessions").fetchone()[0]
                    c.close()
                except sqlite3.Error:
                    n = 0
                if n:
                    with locked_by_another_process(db):
                        locked.set()
                        stop.wait(60)
                    return
                time.sleep(0.02)

        t = threading.Thread(target=run, daemon=True)
        t.start()
        try:
            yield locked
        finally:
            stop.set()
            t.join(30)

    return ctx()


def test_capture_with_the_database_locked_exits_9_counting_every_event(tmp_path, capsys,
                                                                       bench_host) -> None:
    """Fails on the old code: it exited 0 and said how many events were decoded, not stored."""
    import threading

    host = bench_host(time_scale=60, alert_rate_per_min=240)
    db = tmp_path / "l.db"
    assert run_cli(capsys, db, "device", "add", "--label", "CH 1", "--kind", "CHF")[0] == 0
    result: dict = {}
    with _lock_once_session_opens(db) as locked:
        def go() -> None:
            result["out"] = run_cli_summary(
                capsys, db, "capture", "--port", host.ports["ch_debug"], "--protocol",
                "profile:emulator", "--duration", "2", "--device", "CH 1",
                "--capture-dir", str(tmp_path / "cap"))

        t = threading.Thread(target=go)
        t.start()
        assert locked.wait(20)
        t.join(60)
    code, events, summary, err = result["out"]
    assert code == 9, err
    assert err.count("\n") == 1 and "not stored" in err and "Traceback" not in err
    assert summary["events_decoded"] == len(events) > 0
    assert summary["events_stored"] + summary["events_not_stored"] == summary["events_decoded"]
    stored = sqlite3.connect(db).execute("SELECT count(*) FROM events").fetchone()[0]
    assert stored == summary["events_stored"] and summary["events_not_stored"] > 0
    path = Path(summary["capture_file"])
    assert summary["sha256"] == sha256_of(path)
    assert summary["bytes_in_capture_file"] == path.stat().st_size > 0


@NEEDS_ROOT
def test_capture_disk_full_exits_9_with_one_sentence_and_the_files_own_hash(tmp_path, capsys,
                                                                            bench_host) -> None:
    """Fails on the old code: an OSError traceback, and a hash of bytes that are not in the file."""
    host = bench_host(time_scale=60, alert_rate_per_min=240)
    db = tmp_path / "f.db"
    assert run_cli(capsys, db, "device", "add", "--label", "CH 1", "--kind", "CHF")[0] == 0
    with tmpfs(tmp_path / "cap", size="256k") as cap:
        spare = cap / "spare"
        spare.write_bytes(b"\0" * 4096)
        fill(cap)
        spare.unlink()  # about a page free: the first writes fit, then the disk is full
        code, _events, summary, err = run_cli_summary(
            capsys, db, "capture", "--port", host.ports["ch_debug"], "--protocol",
            "profile:emulator", "--duration", "3", "--device", "CH 1", "--capture-dir", str(cap))
        assert code == 9, err
        assert err.count("\n") == 1 and "Traceback" not in err
        assert "capture file" in err and ("space" in err or "full" in err)
        path = Path(summary["capture_file"])
        size = path.stat().st_size
        assert summary["bytes_in_capture_file"] == size < summary["bytes_received"]
        row = sqlite3.connect(db).execute(
            "SELECT bytes_in, sha256, ended_at FROM capture_sessions WHERE id = ?",
            (summary["session_id"],)).fetchone()
        assert row[0] == size and row[1] == sha256_of(path) == summary["sha256"] and row[2]
