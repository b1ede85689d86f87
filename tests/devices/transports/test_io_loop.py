"""The I/O loop: start, submit, thread checks, timeouts, shutdown that always ends."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading

import pytest

from devices.io_loop import IoLoop, IoLoopError, IoLoopState, WrongThreadError

pytestmark = pytest.mark.timeout(30)


def test_submit_runs_on_the_io_thread(io_loop: IoLoop) -> None:
    async def where() -> tuple[bool, str]:
        io_loop.assert_io_thread()
        return io_loop.is_io_thread(), threading.current_thread().name

    on_io, name = io_loop.submit(where()).result(timeout=5)
    assert on_io is True
    assert name == "test-io"
    assert io_loop.is_io_thread() is False
    assert io_loop.state is IoLoopState.RUNNING


def test_assert_io_thread_names_the_wrong_thread(io_loop: IoLoop) -> None:
    with pytest.raises(WrongThreadError, match="must run on the I/O thread 'test-io'"):
        io_loop.assert_io_thread()


def test_call_soon_threadsafe_runs_the_callback_on_the_io_thread(io_loop: IoLoop) -> None:
    seen: concurrent.futures.Future[bool] = concurrent.futures.Future()
    io_loop.call_soon_threadsafe(lambda: seen.set_result(io_loop.is_io_thread()))
    assert seen.result(timeout=5) is True


def test_run_returns_the_result_and_times_out(io_loop: IoLoop) -> None:
    assert io_loop.run(asyncio.sleep(0, result="done"), timeout_s=5) == "done"
    with pytest.raises(TimeoutError, match="did not finish within 0.05 s"):
        io_loop.run(asyncio.sleep(60), timeout_s=0.05)


def test_run_from_the_io_thread_is_refused_instead_of_deadlocking(io_loop: IoLoop) -> None:
    async def nested() -> None:
        io_loop.run(asyncio.sleep(0), timeout_s=1)

    with pytest.raises(IoLoopError, match="would deadlock"):
        io_loop.submit(nested()).result(timeout=5)


def test_stop_cancels_pending_tasks_and_joins() -> None:
    loop = IoLoop()
    loop.start()
    forever = loop.submit(asyncio.sleep(3600))
    assert loop.stop(timeout_s=5) is True
    assert loop.state is IoLoopState.STOPPED
    assert forever.cancelled()


def test_stop_ends_even_when_a_task_ignores_cancellation() -> None:
    loop = IoLoop()
    loop.start()
    cancelled_once = threading.Event()

    async def stubborn() -> None:
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                cancelled_once.set()

    loop.submit(stubborn())
    assert loop.stop(timeout_s=0.5) is True
    assert cancelled_once.is_set()
    assert loop.state is IoLoopState.STOPPED


def test_life_cycle_errors() -> None:
    loop = IoLoop()
    with pytest.raises(IoLoopError, match="is new, not running"):
        _ = loop.loop
    loop.start()
    with pytest.raises(IoLoopError, match="cannot start"):
        loop.start()
    assert loop.stop() is True
    assert loop.stop() is True  # twice is fine
    coro = asyncio.sleep(0)
    with pytest.raises(IoLoopError, match="not running"):
        loop.submit(coro)
    assert coro.cr_frame is None  # closed, so no "never awaited" warning


def test_stop_before_start_and_from_the_io_thread() -> None:
    assert IoLoop().stop() is True
    loop = IoLoop()
    loop.start()

    async def stop_self() -> bool:
        return loop.stop()

    with pytest.raises(IoLoopError, match="would wait for itself"):
        loop.submit(stop_self()).result(timeout=5)
    assert loop.stop() is True
