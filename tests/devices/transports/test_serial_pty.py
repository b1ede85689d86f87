"""Serial transport on real pseudo-terminals; the test plays the device on the master side."""

from __future__ import annotations

import asyncio
import os
import select
import sys
import termios
import threading
import time
from pathlib import Path

import pytest

from devices.io_loop import IoLoop
from devices.transports.base import (
    InvalidSettingError,
    LineSettings,
    SerialSettings,
    Transport,
    TransportError,
    TransportErrorReason,
)
from devices.transports.serial import SerialTransport
from tests.devices.transports.conftest import Pty

pytestmark = [
    pytest.mark.timeout(30),
    pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs POSIX pseudo-terminals"),
]

NOBODY_UID = 65534


def read_master(pty: Pty, n_bytes: int, timeout_s: float = 5.0) -> bytes:
    """Read exactly ``n_bytes`` the host wrote, from the device side."""
    data = b""
    deadline = time.monotonic() + timeout_s
    while len(data) < n_bytes and time.monotonic() < deadline:
        ready, _, _ = select.select([pty.master], [], [], 0.1)
        if ready:
            data += os.read(pty.master, n_bytes - len(data))
    return data


async def read_exactly(transport: SerialTransport, n_bytes: int, timeout_s: float = 5.0) -> bytes:
    data = b""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while len(data) < n_bytes and asyncio.get_running_loop().time() < deadline:
        data += await transport.read(n_bytes - len(data), timeout_s=0.2)
    return data


def opened(io_loop: IoLoop, path: str, **kwargs: object) -> SerialTransport:
    transport = SerialTransport(SerialSettings(path, **kwargs))  # type: ignore[arg-type]
    io_loop.run(transport.open(), timeout_s=10)
    return transport


def test_round_trip_both_ways(io_loop: IoLoop, pty_pair: Pty) -> None:
    transport = opened(io_loop, pty_pair.path, baud=115200)
    assert isinstance(transport, Transport)
    assert transport.description == f"serial {pty_pair.path} 115200 8N1"
    try:
        ident = b"/ISK5\\2MT382-1000\r\n"
        os.write(pty_pair.master, ident)
        assert io_loop.run(read_exactly(transport, len(ident)), timeout_s=10) == ident
        assert io_loop.run(transport.write(b"/?!\r\n"), timeout_s=10) == 5
        assert read_master(pty_pair, 5) == b"/?!\r\n"
        # A burst larger than one read arrives complete and in order.
        burst = bytes(range(256)) * 64
        threading.Thread(target=os.write, args=(pty_pair.master, burst)).start()
        assert io_loop.run(read_exactly(transport, len(burst)), timeout_s=10) == burst
        assert transport.rx_overflow_bytes == 0
    finally:
        io_loop.run(transport.close(), timeout_s=10)
    assert not transport.is_open


def test_read_times_out_with_empty_bytes(io_loop: IoLoop, pty_pair: Pty) -> None:
    transport = opened(io_loop, pty_pair.path)
    try:
        assert io_loop.run(transport.read(timeout_s=0.05), timeout_s=5) == b""
    finally:
        io_loop.run(transport.close(), timeout_s=10)


def speeds(fd: int) -> tuple[int, int]:
    attrs = termios.tcgetattr(fd)
    return attrs[4], attrs[5]


def test_baud_change_while_open(io_loop: IoLoop, pty_pair: Pty) -> None:
    # IEC 62056-21 mode C: the readout starts at 300 baud, then both sides switch (here 9600).
    transport = opened(io_loop, pty_pair.path, baud=300)
    try:
        assert speeds(pty_pair.slave) == (termios.B300, termios.B300)
        io_loop.run(transport.write(b"\x06050\r\n"), timeout_s=10)
        io_loop.run(transport.set_line(9600), timeout_s=10)
        assert speeds(pty_pair.slave) == (termios.B9600, termios.B9600)
        assert transport.line == LineSettings(9600)
        # The acknowledgement sent before the switch arrived whole, and the link still works.
        assert read_master(pty_pair, 6) == b"\x06050\r\n"
        line = b"\x021.8.0(012345.678*kWh)\r\n"
        os.write(pty_pair.master, line)
        assert io_loop.run(read_exactly(transport, len(line)), timeout_s=10) == line
    finally:
        io_loop.run(transport.close(), timeout_s=10)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux pty driver behaviour")
