"""Comms Hub debug port on hand-driven time: log format, boot, outages, alerts, pacing, floods."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest

from devices.codecs.gbcs import decode_alert_hex
from devices.emulator.bench import EmulatedBench
from devices.emulator.clock import ManualMonotonic, iso_ms
from devices.emulator.comms_hub import CHF_ALERTS, ESME_ALERTS, GSME_ALERTS
from devices.emulator.pacing import FloodMode
from devices.emulator.power import CutSource

from .conftest import BENCH_START

LINE = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) \[(INF|WRN|DBG|ERR)\] ([A-Z]+) (.+)")
ESME = "00-DB-12-34-56-78-90-A0"
GSME = "00-DB-12-34-56-78-90-A1"
CHF = "00-DB-12-34-56-78-90-A2"


def run(bench: EmulatedBench, mono: ManualMonotonic, seconds: float, step_s: float = 0.01) -> bytes:
    """Poll the hub like a carrier would, for ``seconds`` of real time."""
    out = bytearray()
    for _ in range(round(seconds / step_s)):
        out += bench.comms_hub.pending_output(mono.advance(step_s))
    return bytes(out)


def lines_of(data: bytes) -> list[re.Match[str]]:
    assert data.endswith(b"\r\n")
    text_lines = data.decode("ascii").split("\r\n")[:-1]
    matches = [LINE.fullmatch(line) for line in text_lines]
    assert all(matches), [line for line, m in zip(text_lines, matches, strict=True) if not m]
    return matches  # type: ignore[return-value]


def test_boot_sequence_and_line_format(
    make_bench: Callable[..., EmulatedBench], mono: ManualMonotonic
) -> None:
    bench = make_bench(noise_lines_per_s=0, alert_rate_per_min=0)
    lines = lines_of(run(bench, mono, 3.0))
    assert lines[0].group(0) == (
        "2026-11-25T10:00:00.000Z [INF] SYS boot fw=CH-EMU 1.4.2 eui=00-DB-12-34-56-78-90-A2"
    )
    assert lines[1].group(0) == (
        "2026-11-25T10:00:00.500Z [INF] SYS status uptime_s=0 wan=UP rssi_dbm="
        + lines[1].group(4).split("rssi_dbm=")[1]
    )
    joins = [m.group(4) for m in lines if m.group(3) == "HAN"]
    assert joins == [
        f"join eui={ESME} type=ESME",
        f"join eui={GSME} type=GSME",
        "join eui=00-DB-12-34-56-78-90-A3 type=IHD",
    ]
    assert lines[2].group(1) == "2026-11-25T10:00:01.000Z"


def test_periodic_status_and_readings(
    make_bench: Callable[..., EmulatedBench], mono: ManualMonotonic
) -> None:
    bench = make_bench(time_scale=60, noise_lines_per_s=0, alert_rate_per_min=0)
    lines = lines_of(run(bench, mono, 12.0, step_s=0.05))  # 12 emulated minutes
    statuses = [m for m in lines if m.group(4).startswith("status ")]
    assert len(statuses) == 12
    assert "uptime_s=660 " in statuses[-1].group(4)
    reads = [m.group(4) for m in lines if m.group(3) == "READ"]
    assert len(reads) == 3
    values = [float(re.search(r"value=([\d.]+) unit=kWh", r).group(1)) for r in reads]  # type: ignore[union-attr]
    assert values == sorted(values) and values[0] < values[-1]
    assert all(r.startswith(f"eui={ESME} obis=1.8.0 ") for r in reads)


def outage_report(
    make_bench: Callable[..., EmulatedBench],
    mono: ManualMonotonic,
    outage_real_s: float,
) -> tuple[EmulatedBench, bytes, list[re.Match[str]]]:
    bench = make_bench(time_scale=60, alert_rate_per_min=0)
    run(bench, mono, 2.0)
    bench.power.set_cut(CutSource.RELAY, True, mono())
    during = run(bench, mono, outage_real_s)
    bench.power.set_cut(CutSource.RELAY, False, mono())
    return bench, during, lines_of(run(bench, mono, 1.0))


@pytest.mark.parametrize(("outage_real_s", "code"), [(2.0, "8F35"), (2.99, "8F35"), (3.0, "8F36")])
def test_outage_silences_then_reboots_and_reports(
    make_bench: Callable[..., EmulatedBench],
    mono: ManualMonotonic,
    outage_real_s: float,
    code: str,
) -> None:
    bench, during, lines = outage_report(make_bench, mono, outage_real_s)
    assert during == b""
    start = BENCH_START + timedelta(minutes=2)
    end = start + timedelta(seconds=outage_real_s * 60)
    assert lines[0].group(0).endswith(f"[INF] SYS boot fw=CH-EMU 1.4.2 eui={CHF}")
    assert lines[0].group(1) == iso_ms(end)
    pwr = [m for m in lines if m.group(3) == "PWR"]
    assert [m.group(2) for m in pwr] == ["WRN", "INF"]
    assert pwr[0].group(4) == f"outage start={iso_ms(start)} mpxn=1312345678907"
    assert pwr[1].group(4) == (
        f"restored at={iso_ms(end)} duration_s={outage_real_s * 60:.1f} mpxn=1312345678907"
    )
    joins = [i for i, m in enumerate(lines) if m.group(3) == "HAN"]
    assert len(joins) == 3 and joins[-1] < lines.index(pwr[0])
    alerts = [m.group(4) for m in lines if m.group(3) == "GBCS"]
    assert len(alerts) == 1
    eui, apdu = re.fullmatch(r"alert rx eui=(\S+) apdu=([0-9A-F]+)", alerts[0]).groups()  # type: ignore[union-attr]
    decoded = decode_alert_hex(apdu)
    assert (eui, decoded.originator, decoded.alert_code) == (ESME, ESME, code)
    assert decoded.content_kind == "dlms"
    assert decoded.timestamp is not None and abs(decoded.timestamp - end) < timedelta(seconds=1)
    assert bench.comms_hub.boots == 2


def test_outage_plan_gives_short_and_long_outages(
    make_bench: Callable[..., EmulatedBench], mono: ManualMonotonic
) -> None:
    bench = make_bench(time_scale=60, alert_rate_per_min=0, outage_plan=[(2.0, 150), (6.0, 200)])
    lines = lines_of(run(bench, mono, 12.0, step_s=0.02))
    codes = [
        decode_alert_hex(m.group(4).split("apdu=")[1]).alert_code
        for m in lines
        if m.group(3) == "GBCS"
    ]
    assert codes == ["8F35", "8F36"]
    restored = [m.group(4) for m in lines if m.group(4).startswith("restored")]
    assert ["duration_s=150.0" in restored[0], "duration_s=200.0" in restored[1]] == [True, True]


def test_outage_shorter_than_a_poll_is_still_seen(
    make_bench: Callable[..., EmulatedBench], mono: ManualMonotonic
) -> None:
    bench = make_bench(time_scale=60, alert_rate_per_min=0, noise_lines_per_s=0)
    run(bench, mono, 1.0)
    bench.power.set_cut(CutSource.RELAY, True, mono.advance(0.001))
    bench.power.set_cut(CutSource.RELAY, False, mono.advance(0.001))
    text = run(bench, mono, 1.0).decode("ascii")
    assert "duration_s=0.1 " in text and text.count("SYS boot") == 1


def test_routine_alerts_at_rate_decode_per_originator(
    make_bench: Callable[..., EmulatedBench], mono: ManualMonotonic
) -> None:
    bench = make_bench(alert_rate_per_min=60, noise_lines_per_s=0)
    lines = lines_of(run(bench, mono, 120.0, step_s=0.1))
    alerts = [m.group(4) for m in lines if m.group(3) == "GBCS"]
    assert 90 <= len(alerts) <= 150
    kinds = {ESME: "dlms", GSME: "gbz", CHF: "der"}
    codes = {ESME: ESME_ALERTS, GSME: GSME_ALERTS, CHF: CHF_ALERTS}
    seen = set()
    for text in alerts:
        eui, apdu = re.fullmatch(r"alert rx eui=(\S+) apdu=([0-9A-F]+)", text).groups()  # type: ignore[union-attr]
        decoded = decode_alert_hex(apdu)
        assert decoded.originator == eui
        assert decoded.content_kind == kinds[eui]
        assert int(decoded.alert_code, 16) in codes[eui]
        assert (decoded.wrapper == "general_ciphering") == (eui == CHF)
        seen.add(eui)
    assert seen == {ESME, GSME, CHF}


def test_same_seed_same_output(
    make_bench: Callable[..., EmulatedBench], mono: ManualMonotonic
) -> None:
    first, second = make_bench(alert_rate_per_min=30), make_bench(alert_rate_per_min=30)
    out_first, out_second = bytearray(), bytearray()
    for _ in range(3000):
        now_s = mono.advance(0.01)
        out_first += first.comms_hub.pending_output(now_s)
        out_second += second.comms_hub.pending_output(now_s)
    assert out_first == out_second
    assert b"[DBG] ZB mac" in out_first


def test_pacing_limits_bytes_per_second(
    make_bench: Callable[..., EmulatedBench], mono: ManualMonotonic
) -> None:
    bench = make_bench(pace_baud=9600, noise_lines_per_s=200, time_scale=60)
    data = run(bench, mono, 10.0)
    assert 9600 * 0.99 <= len(data) <= 9600 * 1.01  # 960 bytes/s for 10 s
    assert bench.comms_hub.dropped_bytes > 0  # 200 lines/s cannot fit: the oldest are dropped


def test_flood_endless_line(
    make_bench: Callable[..., EmulatedBench], mono: ManualMonotonic
) -> None:
    bench = make_bench(flood=FloodMode.ENDLESS_LINE, alert_rate_per_min=0)
    first = bench.comms_hub.pending_output(mono.advance(0.01))
    assert first.startswith(b"2026-11-25T10:00:00.000Z [INF] SYS boot")
    later = run(bench, mono, 0.5)
    assert len(later) > 100_000
    assert b"\n" not in later[-50_000:] and b"\r" not in later[-50_000:]


def test_flood_garbage_bursts_between_lines(
    make_bench: Callable[..., EmulatedBench], mono: ManualMonotonic
) -> None:
    bench = make_bench(flood=FloodMode.GARBAGE, noise_lines_per_s=20, time_scale=60)
    data = run(bench, mono, 5.0)
    assert any(byte >= 0x80 for byte in data)
    assert data.count(b"[INF] SYS status") >= 4


def test_long_stall_does_not_burst_missed_periodic_lines(
    make_bench: Callable[..., EmulatedBench], mono: ManualMonotonic
) -> None:
    bench = make_bench(alert_rate_per_min=0, noise_lines_per_s=0)
    run(bench, mono, 3.0)
    data = bench.comms_hub.pending_output(mono.advance(3600.0))
    assert data.count(b"SYS status") <= 2


def test_debug_port_ignores_input(
    make_bench: Callable[..., EmulatedBench], mono: ManualMonotonic
) -> None:
    bench = make_bench(noise_lines_per_s=0, alert_rate_per_min=0)
    bench.comms_hub.handle_input(b"help\r\n")
    assert lines_of(run(bench, mono, 0.1))[0].group(4).startswith("boot ")
