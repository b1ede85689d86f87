from datetime import UTC, datetime, timedelta, timezone

from app.domain.reports import AlertRow, ReportContext, RunReport, canonical_json
from app.domain.run_records import RunEvidence, RunRecord
from app.domain.runs import Verdict

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def record(**kw) -> RunRecord:
    base = dict(id=1, plan_name="power-outage", plan_version="1.0", plan_sha256="ab" * 32,
                plan_source="builtin:power-outage", parameters={"duration_s": 120},
                bench="Bench 1", started=T0, emulated=True, ended=T0 + timedelta(seconds=5),
                verdict=Verdict.PASS,
                evidence=(RunEvidence(1, "Bench 1 ESME", "/x.bin", 10, "cd" * 32),))
    base.update(kw)
    return RunRecord(**base)


def test_the_seal_ignores_when_and_by_what_the_report_was_made_and_the_zone_of_times():
    a = RunReport(record(), ReportContext("Demo Lab"), generated=T0, version="1.0")
    b = RunReport(record(started=T0.astimezone(timezone(timedelta(hours=1)))),
                  ReportContext("Demo Lab"), generated=T0 + timedelta(days=3), version="2.0")
    assert a.seal() == b.seal() and len(a.seal()) == 64


def test_the_seal_changes_with_a_value_an_alert_or_an_evidence_hash():
    base = RunReport(record(), ReportContext("Demo Lab")).seal()
    assert RunReport(record(verdict=Verdict.FAIL), ReportContext("Demo Lab")).seal() != base
    alert = AlertRow(T0, "Bench 1 ESME", "8F35", "Supply restored", "high")
    assert RunReport(record(), ReportContext("Demo Lab"), alerts=(alert,)).seal() != base
    other = (RunEvidence(1, "Bench 1 ESME", "/x.bin", 10, "ce" * 32),)
    assert RunReport(record(evidence=other), ReportContext("Demo Lab")).seal() != base


def test_canonical_json_is_stable_bytes():
    assert canonical_json({"b": 1, "a": "é"}) == '{"a":"é","b":1}'.encode()
