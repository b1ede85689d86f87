"""Start-up recovery of capture sessions left open by a process killed with SIGKILL.

Real parts: a real `meterlab capture` subprocess reading a real pseudo-terminal of the emulator,
killed by SIGKILL; a real SQLite file; the real capture file on disk.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.cli import main
from app.domain.clock import SystemClock
from app.services.recovery import close_interrupted_sessions
from app.storage.capture_sessions import CaptureSessionRepo, ProcessOwner, current_owner
from app.storage.db import open_database
from devices.capture_file import sha256_of
from devices.emulator.bench import BenchConfig, EmulatedBench
from devices.emulator.runner import EmulatorHost

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def hub():
    host = EmulatorHost(EmulatedBench(BenchConfig(seed=5, time_scale=60, alert_rate_per_min=240)))
    host.__enter__()
    yield host
    host.__exit__(None, None, None)


def start_capture(db: Path, port: str, cap: Path) -> subprocess.Popen:
    if main(["--db", str(db), "device", "add", "--label", "CH 1", "--kind", "CHF"]) not in (0, 2):
        raise AssertionError("could not register the capture's device")
    code = "import sys; from app.cli import main; raise SystemExit(main(sys.argv[1:]))"
    return subprocess.Popen(
        [sys.executable, "-c", code, "--db", str(db), "capture", "--port", port, "--protocol",
         "profile:emulator", "--duration", "60", "--device", "CH 1", "--capture-dir", str(cap)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def wait_for_bytes(db: Path, timeout_s: float = 30) -> tuple[int, Path]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if db.exists():
            try:
                row = sqlite3.connect(db).execute(
                    "SELECT id, capture_path FROM capture_sessions").fetchone()
            except sqlite3.Error:
                row = None
            if row and row[1] and Path(row[1]).exists() and Path(row[1]).stat().st_size > 200:
                return int(row[0]), Path(row[1])
        time.sleep(0.05)
    raise AssertionError("the capture process wrote nothing")


def session_row(db: Path, session_id: int) -> dict:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    return dict(conn.execute("SELECT * FROM capture_sessions WHERE id = ?", (session_id,)).fetchone())


def test_sigkilled_capture_is_closed_as_interrupted_only_once_its_process_is_gone(
        tmp_path, capsys, hub) -> None:
    """Fails on the old code: the session stayed open with bytes_in 0 and no SHA-256."""
    db = tmp_path / "k.db"
    proc = start_capture(db, hub.ports["ch_debug"], tmp_path / "cap")
    try:
        session_id, path = wait_for_bytes(db)
        # Two processes at once: starting MeterLab now must not close the live capture.
        assert main(["--db", str(db), "device", "list"]) == 0
        assert session_row(db, session_id)["ended_at"] is None
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    assert proc.returncode == -signal.SIGKILL
    row = session_row(db, session_id)
    assert row["ended_at"] is None and row["bytes_in"] == 0 and row["sha256"] is None
    assert main(["--db", str(db), "device", "list"]) == 0  # the next start
    capsys.readouterr()
    row = session_row(db, session_id)
    assert row["end_state"] == "interrupted" and row["ended_at"]
    assert row["bytes_in"] == path.stat().st_size > 0
    assert row["sha256"] == sha256_of(path)
    assert row["events_missing"] == 1 and row["events_unstored"] is None
    assert "interrupted" in row["end_reason"]


def test_capture_command_start_closes_a_killed_session_whose_file_is_gone(tmp_path, hub) -> None:
    db = tmp_path / "m.db"
    proc = start_capture(db, hub.ports["ch_debug"], tmp_path / "cap")
    try:
        session_id, path = wait_for_bytes(db)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    path.unlink()
    # Any entry point that opens the capture sessions recovers them: here `outages list`.
    assert main(["--db", str(db), "outages", "list"]) == 0
    row = session_row(db, session_id)
    assert row["end_state"] == "interrupted" and row["bytes_in"] == 0 and row["sha256"] is None
    assert "capture file missing" in row["end_reason"]


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.mark.parametrize("owner, closed", [
    (lambda: ProcessOwner(socket.gethostname(), _dead_pid(), "1"), True),  # process gone
    # The pid now belongs to another process (this one) that started at another time.
    (lambda: ProcessOwner(socket.gethostname(), os.getpid(), "1"), True),
    (lambda: current_owner(), False),  # this very process: still capturing
    (lambda: ProcessOwner("another-workstation", 4242, "1"), False),  # cannot tell: left alone
])
def test_only_sessions_of_a_process_that_is_gone_are_closed(tmp_path, owner, closed) -> None:
    db = open_database(tmp_path / "o.db")
    (tmp_path / "c.bin").write_bytes(b"abc")
    repo = CaptureSessionRepo(db.conn, owner())
    sid = repo.open("CH", "/dev/x", "gbcs-hex", str(tmp_path / "c.bin"), SystemClock().now())
    done = close_interrupted_sessions(db.conn, SystemClock())
    row = CaptureSessionRepo(db.conn).get(sid)
    assert bool(done) is closed and (row["ended_at"] is not None) is closed
    if closed:
        assert row["bytes_in"] == 3 and row["sha256"] == sha256_of(tmp_path / "c.bin")


def test_recovery_on_a_locked_database_never_stops_the_start(tmp_path) -> None:
    from tests.services.faults import locked_by_another_process

    db = open_database(tmp_path / "b.db")
    CaptureSessionRepo(db.conn, ProcessOwner("h", 1, "x")).open(
        "CH", "/dev/x", "gbcs-hex", "", SystemClock().now())
    db.conn.execute("UPDATE capture_sessions SET owner_host = ?", (socket.gethostname(),))
    db.conn.commit()
    db.conn.execute("PRAGMA busy_timeout=100")
    with locked_by_another_process(tmp_path / "b.db"):
        assert close_interrupted_sessions(db.conn, SystemClock()) == []

