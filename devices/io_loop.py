"""The one background thread that owns all device I/O.

Every transport, scanner and device session runs as asyncio code on this thread. Other threads
(the Qt main thread, the storage writer, the CLI) hand it coroutines with :meth:`IoLoop.submit`
and get a :class:`concurrent.futures.Future` back; they never touch a transport directly. Code
that must only run here calls :meth:`IoLoop.assert_io_thread`, so a wrong-thread call fails loudly
in tests instead of racing silently in the field.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Callable, Coroutine
from enum import Enum
from typing import Any, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")


class IoLoopState(str, Enum):
    """Life cycle of an :class:`IoLoop`."""

    NEW = "new"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"


class IoLoopError(RuntimeError):
    """The I/O loop was used in a state that does not allow it (not started, already stopped)."""


class WrongThreadError(AssertionError):
    """Code meant for the I/O thread ran on another thread."""


class IoLoop:
    """A background thread running one asyncio event loop.

    Args:
        name: thread name, shown in debuggers and thread dumps.

    Example:
        >>> io = IoLoop()
        >>> io.start()
        >>> io.submit(asyncio.sleep(0, result=42)).result(timeout=1.0)
        42
        >>> io.stop()
        True
    """

    def __init__(self, name: str = "meterlab-io") -> None:
        self._name = name
        self._state = IoLoopState.NEW
        self._state_lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()

    @property
    def state(self) -> IoLoopState:
        """Where the loop is in its life cycle."""
        return self._state

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The running event loop.

        Raises:
            IoLoopError: if the loop is not running.
        """
        if self._loop is None or self._state is not IoLoopState.RUNNING:
            raise IoLoopError(f"the I/O loop is {self._state.value}, not running")
        return self._loop

    @property
    def thread_id(self) -> int | None:
        """Identifier of the I/O thread, or None before start."""
        return self._thread.ident if self._thread is not None else None

    def start(self, timeout_s: float = 5.0) -> None:
        """Start the thread and wait until its loop runs.

        Args:
            timeout_s: how long to wait for the loop to come up.

        Raises:
            IoLoopError: if already started, or the loop did not come up in time.
        """
        with self._state_lock:
            if self._state is not IoLoopState.NEW:
                raise IoLoopError(f"the I/O loop cannot start: it is {self._state.value}")
            self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._thread.start()
            # Held under the lock so a concurrent stop() sees RUNNING, never a half-started loop.
            if not self._started.wait(timeout_s):
                raise IoLoopError(f"the I/O loop did not start within {timeout_s} s")

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        self._state = IoLoopState.RUNNING
        loop.call_soon(self._started.set)
        try:
            loop.run_forever()
        finally:
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
            except Exception:  # a broken async generator must not keep the thread alive
                logger.exception("error while shutting down async generators")
            loop.close()
            self._state = IoLoopState.STOPPED

    def stop(self, timeout_s: float = 5.0) -> bool:
        """Cancel every task still running, stop the loop and join the thread.

        Safe to call more than once and before :meth:`start`.

        Args:
            timeout_s: total time allowed for tasks to finish cancelling and the thread to end.

        Returns:
            True if the thread ended within ``timeout_s``; False if it is still running (it is a
            daemon thread, so it cannot keep the process alive).

        Raises:
            IoLoopError: if called from the I/O thread itself (it would wait for itself).
        """
        with self._state_lock:
            if self._state is IoLoopState.NEW:
                self._state = IoLoopState.STOPPED
                return True
            if self._state is IoLoopState.STOPPED:
                return True
            if self.is_io_thread():
                raise IoLoopError("stop() called from the I/O thread would wait for itself")
            first_stop = self._state is IoLoopState.RUNNING
            self._state = IoLoopState.STOPPING
        loop = self._loop
        thread = self._thread
        assert loop is not None and thread is not None
        if first_stop:
            # Leave part of the budget for the join: cancellation handlers may themselves wait.
            cancel_budget_s = timeout_s * 0.8
            try:
                loop.call_soon_threadsafe(lambda: loop.create_task(self._shutdown(cancel_budget_s)))
            except RuntimeError:  # loop already closed
                pass
        thread.join(timeout_s)
        if thread.is_alive():
            logger.warning("the I/O thread did not end within %s s", timeout_s)
            return False
        return True

    async def _shutdown(self, timeout_s: float) -> None:
        loop = asyncio.get_running_loop()
        current = asyncio.current_task()
        tasks = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            _done, pending = await asyncio.wait(tasks, timeout=timeout_s)
            for task in pending:
                logger.warning("task %r ignored cancellation during I/O loop shutdown", task)
        loop.stop()

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Run a coroutine on the I/O loop from any thread.

        Args:
            coro: the coroutine to run.

        Returns:
            A future for its result; wait on it with a timeout (``future.result(timeout=...)``),
            or add a done-callback. Cancelling the future cancels the task.

        Raises:
            IoLoopError: if the loop is not running (the coroutine is closed, not leaked).
        """
        try:
            loop = self.loop
        except IoLoopError:
            coro.close()
            raise
        return asyncio.run_coroutine_threadsafe(coro, loop)

    def run(self, coro: Coroutine[Any, Any, T], timeout_s: float) -> T:
        """Run a coroutine on the I/O loop and wait for its result (for non-UI threads only).

        Args:
            coro: the coroutine to run.
            timeout_s: how long to wait; the task is cancelled when it runs out.

        Returns:
            The coroutine's result.

        Raises:
            TimeoutError: if the result did not arrive in time.
            IoLoopError: if called from the I/O thread (it would deadlock) or the loop is down.
        """
        if self.is_io_thread():
            coro.close()
            raise IoLoopError("run() called from the I/O thread would deadlock: await instead")
        future = self.submit(coro)
        try:
            return future.result(timeout=timeout_s)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(f"I/O operation did not finish within {timeout_s} s") from None

    def call_soon_threadsafe(self, callback: Callable[..., object], *args: Any) -> asyncio.Handle:
        """Schedule a plain callback on the I/O loop from any thread.

        Raises:
            IoLoopError: if the loop is not running.
        """
        return self.loop.call_soon_threadsafe(callback, *args)

    def is_io_thread(self) -> bool:
        """True when the caller runs on the I/O thread."""
        return self._thread is not None and threading.get_ident() == self._thread.ident

    def assert_io_thread(self) -> None:
        """Fail unless the caller runs on the I/O thread.

        Raises:
            WrongThreadError: naming the thread the call came from.
        """
        if not self.is_io_thread():
            raise WrongThreadError(
                f"must run on the I/O thread {self._name!r}, "
                f"not on {threading.current_thread().name!r}"
            )
