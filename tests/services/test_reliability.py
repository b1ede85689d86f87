"""Reliability of ingest with real processes and real files.

- ``kill -9`` of a process that is capturing: the database stays intact, at most the last flush
  window of events is lost, and the capture file holds every byte the session read.
- A database that cannot be written (a full file system, a lock held by another program): a clear
  error, capture continues to the raw file, nothing crashes, and storing resumes.
- A device that floods (a line without end, bursts of garbage): memory stays bounded and the
  excess is counted.

The device is an emulated Comms Hub debug port on a real pseudo-terminal; the capturing process
is ``meterlab capture`` itself.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Self

import pytest

from app.domain.clock import SystemClock
from app.services.ingest import EventQueue
from devices.capture_file import CaptureFile
from devices.codecs.base import make_codec
from devices.emulator.bench import BenchConfig, EmulatedBench
from devices.emulator.endpoint import EmulatedEndpoint
from devices.emulator.pacing import FloodMode
from devices.emulator.pty_host import PtyHost
from devices.io_loop import IoLoop
from devices.sessions import DeviceSession, ReconnectPolicy
from devices.transports.base import SerialSettings
from devices.transports.serial import SerialTransport

pytestmark = pytest.mark.timeout(90)

REPO = Path(__file__).resolve().parents[2]
PROTOCOL = "profile:emulator"
BAUD = 115200
FLUSH_WINDOW_S = 0.25  # EventWriter's flush interval
#: The writer notices a due flush within one queue poll (50 ms); allow as much again for a busy
#: machine scheduling the writer thread late.
FLUSH_SLACK_S = 0.1


class RecordingEndpoint:
    """Passes an endpoint's output through, keeping a copy of every byte sent while open."""

    def __init__(self, endpoint: EmulatedEndpoint) -> None:
        self.endpoint = endpoint
        self.sent = bytearray()
        self.open = True
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self.open = False

    def handle_input(self, data: bytes) -> None:
        self.endpoint.handle_input(data)

    def pending_output(self, now_s: float) -> bytes:
        data = self.endpoint.pending_output(now_s)
        with self._lock:
            if not self.open:
                return b""
            self.sent += data
        return data


@contextmanager
def hub_on_pty(**config: object) -> Iterator[tuple[str, RecordingEndpoint]]:
    """A busy emulated Comms Hub debug port on a pty: (slave path, recorder)."""
    settings: dict[str, object] = {"pace_baud": BAUD, "noise_lines_per_s": 150.0,
                                   "alert_rate_per_min": 120.0, "seed": 11}
    settings.update(config)
    hub = RecordingEndpoint(EmulatedBench(BenchConfig(**settings)).comms_hub)  # type: ignore[arg-type]
    with PtyHost({"ch_debug": hub}) as host:
        yield host.ports["ch_debug"], hub


def spawn_capture(port: str, db: Path, capture_dir: Path, duration_s: float,
                  stderr_path: Path) -> subprocess.Popen[bytes]:
    """`meterlab capture` in its own process (events on stdout are discarded)."""
    from app.cli import main as cli_main

    # capture refuses a label that is not registered; a second registration is simply refused
    cli_main(["--db", str(db), "device", "add", "--label", "CH", "--kind", "CHF"])
    args = [sys.executable, "-c", "import sys; from app.cli import main; sys.exit(main())", "--db", str(db), "capture", "--port", port,
            "--protocol", PROTOCOL, "--baud", str(BAUD), "--device", "CH",
            "--capture-dir", str(capture_dir), "--duration", str(duration_s)]
    return subprocess.Popen(args, cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=stderr_path.open("wb"))


def wait_for(condition: Callable[[], object], timeout_s: float, what: str,
             proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout_s} s"
        assert proc is None or proc.poll() is None, f"the capture ended early ({proc.returncode})"
        time.sleep(0.05)


def stored_count(db: Path) -> int:
    if not db.exists():
        return 0
    conn = sqlite3.connect(db, timeout=10)
    try:
        return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])
    except sqlite3.OperationalError:  # the capture has not created the table yet
        return 0
    finally:
        conn.close()


def stored_events(db: Path) -> list[tuple[str, dict]]:
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute("SELECT kind, fields_json FROM events ORDER BY id").fetchall()
    finally:
        conn.close()
    return [(kind, json.loads(fields)) for kind, fields in rows]


