"""One typed connection setting: parsed once, validated once, one default baud per protocol."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from app.domain.clock import FixedClock
from app.domain.devices import (
    ConnectionSettings,
    Device,
    DeviceKind,
    default_baud,
)
from app.domain.errors import ValidationError
from app.storage.db import open_database
from app.storage.devices import DeviceRepo


def test_default_baud_per_protocol() -> None:
    assert default_baud("iec62056-21") == 300  # IEC 62056-21 6.3.2: mode C opens at 300
    assert default_baud("profile:relay") == 9600
    assert default_baud("profile:emulator") == 115200
    assert default_baud("gbcs-hex") == 115200


def test_stored_dict_round_trips_and_unknown_keys_are_kept() -> None:
    stored = {"transport": "serial", "port": "/dev/ttyUSB0", "protocol": "iec62056-21",
              "poll_s": 60, "parity": "E", "bytesize": 7, "stopbits": 1, "probe": "ACME 3"}
    settings = ConnectionSettings.from_dict(stored)
    assert (settings.port, settings.poll_s, settings.parity, settings.bytesize) == (
        "/dev/ttyUSB0", 60, "E", 7)
    assert settings.baud is None and settings.line_baud == 300
    assert settings.extra == {"probe": "ACME 3"}
    assert settings.to_dict() == stored
    assert ConnectionSettings.from_dict(settings.to_dict()) == settings


def test_older_records_without_transport_or_with_text_numbers_load() -> None:
    # What `device add --port` stored, and a baud typed as text by an older dialog.
    settings = ConnectionSettings.from_dict({"port": "/dev/ttyACM0", "baud": "9600"})
    assert (settings.transport, settings.baud, settings.is_direct) == ("serial", 9600, True)


@pytest.mark.parametrize(("stored", "field"), [
    ({"transport": "serial", "baud": 0}, "baud"),
    ({"transport": "serial", "baud": "fast"}, "baud"),
    ({"transport": "serial", "parity": "X"}, "parity"),
    ({"transport": "serial", "stopbits": 3}, "stopbits"),
    ({"transport": "serial", "bytesize": 9}, "bytesize"),
    ({"transport": "serial", "poll_s": float("nan")}, "poll_s"),
    ({"transport": "carrier pigeon"}, "transport"),
])
def test_bad_values_name_their_field(stored: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        ConnectionSettings.from_dict(stored)
    assert caught.value.field == field
    lenient = ConnectionSettings.from_dict(stored, lenient=True)
    assert lenient.to_dict() == {k: v for k, v in stored.items()} | (
        {} if field == "transport" else {"transport": "serial"})


def test_device_takes_a_mapping_through_the_one_parser() -> None:
    device = Device("Hub", DeviceKind.CHF, connection={"transport": "han", "via": "Bench 1 Hub"})
    assert device.connection == ConnectionSettings(transport="han", via="Bench 1 Hub")
    assert device.connection.where == "Bench 1 Hub" and not device.connection.is_direct


def test_an_existing_database_row_loads_typed_and_saves_unchanged(tmp_path) -> None:
    db = open_database(tmp_path / "m.db")
    repo = DeviceRepo(db, FixedClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC)))
    device = repo.add(Device("Probe", DeviceKind.ESME))
    old_json = {"port": "/dev/ttyUSB3", "protocol": "iec62056-21", "poll_s": 45,
                "baud": "nonsense", "vendor": {"note": "kept"}}
    db["devices"].update(device.id, {"connection_json": json.dumps(old_json)})
    loaded = repo.get(device.id)  # a bad stored value does not stop the registry from loading
    assert loaded.connection.port == "/dev/ttyUSB3" and loaded.connection.poll_s == 45
    repo.update(loaded)
    saved = json.loads(db["devices"].get(device.id)["connection_json"])
    assert saved == old_json | {"transport": "serial"}

