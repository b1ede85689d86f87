"""Capturing from one port: transport + codec + session + capture file + event writer.

Used by `meterlab capture` and by the Devices page. The session runs on the I/O loop; events go
through the bounded queue to the batch writer; raw bytes go to a capture file whose SHA-256 is
recorded when it is closed.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from app.domain.clock import Clock
from app.domain.errors import ValidationError
from app.domain.events import DeviceEvent
from app.services.ingest import EventQueue, EventWriter
from app.storage.db import connect
from app.storage.devices import CaptureSessionRepo
from devices.capture_file import CaptureFile, sha256_of
from devices.codecs.base import make_codec
from devices.io_loop import IoLoop
from devices.sessions import DeviceSession, ReconnectPolicy, SessionState
from devices.transports.base import (
    InvalidSettingError,
    SerialSettings,
    TransportError,
    TransportErrorReason,
)
from devices.transports.serial import SerialTransport


@dataclass
class CaptureOptions:
    """What to capture and for how long."""

    port: str
    protocol: str
    baud: int | None = None
    device: str = ""
    once: bool = False
    duration_s: float | None = None
    capture_dir: Path = Path(".")
    profile_dirs: tuple[Path, ...] = ()
    reply_timeout_s: float = 3.0
    once_timeout_s: float = 10.0
    #: The device's id in the bench store's devices table, when the caller resolved it (a lab
    #: store device's stand-in); None: the file's registry is asked for `device`'s label.
    device_ref: int | None = None
    #: False when the devices registry is a lab store's on a server: its labels mean nothing
    #: in the file's registry, so nothing is looked up there.
    file_registry: bool = True


@dataclass
class CaptureResult:
    """What a capture did, as its summary reports it.

    Attributes:
        events: events decoded (``stored + not_stored``).
        stored: events written to the database.
        dropped: events refused by the full queue.
        unstored: events queued but never written (the database refused writes).
        bytes_received: bytes read from the port.
        bytes_in_file: bytes the capture file holds (its recorded size and SHA-256 are of these).
        rx_dropped_bytes: bytes the transport's receive buffer discarded (in no file).
        storage_error: one sentence when events or bytes could not be stored, else "".
    """

    session_id: int
    capture_path: Path
    sha256: str
    events: int
    health: dict[str, object] = field(default_factory=dict)
    ok: bool = True
    message: str = ""
    stored: int = 0
    dropped: int = 0
    unstored: int = 0
    bytes_received: int = 0
    bytes_in_file: int = 0
    rx_dropped_bytes: int = 0
    storage_error: str = ""

    @property
    def not_stored(self) -> int:
        return self.dropped + self.unstored

    def summary(self) -> dict[str, object]:
        """The counts a person or a script needs to trust (or not) the capture."""
        return {
            "session_id": self.session_id, "events_decoded": self.events,
            "events_stored": self.stored, "events_not_stored": self.not_stored,
            "events_dropped_queue_full": self.dropped, "events_unstored": self.unstored,
            "bytes_received": self.bytes_received, "bytes_in_capture_file": self.bytes_in_file,
            "rx_dropped_bytes": self.rx_dropped_bytes, "capture_file": str(self.capture_path),
            "sha256": self.sha256, "end_state": self.health.get("state"),
            "storage_error": self.storage_error or None,
        }


class CaptureFailed(Exception):
    """The device did not answer, could not be reached, or its data failed its check.

    Attributes:
        result: what was captured and stored before the failure, when the session ran.
    """

    def __init__(self, message: str, result: CaptureResult | None = None) -> None:
        super().__init__(message)
        self.result = result


def validate_options(opts: CaptureOptions) -> None:
    """Refuse bad options with a sentence naming the option (nothing is opened or written)."""
    if opts.once == (opts.duration_s is not None):
        raise ValidationError("once", "Give exactly one of --once or --duration S.")
    if opts.duration_s is not None and not opts.duration_s > 0:
        raise ValidationError("duration", f"--duration must be a number of seconds above 0, not {opts.duration_s}.")
    try:
        make_codec(opts.protocol, profile_dirs=opts.profile_dirs)
    except ValueError as exc:
        raise ValidationError("protocol", str(exc).removeprefix("--protocol: ")) from None
    try:
        SerialSettings(opts.port, baud=opts.baud or 9600)
    except InvalidSettingError as exc:
        raise ValidationError(exc.field, exc.message) from None
    if not Path(opts.port).exists() and not re.fullmatch(r"COM\d+", opts.port, re.IGNORECASE):
        raise ValidationError("port", f"Port {opts.port} does not exist; give a serial device path such as /dev/ttyUSB0.")


def capture_path_for(capture_dir: Path, label: str, started: datetime, session_id: int) -> Path:
    """Where a session's raw bytes go: time, device label and session id in the name."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", label).strip("_") or "device"
    stem = f"{started:%Y%m%dT%H%M%SZ}-{safe}-s{session_id}"
    path = Path(capture_dir) / f"{stem}.bin"
    n = 1
    while path.exists():  # never overwrite evidence (e.g. a fresh database reusing session ids)
        n += 1
        path = Path(capture_dir) / f"{stem}-{n}.bin"
    return path


