"""Relay board protocol, as byte tables, on hand-driven time."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from devices.emulator.bench import EmulatedBench
from devices.emulator.clock import ManualMonotonic
from devices.emulator.relay import RelayState


@pytest.mark.parametrize(
    ("command", "reply"),
    [
        (b"STATUS\r\n", b"RELAY 1 ON\r\n"),
        (b"RELAY 1 OFF\r\n", b"OK\r\n"),
        (b"RELAY 3 OFF\n", b"OK\r\n"),
        (b"relay 2 on\r", b"OK\r\n"),
        (b"STATUS 4\r\n", b"RELAY 4 ON\r\n"),
        (b"RELAY 5 OFF\r\n", b"ERR unknown command\r\n"),
        (b"RELAY 1 TOGGLE\r\n", b"ERR unknown command\r\n"),
        (b"HELLO\r\n", b"ERR unknown command\r\n"),
        (b"\r\n\r\n", b""),
    ],
)
def test_relay_replies(
    make_bench: Callable[..., EmulatedBench],
    mono: ManualMonotonic,
    command: bytes,
    reply: bytes,
) -> None:
    relay = make_bench().relay
    relay.handle_input(command)
    assert relay.pending_output(mono()) == reply


def test_relay_1_switches_bench_mains(
    make_bench: Callable[..., EmulatedBench], mono: ManualMonotonic
) -> None:
    bench = make_bench(time_scale=60)
    bench.relay.handle_input(b"RELAY 1 OFF\r\nSTATUS\r\n")
    assert bench.relay.pending_output(mono.advance(1.0)) == b"OK\r\nRELAY 1 OFF\r\n"
    assert not bench.power.is_on(mono())
    bench.relay.handle_input(b"RELAY 1 ON\r\n")
    assert bench.relay.pending_output(mono.advance(2.0)) == b"OK\r\n"
    assert bench.power.is_on(mono())
    [outage] = bench.power.outages(mono())
    assert outage.duration_s == pytest.approx(120.0)


def test_other_channels_do_not_touch_mains(
    make_bench: Callable[..., EmulatedBench], mono: ManualMonotonic
) -> None:
    bench = make_bench()
    bench.relay.handle_input(b"RELAY 2 OFF\r\n")
    bench.relay.pending_output(mono())
    assert bench.relay.state(2) is RelayState.OFF
    assert bench.power.is_on(mono())


def test_command_split_across_writes_and_overlong_garbage(
    make_bench: Callable[..., EmulatedBench], mono: ManualMonotonic
) -> None:
    relay = make_bench().relay
    relay.handle_input(b"STA")
    assert relay.pending_output(mono()) == b""
    relay.handle_input(b"TUS\r")
    assert relay.pending_output(mono()) == b"RELAY 1 ON\r\n"
    relay.handle_input(b"X" * 200)
    assert relay.pending_output(mono()) == b""
    relay.handle_input(b"ZZZ\r\nSTATUS\r\n")
    assert relay.pending_output(mono()) == b"ERR unknown command\r\nRELAY 1 ON\r\n"
