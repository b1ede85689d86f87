"""`meterlab decode`, `device add/list` and their bad input."""

import json
from datetime import UTC, datetime

import pytest

from app.cli import main
from devices.codecs.gbcs_build import build_alert_apdu


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, [json.loads(l) for l in out.splitlines() if l.strip()], err


def test_decode_gbcs_hex(capsys) -> None:
    apdu = build_alert_apdu(alert_code=0x8F36, originator="00-DB-12-34-56-78-90-A0",
                            recipient="90-B3-D5-1F-30-01-00-00",
                            alert_time=datetime(2015, 1, 1, tzinfo=UTC))
    code, out, _ = run(capsys, "decode", "--gbcs", apdu.hex())
    assert code == 0
    assert out[0]["alert_code"] == "8F36" and out[0]["originator"] == "00-DB-12-34-56-78-90-A0"
    assert out[0]["message_code"] == "0067" and out[0]["timestamp"] == "2015-01-01T00:00:00+00:00"
    assert out[0]["alert_name"].startswith("Supply Outage Restored")
    assert out[0]["severity"] == "critical"


def test_decode_says_non_critical_as_the_gui_does(capsys) -> None:
    apdu = build_alert_apdu(alert_code=0x8F35, originator="00-DB-12-34-56-78-90-A0",
                            recipient="90-B3-D5-1F-30-01-00-00",
                            alert_time=datetime(2015, 1, 1, tzinfo=UTC))
    code, out, _ = run(capsys, "decode", "--gbcs", apdu.hex())
    assert code == 0 and out[0]["severity"] == "non-critical"


@pytest.mark.parametrize("args, field", [
    (["--gbcs", "zz"], "--gbcs"),
    (["--gbcs", "DF09"], "--gbcs"),
    ([], "--file"),
    (["--file", "/nonexistent.log", "--protocol", "profile:emulator"], "--file"),
])
def test_decode_bad_input(capsys, args, field) -> None:
    code, out, err = run(capsys, "decode", *args)
    assert code == 2 and out == [] and field in err


def test_decode_a_saved_log_with_a_profile(tmp_path, capsys) -> None:
    log = tmp_path / "ch.log"
    log.write_bytes(b"2026-11-25T10:03:00.010Z [INF] PWR restored at=2026-11-25T10:02:59.000Z "
                    b"duration_s=119.0 mpxn=1312345678907\r\nnoise")
    code, out, _ = run(capsys, "decode", "--file", str(log), "--protocol", "profile:emulator")
    assert code == 0 and [e["kind"] for e in out] == ["outage_end", "log"]
    assert out[0]["duration_s"] == 119.0 and out[0]["device_time"] == "2026-11-25T10:02:59+00:00"


def test_device_registry(tmp_path, capsys) -> None:
    db = str(tmp_path / "d.db")
    assert run(capsys, "--db", db, "lab", "add", "--name", "W", "--spaces", "9", "--benches", "1")[0] == 0
    code, out, _ = run(capsys, "--db", db, "device", "add", "--label", "ESME 1", "--kind", "esme",
                       "--device-id", "00db1234567890a0", "--mpxn", "1312345678907", "--bench", "Bench 1")
    assert code == 0 and out[0]["device_id"] == "00-DB-12-34-56-78-90-A0" and out[0]["kind"] == "ESME"
    code, out, err = run(capsys, "--db", db, "device", "add", "--label", "ESME 2", "--kind", "ESME",
                         "--mpxn", "1312345678906")
    assert code == 2 and "check digit" in err and "--mpxn" in err
    code, out, err = run(capsys, "--db", db, "device", "add", "--label", "X", "--kind", "ESME",
                         "--device-id", "00-DB-12")
    assert code == 2 and "EUI-64" in err and "--device-id" in err
    code, out, err = run(capsys, "--db", db, "device", "add", "--label", "X", "--kind", "toaster")
    assert code == 2 and "--kind" in err
    code, out, _ = run(capsys, "--db", db, "device", "list")
    assert [d["label"] for d in out[0]] == ["ESME 1"]