def run_capture(opts: CaptureOptions, db_path: Path, clock: Clock,
                on_event: Callable[[DeviceEvent], None] | None = None) -> CaptureResult:
    """Capture as a device session does, blocking until done.

    Storage failures (events the database refused, a capture file that could not be written)
    do not raise: the result counts them and says why in ``storage_error``.

    Raises:
        CaptureFailed: the device failed (exit 4), with the result attached.
    """
    validate_options(opts)
    iec = opts.protocol == "iec62056-21"
    codec = make_codec(opts.protocol, profile_dirs=opts.profile_dirs)
    label = opts.device or opts.port
    conn = connect(db_path)
    sessions = CaptureSessionRepo(conn)
    device_ref = opts.device_ref
    if device_ref is None and opts.file_registry:
        device_ref = _registered_id(conn, label)
    session_id = sessions.open(label, opts.port, opts.protocol, "", clock.now(), device_ref,
                               by_label=opts.file_registry)
    capture_path = capture_path_for(opts.capture_dir, label, clock.now(), session_id)
    sessions.set_path(session_id, str(capture_path))
    capture = CaptureFile(capture_path)
    queue = EventQueue()
    if on_event is not None:
        queue.add_listener(on_event)
    writer = EventWriter(db_path, queue)
    writer.start()
    baud = opts.baud or (300 if iec else 9600)
    transport = SerialTransport(
        SerialSettings(opts.port, baud=baud, bytesize=7 if iec else 8, parity="E" if iec else "N")
    )
    session = DeviceSession(
        label, transport, codec, clock, queue.put, capture=capture,
        reconnect=ReconnectPolicy(enabled=not opts.once and not iec), session_id=session_id,
        device_ref=device_ref,
    )
    io = IoLoop()
    io.start()
    ok, message, crash = True, "", ""
    try:
        if iec:
            ok, message = io.run(_iec_once(session, opts.reply_timeout_s), timeout_s=opts.reply_timeout_s * 4 + 10)
        elif opts.once:
            ok, message = io.run(_stream_once(session, opts.once_timeout_s), timeout_s=opts.once_timeout_s + 10)
        else:
            io.run(_stream_for(session, opts.duration_s or 0.0), timeout_s=(opts.duration_s or 0) + 15)
            if session.health.state is SessionState.FAILED:
                ok, message = False, session.health.reason
    except OSError as exc:
        # A capture file write that failed inside the session (full disk): the bytes and
        # events so far are kept and the summary says what happened.
        crash = f"The capture file could not be written: {exc.strerror or exc}."
        ok, message = False, crash
    finally:
        io.stop()
        writer.stop()
        result = _finish(sessions, session_id, capture, capture_path, session, queue, clock, crash)
        conn.close()
    result.ok, result.message = ok, message
    if not ok and not result.storage_error:
        raise CaptureFailed(message, result)
    return result


