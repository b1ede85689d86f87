"""The Live page's view-model without Qt: clipping, thinning, rates, spans, alert queries."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from app.domain.devices import Device, DeviceKind
from app.domain.events import DeviceEvent, EventKind
from app.domain.outages import Flag, Outage
from app.services.live import ALERT_DTYPE, LiveData
from app.services.live_alerts import AlertFilter, AlertQuery
from app.services.live_snapshots import take_snapshot
from app.services.live_view import (
    CriticalNotifier,
    RangeState,
    ViewMode,
    format_duration,
    label_rows,
    lane_severity_key,
    lanes_by_bench,
    markers_in_view,
    outage_spans,
    rate_from_markers,
    visible_slice,
)
from app.storage.db import open_database
from app.storage.devices import EventStore
from app.storage.outages import AckRepo

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
HUB = Device("Bench 1 Comms Hub", DeviceKind.CHF, device_id="00-DB-12-34-56-78-90-A2", bench="Bench 1")
ESME = Device("Bench 1 ESME", DeviceKind.ESME, device_id="00-DB-12-34-56-78-90-A0",
              mpxn="1312345678907", bench="Bench 1")
RELAY = Device("Bench 1 relay", DeviceKind.RELAY, bench="Bench 1")
DEVICES = [HUB, ESME, RELAY]


def history(n: int, start_s: float, span_s: float, lanes: int = 6) -> np.ndarray:
    rng = np.random.default_rng(3)
    rec = np.zeros(n, ALERT_DTYPE)
    rec["t"] = np.sort(rng.uniform(start_s, start_s + span_s, n))
    rec["lane"] = rng.integers(0, lanes, n)
    rec["severity"] = rng.integers(-1, 3, n)
    rec["code"] = 0x8F35
    return rec


# --- clipping and thinning -------------------------------------------------------------------
def test_a_million_alerts_are_clipped_to_the_visible_range() -> None:
    n, start = 1_000_000, 1.8e9
    live = LiveData(alert_capacity=n)
    live.alerts.extend(history(n, start, 86_400.0))
    snap = take_snapshot(live, frozenset())
    assert len(snap.alerts) == n and np.all(np.diff(snap.t) >= 0)
    x0, x1 = start + 40_000.0, start + 40_300.0  # five minutes
    inside = (snap.t >= x0) & (snap.t <= x1)
    m = markers_in_view(snap.alerts, x0, x1, 1000, t=snap.t, key=snap.key)
    assert not m.thinned and m.visible == int(inside.sum()) == len(m.x)
    assert np.array_equal(m.index, np.flatnonzero(inside))
    assert np.array_equal(m.lane, snap.alerts["lane"][inside])
    # Everything in view: thinned to at most one marker per column, lane and severity...
    everything = markers_in_view(snap.alerts, start, start + 86_400.0, 1200, t=snap.t,
                                 key=snap.key)
    assert everything.thinned and everything.visible == n
    assert len(everything.x) <= (1200 // 3) * 6 * 4
    # ...and the markers still account for every alert, per lane and severity.
    assert int(everything.count.sum()) == n
    for lane in (0, 5):
        for sev in (-1, 2):
            sel = (everything.lane == lane) & (everything.severity == sev)
            expected = ((snap.alerts["lane"] == lane) & (snap.alerts["severity"] == sev)).sum()
            assert int(everything.count[sel].sum()) == int(expected)
    edges, counts, bin_s = rate_from_markers(everything, start, start + 86_400.0)
    assert counts.sum() == n and len(edges) == len(counts) + 1 and bin_s > 0


def test_snapshot_of_a_wrapped_ring_is_oldest_first() -> None:
    live = LiveData(alert_capacity=1000)
    rec = history(2500, 0.0, 100.0)
    live.alerts.extend(rec[:1700])
    for r in rec[1700:]:
        live.alerts.append(tuple(r))
    snap = live.alert_snapshot()
    assert np.array_equal(snap, rec[-1000:])
    assert snap.dtype == rec.dtype and np.array_equal(snap["t"], rec["t"][-1000:])


def test_visible_slice_and_rate_of_unthinned_markers() -> None:
    t = np.array([1.0, 2.0, 3.0, 10.0, 11.0])
    assert visible_slice(t, 2.0, 10.0, margin=0) == slice(1, 4)
    assert visible_slice(t, 2.0, 10.0) == slice(0, 5)
    rec = np.zeros(5, ALERT_DTYPE)
    rec["t"] = t
    m = markers_in_view(rec, 0.0, 12.0, 600)
    _edges, counts, bin_s = rate_from_markers(m, 0.0, 12.0, target_bins=6)
    assert bin_s == 2.0 and counts.tolist()[:6] == [1, 2, 0, 0, 0, 2]
    assert np.array_equal(lane_severity_key(rec), np.ones(5, dtype=np.int32))


def test_follow_range_grows_from_the_first_data_then_slides() -> None:
    state = RangeState(span_s=300.0)
    x0, x1 = state.update(now_s=1000.0, first_s=980.0)
    assert x0 < 980.0 and x1 > 1000.0 and x1 - x0 < 40
    x0, x1 = state.update(now_s=5000.0, first_s=980.0)
    assert x0 == pytest.approx(5000 - 306) and x1 == pytest.approx(5006)
    state.mode = ViewMode.PAUSED
    assert state.update(now_s=9000.0, first_s=980.0) == (x0, x1)
    state.mode, state.span_s = ViewMode.FOLLOW, None
    assert state.update(now_s=9000.0, first_s=980.0)[0] < 980.0


# --- outages ---------------------------------------------------------------------------------
def test_relay_and_device_spans_with_labels_and_flags() -> None:
    lanes = lanes_by_bench(["Bench 1 Comms Hub", "Bench 1 ESME", "Other", "Bench 1 relay"], DEVICES)
    assert lanes == {"Bench 1": (0, 1, 3), "Other": (2,)}
    short = Outage(1, "Bench 1", start=T0, end=T0 + timedelta(seconds=1.67), start_source="relay",
                   end_source="relay", device_duration_s=100.0, restore_alert_code="8F35",
                   restore_alert_host_time=T0 + timedelta(seconds=1.7),
                   restore_alert_device="Bench 1 ESME", time_scale=60.0)
    wrong = Outage(2, "Bench 1", start=T0 + timedelta(seconds=10), end=T0 + timedelta(seconds=14),
                   start_source="relay", restore_alert_code="8F35", time_scale=60.0,
                   flags=[Flag("wrong_restore_alert", "8F35 after an outage of 4 min 00 s.")])
    hub_only = Outage(3, "Bench 1", start=T0 + timedelta(seconds=30),
                      end=T0 + timedelta(seconds=40), start_source="comms_hub")
    going = Outage(4, "Bench 1", start=T0 + timedelta(seconds=50), start_source="relay",
                   time_scale=60.0)
    now = (T0 + timedelta(seconds=55)).timestamp()
    spans = outage_spans([short, wrong, hub_only, going], lanes, now)
    relay = [s for s in spans if s.source == "relay"]
    device = [s for s in spans if s.source == "device"]
    assert [s.outage_id for s in relay] == [1, 2, 4] and [s.outage_id for s in device] == [1, 3]
    assert relay[0].label == "1:40 8F35" and relay[0].lanes == (0, 1, 3)
    dev = device[0]
    assert dev.x1 == pytest.approx((T0 + timedelta(seconds=1.7)).timestamp())
    assert dev.x1 - dev.x0 == pytest.approx(100.0 / 60.0)
    assert relay[1].flagged and relay[1].label.startswith("! 4:00")
    assert "8F35 after an outage of 4 min 00 s." in relay[1].tooltip
    assert relay[2].ongoing and relay[2].x1 == now and relay[2].label == "off 5:00"
    assert device[1].label == "0:10" and not device[1].flagged


def test_durations_and_label_rows() -> None:
    assert [format_duration(s) for s in (100, 240, 59.6, 3725, None)] == [
        "1:40", "4:00", "1:00", "1:02:05", "?"]
    assert label_rows([0, 30, 100, 35], [50, 50, 50, 50], rows=2) == [0, 1, 0, -1]


# --- events into lanes, notifications --------------------------------------------------------
def test_relayed_alerts_go_to_the_lane_of_the_device_that_raised_them() -> None:
    live = LiveData()
    live.set_devices(DEVICES)
    feed = live.on_event
    fields = {"alert_code": "8F36", "severity": "critical", "originator": ESME.device_id.lower()}
    feed(DeviceEvent(HUB.label, EventKind.ALERT, T0, fields))
    feed(DeviceEvent(HUB.label, EventKind.ALERT, T0, {"alert_code": "8F01", "originator": "X"}))
    snap = live.alert_snapshot()
    assert snap["lane"].tolist() == [1, 0] and snap["severity"].tolist() == [2, -1]


def test_critical_notifications_are_rate_limited_and_switchable() -> None:
    rec = history(10, 0.0, 10.0)
    rec["severity"] = [0, 2, 1, 2, 0, 0, 2, 0, 0, 0]
    n = CriticalNotifier(min_interval_s=10.0)
    n.prime(rec[:2])
    assert n.check(rec[:4], now_monotonic_s=100.0) == "1 critical alert: 8F35"
    assert n.check(rec[:7], now_monotonic_s=101.0) is None  # too soon: kept for later
    assert n.check(rec[:7], now_monotonic_s=111.0) == "1 critical alert: 8F35"
    n.enabled = False
    more = history(3, 20.0, 1.0)
    more["severity"] = 2
    assert n.check(np.concatenate((rec, more)), now_monotonic_s=200.0) is None


# --- the alert table's queries ---------------------------------------------------------------
@pytest.fixture
def query(tmp_path):
    db = open_database(tmp_path / "live.db")
    events = [
        DeviceEvent(HUB.label, EventKind.ALERT, T0 + timedelta(seconds=i), {
            "alert_code": code, "alert_name": name, "severity": sev,
            "originator": origin.device_id}, device_time=T0 + timedelta(seconds=i, minutes=1))
        for i, (code, name, sev, origin) in enumerate([
            ("8F01", "Active Power Import above Load Limit Threshold", "warning", ESME),
            ("8F36", "Supply Outage Restored - Outage >= 3 minutes", "critical", ESME),
            ("8F0A", "Billing Data Log Updated", "info", HUB),
            ("8F35", "Supply Outage Restored", "warning", ESME),
        ])
    ]
    EventStore(db.conn).insert_many([*events, DeviceEvent(HUB.label, EventKind.STATUS, T0, {})])
    yield AlertQuery(db.conn, DEVICES)
    db.conn.close()


def test_alert_query_filters_by_device_code_severity_and_time(query) -> None:
    rows = query.list(AlertFilter())
    assert [r.code for r in rows] == ["8F35", "8F0A", "8F36", "8F01"]  # newest first
    assert rows[0].origin == "Bench 1 ESME" and rows[0].shown_device == "Bench 1 ESME (via Bench 1 Comms Hub)"
    assert rows[0].severity == "non-critical" and rows[0].device_time == T0 + timedelta(seconds=63)
    assert [r.code for r in query.list(AlertFilter(device="Bench 1 ESME"))] == ["8F35", "8F36", "8F01"]
    assert len(query.list(AlertFilter(device="Bench 1 Comms Hub"))) == 4  # delivered them all
    assert [r.code for r in query.list(AlertFilter(code="8f3"))] == ["8F35", "8F36"]
    assert [r.code for r in query.list(AlertFilter(severity="critical"))] == ["8F36"]
    assert [r.code for r in query.list(AlertFilter(severity="non-critical"))] == ["8F35", "8F01"]
    assert [r.code for r in query.list(AlertFilter(since=T0 + timedelta(seconds=2),
                                                   until=T0 + timedelta(seconds=2)))] == ["8F0A"]
    assert len(query.list(AlertFilter(), limit=2)) == 2
    assert query.codes() == ["8F01", "8F0A", "8F35", "8F36"]


def test_acknowledging_stores_the_note_and_refuses_an_empty_one(query) -> None:
    target = query.list(AlertFilter(code="8F36"))[0]
    with pytest.raises(ValueError, match="note"):
        query.acknowledge(target.event_id, "  ", "tester", T0)
    with pytest.raises(ValueError, match="no stored alert"):
        query.acknowledge(999, "note", "tester", T0)
    query.acknowledge(target.event_id, "Supply restored by the relay script", "tester", T0)
    stored = AckRepo(query.conn).for_events([target.event_id])[target.event_id]
    assert stored["note"] == "Supply restored by the relay script" and stored["actor"] == "tester"
    row = query.list(AlertFilter(code="8F36"))[0]
    assert row.acknowledged and row.ack_actor == "tester"
    assert [r.code for r in query.list(AlertFilter(unacknowledged=True))] == ["8F35", "8F0A", "8F01"]


def test_snapshot_thread_only_copies_when_asked(tmp_path) -> None:
    from app.services.live_snapshots import SnapshotThread

    live = LiveData(alert_capacity=100)
    live.on_event(DeviceEvent("d", EventKind.ALERT, T0, {"alert_code": "8F35"}))
    snaps = SnapshotThread(live, frozenset(), period_s=0.01)
    try:
        deadline = time.monotonic() + 5
        while (s := snaps.latest()) is None:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert len(s.alerts) == 1 and s.lanes == ["d"]
    finally:
        snaps.stop()


def test_events_taken_as_a_batch_fill_the_rings_as_one_by_one() -> None:
    def feed_events() -> list[DeviceEvent]:
        alert = {"alert_code": "8F36", "severity": "critical", "originator": ESME.device_id}
        return [
            DeviceEvent(HUB.label, EventKind.ALERT, T0, alert, T0 - timedelta(seconds=1)),
            DeviceEvent(HUB.label, EventKind.READING, T0, {"obis": "1.8.0", "value": 12.5,
                                                            "unit": "kWh"}),
            DeviceEvent(HUB.label, EventKind.LOG, T0, {"text": "noise"}),
            DeviceEvent(HUB.label, EventKind.ALERT, T0 + timedelta(seconds=1),
                        {"alert_code": "zz"}),
        ]

    one, many = LiveData(), LiveData()
    for live in (one, many):
        live.set_devices(DEVICES)
    for event in feed_events():
        one.on_event(event)
    many.on_events(feed_events())
    assert one.version == many.version == 4
    assert one.counts == many.counts and many.counts["alert"] == 2
    assert one.alert_snapshot().tobytes() == many.alert_snapshot().tobytes()
    assert many.alert_snapshot()["lane"].tolist() == [1, 0]
    assert many.alert_snapshot()["code"].tolist() == [0x8F36, 0]
    readings = many.reading_snapshot()
    assert list(readings) == [(HUB.label, "1.8.0")] and readings[(HUB.label, "1.8.0")]["v"][0] == 12.5
    assert many.units[(HUB.label, "1.8.0")] == "kWh"
