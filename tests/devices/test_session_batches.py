"""A streaming session on a real pseudo-terminal: events in batches, bytes left to gather."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from app.domain.clock import SystemClock
from app.domain.events import DeviceEvent
from devices.capture_file import CaptureFile
from devices.codecs.base import make_codec
from devices.io_loop import IoLoop
from devices.sessions import DeviceSession, ReconnectPolicy, SessionState
from devices.transports.base import SerialSettings
from devices.transports.serial import SerialTransport
from tests.devices.lines import hub_line

pytestmark = [
    pytest.mark.timeout(30),
    pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs POSIX pseudo-terminals"),
]


def wait_for(condition, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def test_events_of_bytes_that_gathered_arrive_as_one_batch(tmp_path: Path) -> None:
    master, slave = os.openpty()
    batches: list[list[DeviceEvent]] = []
    singles: list[DeviceEvent] = []
    capture = CaptureFile(tmp_path / "hub.bin")
    session = DeviceSession(
        "hub", SerialTransport(SerialSettings(os.ttyname(slave), baud=115200)),
        make_codec("profile:emulator"), SystemClock(), singles.append, capture=capture,
        reconnect=ReconnectPolicy(enabled=False), batch_sink=batches.append, coalesce_s=0.5,
    )
    io = IoLoop()
    io.start()
    try:
        task = io.submit(session.run())
        wait_for(lambda: session.health.state is SessionState.CONNECTED)
        os.write(master, hub_line(0))
        wait_for(lambda: len(batches) == 1)
        # The session now lets bytes gather; nine separate writes meanwhile are read together.
        for n in range(1, 10):
            os.write(master, hub_line(n))
            time.sleep(0.01)
        wait_for(lambda: sum(map(len, batches)) == 10)
        io.call_soon_threadsafe(session.stop)
        task.result(timeout=10)
    finally:
        io.stop()
        os.close(master)
        os.close(slave)
        capture.close()
    assert not singles  # with a batch sink, events go there only
    assert len(batches[0]) == 1 and len(batches) <= 3
    texts = [ev.fields.get("text", "") for batch in batches for ev in batch]
    assert [int(str(t).rsplit(" ", 1)[-1]) for t in texts] == list(range(10))
    for batch in batches:  # one read, one host time
        assert len({ev.host_time for ev in batch}) == 1
    assert session.health.events == 10
    assert capture.bytes_written == sum(len(hub_line(n)) for n in range(10))


def test_coalescing_cannot_be_negative() -> None:
    with pytest.raises(ValueError, match="coalesce_s"):
        DeviceSession("x", SerialTransport(SerialSettings("/dev/null")),
                      make_codec("profile:emulator"), SystemClock(), lambda ev: None,
                      coalesce_s=-0.1)
