"""Outage tracking with the standards' timings: 2:59, 3:00, 10:00, missing and orphan alerts."""

from datetime import UTC, datetime, timedelta

import pytest

from app.domain.outages import OutageTracker, PowerEvidence, TrackerConfig

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def relay_outage(tr: OutageTracker, bench: str, start_s: float, duration_s: float,
                 alert: str | None, alert_delay_s: float = 2.0, hub: bool = True) -> None:
    tr.feed(PowerEvidence("relay_off", bench, at(start_s)))
    tr.feed(PowerEvidence("relay_on", bench, at(start_s + duration_s)))
    if hub:
        # The Comms Hub boots and then logs when the outage started and ended.
        tr.feed(PowerEvidence("device_start", bench, at(start_s + duration_s + 1), device_time=at(start_s),
                              mpxn="1312345678907"))
        tr.feed(PowerEvidence("device_end", bench, at(start_s + duration_s + 1),
                              device_time=at(start_s + duration_s), duration_s=duration_s, mpxn="1312345678907"))
    if alert:
        tr.feed(PowerEvidence("alert", bench, at(start_s + duration_s + alert_delay_s), code=alert,
                              device="ESME 1", mpxn="1312345678907"))


def flags(o) -> list[str]:
    return [f.code for f in o.flags]


@pytest.mark.parametrize("duration_s, alert, expected_long, expected_flags", [
    (179, "8F35", False, []),
    (179, "8F36", False, ["wrong_restore_alert"]),
    (180, "8F36", True, []),
    (180, "8F35", True, ["wrong_restore_alert"]),
    (600, "8F36", True, []),
    (600, "8F35", True, ["wrong_restore_alert"]),
])
def test_three_minute_boundary(duration_s, alert, expected_long, expected_flags) -> None:
    tr = OutageTracker()
    relay_outage(tr, "Bench 1", 0, duration_s, alert)
    tr.evaluate(at(duration_s + 100))
    (o,) = tr.outages
    assert o.duration_s == duration_s and o.long is expected_long
    assert o.start_source == "relay" and o.device_start == at(0) and o.mpxn == "1312345678907"
    assert o.restore_alert_code == alert and o.latency_s == 2.0
    assert flags(o) == expected_flags


def test_missing_restore_alert_flagged_only_after_the_wait() -> None:
    tr = OutageTracker(TrackerConfig(restore_alert_wait_s=60))
    relay_outage(tr, "Bench 1", 0, 120, None)
    tr.evaluate(at(150))
    assert flags(tr.outages[0]) == []
    tr.evaluate(at(181))
    assert flags(tr.outages[0]) == ["missing_restore_alert"]
    assert "8F35 expected" in tr.outages[0].flags[0].message


def test_restore_alert_without_a_start() -> None:
    tr = OutageTracker()
    tr.feed(PowerEvidence("alert", "Bench 2", at(50), code="8F35", device="ESME 2"))
    tr.evaluate(at(60))
    (o,) = tr.outages
    assert flags(o) == ["restore_without_start"] and o.restore_alert_code == "8F35"


def test_late_alert_against_the_8_second_target_and_per_code_targets() -> None:
    tr = OutageTracker()
    relay_outage(tr, "Bench 1", 0, 60, "8F35", alert_delay_s=8.5)
    tr.evaluate(at(200))
    assert flags(tr.outages[0]) == ["late_alert"] and "8.5 s" in tr.outages[0].flags[0].message
    tr2 = OutageTracker(TrackerConfig(latency_target_s={"8F35": 10.0}))
    relay_outage(tr2, "Bench 1", 0, 60, "8F35", alert_delay_s=8.5)
    tr2.evaluate(at(200))
    assert flags(tr2.outages[0]) == []


