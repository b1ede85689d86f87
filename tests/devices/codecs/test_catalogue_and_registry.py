"""The alert catalogue data and the codec registry."""

from __future__ import annotations

import csv
import io
from importlib import resources
from pathlib import Path

import pytest

from devices.codecs.alert_catalogue import AlertCatalogue, default_catalogue
from devices.codecs.base import Codec, CodecError, CodecStats, make_codec
from devices.codecs.gbcs_codec import GbcsHexCodec
from devices.codecs.iec62056_21 import IecReadoutClient
from devices.codecs.profiles import ProfileCodec


def shipped_rows() -> list[dict[str, str]]:
    """The shipped alert-code table read with the csv module alone (not the catalogue's parser)."""
    text = resources.files("resources").joinpath("alert_codes.csv").read_text("utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def test_catalogue_holds_all_184_codes() -> None:
    catalogue = default_catalogue()
    assert len(catalogue) == 184
    assert catalogue.codes()[0] == "8002"


def test_catalogue_names_match_the_shipped_table() -> None:
    rows = shipped_rows()
    assert len(rows) == 184
    assert len({row["code"] for row in rows}) == 184
    catalogue = default_catalogue()
    for row in rows:
        assert catalogue.name(row["code"]) == row["name"]
        assert catalogue.severity(row["code"]) == row["severity"]
    # A name holding commas (quoted in the CSV) is read whole.
    assert catalogue.name("8F60") == (
        "Unusual numbers of malformed, out-of-order or unexpected Commands received"
    )


def test_power_alert_names_from_the_gbcs_table() -> None:
    # Written out from the GBCS alert code table (DOMAIN.md section 3), independent of the file.
    catalogue = default_catalogue()
    assert catalogue.name("8F35") == "Supply Outage Restored"
    assert catalogue.name("8F36") == "Supply Outage Restored - Outage >= 3 minutes"
    assert catalogue.name("8F57") == "Supply interrupted"
    assert catalogue.name("8F1D") == "GSME Power Supply Loss"
    assert catalogue.name("8F1F") == "Low Battery Capacity"


def test_power_alert_severities() -> None:
    catalogue = default_catalogue()
    assert catalogue.severity("8F36") == "critical"
    assert catalogue.severity(0x8F1D) == "critical"
    assert catalogue.severity("8f57") == "info"
    assert catalogue.severity("8F35") == "non-critical"
    assert catalogue.severity("8F1F") == "non-critical"
    assert catalogue.severity("8F3F") == "critical"  # tamper
    assert catalogue.name("FFFF") == catalogue.severity("FFFF") == "unknown"
    assert "8F36" in catalogue and 0x8F36 in catalogue and "0000" not in catalogue


def test_one_vocabulary_and_a_lab_copy_in_former_words_is_read(tmp_path: Path) -> None:
    assert {default_catalogue().severity(c) for c in default_catalogue().codes()} == {
        "critical", "non-critical", "info"}
    path = tmp_path / "codes.csv"
    path.write_text("code,name,severity\n8F35,Outage restored,Warning\n8F36,Outage,critical\n")
    lab = AlertCatalogue.from_path(path)
    assert lab.severity("8F35") == "non-critical" and lab.severity("8F36") == "critical"


def test_catalogue_rejects_bad_rows(tmp_path: Path) -> None:
    path = tmp_path / "codes.csv"
    path.write_text("code,name,severity\n8F36,Outage,urgent\n")
    with pytest.raises(ValueError, match="line 2: severity 'urgent'"):
        AlertCatalogue.from_path(path)
    path.write_text("code,name,severity\n8F3,Outage,info\n")
    with pytest.raises(ValueError, match="line 2: code '8F3'"):
        AlertCatalogue.from_path(path)


def test_lab_catalogue_can_change_a_severity(tmp_path: Path) -> None:
    path = tmp_path / "codes.csv"
    path.write_text("code,name,severity\n8F35,Supply Outage Restored,critical\n")
    assert AlertCatalogue.from_path(path).severity("8F35") == "critical"


def test_make_codec_builds_each_protocol() -> None:
    assert isinstance(make_codec("iec62056-21"), IecReadoutClient)
    assert isinstance(make_codec("gbcs-hex"), GbcsHexCodec)
    assert isinstance(make_codec("profile:emulator"), ProfileCodec)
    for name in ("iec62056-21", "gbcs-hex", "profile:emulator"):
        codec = make_codec(name)
        assert isinstance(codec, Codec)
        assert codec.stats == CodecStats()


def test_make_codec_rejects_unknown_protocol_with_a_sentence() -> None:
    with pytest.raises(ValueError) as info:
        make_codec("dlms-hdlc")
    message = str(info.value)
    assert message.startswith("--protocol: 'dlms-hdlc' is not a known protocol")
    assert "iec62056-21, gbcs-hex, profile:NAME" in message


def test_codec_error_carries_offset_and_message() -> None:
    error = CodecError("bad thing", 17)
    assert error.offset == 17
    assert error.message == "bad thing"
    assert str(error) == "bad thing (at byte offset 17)"