def decoded_events(capture: bytes) -> list[tuple[str, dict]]:
    """The capture file decoded with the codec the capture used, fields as stored (JSON)."""
    codec = make_codec(PROTOCOL)
    return [(ev.kind.value, json.loads(json.dumps(ev.fields, default=str)))
            for ev in codec.feed(capture)]


def the_capture_file(directory: Path) -> bytes:
    files = list(directory.glob("*.bin"))
    assert len(files) == 1, files
    return files[0].read_bytes()


def integrity(db: Path) -> str:
    conn = sqlite3.connect(db)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


def read_pending(port: str, quiet_s: float = 0.3) -> bytes:
    """What the pty still holds for a reader, once the emulator has stopped sending."""
    fd = os.open(port, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    out = bytearray()
    try:
        last_s = time.monotonic()
        while time.monotonic() - last_s < quiet_s:
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                chunk = b""
            if not chunk:  # (the capture left the tty with VMIN=0: an empty read is no data)
                time.sleep(0.01)
                continue
            out += chunk
            last_s = time.monotonic()
    finally:
        os.close(fd)
    return bytes(out)


# --- kill -9 -----------------------------------------------------------------------------------
def test_kill_9_while_ingesting_keeps_the_database_and_every_byte_read(tmp_path: Path) -> None:
    db, captures = tmp_path / "meterlab.db", tmp_path / "captures"
    with hub_on_pty() as (port, hub):
        proc = spawn_capture(port, db, captures, 30, tmp_path / "stderr.txt")
        try:
            wait_for(lambda: stored_count(db) >= 400, 20, "storing 400 events", proc)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            hub.close()
        pending = read_pending(port)
    assert proc.returncode == -signal.SIGKILL
    assert integrity(db) == "ok"

    # The capture file is exactly what the hub sent from the moment the port was opened (opening
    # discards what was waiting); what follows it is what the pty still held, apart from the
    # bytes between the port read and the file write.
    capture, sent = the_capture_file(captures), bytes(hub.sent)
    assert len(capture) > 10_000
    opened_at = sent.find(capture[:1000])
    assert opened_at >= 0 and sent[opened_at:opened_at + len(capture)] == capture
    assert sent.endswith(pending)
    in_flight = len(sent) - opened_at - len(capture) - len(pending)
    assert 0 <= in_flight <= 4096, (len(sent), opened_at, len(capture), len(pending))

    # Stored events are the capture's events in order, missing at most the last flush window.
    decoded, stored = decoded_events(capture), stored_events(db)
    assert stored == decoded[: len(stored)]
    conn = sqlite3.connect(db)
    first, last = (float(x) for x in conn.execute(
        "SELECT min(julianday(host_time)), max(julianday(host_time)) FROM events").fetchone())
    conn.close()
    rate_per_s = len(stored) / max((last - first) * 86400.0, 0.1)
    allowed = int(rate_per_s * (FLUSH_WINDOW_S + FLUSH_SLACK_S)) + 1
    assert len(decoded) - len(stored) <= allowed, (len(decoded), len(stored), rate_per_s)


# --- a database that cannot be written ---------------------------------------------------------
class FullDisk:
    """A small tmpfs holding the database, filled up and emptied on demand (needs mount rights)."""

    def __init__(self, mount_point: Path) -> None:
        self.mount_point = mount_point
        self.filler = mount_point / "filler"

    def __enter__(self) -> Self:
        self.mount_point.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs",
                               str(self.mount_point)], capture_output=True, check=False)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.decode().strip()}")
        return self

    def break_(self) -> None:
        with self.filler.open("wb") as f:
            try:
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
            except OSError:
                pass

    def mend(self) -> None:
        self.filler.unlink()

    def __exit__(self, *exc: object) -> None:
        subprocess.run(["umount", "-l", str(self.mount_point)], check=False)


class HeldLock:
    """Another program holding the database's write lock."""

    def __init__(self, db: Path) -> None:
        self.db = db
        self._conn: sqlite3.Connection | None = None

    def break_(self) -> None:
        self._conn = sqlite3.connect(self.db, timeout=10)
        self._conn.execute("BEGIN EXCLUSIVE")

    def mend(self) -> None:
        assert self._conn is not None
        self._conn.rollback()
        self._conn.close()