def test_framing_on_a_linux_pty_is_recorded_but_not_applied(io_loop: IoLoop, pty_pair: Pty) -> None:
    # Linux ptys carry 8-bit characters only (pty_set_termios forces CS8, clears PARENB), so
    # 7E1 cannot be set there; the baud rate still is, and the port stays usable.
    transport = opened(io_loop, pty_pair.path, baud=300, bytesize=7, parity="E")
    try:
        assert transport.framing_applied is False
        assert transport.line.describe() == "300 7E1"
        assert speeds(pty_pair.slave) == (termios.B300, termios.B300)
        cflag = termios.tcgetattr(pty_pair.slave)[2]
        assert cflag & termios.CSIZE == termios.CS8
        io_loop.run(transport.set_line(4800, 7, "E", 1), timeout_s=10)
        assert speeds(pty_pair.slave) == (termios.B4800, termios.B4800)
        assert transport.description == f"serial {pty_pair.path} 4800 7E1"
    finally:
        io_loop.run(transport.close(), timeout_s=10)


def test_invalid_line_settings_change_nothing(io_loop: IoLoop, pty_pair: Pty) -> None:
    transport = opened(io_loop, pty_pair.path, baud=300)
    try:
        with pytest.raises(InvalidSettingError, match="parity must be one of N, E, O, M, S"):
            io_loop.run(transport.set_line(9600, 8, "X", 1), timeout_s=10)
        assert speeds(pty_pair.slave) == (termios.B300, termios.B300)
        assert transport.line.baud == 300
    finally:
        io_loop.run(transport.close(), timeout_s=10)


def test_missing_port(io_loop: IoLoop, tmp_path: Path) -> None:
    transport = SerialTransport(SerialSettings(str(tmp_path / "ttyUSB9")))
    with pytest.raises(TransportError) as caught:
        io_loop.run(transport.open(), timeout_s=10)
    assert caught.value.reason is TransportErrorReason.MISSING
    assert "does not exist" in caught.value.message
    assert not transport.is_open


def test_second_open_is_busy_until_the_first_closes(io_loop: IoLoop, pty_pair: Pty) -> None:
    first = opened(io_loop, pty_pair.path)
    second = SerialTransport(SerialSettings(pty_pair.path))
    with pytest.raises(TransportError) as caught:
        io_loop.run(second.open(), timeout_s=10)
    assert caught.value.reason is TransportErrorReason.BUSY
    assert caught.value.message == f"port {pty_pair.path} is busy (used by another program)"
    io_loop.run(first.close(), timeout_s=10)
    io_loop.run(second.open(), timeout_s=10)
    io_loop.run(second.close(), timeout_s=10)


