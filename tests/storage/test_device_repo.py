"""DeviceRepo on a real SQLite file and on PostgreSQL: the registry's rows, labels unique whatever
their case, lookups by id/label/EUI, the audit trail, a participant's devices."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from app.domain.bookings import Booking, BookingStatus, Phase, Segment
from app.domain.clock import FixedClock
from app.domain.devices import Device
from app.domain.errors import NotFoundError, ValidationError
from app.domain.lab import Bench, Lab
from app.domain.participants import Organisation
from app.storage.bookings import BookingRepo
from app.storage.devices import DeviceRepo
from app.storage.labs import LabRepo
from app.storage.people import OrgRepo
from tests.storage.engines import engine  # noqa: F401 (a fixture: every test on both engines)

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


@pytest.fixture
def db(engine):  # noqa: F811
    return engine


@pytest.fixture
def repo(db) -> DeviceRepo:
    return DeviceRepo(db.source, FixedClock(NOW))


def test_add_get_and_find_by_id_label_or_eui(repo) -> None:
    d = repo.add(Device.create("Bench 1 ESME", "ESME", device_id="00-db-12-34-56-78-90-a0",
                               mpxn="1312345678907", bench="Bench 1"))
    assert d.id is not None and repo.get(d.id) == d
    assert repo.find(str(d.id)) == d and repo.find("bench 1 esme") == d
    assert repo.find("00-DB-12-34-56-78-90-A0") == d and repo.find("nothing") is None


def test_labels_are_unique_on_add_and_update(repo) -> None:
    a = repo.add(Device.create("A", "ESME"))
    repo.add(Device.create("B", "ESME"))
    with pytest.raises(ValidationError) as caught:
        repo.add(Device.create("A", "GSME"))
    assert caught.value.field == "label"
    with pytest.raises(ValidationError):
        repo.update(dataclasses.replace(a, label="B"))
    assert repo.update(dataclasses.replace(a, firmware="1.2")).firmware == "1.2"


def test_list_orders_by_bench_then_label_and_delete_removes(repo) -> None:
    repo.add(Device.create("Z", "ESME", bench="Bench 1"))
    b = repo.add(Device.create("A", "ESME", bench="Bench 2"))
    repo.add(Device.create("M", "ESME", bench="Bench 1"))
    assert [d.label for d in repo.list()] == ["M", "Z", "A"]
    repo.delete(b.id)
    with pytest.raises(NotFoundError):
        repo.get(b.id)
    assert repo.find(str(2**70)) is None and repo.find(str(b.id)) is None


def test_every_change_is_audited_with_it(db, repo) -> None:
    d = repo.add(Device.create("A", "ESME", bench="Bench 1"), "ann")
    repo.update(dataclasses.replace(d, firmware="2.0"), "bob")
    db.fail_insert("audit", "NEW.action = 'created'")
    with pytest.raises(db.integrity_error):
        repo.add(Device.create("B", "ESME"), "ann")
    repo.delete(d.id, "ann")
    assert [tuple(r) for r in db.sql("SELECT actor, action, entity FROM audit ORDER BY id")] == [
        ("ann", "created", "device"), ("bob", "changed", "device"), ("ann", "deleted", "device")]
    assert db.count("devices") == 0 and db.idle()


def test_a_participant_sees_the_devices_on_benches_its_open_bookings_hold_now(db, repo) -> None:
    clock = FixedClock(NOW)
    lab = LabRepo(db.source, clock).add(Lab(name="Lab", spaces=10, benches=(
        Bench(1, "Bench 1"), Bench(2, "Bänk 2"))), "setup")
    acme = OrgRepo(db.source, clock).add(Organisation(name="Acme"), "setup")
    other = OrgRepo(db.source, clock).add(Organisation(name="Other"), "setup")
    bookings = BookingRepo(db.source, clock)
    start, end = datetime(2026, 11, 25, 9, tzinfo=UTC), datetime(2026, 11, 25, 17, tzinfo=UTC)
    for org, bench, status in ((acme, "BÄNK 2", BookingStatus.SCHEDULED),
                               (other, "Bench 1", BookingStatus.SCHEDULED),
                               (acme, "Bench 1", BookingStatus.CANCELLED)):
        bookings.add(Booking(id=0, lab_id=lab.id, org_id=org.id, start=start, end=end,
                             spaces=1, phase=Phase.DEVICE, status=status, benches=(bench,)),
                     [Segment(start.date(), start, end)], "setup")
    repo.add(Device.create("On 1", "ESME", bench="Bench 1"))
    repo.add(Device.create("On 2", "ESME", bench="Bänk 2"))
    repo.add(Device.create("Loose", "ESME"))
    assert [d.label for d in repo.list(org_scope=acme.id)] == ["On 2"]
    assert [d.label for d in repo.list(org_scope=other.id)] == ["On 1"]
    assert [d.label for d in repo.list()] == ["Loose", "On 1", "On 2"]
