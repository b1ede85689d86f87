"""Line profiles: the shipped emulator profile, validation messages, user directories."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.domain.events import EventKind
from devices.codecs.base import make_codec
from devices.codecs.gbcs_build import build_alert_apdu
from devices.codecs.profiles import (
    ProfileCodec,
    ProfileError,
    available_profiles,
    load_profile,
    parse_profile,
)

APDU = (
    build_alert_apdu(
        alert_code=0x8F36,
        originator="00-DB-12-34-56-78-90-A0",
        recipient="00-DB-12-34-56-78-90-A2",
        alert_time=datetime(2026, 11, 25, 10, 2, 59, tzinfo=UTC),
    )
    .hex()
    .upper()
)

EMULATOR_LOG = f"""\
2026-11-25T10:00:00.000Z [INF] SYS boot fw=CH-EMU 1.4.2 eui=00-DB-12-34-56-78-90-A2
2026-11-25T10:00:00.500Z [INF] SYS status uptime_s=123 wan=UP rssi_dbm=-71 han_devices=3
2026-11-25T10:00:01.000Z [INF] HAN join eui=00-DB-12-34-56-78-90-A0 type=ESME
2026-11-25T10:00:05.000Z [INF] GBCS alert rx eui=00-DB-12-34-56-78-90-A0 apdu={APDU}
2026-11-25T10:03:00.000Z [WRN] PWR outage start=2026-11-25T10:01:00.000Z mpxn=1312345678907
2026-11-25T10:03:00.010Z [INF] PWR restored at=2026-11-25T10:02:59.000Z duration_s=119.0 \
mpxn=1312345678907
2026-11-25T10:03:01.000Z [INF] READ eui=00-DB-12-34-56-78-90-A0 obis=1.8.0 value=12345.678 \
unit=kWh
2026-11-25T10:03:02.000Z [DBG] MAC retry count=2
""".replace("\n", "\r\n").encode("ascii")


def t(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_emulator_profile_decodes_every_line_kind() -> None:
    codec = make_codec("profile:emulator")
    events = codec.feed(EMULATOR_LOG)
    kinds = [e.kind for e in events]
    assert kinds == [
        EventKind.STATUS,
        EventKind.STATUS,
        EventKind.STATUS,
        EventKind.ALERT,
        EventKind.OUTAGE_START,
        EventKind.OUTAGE_END,
        EventKind.READING,
        EventKind.LOG,
    ]
    boot, status, join, alert, start, end, reading, log = events
    assert boot.fields["firmware"] == "CH-EMU 1.4.2"
    assert boot.fields["state"] == "boot"
    assert status.fields["rssi_dbm"] == -71 and status.fields["han_devices"] == 3
    assert join.fields["device_type"] == "ESME"
    assert alert.fields["alert_code"] == "8F36"
    assert alert.fields["severity"] == "critical"
    assert alert.fields["eui"] == "00-DB-12-34-56-78-90-A0"
    assert "apdu" not in alert.fields
    assert alert.device_time == t("2026-11-25T10:02:59+00:00")  # the APDU's own time
    assert start.device_time == t("2026-11-25T10:01:00+00:00")
    assert start.fields["log_time"] == "2026-11-25T10:03:00.000Z"
    assert start.fields["mpxn"] == "1312345678907"
    assert end.device_time == t("2026-11-25T10:02:59+00:00")
    assert end.fields["duration_s"] == 119.0
    assert reading.fields["value"] == 12345.678 and reading.fields["unit"] == "kWh"
    assert reading.device_time == t("2026-11-25T10:03:01+00:00")
    assert log.fields == {"text": "2026-11-25T10:03:02.000Z [DBG] MAC retry count=2"}
    assert codec.stats.frames == 8 and codec.stats.errors == 0


def test_one_byte_at_a_time_gives_the_same_events() -> None:
    whole = make_codec("profile:emulator").feed(EMULATOR_LOG)
    codec = make_codec("profile:emulator")
    events = []
    for byte in EMULATOR_LOG:
        events += codec.feed(bytes([byte]))
    assert events == whole


def test_bad_apdu_and_bad_time_become_error_events() -> None:
    codec = make_codec("profile:emulator")
    events = codec.feed(
        b"2026-11-25T10:00:05.000Z [INF] GBCS alert rx eui=00-DB-12-34-56-78-90-A0 apdu=DF0903\n"
        b"2026-11-25T10:03:00.000Z [WRN] PWR outage start=yesterday mpxn=1312345678907\n"
        b"2026-11-25T10:03:01.000Z [INF] SYS boot fw=X eui=00-DB-12-34-56-78-90-A2\n"
    )
    assert [e.kind for e in events] == [EventKind.ERROR, EventKind.ERROR, EventKind.STATUS]
    assert events[0].fields["message"].startswith("rule 1: truncated")
    assert events[0].fields["offset"] == 0
    assert "'yesterday'" in events[1].fields["message"]
    assert codec.stats.errors == 2


def test_garbage_line_is_a_log_event_and_stream_continues() -> None:
    codec = make_codec("profile:emulator")
    events = codec.feed(
        b"\x00\xff\xfe garbage\n2026-11-25T10:00:01.000Z [INF] HAN join "
        b"eui=00-DB-12-34-56-78-90-A0 type=ESME\n"
    )
    assert [e.kind for e in events] == [EventKind.LOG, EventKind.STATUS]


PROFILE_HEAD = 'name = "lab"\ndescription = "test"\n'


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ('[[rule]]\npattern = "(?P<a>x"\nevent = "log"\n', "rule 1: bad regular expression"),
        (
            '[[rule]]\npattern = "x"\nevent = "log"\n[[rule]]\npattern = "y"\nevent = "beep"\n',
            "rule 2: unknown event 'beep'",
        ),
        (
            '[[rule]]\npattern = "(?P<a>x)"\nevent = "alert"\ntime_group = "t"\n',
            "rule 1: time_group 't' is not a named group",
        ),
        (
            '[[rule]]\npattern = "(?P<a>x)"\nevent = "alert"\ngbcs_group = "hex"\n',
            "rule 1: gbcs_group 'hex' is not a named group",
        ),
        (
            '[[rule]]\npattern = "(?P<a>x)"\nevent = "log"\nrename = { b = "c" }\n',
            "rule 1: rename: 'b' is not a named group",
        ),
        (
            '[[rule]]\npattern = "(?P<a>x)"\nevent = "log"\ntypes = { a = "decimal" }\n',
            "rule 1: types: a has type 'decimal'",
        ),
        ('[[rule]]\npatern = "x"\nevent = "log"\n', "rule 1: unknown key(s) patern"),
        ('[[rule]]\nevent = "log"\n', "rule 1: 'pattern' must be a non-empty string"),
        ("", "no [[rule]] entries"),
        ('unmatched = "drop"\n[[rule]]\npattern = "x"\nevent = "log"\n', "'unmatched' is 'drop'"),
        (
            'prefix = "(?P<a>x) "\n[[rule]]\npattern = "(?P<a>y)"\nevent = "log"\n',
            "rule 1: group(s) a are already named in the prefix",
        ),
        ("[[rule]\n", "not valid TOML"),
    ],
)
def test_validation_errors_name_file_rule_and_problem(body: str, words: str) -> None:
    with pytest.raises(ProfileError) as info:
        parse_profile(PROFILE_HEAD + body, "lab.toml")
    assert str(info.value).startswith("profile lab.toml: ")
    assert words in str(info.value)


def test_missing_name_is_reported() -> None:
    with pytest.raises(ProfileError, match="'name' must be a non-empty string"):
        parse_profile('[[rule]]\npattern = "x"\nevent = "log"\n', "x.toml")


def test_user_directory_adds_and_overrides_profiles(tmp_path: Path) -> None:
    (tmp_path / "toshiba.toml").write_text(
        PROFILE_HEAD
        + 'unmatched = "ignore"\n'
        + "[[rule]]\n"
        + "pattern = '(?P<ts>\\d{2}/\\d{2}/\\d{4} \\d{2}:\\d{2}:\\d{2}) OUTAGE'\n"
        + 'event = "outage_start"\ntime_group = "ts"\n'
    )
    (tmp_path / "emulator.toml").write_text(
        PROFILE_HEAD + '[[rule]]\npattern = "EMU"\nevent = "status"\n'
    )
    found = available_profiles([tmp_path])
    assert {"toshiba", "emulator"} <= set(found)
    assert load_profile(found["emulator"]).name == "lab"  # the user's copy wins
    # Without a timestamp_format the profile expects ISO-8601 device times.
    codec = make_codec("profile:toshiba", profile_dirs=[tmp_path])
    events = codec.feed(b"noise\n25/11/2026 10:01:00 OUTAGE\n")
    assert [e.kind for e in events] == [EventKind.ERROR]
    assert "is not ISO-8601" in events[0].fields["message"]


def test_timestamp_format_and_optional_groups() -> None:
    profile = parse_profile(
        PROFILE_HEAD
        + 'timestamp_format = "%d/%m/%Y %H:%M:%S"\nunmatched = "ignore"\n'
        + "[[rule]]\n"
        + "pattern = '(?P<ts>\\d{2}/\\d{2}/\\d{4} \\d{2}:\\d{2}:\\d{2})"
        + " OUTAGE(?: (?P<phase>L\\d))?'\n"
        + 'event = "outage_start"\ntime_group = "ts"\nfields = { source = "ch" }\n'
        + 'rename = { phase = "line" }\n',
        "lab.toml",
    )
    codec = ProfileCodec(profile)
    events = codec.feed(b"noise\n25/11/2026 10:01:00 OUTAGE\n25/11/2026 10:02:00 OUTAGE L2\n")
    assert len(events) == 2
    assert events[0].fields == {"ts": "25/11/2026 10:01:00", "source": "ch"}
    assert events[0].device_time == datetime(2026, 11, 25, 10, 1, tzinfo=UTC)
    assert events[1].fields["line"] == "L2"


def test_first_matching_rule_wins_and_flags_and_backreferences_work() -> None:
    body = (
        "[[rule]]\npattern = '(?i)alarm (?P<code>\\w+)'\nevent = \"alert\"\n"
        "[[rule]]\npattern = 'ALARM (?P<other>\\w+)'\nevent = \"status\"\n"
        "[[rule]]\npattern = '(?P<word>\\w+)=(?P=word)'\nevent = \"log\"\n"
    )
    codec = ProfileCodec(parse_profile(PROFILE_HEAD + body, "lab.toml"))
    events = codec.feed(b"ALARM 8F36\nab=ab\nab=cd\n")
    assert [e.kind for e in events] == [EventKind.ALERT, EventKind.LOG, EventKind.LOG]
    assert events[0].fields == {"code": "8F36"}
    assert events[1].fields == {"word": "ab", "text": "ab=ab"}
    assert events[2].fields == {"text": "ab=cd"}


def test_numbered_backreference_falls_back_to_rule_by_rule_matching() -> None:
    body = (
        "[[rule]]\npattern = '(\\w)\\1 (?P<rest>.*)'\nevent = \"status\"\n"
        "[[rule]]\npattern = '(?P<any>.*)'\nevent = \"log\"\n"
    )
    codec = ProfileCodec(parse_profile(PROFILE_HEAD + body, "lab.toml"))
    events = codec.feed(b"aa tail\nab tail\n")
    assert events[0].kind is EventKind.STATUS and events[0].fields == {"rest": "tail"}
    assert events[1].kind is EventKind.LOG


def test_bad_typed_field_is_an_error_event() -> None:
    body = '[[rule]]\npattern = \'v=(?P<v>\\S+)\'\nevent = "reading"\ntypes = { v = "int" }\n'
    codec = ProfileCodec(parse_profile(PROFILE_HEAD + body, "lab.toml"))
    events = codec.feed(b"v=12\nv=x1\n")
    assert events[0].fields == {"v": 12}
    assert events[1].kind is EventKind.ERROR
    assert "field 'v' holds 'x1', which is not int" in events[1].fields["message"]


def test_unknown_profile_names_the_profiles_found(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="--protocol.*'nope'.*profiles found: emulator"):
        make_codec("profile:nope", profile_dirs=[tmp_path])
