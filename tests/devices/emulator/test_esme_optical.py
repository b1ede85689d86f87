"""ESME optical port (IEC 62056-21 mode C, meter side) on hand-driven time."""

from __future__ import annotations

import re
from collections.abc import Callable

from devices.emulator.bench import EmulatedBench
from devices.emulator.clock import ManualMonotonic
from devices.emulator.esme_optical import EsmeOpticalPort, OpticalState
from devices.emulator.power import CutSource


def xor_check(message: bytes) -> int:
    """BCC written out from the standard: XOR of every byte after STX up to and including ETX."""
    assert message[0] == 0x02
    etx_at = message.index(0x03)
    check = 0
    for byte in message[1 : etx_at + 1]:
        check ^= byte
    return check


def send(port: EsmeOpticalPort, data: bytes, mono: ManualMonotonic) -> None:
    """Write as a carrier does: input, then a poll at once (the reaction time starts there)."""
    port.handle_input(data)
    assert port.pending_output(mono()) == b""  # the reaction time has not passed yet


def readout(port: EsmeOpticalPort, mono: ManualMonotonic) -> tuple[bytes, bytes]:
    send(port, b"/?!\r\n", mono)
    assert port.pending_output(mono.advance(0.15)) == b""
    ident = port.pending_output(mono.advance(0.1))
    send(port, b"\x06050\r\n", mono)
    assert port.pending_output(mono.advance(0.1)) == b""
    data = port.pending_output(mono.advance(0.15))
    return ident, data


def test_mode_c_readout(make_bench: Callable[..., EmulatedBench], mono: ManualMonotonic) -> None:
    bench = make_bench(time_scale=3600)
    mono.advance(1.0)  # one emulated hour at 0.45 kW
    ident, data = readout(bench.esme_optical, mono)
    assert ident == b"/EML5EMLESME-2\r\n"
    assert bench.esme_optical.negotiated_baud == 9600
    assert data[0] == 0x02 and data[-2] == 0x03
    assert data[-1] == xor_check(data)
    assert all(byte < 0x80 for byte in data)
    block = data[1:-2].decode("ascii")
    assert block.endswith("!\r\n")
    lines = block.split("\r\n")
    assert "0.0.0(EML34567890A0)" in lines
    assert "C.7.0(0000)" in lines
    imported = re.search(r"1\.8\.0\((\d+\.\d{3})\*kWh\)", block)
    assert imported is not None
    assert abs(float(imported.group(1)) - (12345.678 + 0.45 * 1.25)) < 0.01
    assert re.search(r"2\.8\.0\(\d+\.\d{3}\*kWh\)", block)


def test_import_register_increases_with_time(
    make_bench: Callable[..., EmulatedBench], mono: ManualMonotonic
) -> None:
    bench = make_bench(time_scale=3600)
    values = []
    for _ in range(2):
        _, data = readout(bench.esme_optical, mono)
        values.append(float(re.search(rb"1\.8\.0\(([\d.]+)", data).group(1)))  # type: ignore[union-attr]
        mono.advance(1.0)
    assert values[1] > values[0]


def test_power_failure_count_follows_outages(
    make_bench: Callable[..., EmulatedBench], mono: ManualMonotonic
) -> None:
    bench = make_bench()
    for _ in range(3):
        bench.power.set_cut(CutSource.RELAY, True, mono.advance(1.0))
        bench.power.set_cut(CutSource.RELAY, False, mono.advance(1.0))
    _, data = readout(bench.esme_optical, mono)
    assert b"C.7.0(0003)\r\n" in data


def test_silent_without_mains_and_forgets_exchange(
    make_bench: Callable[..., EmulatedBench], mono: ManualMonotonic
) -> None:
    bench = make_bench()
    port = bench.esme_optical
    send(port, b"/?!\r\n", mono)
    bench.power.set_cut(CutSource.RELAY, True, mono.advance(0.1))
    assert port.pending_output(mono.advance(1.0)) == b""
    port.handle_input(b"/?!\r\n")
    assert port.pending_output(mono.advance(1.0)) == b""
    bench.power.set_cut(CutSource.RELAY, False, mono.advance(0.1))
    assert port.pending_output(mono.advance(1.0)) == b""  # the request died with the meter
    assert port.state is OpticalState.IDLE
    ident, data = readout(port, mono)
    assert ident.startswith(b"/EML5") and data[-1] == xor_check(data)


def test_address_must_match_or_be_empty(
    make_bench: Callable[..., EmulatedBench], mono: ManualMonotonic
) -> None:
    port = make_bench().esme_optical
    send(port, b"/?OTHER123!\r\n", mono)
    assert port.pending_output(mono.advance(1.0)) == b""
    send(port, b"/?EML34567890A0!\r\n", mono)
    assert port.pending_output(mono.advance(1.0)) == b"/EML5EMLESME-2\r\n"


def test_option_select_without_request_and_programming_mode_get_no_answer(
    make_bench: Callable[..., EmulatedBench], mono: ManualMonotonic
) -> None:
    port = make_bench().esme_optical
    send(port, b"\x06050\r\n", mono)
    assert port.pending_output(mono.advance(1.0)) == b""
    send(port, b"/?!\r\n", mono)
    assert port.pending_output(mono.advance(1.0)).startswith(b"/EML5")
    send(port, b"\x06051\r\n", mono)  # programming mode is not emulated
    assert port.pending_output(mono.advance(1.0)) == b""


def test_option_timeout_returns_to_idle(
    make_bench: Callable[..., EmulatedBench], mono: ManualMonotonic
) -> None:
    port = make_bench().esme_optical
    send(port, b"/?!\r\n", mono)
    assert port.pending_output(mono.advance(1.0)).startswith(b"/EML5")
    port.pending_output(mono.advance(10.0))
    send(port, b"\x06050\r\n", mono)
    assert port.pending_output(mono.advance(1.0)) == b""


def test_parity_bit_is_ignored_and_bcc_can_be_corrupted(
    make_bench: Callable[..., EmulatedBench], mono: ManualMonotonic
) -> None:
    port = make_bench(corrupt_bcc=True).esme_optical
    with_parity = bytes(b | 0x80 if bin(b).count("1") % 2 else b for b in b"/?!\r\n")
    send(port, with_parity, mono)
    assert port.pending_output(mono.advance(0.3)).startswith(b"/EML5")
    send(port, b"\x06050\r\n", mono)
    data = port.pending_output(mono.advance(0.3))
    assert data[-1] != xor_check(data)
