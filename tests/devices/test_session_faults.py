"""A session on a real pseudo-terminal meeting faults that are not the port's: they never go unseen.

Each test drives a :class:`DeviceSession` through a real pty (the test plays the device on the
master side) with a real capture file, and checks the state, the reason and the counters.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from app.domain.clock import SystemClock
from app.domain.events import CodecEvent, DeviceEvent, EventKind
from devices.capture_file import CaptureFile, sha256_of
from devices.codecs.base import Codec, make_codec
from devices.io_loop import IoLoop
from devices.sessions import DeviceSession, ReconnectPolicy, SessionState
from devices.transports.base import SerialSettings
from devices.transports.serial import SerialTransport
from tests.devices.lines import hub_line
from tests.devices.small_disk import SMALL_DISK_BYTES, small_disk

pytestmark = [
    pytest.mark.timeout(30),
    pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs POSIX pseudo-terminals"),
]


def wait_for(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


@pytest.fixture
def io() -> Iterator[IoLoop]:
    loop = IoLoop(name="test-session-io")
    loop.start()
    yield loop
    assert loop.stop(timeout_s=5.0)


@pytest.fixture
def pty() -> Iterator[tuple[int, str]]:
    master, slave = os.openpty()
    yield master, os.ttyname(slave)
    os.close(master)
    os.close(slave)


def make_session(port: str, codec: Codec, sink: Callable[[DeviceEvent], None],
                 capture: CaptureFile | None = None, **kw: object) -> DeviceSession:
    states: list[tuple[SessionState, str]] = []
    session = DeviceSession(
        "hub", SerialTransport(SerialSettings(port, baud=115200), **kw.pop("transport_kw", {})),  # type: ignore[arg-type]
        codec, SystemClock(), sink, capture=capture, reconnect=ReconnectPolicy(enabled=False),
        on_state=lambda s, r: states.append((s, r)), coalesce_s=0, **kw,  # type: ignore[arg-type]
    )
    session.states = states  # type: ignore[attr-defined]
    return session


class ExplodingCodec:
    """A codec with a bug (named as a stand-in): it raises a plain exception on one chunk."""

    def __init__(self, bad: bytes) -> None:
        self.inner = make_codec("profile:emulator")
        self.bad = bad
        self.stats = self.inner.stats
        self.resets = 0

    def feed(self, data: bytes) -> list[CodecEvent]:
        if self.bad in data:
            raise IndexError("codec bug: index out of range")
        return self.inner.feed(data)

    def reset(self) -> None:
        self.resets += 1
        self.inner.reset()


def test_a_codec_that_raises_on_one_chunk_gives_an_error_event_and_the_session_goes_on(
        io: IoLoop, pty: tuple[int, str], caplog: pytest.LogCaptureFixture) -> None:
    master, port = pty
    events: list[DeviceEvent] = []
    codec = ExplodingCodec(b"POISON")
    session = make_session(port, codec, events.append)  # type: ignore[arg-type]
    task = io.submit(session.run())
    try:
        wait_for(lambda: session.health.state is SessionState.CONNECTED)
        os.write(master, b"POISON\r\n")
        wait_for(lambda: any(e.kind is EventKind.ERROR for e in events))
        os.write(master, hub_line(1))
        wait_for(lambda: any(e.kind is not EventKind.ERROR for e in events))
        assert session.health.state is SessionState.CONNECTED
    finally:
        io.call_soon_threadsafe(session.stop)
        task.result(timeout=10)
    error = next(e for e in events if e.kind is EventKind.ERROR)
    assert "IndexError" in str(error.fields["message"])
    assert codec.resets >= 1  # the codec resynchronises after its fault
    assert session.health.state is SessionState.DISCONNECTED
    assert any(r.exc_info for r in caplog.records if "codec failed" in r.getMessage())


def test_a_faulty_sink_ends_the_session_failed_with_the_reason_logged(
        io: IoLoop, pty: tuple[int, str], caplog: pytest.LogCaptureFixture) -> None:
    master, port = pty

    def sink(_ev: DeviceEvent) -> None:
        raise RuntimeError("queue is broken")

    session = make_session(port, make_codec("profile:emulator"), sink)
    task = io.submit(session.run())
    wait_for(lambda: session.health.state is SessionState.CONNECTED)
    with caplog.at_level(logging.ERROR):
        os.write(master, hub_line(0))
        task.result(timeout=10)  # the session ends by itself, without raising
    assert session.health.state is SessionState.FAILED
    assert session.health.reason == "internal error: RuntimeError: queue is broken"
    assert session.states[-1] == (SessionState.FAILED, session.health.reason)  # type: ignore[attr-defined]
    logged = [r for r in caplog.records if "unexpected error" in r.getMessage()]
    assert logged and logged[0].exc_info is not None  # the traceback is in the log


def test_a_faulty_state_listener_ends_the_session_failed_not_silently(
        io: IoLoop, pty: tuple[int, str]) -> None:
    _master, port = pty
    session = DeviceSession(
        "hub", SerialTransport(SerialSettings(port)), make_codec("profile:emulator"),
        SystemClock(), lambda ev: None, reconnect=ReconnectPolicy(enabled=False),
        on_state=lambda s, r: 1 / 0 if s is SessionState.CONNECTED else None,
    )
    io.submit(session.run()).result(timeout=10)
    assert session.health.state is SessionState.FAILED
    assert "ZeroDivisionError" in session.health.reason


def test_bytes_arriving_after_the_capture_was_closed_are_counted_not_written(
        io: IoLoop, pty: tuple[int, str], tmp_path: Path) -> None:
    master, port = pty
    events: list[DeviceEvent] = []
    capture = CaptureFile(tmp_path / "hub.bin")
    session = make_session(port, make_codec("profile:emulator"), events.append, capture)
    task = io.submit(session.run())
    try:
        wait_for(lambda: session.health.state is SessionState.CONNECTED)
        os.write(master, hub_line(0))
        wait_for(lambda: len(events) == 1)
        # As when a disconnect gave up waiting and closed the file while the session still ran.
        digest = capture.close()
        late = hub_line(1) + hub_line(2)
        os.write(master, late)
        wait_for(lambda: len(events) == 3)
        assert session.health.state is SessionState.CONNECTED
    finally:
        io.call_soon_threadsafe(session.stop)
        task.result(timeout=10)
    assert session.health.capture_lost_bytes == len(late)
    assert session.health.capture_bytes == len(hub_line(0)) == capture.bytes_written
    assert sha256_of(capture.path) == digest
    assert not session.health.capture_complete
    assert session.health.as_dict()["capture_lost_bytes"] == len(late)


def test_bytes_the_receive_buffer_dropped_are_in_the_session_health(
        io: IoLoop, pty: tuple[int, str], tmp_path: Path) -> None:
    master, port = pty
    gate = threading.Event()
    blocked = threading.Event()

    def slow_sink(_events: list[DeviceEvent]) -> None:
        """A stand-in for a sink that stalls the I/O thread once (named fake)."""
        if not gate.is_set():
            blocked.set()
            gate.wait(10)

    capture = CaptureFile(tmp_path / "hub.bin")
    # A 64-byte buffer fed by a reader thread, which goes on reading while the session stalls.
    transport = SerialTransport(SerialSettings(port, baud=115200), max_buffer_bytes=64,
                                selector_reads=False)
    session = DeviceSession(
        "hub", transport, make_codec("profile:emulator"), SystemClock(), lambda ev: None,
        capture=capture, reconnect=ReconnectPolicy(enabled=False), batch_sink=slow_sink,
        coalesce_s=0,
    )
    task = io.submit(session.run())
    try:
        wait_for(lambda: session.health.state is SessionState.CONNECTED)
        os.write(master, hub_line(0))
        assert blocked.wait(10)
        os.write(master, bytes(200))  # 64 fit in the buffer, 136 do not
        wait_for(lambda: transport.rx_overflow_bytes == 136)
        gate.set()
        wait_for(lambda: session.health.bytes_in == len(hub_line(0)) + 64)
    finally:
        gate.set()
        io.call_soon_threadsafe(session.stop)
        task.result(timeout=10)
        capture.close()
    assert session.health.rx_dropped_bytes == 136
    assert session.health.as_dict()["rx_dropped_bytes"] == 136
    # The file holds what was read, and the health says it is not every byte sent.
    assert capture.bytes_written == len(hub_line(0)) + 64
    assert not session.health.capture_complete


def test_a_full_capture_disk_ends_the_session_failed_with_honest_counts(
        io: IoLoop, pty: tuple[int, str], tmp_path: Path) -> None:
    master, port = pty
    with small_disk(tmp_path / "small") as disk:
        capture = CaptureFile(disk / "hub.bin")
        session = make_session(port, make_codec("profile:emulator"), lambda ev: None, capture)
        task = io.submit(session.run())
        wait_for(lambda: session.health.state is SessionState.CONNECTED)
        line = hub_line(7)
        sent = 0
        while not task.done() and sent < 4 * SMALL_DISK_BYTES:
            os.write(master, line * 20)
            sent += 20 * len(line)
            time.sleep(0.005)
        task.result(timeout=10)  # ended by itself, without raising
        digest = capture.close()
        health = session.health
        assert health.state is SessionState.FAILED
        assert health.reason == f"capture disk full: {capture.path}"
        assert session.states[-1] == (SessionState.FAILED, health.reason)  # type: ignore[attr-defined]
        assert health.capture_bytes == capture.bytes_written == capture.path.stat().st_size
        assert health.capture_lost_bytes > 0
        assert digest == sha256_of(capture.path)
