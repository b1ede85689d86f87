"""Port listing and hot-plug watching."""

from __future__ import annotations

import threading

import pytest

from devices.io_loop import IoLoop
from devices.transports.ports import PortInfo, PortWatcher, list_serial_ports

pytestmark = pytest.mark.timeout(30)

USB0 = PortInfo(
    "/dev/ttyUSB0", "FT232R USB UART", "USB VID:PID=0403:6001 SER=A1", 0x0403, 0x6001, "A1", "FTDI"
)
ACM0 = PortInfo("/dev/ttyACM0", "Optical probe", "USB VID:PID=2341:0043", 0x2341, 0x0043)


class FakePortList:
    """Stands in for the operating system's port list: there is no USB hot-plug here."""

    def __init__(self, *ports: PortInfo) -> None:
        self.ports = list(ports)
        self.fail_next = False

    def __call__(self) -> list[PortInfo]:
        if self.fail_next:
            self.fail_next = False
            raise OSError("sysfs went away")
        return list(self.ports)


def test_list_serial_ports_returns_port_infos() -> None:
    ports = list_serial_ports()  # often empty in a container; the shape is what matters
    assert all(isinstance(p, PortInfo) and p.device for p in ports)
    assert [p.device for p in ports] == sorted(p.device for p in ports)


def test_poll_reports_added_and_removed(io_loop: IoLoop) -> None:
    ports = FakePortList(USB0)
    watcher = PortWatcher(lambda added, removed: None, lister=ports)
    assert io_loop.run(watcher.poll_once(), timeout_s=5) == ([USB0], [])
    ports.ports.append(ACM0)
    assert io_loop.run(watcher.poll_once(), timeout_s=5) == ([ACM0], [])
    ports.ports.remove(USB0)
    assert io_loop.run(watcher.poll_once(), timeout_s=5) == ([], [USB0])
    ports.fail_next = True
    assert io_loop.run(watcher.poll_once(), timeout_s=5) == ([], [])
    assert watcher.ports == [ACM0]


def test_watcher_calls_back_on_the_io_thread(io_loop: IoLoop) -> None:
    ports = FakePortList(USB0)
    changes: list[tuple[list[PortInfo], list[PortInfo], bool]] = []
    changed = threading.Event()

    def on_change(added: list[PortInfo], removed: list[PortInfo]) -> None:
        changes.append((added, removed, io_loop.is_io_thread()))
        changed.set()
        raise RuntimeError("a faulty listener must not stop the watcher")

    watcher = PortWatcher(on_change, interval_s=0.01, lister=ports)
    io_loop.run(watcher.start(), timeout_s=5)
    assert watcher.running and changes == []  # ports present at start are not news
    ports.ports = [ACM0]
    assert changed.wait(5)
    changed.clear()
    ports.ports = [ACM0, USB0]
    assert changed.wait(5)
    io_loop.run(watcher.stop(), timeout_s=5)
    assert not watcher.running
    assert changes == [([ACM0], [USB0], True), ([USB0], [], True)]


def test_watcher_can_report_initial_ports(io_loop: IoLoop) -> None:
    seen: list[list[PortInfo]] = []
    watcher = PortWatcher(lambda added, removed: seen.append(added), lister=FakePortList(USB0))
    io_loop.run(watcher.start(report_initial=True), timeout_s=5)
    io_loop.run(watcher.stop(), timeout_s=5)
    assert seen == [[USB0]]
    with pytest.raises(ValueError, match="interval_s"):
        PortWatcher(lambda a, r: None, interval_s=0)
