"""The seal stored with a run at its first export, and later exports checked against it."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from app.domain.clock import FixedClock
from app.domain.reports import canonical_json
from app.services.reports.build import build_report
from app.services.reports.seal import SealMismatchError, differences, seal_run
from app.storage.db import connect
from app.storage.runs import RunRepo
from tests.services.reports.emulated import ORG, fresh_copy

CLOCK = FixedClock(datetime(2027, 1, 5, 9, 0, tzinfo=UTC))


@pytest.fixture
def conn(tmp_path_factory, tmp_path):  # type: ignore[no-untyped-def]
    c = connect(fresh_copy(tmp_path_factory, tmp_path))
    yield c
    c.close()


def _measurement(conn, name: str) -> tuple[int, int, object]:  # type: ignore[no-untyped-def]
    step, seq, value = conn.execute(
        "SELECT step_idx, seq, value_json FROM run_measurements WHERE run_id = 1 AND name = ?",
        (name,)).fetchone()
    return step, seq, json.loads(value)


def test_the_first_export_stores_the_seal_and_what_it_was_computed_over(conn) -> None:
    report = build_report(conn, 1, CLOCK)
    assert RunRepo(conn).get(1).seal is None
    seal = seal_run(conn, report, CLOCK)
    assert seal == report.seal()
    assert RunRepo(conn).get(1).seal == seal
    stored_seal, stored_json = RunRepo(conn).sealed(1)
    assert stored_seal == seal
    assert stored_json.encode() == canonical_json(report.canonical())
    # Exported again, later: the same seal, nothing refused.
    assert seal_run(conn, build_report(conn, 1, FixedClock(datetime(2027, 6, 1, tzinfo=UTC))),
                    CLOCK) == seal
    assert RunRepo(conn).get(2).seal is None  # the other run is not sealed by this one


def test_a_value_changed_in_the_database_after_sealing_is_refused_and_named(conn) -> None:
    seal_run(conn, build_report(conn, 1, CLOCK), CLOCK)
    step, seq, value = _measurement(conn, "power_fail_count_delta")
    conn.execute("UPDATE run_measurements SET value_json = ? WHERE run_id = 1 AND step_idx = ? "
                 "AND seq = ?", (json.dumps(value - 1), step, seq))
    conn.commit()
    with pytest.raises(SealMismatchError) as caught:
        seal_run(conn, build_report(conn, 1, CLOCK), CLOCK)
    assert caught.value.differences == [
        f"run.steps[{step}].measurements[{seq}].value: {value} -> {value - 1}"]
    assert "run 1 has changed since its report was sealed" in str(caught.value)
    assert RunRepo(conn).get(1).seal == caught.value.stored  # the first seal stays


def test_a_verdict_changed_in_the_database_is_named(conn) -> None:
    seal_run(conn, build_report(conn, 1, CLOCK), CLOCK)
    conn.execute("UPDATE runs SET verdict = 'FAIL' WHERE id = 1")
    conn.commit()
    with pytest.raises(SealMismatchError) as caught:
        seal_run(conn, build_report(conn, 1, CLOCK), CLOCK)
    assert caught.value.differences == ['run.verdict: "PASS" -> "FAIL"']


def test_names_around_the_run_are_kept_as_sealed(conn) -> None:
    """Renaming the organisation later does not change a sealed run's report."""
    seal = seal_run(conn, build_report(conn, 1, CLOCK), CLOCK)
    conn.execute("UPDATE organisations SET name = 'Acme Renamed'")
    conn.commit()
    again = build_report(conn, 1, CLOCK)
    assert again.record.org_name == ORG
    assert seal_run(conn, again, CLOCK) == seal
    # A run not sealed yet is reported with the name now.
    assert build_report(conn, 2, CLOCK).record.org_name == "Acme Renamed"


def test_only_the_first_seal_is_stored(conn) -> None:
    repo = RunRepo(conn)
    assert repo.set_seal(1, "a" * 64, "{}", CLOCK.now()) is None
    assert repo.set_seal(1, "b" * 64, "[]", CLOCK.now()) == "a" * 64
    assert repo.sealed(1) == ("a" * 64, "{}")


def test_differences_name_each_path() -> None:
    before = {"a": 1, "b": [1, 2], "c": {"d": "x"}, "gone": True}
    now = {"a": 1.5, "b": [1], "c": {"d": "y", "e": None}}
    assert differences(before, now) == [
        "a: 1 -> 1.5", "b[1]: removed (was 2)", 'c.d: "x" -> "y"', "c.e: added null",
        "gone: removed (was true)"]
    assert differences({"a": 1}, {"a": 1}) == []
    many = differences(list(range(30)), list(range(1, 31)), limit=3)
    assert many[-1] == "and 27 more differences" and len(many) == 4