@pytest.mark.parametrize("fault", ["full_disk", "locked"])
def test_unwritable_database_is_reported_capture_continues_and_storing_resumes(
        tmp_path: Path, fault: str) -> None:
    captures, stderr_path = tmp_path / "captures", tmp_path / "stderr.txt"
    with FullDisk(tmp_path / "fs") if fault == "full_disk" else _nothing() as disk:
        db = (tmp_path / "fs" if disk else tmp_path) / "meterlab.db"
        breaker = disk or HeldLock(db)
        with hub_on_pty() as (port, _hub):
            proc = spawn_capture(port, db, captures, 8, stderr_path)
            wait_for(lambda: stored_count(db) >= 100, 20, "storing 100 events", proc)
            breaker.break_()
            wait_for(lambda: b"cannot be stored" in stderr_path.read_bytes(), 15,
                     "the write error being reported", proc)
            during = stored_count(db)
            size = len(the_capture_file(captures))
            time.sleep(1.0)
            # The process lives, the capture file grows, the database does not.
            assert proc.poll() is None
            assert len(the_capture_file(captures)) > size + 5000
            assert stored_count(db) == during
            breaker.mend()
            wait_for(lambda: stored_count(db) > during, 15, "storing to resume", proc)
            assert proc.wait(30) == 0
        error = stderr_path.read_text()
        assert f"Events cannot be stored in {db}" in error
        assert "the capture files keep the raw bytes received" in error
        assert integrity(db) == "ok"
        # Nothing was lost: the events held back while the database failed were stored later.
        decoded, stored = decoded_events(the_capture_file(captures)), stored_events(db)
        assert stored == decoded


@contextmanager
def _nothing() -> Iterator[None]:
    yield None


# --- a flooding device -------------------------------------------------------------------------
def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc/self/status")


@pytest.mark.parametrize("flood", [FloodMode.ENDLESS_LINE, FloodMode.GARBAGE])
def test_flooding_device_cannot_exhaust_memory(tmp_path: Path, flood: FloodMode) -> None:
    # Unpaced: the hub writes as fast as the pty takes it.
    with hub_on_pty(pace_baud=None, flood=flood, noise_lines_per_s=2000.0) as (port, _hub):
        events = EventQueue(max_events=5000)  # no writer: the queue fills, then counts drops
        codec = make_codec(PROTOCOL)
        session = DeviceSession(
            "CH", SerialTransport(SerialSettings(port, baud=BAUD)), codec, SystemClock(),
            events.put, capture=CaptureFile(tmp_path / "flood.bin"),
            reconnect=ReconnectPolicy(enabled=False),
        )
        io = IoLoop()
        io.start()
        try:
            task = io.submit(session.run())
            wait_for(lambda: session.health.bytes_in > 300_000, 20, "the flood to start")
            rss_before, bytes_before = rss_bytes(), session.health.bytes_in
            time.sleep(3.0)
            rss_growth = rss_bytes() - rss_before
            flooded = session.health.bytes_in - bytes_before
            io.call_soon_threadsafe(session.stop)
            task.result(timeout=10)
        finally:
            io.stop()
            session.capture.close()  # type: ignore[union-attr]
    health = session.health
    # The emulator floods at about 400 kB/s; what bounds memory is checked through the counters
    # below (the codec keeps at most one line's bytes, the queue at most its capacity), RSS is
    # the backstop.
    assert flooded > 800_000, flooded
    assert rss_growth < 16 * 2**20, (rss_growth, flooded)
    assert len(events) <= 5000
    # While the session is busy the selector reader takes one read of the pty per tick, far below
    # the 1 MiB buffer, and the pty holds the hub back: exactly nothing is dropped before the
    # codec, and the session's health reports the transport's own count.
    assert session.transport.rx_overflow_bytes == 0  # type: ignore[attr-defined]
    assert health.rx_dropped_bytes == 0
    if flood is FloodMode.ENDLESS_LINE:
        # One line never ends: all but its first max_line_bytes is discarded and counted.
        max_line = codec.profile.max_line_bytes  # type: ignore[attr-defined]
        assert health.resyncs >= 1
        assert health.dropped_bytes >= health.bytes_in - max_line - 200
    else:
        # Garbage splits into countless junk lines: the bounded queue takes 5,000, counts the rest.
        assert events.stats.dropped > 0 and events.stats.queued == 5000
    # Every byte read is in the capture file all the same.
    assert (tmp_path / "flood.bin").stat().st_size == health.bytes_in
