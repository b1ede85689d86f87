"""Capturing from one port: transport + codec + session + capture file + event writer.

Used by `meterlab capture` and by the Devices page. The session runs on the I/O loop; events go
through the bounded queue to the batch writer; raw bytes go to a capture file whose SHA-256 is
recorded when it is closed.
"""

from __future__ import annotations

import asyncio
import re
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
from devices.capture_file import CaptureFile
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


class CaptureFailed(Exception):
    """The device did not answer, could not be reached, or its data failed its check."""


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


@dataclass
class CaptureResult:
    session_id: int
    capture_path: Path
    sha256: str
    events: int
    health: dict[str, object] = field(default_factory=dict)
    ok: bool = True
    message: str = ""


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
    """Capture as a device session does, blocking until done. Raises CaptureFailed (exit 4)."""
    validate_options(opts)
    iec = opts.protocol == "iec62056-21"
    codec = make_codec(opts.protocol, profile_dirs=opts.profile_dirs)
    label = opts.device or opts.port
    conn = connect(db_path)
    sessions = CaptureSessionRepo(conn)
    session_id = sessions.open(label, opts.port, opts.protocol, "", clock.now())
    capture_path = capture_path_for(opts.capture_dir, label, clock.now(), session_id)
    with conn:
        conn.execute("UPDATE capture_sessions SET capture_path = ? WHERE id = ?", (str(capture_path), session_id))
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
    )
    io = IoLoop()
    io.start()
    ok, message = True, ""
    try:
        if iec:
            ok, message = io.run(_iec_once(session, opts.reply_timeout_s), timeout_s=opts.reply_timeout_s * 4 + 10)
        elif opts.once:
            ok, message = io.run(_stream_once(session, opts.once_timeout_s), timeout_s=opts.once_timeout_s + 10)
        else:
            io.run(_stream_for(session, opts.duration_s or 0.0), timeout_s=(opts.duration_s or 0) + 15)
            if session.health.state is SessionState.FAILED:
                ok, message = False, session.health.reason
    finally:
        io.stop()
        writer.stop()
        digest = capture.close()
        sessions.close(session_id, clock.now(), digest, session.health.as_dict(),  # type: ignore[arg-type]
                       session.health.state.value)
        conn.close()
    result = CaptureResult(session_id, capture_path, digest, session.health.events,
                           session.health.as_dict(), ok, message)
    if not ok:
        raise CaptureFailed(message)
    return result


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

