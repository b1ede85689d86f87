"""`meterlab replay --session ID`: a capture file restores what the database lacks, once.

Real parts: the emulator's Comms Hub on a pseudo-terminal, a real capture, a real SQLite file.
The loss is made by deleting stored rows (standing in for events the database refused: the
other tests show how those arise and are counted).
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from pathlib import Path

import pytest

from app.cli import main
from devices.emulator.bench import BenchConfig, EmulatedBench
from devices.emulator.runner import EmulatorHost

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def captured(tmp_path_factory) -> tuple[Path, int, Path]:
    """A database with one capture session of the emulated Comms Hub, everything stored."""
    tmp = tmp_path_factory.mktemp("restore")
    db = tmp / "r.db"
    with EmulatorHost(EmulatedBench(BenchConfig(seed=4, time_scale=60,
                                                alert_rate_per_min=240))) as host:
        assert main(["--db", str(db), "device", "add", "--label", "CH 1", "--kind", "CHF"]) == 0
        assert main(["--db", str(db), "capture", "--port", host.ports["ch_debug"], "--protocol",
                     "profile:emulator", "--duration", "2", "--device", "CH 1",
                     "--capture-dir", str(tmp / "cap")]) == 0
    conn = sqlite3.connect(db)
    sid, path = conn.execute("SELECT id, capture_path FROM capture_sessions").fetchone()
    return db, int(sid), Path(path)


def content(db: Path) -> Counter:
    conn = sqlite3.connect(db)
    return Counter(conn.execute(
        "SELECT session_id, device_ref, kind, device_time, code, fields_json FROM events"))


def copy_db(src: Path, dst: Path) -> Path:
    s, d = sqlite3.connect(src), sqlite3.connect(dst)
    s.backup(d)
    s.close()
    d.close()
    return dst


def replay(capsys, db: Path, *args: str) -> tuple[int, dict | None, str]:
    code = main(["--db", str(db), "replay", *args])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else None), err


def test_replay_restores_exactly_the_missing_events_and_nothing_twice(tmp_path, capsys,
                                                                      captured) -> None:
    """Fails on the old code: there was no replay command (exit 2, unknown command)."""
    src, sid, _path = captured
    db = copy_db(src, tmp_path / "lost.db")
    full = content(db)
    total = sum(full.values())
    assert total >= 8
    conn = sqlite3.connect(db)
    with conn:  # every third event, the first and the last "were not stored"
        conn.execute("DELETE FROM events WHERE id % 3 = 0 OR id = (SELECT min(id) FROM events) "
                     "OR id = (SELECT max(id) FROM events)")
        conn.execute("UPDATE capture_sessions SET events_missing = 1")
    lost = total - conn.execute("SELECT count(*) FROM events").fetchone()[0]
    code, result, err = replay(capsys, db, "--session", str(sid))
    assert code == 0, err
    assert result["events_restored"] == lost and result["events_decoded"] == total
    assert result["events_already_stored"] == total - lost
    assert content(db) == full  # same events, each once, with the device's id
    row = conn.execute("SELECT events_missing, events_restored FROM capture_sessions").fetchone()
    assert row == (0, lost)
    code, again, _ = replay(capsys, db, "--session", str(sid))
    assert code == 0 and again["events_restored"] == 0 and content(db) == full


def test_replay_of_a_complete_session_stores_nothing(tmp_path, capsys, captured) -> None:
    src, sid, _ = captured
    db = copy_db(src, tmp_path / "full.db")
    code, result, _ = replay(capsys, db, "--session", str(sid))
    assert code == 0 and result["events_restored"] == 0
    assert result["events_stored_not_decoded"] == 0


@pytest.mark.parametrize("session, code, words", [
    ("999", 2, "no capture session 999"),
    ("abc", 2, "--session"),
    ("99999999999999999999", 2, "--session"),
])
def test_replay_bad_session_is_one_sentence(tmp_path, capsys, captured, session, code,
                                            words) -> None:
    db = copy_db(captured[0], tmp_path / "b.db")
    got, result, err = replay(capsys, db, "--session", session)
    assert got == code and result is None and words in err and err.count("\n") == 1


def test_replay_refuses_a_missing_or_changed_file(tmp_path, capsys, captured) -> None:
    src, sid, path = captured
    db = copy_db(src, tmp_path / "c.db")
    before = content(db)
    moved = tmp_path / "copy.bin"
    moved.write_bytes(path.read_bytes() + b"extra line\n")
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE capture_sessions SET capture_path = ?", (str(moved),))
    code, result, err = replay(capsys, db, "--session", str(sid))
    assert code == 9 and result is None and "SHA-256" in err and err.count("\n") == 1
    assert content(db) == before
    moved.unlink()
    code, result, err = replay(capsys, db, "--session", str(sid))
    assert code == 9 and "missing" in err and err.count("\n") == 1


def test_live_page_replay_restores_the_missing_events_once_it_has_played(tmp_path,
                                                                         captured) -> None:
    from app.services.live_replay import CaptureReplay, ReplayState, find_capture

    src, sid, path = captured
    db = copy_db(src, tmp_path / "live.db")
    full = content(db)
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM events WHERE id % 2 = 0")
        lost = sum(full.values()) - conn.execute("SELECT count(*) FROM events").fetchone()[0]
        info = find_capture(conn, path)
    assert info is not None and info.session_id == sid
    replay = CaptureReplay(path, info.protocol, info.device, [], info.started,
                           db_path=db, session_id=info.session_id)
    replay.run()
    assert replay.state is ReplayState.DONE and replay.restore_message == ""
    assert replay.restored is not None and replay.restored.restored == lost
    assert content(db) == full


def test_sessions_list_names_what_is_missing_and_how_to_restore_it(tmp_path, capsys,
                                                                  captured) -> None:
    src, sid, path = captured
    db = copy_db(src, tmp_path / "listed.db")

    def listed(*args: str) -> list[dict]:
        code = main(["--db", str(db), "sessions", "list", *args])
        out, err = capsys.readouterr()
        assert code == 0, err
        return json.loads(out)

    [row] = listed()
    assert row["id"] == sid and row["device"] == "CH 1" and row["end_state"] == "disconnected"
    assert row["capture_file"] == str(path) and row["bytes_in_capture_file"] == path.stat().st_size
    assert row["events_missing"] is False and row["restore_with"] is None
    assert row["started"].endswith(("+00:00", "+01:00"))  # local time with its offset
    assert listed("--missing") == []
    assert listed("--device", "nobody") == []
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("DELETE FROM events WHERE id % 2 = 0")
        conn.execute("UPDATE capture_sessions SET events_missing = 1")
    [row] = listed("--missing", "--device", "CH 1")
    assert row["restore_with"] == f"meterlab replay --session {sid}"
    assert replay(capsys, db, "--session", str(sid))[0] == 0
    assert listed("--missing") == []
    assert main(["--db", str(db), "sessions", "list", "--limit", "0"]) == 2
    assert "--limit" in capsys.readouterr().err
