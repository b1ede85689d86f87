"""SimTransport against a tiny echo endpoint, and the bounded receive buffer."""

from __future__ import annotations

import threading

import pytest

from devices.io_loop import IoLoop
from devices.transports.base import (
    InvalidSettingError,
    Transport,
    TransportError,
    TransportErrorReason,
)
from devices.transports.rx_buffer import RxBuffer
from devices.transports.sim import SimTransport

pytestmark = pytest.mark.timeout(30)


class EchoEndpoint:
    """Sends back every byte it receives, upper-cased, ``delay_s`` later."""

    def __init__(self, delay_s: float = 0.0, now_s: float = 0.0) -> None:
        self.delay_s = delay_s
        self._queue: list[tuple[float, bytes]] = []
        self._now_s = now_s  # the device learns the time only when asked for output

    def handle_input(self, data: bytes) -> None:
        self._queue.append((self._now_s + self.delay_s, data.upper()))

    def pending_output(self, now_s: float) -> bytes:
        self._now_s = now_s
        due = [data for at_s, data in self._queue if at_s <= now_s]
        self._queue = [(at_s, data) for at_s, data in self._queue if at_s > now_s]
        return b"".join(due)


class ManualClock:
    def __init__(self) -> None:
        self.now_s = 100.0

    def __call__(self) -> float:
        return self.now_s


def test_echo_round_trip(io_loop: IoLoop) -> None:
    transport = SimTransport(EchoEndpoint(), name="echo")
    assert isinstance(transport, Transport)
    assert transport.description == "emulated echo"

    async def scenario() -> tuple[bytes, bytes, bytes]:
        await transport.open()
        await transport.write(b"/?!\r\n")
        first = await transport.read(max_bytes=2, timeout_s=1)
        rest = await transport.read(timeout_s=1)
        nothing = await transport.read(timeout_s=0.03)
        await transport.close()
        return first, rest, nothing

    assert io_loop.run(scenario(), timeout_s=5) == (b"/?", b"!\r\n", b"")


def test_output_arrives_when_the_device_time_comes(io_loop: IoLoop) -> None:
    clock = ManualClock()
    transport = SimTransport(
        EchoEndpoint(delay_s=5.0, now_s=clock.now_s), poll_interval_s=0.005, monotonic=clock
    )

    async def scenario() -> tuple[bytes, bytes]:
        await transport.open()
        await transport.write(b"ping")
        early = await transport.read(timeout_s=0.02)
        clock.now_s += 5.0
        late = await transport.read(timeout_s=1)
        return early, late

    assert io_loop.run(scenario(), timeout_s=5) == (b"", b"PING")


def test_closed_sim_and_line_settings(io_loop: IoLoop) -> None:
    transport = SimTransport(EchoEndpoint())
    with pytest.raises(TransportError) as caught:
        io_loop.run(transport.read(), timeout_s=5)
    assert caught.value.reason is TransportErrorReason.IO_ERROR
    io_loop.run(transport.open(), timeout_s=5)
    io_loop.run(transport.set_line(300, 7, "E", 1), timeout_s=5)
    assert transport.line.describe() == "300 7E1"
    with pytest.raises(InvalidSettingError, match="bytesize must be one of"):
        io_loop.run(transport.set_line(300, 9, "E", 1), timeout_s=5)
    with pytest.raises(ValueError, match="poll_interval_s"):
        SimTransport(EchoEndpoint(), poll_interval_s=0)


def test_buffer_counts_overflow_and_raises_failure_after_draining(io_loop: IoLoop) -> None:
    async def scenario() -> tuple[bytes, bytes, int, int]:
        buffer = RxBuffer(io_loop.loop, max_bytes=8)
        # Fed from another thread, as the serial reader does.
        feeder = threading.Thread(target=lambda: buffer.put(b"0123456789ABCDEF"))
        feeder.start()
        feeder.join()
        buffer.fail(TransportError(TransportErrorReason.DISCONNECTED, "gone"))
        first = await buffer.get(5, timeout_s=1)
        second = await buffer.get(100, timeout_s=1)
        return first, second, buffer.overflow_bytes, buffer.received_bytes

    assert io_loop.run(scenario(), timeout_s=5) == (b"01234", b"567", 8, 16)

    async def after_drain() -> None:
        buffer = RxBuffer(io_loop.loop)
        buffer.fail(TransportError(TransportErrorReason.DISCONNECTED, "gone"))
        await buffer.get(1, timeout_s=1)

    with pytest.raises(TransportError, match="gone"):
        io_loop.run(after_drain(), timeout_s=5)


def test_buffer_wakes_a_waiting_reader_from_another_thread(io_loop: IoLoop) -> None:
    async def scenario() -> bytes:
        buffer = RxBuffer(io_loop.loop)
        timer = threading.Timer(0.05, buffer.put, args=(b"late",))
        timer.start()
        try:
            return await buffer.get(10, timeout_s=5)
        finally:
            timer.cancel()

    assert io_loop.run(scenario(), timeout_s=10) == b"late"


def test_buffer_fed_on_the_loop_wakes_a_waiting_reader_and_calls_its_wait_hook(
    io_loop: IoLoop,
) -> None:
    async def scenario() -> tuple[bytes, int, bool, bytes, bool]:
        buffer = RxBuffer(io_loop.loop)
        waits: list[bool] = []
        buffer.set_wait_hook(lambda: waits.append(buffer.has_waiters))
        io_loop.loop.call_later(0.05, buffer.put_in_loop, b"on the loop")
        got = await buffer.get(100, timeout_s=5)
        timed_out = await buffer.get(100, timeout_s=0.02)
        return got, len(waits), all(waits), timed_out, buffer.has_waiters

    got, hook_calls, waiting_when_called, timed_out, still_waiting = io_loop.run(
        scenario(), timeout_s=10)
    assert got == b"on the loop" and timed_out == b""
    assert hook_calls == 2 and waiting_when_called and not still_waiting

    async def failing() -> bytes:
        buffer = RxBuffer(io_loop.loop)
        io_loop.loop.call_later(
            0.02, buffer.fail_in_loop, TransportError(TransportErrorReason.DISCONNECTED, "gone"))
        return await buffer.get(1, timeout_s=5)

    with pytest.raises(TransportError, match="gone"):
        io_loop.run(failing(), timeout_s=10)
