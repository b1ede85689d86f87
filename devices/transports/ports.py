"""Serial port listing and hot-plug watching.

The operating system lists real adapters only; pseudo-terminals (``/dev/pts/7``) and symlinks
made by udev rules are not listed but can still be opened by path (:class:`SerialSettings`
accepts any path).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from serial.tools import list_ports

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PortInfo:
    """One serial port the operating system knows about.

    Attributes:
        device: path or name to open (``/dev/ttyUSB0``, ``COM3``).
        description: human-readable description from the driver.
        hwid: hardware identifier string (``USB VID:PID=0403:6001 SER=A12345``).
        vid: USB vendor id, if a USB device.
        pid: USB product id, if a USB device.
        serial_number: USB serial number, if any.
        manufacturer: USB manufacturer string, if any.
    """

    device: str
    description: str = ""
    hwid: str = ""
    vid: int | None = None
    pid: int | None = None
    serial_number: str | None = None
    manufacturer: str | None = None


def list_serial_ports() -> list[PortInfo]:
    """List the serial ports present now, sorted by device name.

    Blocking (it reads sysfs or the Windows registry): call it from an executor on the I/O loop.
    """
    ports = [
        PortInfo(
            device=p.device,
            description=p.description or "",
            hwid=p.hwid or "",
            vid=p.vid,
            pid=p.pid,
            serial_number=p.serial_number,
            manufacturer=p.manufacturer,
        )
        for p in list_ports.comports()
    ]
    return sorted(ports, key=lambda p: p.device)


PortChangeCallback = Callable[[list[PortInfo], list[PortInfo]], None]


class PortWatcher:
    """Polls the port list and reports ports that appeared or vanished.

    Runs as a task on the I/O loop; the listing itself runs in the loop's executor.

    Args:
        on_change: called on the I/O thread with ``(added, removed)`` whenever either is
            non-empty. A port whose details changed (another adapter on the same path) is
            reported as removed and added.
        interval_s: time between polls.
        lister: the listing function; :func:`list_serial_ports` by default.
        list_timeout_s: how long one listing may take before the poll is skipped.
    """

    def __init__(
        self,
        on_change: PortChangeCallback,
        *,
        interval_s: float = 1.0,
        lister: Callable[[], Sequence[PortInfo]] = list_serial_ports,
        list_timeout_s: float = 5.0,
    ) -> None:
        if interval_s <= 0:
            raise ValueError(f"interval_s must be greater than 0, got {interval_s}.")
        self._on_change = on_change
        self._interval_s = interval_s
        self._lister = lister
        self._list_timeout_s = list_timeout_s
        self._known: dict[PortInfo, None] = {}
        self._task: asyncio.Task[None] | None = None

    @property
    def ports(self) -> list[PortInfo]:
        """The ports seen at the last poll."""
        return list(self._known)

    @property
    def running(self) -> bool:
        """True while the polling task runs."""
        return self._task is not None and not self._task.done()

    async def poll_once(self) -> tuple[list[PortInfo], list[PortInfo]]:
        """List ports now, update :attr:`ports` and return ``(added, removed)``.

        A listing that fails or times out is logged and treated as "no change".
        """
        loop = asyncio.get_running_loop()
        try:
            current = await asyncio.wait_for(
                loop.run_in_executor(None, self._lister), self._list_timeout_s
            )
        except Exception:  # one failed listing must not stop hot-plug watching
            logger.warning("listing serial ports failed", exc_info=True)
            return [], []
        now = dict.fromkeys(current)
        added = [p for p in now if p not in self._known]
        removed = [p for p in self._known if p not in now]
        self._known = now
        return added, removed

    async def start(self, report_initial: bool = False) -> None:
        """Take the first listing and start polling.

        Args:
            report_initial: also report the ports present at start as added.
        """
        if self.running:
            return
        added, _removed = await self.poll_once()
        if report_initial and added:
            self._notify(added, [])
        self._task = asyncio.get_running_loop().create_task(self._run(), name="port-watcher")

    async def stop(self, timeout_s: float = 2.0) -> None:
        """Stop polling, waiting at most ``timeout_s`` for the task to end."""
        task, self._task = self._task, None
        if task is None or task.done():
            return
        task.cancel()
        await asyncio.wait({task}, timeout=timeout_s)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            added, removed = await self.poll_once()
            if added or removed:
                self._notify(added, removed)

    def _notify(self, added: list[PortInfo], removed: list[PortInfo]) -> None:
        try:
            self._on_change(added, removed)
        except Exception:  # a faulty listener must not stop the watcher
            logger.exception("port change callback failed")
