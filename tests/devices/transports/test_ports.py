"""Port listing and hot-plug watching."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import tty
from pathlib import Path

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


#: Run in a private mount namespace: a /dev holding two real ptys named as USB adapters, and a
#: /sys/class/tty describing them as an FTDI cable and a CDC-ACM probe, as the kernel would.
_LIST_IN_NAMESPACE = r"""
import json, os, subprocess, sys
work, ftdi_pts, acm_pts = sys.argv[1:4]

def mount(*args):
    subprocess.run(["mount", *args], check=True)

def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text + "\n")

# sysfs: /sys/class/tty/<name>/device -> the interface's tty node, whose subsystem names the bus.
sysfs = "/sys/class/tty"
mount("-t", "tmpfs", "tmpfs", sysfs)
tree = sysfs + "/.devices"
usb = {"ttyUSB7": ("usb1/1-1", "1-1:1.0", "usb-serial", "0403", "6001", "A1B2C3", "FTDI",
                   "FT232R USB UART"),
       "ttyACM3": ("usb1/1-2", "1-2:1.0", "usb", "2341", "0043", "", "Optical Probes Ltd",
                   "IEC optical probe")}
for name, (dev, intf, bus, vid, pid, serial, maker, product) in usb.items():
    os.makedirs(f"{tree}/bus/{bus}", exist_ok=True)
    node = f"{tree}/{dev}/{intf}/{name}" if bus == "usb-serial" else f"{tree}/{dev}/{intf}"
    os.makedirs(node, exist_ok=True)
    if not os.path.lexists(f"{node}/subsystem"):
        os.symlink(f"{tree}/bus/{bus}", f"{node}/subsystem")
    for key, value in (("idVendor", vid), ("idProduct", pid), ("serial", serial),
                       ("manufacturer", maker), ("product", product), ("bNumInterfaces", " 1")):
        if value:
            write(f"{tree}/{dev}/{key}", value)
    os.makedirs(f"{sysfs}/{name}")
    os.symlink(node, f"{sysfs}/{name}/device")

# /dev: a fresh tmpfs with the two ptys bound onto adapter names.
dev = work + "/dev"
os.makedirs(dev)
mount("-t", "tmpfs", "tmpfs", dev)
for name, pts in (("ttyUSB7", ftdi_pts), ("ttyACM3", acm_pts)):
    open(f"{dev}/{name}", "w").close()
    mount("--bind", pts, f"{dev}/{name}")
mount("--rbind", dev, "/dev")

from devices.transports.ports import list_serial_ports
ports = list_serial_ports()
for p in ports:  # each listed port is a real, working tty
    fd = os.open(p.device, os.O_RDWR | os.O_NOCTTY)
    os.write(fd, p.device.encode() + b"\n")
    os.close(fd)
print(json.dumps([p.__class__.__name__ and [p.device, p.vid, p.pid, p.serial_number,
                                            p.manufacturer, p.hwid] for p in ports]))
"""


def test_listing_finds_usb_adapters_on_real_ptys_behind_a_fake_sysfs(tmp_path: Path) -> None:
    """pyserial's real listing code against a sysfs that describes two USB serial adapters."""
    if os.name != "posix" or os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare(1) to give the test its own /dev and /sys/class/tty")
    ftdi_master, ftdi_slave = os.openpty()
    acm_master, acm_slave = os.openpty()
    tty.setraw(ftdi_slave)
    tty.setraw(acm_slave)
    try:
        done = subprocess.run(
            ["unshare", "--mount", "--propagation", "private", sys.executable, "-c",
             _LIST_IN_NAMESPACE, str(tmp_path), os.ttyname(ftdi_slave), os.ttyname(acm_slave)],
            capture_output=True, text=True, timeout=20, cwd=Path(__file__).parents[3],
            check=False)
        if done.returncode != 0 and "unshare failed" in done.stderr:
            pytest.skip(f"no private mount namespace here: {done.stderr.strip()}")
        assert done.returncode == 0, done.stderr
        ports = json.loads(done.stdout)
        assert [p[:5] for p in ports] == [
            ["/dev/ttyACM3", 0x2341, 0x0043, None, "Optical Probes Ltd"],
            ["/dev/ttyUSB7", 0x0403, 0x6001, "A1B2C3", "FTDI"],
        ]
        assert ports[1][5] == "USB VID:PID=0403:6001 SER=A1B2C3 LOCATION=1-1"
        assert os.read(ftdi_master, 100) == b"/dev/ttyUSB7\n"
        assert os.read(acm_master, 100) == b"/dev/ttyACM3\n"
    finally:
        for fd in (ftdi_master, ftdi_slave, acm_master, acm_slave):
            os.close(fd)


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