def _open_as_nobody(path: str) -> str:
    """Fork, drop to the unprivileged user 'nobody', try to open ``path``; return the outcome."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never returns into pytest
        outcome = "crashed"
        try:
            os.setgroups([])
            os.setgid(NOBODY_UID)
            os.setuid(NOBODY_UID)

            async def attempt() -> str:
                transport = SerialTransport(SerialSettings(path))
                try:
                    await transport.open()
                except TransportError as exc:
                    return exc.reason.value
                await transport.close()
                return "opened"

            outcome = asyncio.run(asyncio.wait_for(attempt(), 5))
        finally:
            os.write(write_end, outcome.encode())
            os._exit(0)
    os.close(write_end)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            done_pid, _status = os.waitpid(pid, os.WNOHANG)
            if done_pid:
                break
            time.sleep(0.02)
        else:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            return "hung"
        return os.read(read_end, 100).decode()
    finally:
        os.close(read_end)


def test_permission_denied(io_loop: IoLoop, pty_pair: Pty) -> None:
    os.chmod(pty_pair.path, 0)
    if os.geteuid() != 0:
        transport = SerialTransport(SerialSettings(pty_pair.path))
        with pytest.raises(TransportError) as caught:
            io_loop.run(transport.open(), timeout_s=10)
        assert caught.value.reason is TransportErrorReason.PERMISSION_DENIED
        assert "dialout" in caught.value.message
    else:
        # root ignores file modes, so the open runs in a child that gave up root first.
        assert _open_as_nobody(pty_pair.path) == "permission_denied"


def test_device_vanishing_mid_read_is_a_disconnect_not_a_hang(
    io_loop: IoLoop, pty_pair: Pty
) -> None:
    transport = opened(io_loop, pty_pair.path)
    try:
        os.write(pty_pair.master, b"last words")
        assert io_loop.run(read_exactly(transport, 10), timeout_s=10) == b"last words"
        pending = io_loop.submit(transport.read(timeout_s=10))
        time.sleep(0.1)  # the read is now waiting
        pty_pair.close_master()
        with pytest.raises(TransportError) as caught:
            pending.result(timeout=10)
        assert caught.value.reason is TransportErrorReason.DISCONNECTED
        assert not transport.is_open
        # Later calls keep reporting it, and closing still works.
        with pytest.raises(TransportError, match="disconnected"):
            io_loop.run(transport.write(b"x"), timeout_s=10)
        with pytest.raises(TransportError, match="disconnected"):
            io_loop.run(transport.read(timeout_s=0.1), timeout_s=10)
    finally:
        io_loop.run(transport.close(), timeout_s=10)


def test_write_times_out_when_the_device_stops_reading(io_loop: IoLoop, pty_pair: Pty) -> None:
    transport = SerialTransport(SerialSettings(pty_pair.path), write_timeout_s=0.2)
    io_loop.run(transport.open(), timeout_s=10)
    try:
        with pytest.raises(TransportError) as caught:
            io_loop.run(transport.write(b"\x00" * (1 << 20)), timeout_s=10)
        assert caught.value.reason is TransportErrorReason.TIMEOUT
    finally:
        io_loop.run(transport.close(), timeout_s=10)


def test_receive_overflow_is_counted_not_blocking(io_loop: IoLoop, pty_pair: Pty) -> None:
    transport = SerialTransport(SerialSettings(pty_pair.path), max_buffer_bytes=16)
    io_loop.run(transport.open(), timeout_s=10)
    try:
        os.write(pty_pair.master, bytes(100))
        deadline = time.monotonic() + 5
        while transport.rx_overflow_bytes < 84 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert transport.rx_overflow_bytes == 84
        assert io_loop.run(transport.read(timeout_s=1), timeout_s=5) == bytes(16)
    finally:
        io_loop.run(transport.close(), timeout_s=10)


def test_calls_on_a_closed_port_fail_clearly(io_loop: IoLoop, pty_pair: Pty) -> None:
    transport = SerialTransport(SerialSettings(pty_pair.path))
    with pytest.raises(TransportError, match="is not open"):
        io_loop.run(transport.read(), timeout_s=5)
    io_loop.run(transport.close(), timeout_s=5)  # closing a never-opened port is fine


def test_selector_reads_start_no_thread_and_the_thread_path_still_works(
    io_loop: IoLoop, pty_pair: Pty
) -> None:
    # POSIX: the I/O loop's selector watches the port; no reader thread per port.
    transport = opened(io_loop, pty_pair.path)
    try:
        assert not [t for t in threading.enumerate() if t.name.startswith("serial-reader")]
        os.write(pty_pair.master, b"via the selector\r\n")
        assert io_loop.run(read_exactly(transport, 18), timeout_s=10) == b"via the selector\r\n"
    finally:
        io_loop.run(transport.close(), timeout_s=10)
    # The thread path (what Windows always uses) reads and reports a vanished device the same.
    threaded = SerialTransport(SerialSettings(pty_pair.path), selector_reads=False)
    io_loop.run(threaded.open(), timeout_s=10)
    try:
        assert [t for t in threading.enumerate() if t.name == f"serial-reader {pty_pair.path}"]
        os.write(pty_pair.master, b"via a thread\r\n")
        assert io_loop.run(read_exactly(threaded, 14), timeout_s=10) == b"via a thread\r\n"
        pending = io_loop.submit(threaded.read(timeout_s=10))
        time.sleep(0.1)
        pty_pair.close_master()
        with pytest.raises(TransportError) as caught:
            pending.result(timeout=10)
        assert caught.value.reason is TransportErrorReason.DISCONNECTED
    finally:
        io_loop.run(threaded.close(), timeout_s=10)


def test_bytes_nobody_waits_for_are_read_on_the_next_tick_and_silence_is_not_a_hang_up(
    io_loop: IoLoop, pty_pair: Pty
) -> None:
    # Between reads the selector stops watching the port and reads it once a tick instead; a
    # tty read then finds nothing (pyserial's VMIN=0 gives b"", not EAGAIN), which must not be
    # taken for the hang-up it means after the selector said "readable".
    transport = opened(io_loop, pty_pair.path, baud=115200)
    try:
        os.write(pty_pair.master, b"first burst\r\n")
        time.sleep(0.3)  # several ticks with bytes waiting and no read waiting
        os.write(pty_pair.master, b"second burst\r\n")
        time.sleep(0.3)  # then several silent ticks
        assert transport.is_open
        assert io_loop.run(read_exactly(transport, 27), timeout_s=10) == (
            b"first burst\r\nsecond burst\r\n")
        time.sleep(0.3)
        assert transport.is_open
        assert io_loop.run(transport.read(timeout_s=0.05), timeout_s=5) == b""
        os.write(pty_pair.master, b"still here\r\n")
        assert io_loop.run(read_exactly(transport, 12), timeout_s=10) == b"still here\r\n"
    finally:
        io_loop.run(transport.close(), timeout_s=10)
