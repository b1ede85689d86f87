"""Carries emulated endpoints on real pseudo-terminals, so host code opens them like serial ports.

One background thread runs a selector loop over every pty master: bytes the host writes to a
slave are handed to its endpoint, and every poll interval (or sooner, when input arrives) each
endpoint is asked what it sends. Output the host has not yet read waits in a bounded out-box; the
endpoint is not asked for more while the out-box is full, which is the back-pressure a real UART
gives.

The slave side of each pty stays open here as well as in the host, so a host closing and
reopening the port never leaves the master without a slave (reads on such a master fail with
EIO on Linux).
"""

from __future__ import annotations

import errno
import logging
import os
import queue
import selectors
import threading
import time
import tty
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType

from devices.emulator.endpoint import EmulatedEndpoint

logger = logging.getLogger(__name__)

READ_CHUNK_BYTES = 4096
REFILL_BELOW_BYTES = 4096  # ask an endpoint for more only while its out-box is below this


@dataclass
class _Port:
    name: str
    endpoint: EmulatedEndpoint
    master_fd: int
    slave_fd: int
    path: str
    outbox: bytearray = field(default_factory=bytearray)
    writing: bool = False  # registered for EVENT_WRITE (the pty buffer was full)
    failed: bool = False  # the endpoint raised; the port stays open but silent


class PtyHost:
    """Serves endpoints on pseudo-terminals from one background thread.

    Args:
        endpoints: endpoint per port name.
        poll_interval_s: how often endpoints are asked for time-driven output.
        monotonic: real monotonic time source passed to ``pending_output``.
    """

    def __init__(
        self,
        endpoints: Mapping[str, EmulatedEndpoint],
        poll_interval_s: float = 0.01,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if poll_interval_s <= 0:
            raise ValueError(f"poll_interval_s must be positive, got {poll_interval_s}")
        self._endpoints = dict(endpoints)
        self._poll_interval_s = poll_interval_s
        self._monotonic = monotonic
        self._ports: dict[str, _Port] = {}
        self._selector: selectors.BaseSelector | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._requests: queue.Queue[tuple[str, threading.Event]] = queue.Queue()
        self._wake_r = self._wake_w = -1

    @property
    def ports(self) -> dict[str, str]:
        """Slave device path per open port name, e.g. ``{"relay": "/dev/pts/7"}``."""
        return {name: port.path for name, port in list(self._ports.items())}

    def start(self) -> None:
        """Open one pty per endpoint and start serving them."""
        if self._thread is not None:
            raise RuntimeError("the pty host is already running")
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        try:
            for name, endpoint in self._endpoints.items():
                self._ports[name] = self._open(name, endpoint)
        except OSError:
            self._close_all()
            raise
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="pty-host", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 2.0) -> None:
        """Stop serving and close every pty."""
        if self._thread is not None:
            self._stopping.set()
            self._wake()
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                logger.warning("pty host thread did not stop within %.1f s", timeout_s)
            self._thread = None
        self._close_all()

    def close_port(self, name: str, timeout_s: float = 2.0) -> None:
        """Make one port vanish, as when a USB adapter is pulled: its slave path disappears.

        Raises:
            KeyError: no open port has that name.
        """
        if name not in self._ports:
            raise KeyError(name)
        if self._thread is None:
            self._close_port_now(name)
            return
        done = threading.Event()
        self._requests.put((name, done))
        self._wake()
        if not done.wait(timeout_s):
            raise TimeoutError(f"port {name!r} was not closed within {timeout_s} s")

    def __enter__(self) -> PtyHost:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _open(self, name: str, endpoint: EmulatedEndpoint) -> _Port:
        master_fd, slave_fd = os.openpty()
        # Raw slave: no echo, no CR/LF translation, no signals; the host sees bytes unchanged.
        tty.setraw(slave_fd)
        os.set_blocking(master_fd, False)
        port = _Port(name, endpoint, master_fd, slave_fd, os.ttyname(slave_fd))
        assert self._selector is not None
        self._selector.register(master_fd, selectors.EVENT_READ, port)
        return port

    def _run(self) -> None:
        assert self._selector is not None
        selector = self._selector
        while not self._stopping.is_set():
            for key, mask in selector.select(self._poll_interval_s):
                port = key.data
                if port is None:
                    self._serve_requests()
                    continue
                if port.name not in self._ports:
                    continue  # closed earlier in this round
                if mask & selectors.EVENT_READ:
                    self._read(port)
                if mask & selectors.EVENT_WRITE:
                    self._flush(port)
            now_s = self._monotonic()
            for port in list(self._ports.values()):
                self._refill(port, now_s)

    def _read(self, port: _Port) -> None:
        while True:
            try:
                data = os.read(port.master_fd, READ_CHUNK_BYTES)
            except BlockingIOError:
                return
            except OSError as exc:
                if exc.errno == errno.EIO:
                    return  # no slave open at this instant; nothing to read
                raise
            if not data:
                return
            if not port.failed:
                try:
                    port.endpoint.handle_input(data)
                except Exception:
                    self._fail(port)
            if len(data) < READ_CHUNK_BYTES:
                return

    def _refill(self, port: _Port, now_s: float) -> None:
        if port.failed or len(port.outbox) >= REFILL_BELOW_BYTES:
            return
        try:
            data = port.endpoint.pending_output(now_s)
        except Exception:
            self._fail(port)
            return
        if data:
            port.outbox += data
            self._flush(port)

    def _flush(self, port: _Port) -> None:
        while port.outbox:
            try:
                written = os.write(port.master_fd, port.outbox)
            except BlockingIOError:
                break
            except OSError as exc:
                if exc.errno != errno.EIO:
                    raise
                break
            del port.outbox[:written]
        want_write = bool(port.outbox)
        if want_write != port.writing:
            assert self._selector is not None
            events = selectors.EVENT_READ | (selectors.EVENT_WRITE if want_write else 0)
            self._selector.modify(port.master_fd, events, port)
            port.writing = want_write

    def _fail(self, port: _Port) -> None:
        logger.exception("emulated endpoint %r failed; its port stays open but silent", port.name)
        port.failed = True

    def _serve_requests(self) -> None:
        try:
            while os.read(self._wake_r, 512):
                pass
        except BlockingIOError:
            pass
        while True:
            try:
                name, done = self._requests.get_nowait()
            except queue.Empty:
                return
            if name in self._ports:
                self._close_port_now(name)
            done.set()

    def _close_port_now(self, name: str) -> None:
        port = self._ports.pop(name)
        if self._selector is not None:
            try:
                self._selector.unregister(port.master_fd)
            except (KeyError, ValueError):
                pass
        for fd in (port.master_fd, port.slave_fd):
            try:
                os.close(fd)
            except OSError:
                pass

    def _wake(self) -> None:
        try:
            os.write(self._wake_w, b"\0")
        except (BlockingIOError, OSError):
            pass  # a wake-up is already pending, or the pipe is closed

    def _close_all(self) -> None:
        for name in list(self._ports):
            self._close_port_now(name)
        if self._selector is not None:
            self._selector.close()
            self._selector = None
        for fd in (self._wake_r, self._wake_w):
            if fd >= 0:
                os.close(fd)
        self._wake_r = self._wake_w = -1
