"""Scaled clock, bench power, outage history and meter registers, on hand-driven time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from devices.emulator.bench import BenchConfig, EmulatedBench, mpan_check_digit
from devices.emulator.clock import ManualMonotonic, ScaledClock, iso_ms
from devices.emulator.power import BenchPower, CutSource, MeterRegisters, PlannedOutage

from .conftest import BENCH_START


def test_scaled_clock_runs_time_scale_times_faster(mono: ManualMonotonic) -> None:
    clock = ScaledClock(BENCH_START, time_scale=60, monotonic=mono)
    mono.advance(3.0)
    assert clock.now() == BENCH_START + timedelta(minutes=3)
    assert clock.emulated_elapsed_s(mono()) == pytest.approx(180.0)
    assert clock.real_s(180.0) == pytest.approx(3.0)
    assert clock.mono_for_elapsed(180.0) == pytest.approx(mono())


def test_scaled_clock_rejects_naive_start_and_bad_scale(mono: ManualMonotonic) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        ScaledClock(datetime(2026, 1, 1), monotonic=mono)
    with pytest.raises(ValueError, match="time_scale"):
        ScaledClock(BENCH_START, time_scale=0, monotonic=mono)


def test_iso_ms_has_milliseconds_and_z() -> None:
    moment = datetime(2026, 11, 25, 10, 3, 0, 10_999, tzinfo=UTC)
    assert iso_ms(moment) == "2026-11-25T10:03:00.010Z"


def test_relay_cut_records_outage_with_emulated_times(mono: ManualMonotonic) -> None:
    clock = ScaledClock(BENCH_START, time_scale=60, monotonic=mono)
    power = BenchPower(clock)
    assert power.is_on(mono())
    power.set_cut(CutSource.RELAY, True, mono.advance(1.0))
    assert not power.is_on(mono.advance(1.0))
    power.set_cut(CutSource.RELAY, False, mono.advance(1.0))
    [outage] = power.outages(mono())
    assert outage.start == BENCH_START + timedelta(minutes=1)
    assert outage.end == BENCH_START + timedelta(minutes=3)
    assert outage.duration_s == pytest.approx(120.0)
    assert power.failure_count(mono()) == 1
    # Emulated powered time excludes the outage: 3 real s * 60 minus 120 s dark.
    assert power.powered_elapsed_s(mono()) == pytest.approx(60.0)


def test_outage_plan_drives_power_without_the_relay(mono: ManualMonotonic) -> None:
    clock = ScaledClock(BENCH_START, time_scale=60, monotonic=mono)
    plan = [PlannedOutage(1.0, 120.0), PlannedOutage(5.0, 240.0)]
    power = BenchPower(clock, plan)
    assert power.is_on(mono.advance(0.5))
    assert not power.is_on(mono.advance(1.0))  # 1.5 s: inside the 2-emulated-minute outage
    assert power.is_on(mono.advance(2.0))  # 3.5 s: it ended at 3.0 s
    assert not power.is_on(mono.advance(2.0))  # 5.5 s: second outage, 4 emulated minutes
    assert power.is_on(mono.advance(4.0))  # 9.5 s: it ended at 9.0 s
    short, long_ = power.outages(mono())
    assert (short.start, short.duration_s) == (BENCH_START + timedelta(minutes=1), 120.0)
    assert (long_.start, long_.duration_s) == (BENCH_START + timedelta(minutes=5), 240.0)


def test_relay_and_plan_overlap_as_one_outage(mono: ManualMonotonic) -> None:
    clock = ScaledClock(BENCH_START, time_scale=1, monotonic=mono)
    power = BenchPower(clock, [PlannedOutage(10.0, 10.0)])
    power.set_cut(CutSource.RELAY, True, mono.advance(5.0))
    power.set_cut(CutSource.RELAY, False, mono.advance(10.0))  # plan still cuts until 20 s
    assert not power.is_on(mono())
    assert power.is_on(mono.advance(5.0))
    [outage] = power.outages(mono())
    assert outage.duration_s == pytest.approx(15.0)


def test_plan_cannot_be_set_by_hand(mono: ManualMonotonic) -> None:
    power = BenchPower(ScaledClock(BENCH_START, monotonic=mono))
    with pytest.raises(ValueError):
        power.set_cut(CutSource.PLAN, True, mono())


def test_registers_advance_only_while_powered(mono: ManualMonotonic) -> None:
    clock = ScaledClock(BENCH_START, time_scale=3600, monotonic=mono)
    power = BenchPower(clock)
    registers = MeterRegisters(power, import_start_kwh=100.0, load_kw=0.5)
    mono.advance(2.0)  # two emulated hours
    assert registers.import_kwh(mono()) == pytest.approx(101.0)
    power.set_cut(CutSource.RELAY, True, mono())
    mono.advance(2.0)
    assert registers.import_kwh(mono()) == pytest.approx(101.0)
    assert registers.active_power_kw(mono()) == 0.0


def test_bench_config_validates_identities() -> None:
    assert mpan_check_digit("131234567890") == 7
    with pytest.raises(ValueError, match="mpan"):
        BenchConfig(mpan="1312345678900")
    with pytest.raises(ValueError, match="esme_eui"):
        BenchConfig(esme_eui="00DB1234567890A0")
    assert BenchConfig(gsme_eui="00-db-12-34-56-78-90-a1").gsme_eui == "00-DB-12-34-56-78-90-A1"
    assert BenchConfig(outage_plan=[(1.0, 60.0)]).outage_plan == [PlannedOutage(1.0, 60.0)]


def test_esme_power_event_log(
    make_bench: Callable[..., EmulatedBench], mono: ManualMonotonic
) -> None:
    bench = make_bench(time_scale=60, outage_plan=[(1.0, 179.9), (5.0, 180.0)])
    mono.advance(10.0)
    events = [(e.at - BENCH_START, f"{e.alert_code:04X}") for e in bench.esme_power_events(mono())]
    assert events == [
        (timedelta(minutes=1), "8F57"),
        (timedelta(minutes=1, seconds=179.9), "8F35"),
        (timedelta(minutes=5), "8F57"),
        (timedelta(minutes=8), "8F36"),
    ]