def test_overlapping_outages_on_two_benches_stay_apart() -> None:
    tr = OutageTracker()
    tr.feed(PowerEvidence("relay_off", "Bench 1", at(0)))
    tr.feed(PowerEvidence("relay_off", "Bench 2", at(30)))
    tr.feed(PowerEvidence("relay_on", "Bench 1", at(100)))
    tr.feed(PowerEvidence("alert", "Bench 1", at(103), code="8F35", device="ESME 1"))
    tr.feed(PowerEvidence("relay_on", "Bench 2", at(330)))
    tr.feed(PowerEvidence("alert", "Bench 2", at(332), code="8F36", device="ESME 2"))
    tr.evaluate(at(500))
    b1, b2 = sorted(tr.outages, key=lambda o: o.bench)
    assert (b1.bench, b1.duration_s, b1.restore_alert_code, flags(b1)) == ("Bench 1", 100, "8F35", [])
    assert (b2.bench, b2.duration_s, b2.restore_alert_code, flags(b2)) == ("Bench 2", 300, "8F36", [])


def test_device_only_outage_uses_reported_duration() -> None:
    tr = OutageTracker()
    tr.feed(PowerEvidence("device_start", "Bench 3", at(300), device_time=at(0)))
    tr.feed(PowerEvidence("device_end", "Bench 3", at(300), device_time=at(200), duration_s=200))
    tr.feed(PowerEvidence("alert", "Bench 3", at(301), code="8F36", device="ESME 3"))
    tr.evaluate(at(400))
    (o,) = tr.outages
    assert o.start_source == "comms_hub" and o.duration_s == 200 and o.long and flags(o) == []
    assert o.latency_s is None  # no ground truth to measure against


def test_scaled_bench_clock_for_the_emulator() -> None:
    tr = OutageTracker(TrackerConfig(time_scale={"Bench 1": 60.0}))
    relay_outage(tr, "Bench 1", 0, 4, "8F36", hub=False)  # 4 real s = 240 emulated s
    tr.evaluate(at(100))
    assert tr.outages[0].duration_s == 240 and flags(tr.outages[0]) == []


def test_repeated_relay_off_is_one_outage() -> None:
    tr = OutageTracker()
    tr.feed(PowerEvidence("relay_off", "Bench 1", at(0)))
    tr.feed(PowerEvidence("relay_off", "Bench 1", at(5)))
    tr.feed(PowerEvidence("relay_on", "Bench 1", at(10)))
    assert len(tr.outages) == 1 and tr.outages[0].start == at(0)


def test_outages_in_view_count_each_outage_once_and_only_what_has_a_time() -> None:
    from app.domain.outages import outage_parts, outages_in_view

    tr = OutageTracker()
    relay_outage(tr, "Bench 1", 0, 100, "8F35")  # relay and device parts: one outage
    tr.feed(PowerEvidence("relay_off", "Bench 1", at(600)))  # still off
    tr.feed(PowerEvidence("alert", "Bench 2", at(50), code="8F36", device="ESME 2"))  # orphan
    tr.feed(PowerEvidence("relay_off", "Bench 3", at(10)))
    first, ongoing, orphan, other = tr.outages
    now = at(700)
    assert [p.source for p in outage_parts(first, now)] == ["relay", "device"]
    assert outage_parts(ongoing, now)[0].end == now and outage_parts(ongoing, now)[0].ongoing
    assert outage_parts(orphan, now) == []
    benches = frozenset({"Bench 1", "Bench 2"})
    assert outages_in_view(tr.outages, benches, at(0), at(700), now) == [first, ongoing]
    assert outages_in_view(tr.outages, benches, at(150), at(599), now) == []
    assert outages_in_view(tr.outages, benches, at(650), at(660), now) == [ongoing]
    # Recorded without an end (recording stopped): it lies up to its last record, not to now.
    ongoing.recorded_until = at(620)
    assert outages_in_view(tr.outages, benches, at(650), at(660), now) == []
    assert outage_parts(ongoing, now)[0].end == at(620) and other.bench not in benches
