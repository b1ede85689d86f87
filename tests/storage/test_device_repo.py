"""DeviceRepo: the registry's rows, labels unique whatever their case, lookups by id/label/EUI."""

from __future__ import annotations

import dataclasses

import pytest

from app.domain.devices import Device
from app.domain.errors import NotFoundError, ValidationError
from app.storage.db import open_database
from app.storage.devices import DeviceRepo


@pytest.fixture
def repo(tmp_path, clock) -> DeviceRepo:
    return DeviceRepo(open_database(tmp_path / "d.db"), clock)


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