def _registered_id(conn: sqlite3.Connection, label: str) -> int | None:
    """The registry's id of the device labelled `label`, if it is registered."""
    row = conn.execute("SELECT id FROM devices WHERE lower(label) = lower(?)", (label,)).fetchone()
    return int(row[0]) if row else None


def _finish(sessions: CaptureSessionRepo, session_id: int, capture: CaptureFile,
            capture_path: Path, session: DeviceSession, queue: EventQueue, clock: Clock,
            crash: str) -> CaptureResult:
    """Close the capture file and the session record; count what was and was not stored."""
    problems: list[str] = []
    try:
        digest = capture.close()
    except OSError as exc:
        digest = ""
        problems.append(f"the capture file could not be closed: {exc.strerror or exc}")
    health = session.health.as_dict()
    received = int(session.health.bytes_in)
    in_file = capture_path.stat().st_size if capture_path.exists() else 0
    if in_file != getattr(capture, "bytes_written", in_file) or in_file != received or not digest:
        # What is recorded must describe the file as it is, whatever was received.
        digest = sha256_of(capture_path) if capture_path.exists() else ""
    if in_file < received:
        problems.append(crash.rstrip(".") if crash else
                        f"the capture file holds {in_file} of the {received} bytes received"
                        + (f" ({session.health.reason})" if session.health.reason else ""))
    stats = queue.stats
    # Events put after the writer stopped (none once the loop has stopped) are not stored too.
    late = len(queue)
    unstored = stats.unstored_by_session[session_id] + late
    not_stored = stats.dropped_by_session[session_id] + unstored
    if not_stored:
        problems.append(f"{not_stored} of {stats.queued + stats.dropped} events were not stored "
                        f"in the database" + (f" ({stats.write_error.split(': ', 1)[-1]})"
                                              if stats.write_error else ""))
    rx_dropped = int(health.get("rx_dropped_bytes")  # type: ignore[call-overload]
                     or getattr(session.transport, "rx_overflow_bytes", 0) or 0)
    health["rx_dropped_bytes"] = rx_dropped
    state = session.health.state.value
    try:
        sessions.close(session_id, clock.now(), digest, health, state, bytes_in_file=in_file,
                       events_unstored=not_stored, end_reason=session.health.reason or crash)
    except sqlite3.Error as exc:
        # The record stays open; the next start closes it as interrupted, events missing.
        problems.append(f"the capture session record could not be closed ({exc})")
    return CaptureResult(
        session_id, capture_path, digest, stats.queued + stats.dropped, health,
        stored=stats.stored, dropped=stats.dropped_by_session[session_id], unstored=unstored,
        bytes_received=received, bytes_in_file=in_file, rx_dropped_bytes=rx_dropped,
        storage_error=("; ".join(problems)[:1].upper() + "; ".join(problems)[1:] + ".")
        if problems else "",
    )


async def _open_once(session: DeviceSession) -> None:
    try:
        await session.transport.open()
    except TransportError as exc:
        if exc.reason is TransportErrorReason.MISSING:
            raise ValidationError("port", exc.message) from None
        raise CaptureFailed(exc.message) from None


async def _iec_once(session: DeviceSession, reply_timeout_s: float) -> tuple[bool, str]:
    await _open_once(session)
    try:
        ok, reason = await session.readout(reply_timeout_s)
    except TransportError as exc:
        return False, exc.message
    finally:
        await session.transport.close()
    if ok:
        return True, ""
    return False, f"The meter's readout failed: {reason}."


async def _stream_once(session: DeviceSession, timeout_s: float) -> tuple[bool, str]:
    try:
        await asyncio.wait_for(session.run(max_events=1), timeout=timeout_s)
    except TimeoutError:
        return False, f"The device sent no complete line or frame within {timeout_s:g} s."
    if session.health.events == 0:
        return False, session.health.reason or "The device sent nothing."
    return True, ""


async def _stream_for(session: DeviceSession, duration_s: float) -> None:
    loop = asyncio.get_running_loop()
    loop.call_later(duration_s, session.stop)
    await session.run()

