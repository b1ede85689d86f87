"""A participant's live view: its benches' devices from its booking's start, fed from the lab's
real event queue, and nothing else of the lab."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from app.domain.devices import Device
from app.domain.errors import RuleRefusal
from app.domain.events import DeviceEvent, EventKind
from app.domain.outages import Outage
from app.main import build_context
from app.services.device_registry import DeviceRegistry
from app.services.ingest import EventQueue
from app.services.live_alerts import AlertFilter, AlertQuery
from app.services.live_scope import ScopedLiveFeed, participant_scope
from app.services.principals import participant_principal
from app.storage.devices import EventStore
from tests.services.test_participant_isolation import (  # noqa: F401 (the fixture)
    ALPHA_EMAIL,
    CLOCK,
    NOW,
    two_orgs,
)

GSME_EUI = "00-DB-12-34-56-78-90-B1"


@pytest.fixture
def lab(two_orgs, tmp_path: Path):  # noqa: F811
    db = tmp_path / "lab.db"
    shutil.copy(two_orgs.db, db)
    ctx = build_context(db, CLOCK, "staff")
    DeviceRegistry(ctx.db, CLOCK).add(Device.create("Alpha GSME", "GSME", device_id=GSME_EUI,
                                                    bench="Bench 1", mpxn="1234567890"))
    yield ctx
    ctx.close()


def alert(device: str, minutes: float, **fields) -> DeviceEvent:
    return DeviceEvent(device, EventKind.ALERT, NOW + timedelta(minutes=minutes),
                       {"alert_code": "8F35", "severity": "critical", **fields})


def test_the_scope_is_the_benches_held_now_from_the_bookings_start(lab) -> None:
    me = participant_principal(lab.db, CLOCK, ALPHA_EMAIL)
    scope = participant_scope(lab.db, CLOCK, me.org_scope())
    assert sorted(d.label for d in scope.devices) == ["Alpha ESME", "Alpha GSME"]
    assert scope.benches == {"bench 1"} and scope.since == NOW - timedelta(hours=1)
    later = type(CLOCK)(NOW + timedelta(hours=8))  # after the booking: nothing is held
    empty = participant_scope(lab.db, later, me.org_scope())
    assert empty.devices == () and empty.since is None and not empty.shows_time(NOW)


def test_the_feed_keeps_the_participants_events_and_counts_the_rest(lab) -> None:
    me = participant_principal(lab.db, CLOCK, ALPHA_EMAIL)
    scope = participant_scope(lab.db, CLOCK, me.org_scope())
    queue = EventQueue()
    outages = [Outage(1, "Bench 1", start=NOW - timedelta(minutes=10)),
               Outage(2, "Bench 2", start=NOW - timedelta(minutes=10)),
               Outage(3, "Bench 1", start=NOW - timedelta(hours=3))]
    feed = ScopedLiveFeed(queue.add_batch_listener, queue.remove_batch_listener,
                          lambda: (7, outages), scope)
    queue.put_many([
        alert("Alpha ESME", 0),
        alert("Beta ESME", 0),                      # another organisation's bench
        alert("Alpha ESME", -120),                  # the bench before this booking
        alert("Spare CHF", 1, originator=GSME_EUI),  # relayed elsewhere, about our meter
        alert("Spare CHF", 1),                      # a hub of nobody's bench
        DeviceEvent("Alpha ESME", EventKind.READING, NOW, {"obis": "1.8.0", "value": 12.5}),
        DeviceEvent("Beta ESME", EventKind.READING, NOW, {"obis": "1.8.0", "value": 99.0}),
    ])
    assert len(feed.live.alert_snapshot()) == 2
    assert set(feed.live.lane_names()) == {"Alpha ESME", "Alpha GSME"}
    assert list(feed.live.reading_snapshot()) == [("Alpha ESME", "1.8.0")]
    assert feed.withheld == 4
    assert feed.outages() == (7, [outages[0]])
    feed.close()
    queue.put_many([alert("Alpha ESME", 2)])
    assert len(feed.live.alert_snapshot()) == 2 and feed.withheld == 4


def test_stored_alerts_before_the_booking_are_not_shown_and_a_participant_cannot_ack(lab) -> None:
    EventStore(lab.db.conn).insert_many([alert("Alpha ESME", -120), alert("Alpha ESME", -5)])
    lab.db.conn.commit()
    me = participant_principal(lab.db, CLOCK, ALPHA_EMAIL)
    scope = participant_scope(lab.db, CLOCK, me.org_scope())
    query = AlertQuery(lab.db.conn, list(scope.devices), only=tuple(scope.labels),
                       not_before=scope.since, principal=me)
    [row] = query.list(AlertFilter())
    assert row.host_time == NOW - timedelta(minutes=5)
    with pytest.raises(RuleRefusal):
        query.acknowledge(row.event_id, "seen", me.name, NOW)
    staff = AlertQuery(lab.db.conn, list(scope.devices))
    assert len(staff.list(AlertFilter())) == 2
    staff.acknowledge(row.event_id, "seen", "staff", NOW)


def test_stored_outages_are_shown_to_a_participant_only_of_its_benches_since_its_start(
        lab) -> None:
    from app.services.live_outages import PageOutages
    from app.storage.outages import OutageRepo

    OutageRepo(lab.db.conn).upsert([
        Outage(1, "Bench 1", start=NOW - timedelta(minutes=10), end=NOW - timedelta(minutes=9),
               start_source="relay"),
        Outage(2, "Bench 2", start=NOW - timedelta(minutes=10), end=NOW - timedelta(minutes=9),
               start_source="relay"),  # another organisation's bench
        Outage(3, "Bench 1", start=NOW - timedelta(hours=3), end=NOW - timedelta(hours=2),
               start_source="relay")], NOW)  # the bench before this booking
    me = participant_principal(lab.db, CLOCK, ALPHA_EMAIL)
    scope = participant_scope(lab.db, CLOCK, me.org_scope())
    live = [Outage(4, "Bench 1", start=NOW - timedelta(minutes=1), start_source="relay"),
            Outage(5, "Bench 2", start=NOW - timedelta(minutes=1), start_source="relay")]
    page = PageOutages(lab.db.conn, NOW, lambda: (3, live), scope.shows_outage)
    assert [o.id for o in page()[1]] == [1, 4]
    staff = PageOutages(lab.db.conn, NOW, lambda: (3, live))
    assert [o.id for o in staff()[1]] == [3, 1, 2, 4, 5]
