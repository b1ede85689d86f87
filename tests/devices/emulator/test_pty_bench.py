"""The emulated bench on real pseudo-terminals, driven through pyserial as the host would."""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable

import pytest
import serial

from devices.codecs.gbcs import decode_alert_hex
from devices.emulator.bench import EmulatedBench
from devices.emulator.pacing import FloodMode
from devices.emulator.runner import EmulatorHost, run_emulator

ESME = "00-DB-12-34-56-78-90-A0"


def read_until(port: serial.Serial, pattern: bytes, timeout_s: float = 5.0) -> bytes:
    """Read until ``pattern`` (a regex) matches the data so far, or fail after ``timeout_s``."""
    data = bytearray()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        data += port.read(port.in_waiting or 1)
        if re.search(pattern, data):
            return bytes(data)
    raise AssertionError(f"{pattern!r} not seen in {timeout_s} s; got {bytes(data[-400:])!r}")


def command(relay: serial.Serial, text: bytes) -> bytes:
    relay.write(text + b"\r\n")
    return relay.readline()


def test_iec_readout_with_baud_switch(make_real_bench: Callable[..., EmulatedBench]) -> None:
    with EmulatorHost(make_real_bench()) as host:
        with serial.Serial(
            host.ports["esme_optical"], 300, bytesize=7, parity="E", timeout=2
        ) as port:
            port.write(b"/?!\r\n")
            assert port.readline() == b"/EML5EMLESME-2\r\n"
            port.write(b"\x06050\r\n")
            port.baudrate = 9600  # both sides switch after option select
            message = read_until(port, rb"\x03.", timeout_s=3)
    assert message[0] == 0x02
    etx_at = message.index(0x03)
    check = 0
    for byte in message[1 : etx_at + 1]:  # after STX up to and including ETX
        check ^= byte
    assert message[etx_at + 1] == check
    block = message[1:etx_at].decode("ascii")
    assert block.startswith("0.0.0(EML34567890A0)\r\n") and block.endswith("!\r\n")
    assert re.search(r"1\.8\.0\(\d+\.\d{3}\*kWh\)\r\n", block)
    assert "C.7.0(0000)" in block


def test_relay_outages_silence_bench_and_report_8f35_then_8f36(
    make_real_bench: Callable[..., EmulatedBench],
) -> None:
    bench = make_real_bench(time_scale=120, alert_rate_per_min=0, noise_lines_per_s=5)
    with EmulatorHost(bench) as host:
        relay = serial.Serial(host.ports["relay"], 9600, timeout=2)
        hub = serial.Serial(host.ports["ch_debug"], 115200, timeout=0.1)
        esme = serial.Serial(host.ports["esme_optical"], 300, bytesize=7, parity="E", timeout=0.5)
        with relay, hub, esme:
            read_until(hub, rb"HAN join eui=\S+ type=IHD\r\n")
            codes = []
            for outage_s in (0.75, 2.0):  # 90 and 240 emulated seconds; 3 minutes is 1.5 s
                assert command(relay, b"RELAY 1 OFF") == b"OK\r\n"
                cut_at_s = time.monotonic()
                assert command(relay, b"STATUS") == b"RELAY 1 OFF\r\n"
                time.sleep(0.05)
                hub.reset_input_buffer()
                esme.write(b"/?!\r\n")
                assert esme.read(1) == b""  # a dead meter: nothing within the timeout
                assert hub.read(4096) == b""
                time.sleep(max(0.0, cut_at_s + outage_s - time.monotonic()))
                assert command(relay, b"RELAY 1 ON") == b"OK\r\n"
                log = read_until(hub, rb"GBCS alert rx eui=\S+ apdu=[0-9A-F]+\r\n").decode()
                assert "[INF] SYS boot fw=CH-EMU 1.4.2" in log
                assert re.search(r"\[WRN\] PWR outage start=\S+Z mpxn=1312345678907\r\n", log)
                restored = re.search(r"\[INF\] PWR restored at=\S+Z duration_s=([\d.]+) ", log)
                assert restored is not None
                apdu = re.search(rf"alert rx eui={ESME} apdu=([0-9A-F]+)", log).group(1)  # type: ignore[union-attr]
                codes.append((decode_alert_hex(apdu).alert_code, float(restored.group(1))))
            esme.write(b"/?!\r\n")
            assert esme.readline() == b"/EML5EMLESME-2\r\n"  # alive again
    assert [code for code, _ in codes] == ["8F35", "8F36"]
    assert codes[0][1] < 180 <= codes[1][1]
    assert bench.power.failure_count(time.monotonic()) == 2


def test_closing_a_port_mid_read(make_real_bench: Callable[..., EmulatedBench]) -> None:
    with EmulatorHost(make_real_bench(alert_rate_per_min=0, noise_lines_per_s=0)) as host:
        path = host.ports["ch_debug"]
        hub = serial.Serial(path, 115200, timeout=5)
        failure: list[BaseException] = []

        def reader() -> None:
            try:
                while True:
                    hub.read(1024)
            except serial.SerialException as exc:
                failure.append(exc)

        thread = threading.Thread(target=reader)
        thread.start()
        time.sleep(0.2)
        host.close_port("ch_debug")
        thread.join(3)
        assert not thread.is_alive()
        assert len(failure) == 1
        hub.close()
        assert not os.path.exists(path)
        assert "ch_debug" not in host.ports
        with serial.Serial(host.ports["relay"], 9600, timeout=2) as relay:
            assert command(relay, b"STATUS") == b"RELAY 1 ON\r\n"  # the others carry on


def test_host_can_close_and_reopen_a_port(make_real_bench: Callable[..., EmulatedBench]) -> None:
    with EmulatorHost(make_real_bench()) as host:
        for _ in range(3):
            with serial.Serial(host.ports["relay"], 9600, timeout=2) as relay:
                assert command(relay, b"STATUS") == b"RELAY 1 ON\r\n"


@pytest.mark.parametrize("baud", [9600, 115200])
def test_pacing_at_baud(make_real_bench: Callable[..., EmulatedBench], baud: int) -> None:
    bench = make_real_bench(pace_baud=baud, flood=FloodMode.ENDLESS_LINE)
    with (
        EmulatorHost(bench) as host,
        serial.Serial(host.ports["ch_debug"], baud, timeout=0.05) as hub,
    ):
        settle_until = time.monotonic() + 0.5  # let the pty buffer and out-box reach steady state
        while time.monotonic() < settle_until:
            hub.read(65536)
        received = 0
        start_s = time.monotonic()
        while time.monotonic() - start_s < 1.5:
            received += len(hub.read(65536))
        rate = received / (time.monotonic() - start_s)
    assert baud / 10 * 0.9 <= rate <= baud / 10 * 1.1


def test_run_emulator_reports_ports_and_stops() -> None:
    seen: dict[str, str] = {}
    stop = threading.Event()

    def ready(ports: dict[str, str]) -> None:
        seen.update(ports)
        with serial.Serial(ports["relay"], 9600, timeout=2) as relay:
            assert command(relay, b"STATUS") == b"RELAY 1 ON\r\n"
        stop.set()

    started_s = time.monotonic()
    run_emulator(None, 60.0, 0.0, ready, stop_event=stop, seed=1)
    assert time.monotonic() - started_s < 5
    assert set(seen) == {"esme_optical", "ch_debug", "relay"}
    assert all(path.startswith("/dev/pts/") for path in seen.values())
    assert not any(os.path.exists(path) for path in seen.values())

    run_emulator(0.2, 60.0, 0.0, lambda ports: None)  # returns after its seconds
