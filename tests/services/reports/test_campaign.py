"""The participant's completion report: runs made with the real CLI on the emulated bench,
gathered by organisation, period and role, written as PDF and HTML."""

from __future__ import annotations

import hashlib
import io
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from pypdf import PdfReader

from app.cli import main
from app.domain.clock import FixedClock
from app.domain.errors import NotFoundError, ValidationError
from app.domain.reports import ReportContext, RunReport, canonical_json
from app.domain.runs import Verdict
from app.main import build_context
from app.services.demo import create_demo_lab
from app.services.reports.campaign import (
    CAMPAIGN_SEAL_FORMAT,
    Campaign,
    build_campaign,
    render_campaign_html,
    write_campaign_html,
    write_campaign_pdf,
)
from app.services.runs.api import RunDeviceInfo, RunStart
from app.storage.runs import RunRepo

ORG = "Northern Energy Supply"
OTHER = "Southern Gas Transport"
ODD = "Smith & <Sons> \"Meters\""
#: Monday of the demo week (London is on UTC in November).
MONDAY = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
ESME_AND_HUB = "ESME 00-DB-12-34-56-78-90-A0 + CHF 00-DB-12-34-56-78-90-A2"
ESME = "ESME 00-DB-12-34-56-78-90-A0"
GENERATED = FixedClock(datetime(2026, 12, 1, 9, 30, tzinfo=UTC))


@dataclass(frozen=True)
class Lab:
    db: Path
    ids: dict[str, int]


def report_seal(conn: sqlite3.Connection, run_id: int) -> str:
    """Stand-in for the report builder's seal: the run's record alone, without its window's
    alerts and outages."""
    record = RunRepo(conn).get(run_id)
    assert record is not None
    return RunReport(record=record, context=ReportContext()).seal()


def cli_run(db: Path, at: datetime, plan: str, org: str, *extra: str) -> tuple[int, int]:
    code = main(["--db", str(db), "--now", at.isoformat(), "run", "start", plan,
                 "--bench", "Bench 1", "--emulate", "--org", org, *extra])
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT max(id) FROM runs").fetchone()[0], code
    finally:
        conn.close()


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """One organisation's week: PASS, FAIL then PASS of power-outage (closed), a FAIL of
    readout-sanity then a run the bench broke (still open); another organisation's run."""
    db = tmp_path_factory.mktemp("campaign") / "lab.db"
    ctx = build_context(db, FixedClock(MONDAY), "tester")
    lab_name = create_demo_lab(ctx.lab_service, ctx.booking_service)
    ctx.lab_service.add_org(ODD, "IS", "")
    the_lab, request = ctx.booking_service.build_request(
        lab_name, ORG, MONDAY + timedelta(hours=1), MONDAY + timedelta(hours=9), 2, "device",
        roles=["IS"], benches=["Bench 1"])
    booking = ctx.booking_service.request(the_lab, request, override="IS testing of the ESME")
    assert booking.booking is not None
    ctx.booking_service.transition(booking.booking.id, "approve", "tester")
    ctx.close()

    ids: dict[str, int] = {}
    day = MONDAY + timedelta(hours=2)
    steps = [
        ("pass", day, "power-outage", ORG, ("--booking", str(booking.booking.id)), 0),
        ("fail", day + timedelta(days=1), "power-outage", ORG, ("--fault", "counter-stuck"), 5),
        ("other", day + timedelta(days=1, hours=2), "readout-sanity", OTHER, (), 0),
        ("closed", day + timedelta(days=2), "power-outage", ORG, (), 0),
        ("open", day + timedelta(days=2, hours=1), "readout-sanity", ORG,
         ("--param", "clock_tolerance_s=0"), 5),
    ]
    for name, at, plan, org, extra, expected in steps:
        ids[name], code = cli_run(db, at, plan, org, *extra)
        assert code == expected, name
    # A run whose process died mid-way, closed by start-up recovery as the bench's fault.
    conn = sqlite3.connect(db)
    org_id = conn.execute("SELECT id FROM organisations WHERE name = ?", (ORG,)).fetchone()[0]
    repo = RunRepo(conn)
    broken = day + timedelta(days=3)
    ids["error"] = repo.start(RunStart(
        plan_name="readout-sanity", plan_version="1.0", plan_sha256="", bench="Bench 1",
        plan_source="builtin:readout-sanity", parameters={}, started=broken, emulated=True,
        operator="tester", org_id=org_id,
        devices=(RunDeviceInfo("Bench 1 ESME", "ESME", "00-DB-12-34-56-78-90-A0"),
                 RunDeviceInfo("Bench 1 relay", "relay board"))))
    assert repo.close_interrupted(ids["error"], broken + timedelta(minutes=1),
                                  "the process running it stopped")
    conn.close()
    yield Lab(db, ids)


@pytest.fixture
def conn(lab: Lab) -> Iterator[sqlite3.Connection]:
    c = sqlite3.connect(lab.db)
    yield c
    c.close()


def campaign(conn: sqlite3.Connection, org: str | int = ORG, **kw) -> Campaign:  # type: ignore[no-untyped-def]
    return build_campaign(conn, org, clock=GENERATED, version="9.9",
                          seal_of_run=lambda run_id: report_seal(conn, run_id), **kw)


def test_every_finished_run_of_the_organisation_grouped_by_plan_and_device(lab, conn) -> None:
    c = campaign(conn)
    ids = lab.ids
    assert [r.run_id for r in c.runs] == [ids[k] for k in ("pass", "fail", "closed", "open",
                                                           "error")]
    assert ids["other"] not in {r.run_id for r in c.runs}
    assert c.org_name == ORG and c.timezone == "Europe/London"
    assert [(g.plan_name, g.device_key, [r.run_id for r in g.runs], g.latest_verdict)
            for g in c.groups] == [
        ("power-outage", ESME_AND_HUB, [ids["pass"], ids["fail"], ids["closed"]], Verdict.PASS),
        ("readout-sanity", ESME, [ids["open"], ids["error"]], Verdict.ERROR),
    ]
    assert c.plans == ("power-outage", "readout-sanity")
    assert c.devices == ("CHF 00-DB-12-34-56-78-90-A2", ESME)
    assert c.counts == {Verdict.PASS: 2, Verdict.MARGINAL: 0, Verdict.FAIL: 2,
                        Verdict.ERROR: 1, Verdict.ABORTED: 0}


def test_a_fail_followed_by_a_pass_is_closed_a_bench_error_leaves_it_open(lab, conn) -> None:
    c = campaign(conn)
    [failure] = c.open_failures
    assert (failure.plan_name, failure.device_key) == ("readout-sanity", ESME)
    assert [r.run_id for r in failure.failed] == [lab.ids["open"]]
    assert [r.run_id for r in failure.untested] == [lab.ids["error"]]
    readout = c.groups[1]
    assert not readout.latest.tested and readout.last_tested.run_id == lab.ids["open"]
    assert [r.run_id for r in c.untested] == [lab.ids["error"]]


def test_the_period_is_in_lab_days_and_decides_what_is_still_open(lab, conn) -> None:
    tuesday = campaign(conn, date_from="2026-11-24", date_to=date(2026, 11, 24))
    assert [r.run_id for r in tuesday.runs] == [lab.ids["fail"]]
    assert [f.plan_name for f in tuesday.open_failures] == ["power-outage"]
    assert tuesday.period_text() == "2026-11-24 to 2026-11-24"
    since_wednesday = campaign(conn, date_from="2026-11-25")
    assert [r.run_id for r in since_wednesday.runs] == [lab.ids[k] for k in ("closed", "open",
                                                                             "error")]
    assert [r.run_id for r in campaign(conn, date_to="2026-11-23").runs] == [lab.ids["pass"]]
    assert campaign(conn, date_from="2027-01-01").runs == ()


def test_only_runs_of_bookings_for_the_role(lab, conn) -> None:
    assert [r.run_id for r in campaign(conn, role="is").runs] == [lab.ids["pass"]]
    assert campaign(conn, role="GS").runs == ()
    assert campaign(conn, role="IS").role == "IS"


def test_bad_input_names_the_field(conn) -> None:
    with pytest.raises(NotFoundError) as missing:
        campaign(conn, org="Nobody Ltd")
    assert missing.value.field == "org"
    for kw, field in (({"role": "XX"}, "role"), ({"date_from": "24/11/2026"}, "from"),
                      ({"date_from": "2026-11-25", "date_to": "2026-11-24"}, "to"),
                      ({"date_to": MONDAY}, "to")):
        with pytest.raises(ValidationError) as bad:
            campaign(conn, **kw)
        assert bad.value.field == field


def test_the_organisation_may_be_named_by_id(lab, conn) -> None:
    org_id = conn.execute("SELECT id FROM organisations WHERE name = ?", (ORG,)).fetchone()[0]
    assert campaign(conn, org=org_id).runs == campaign(conn, org=str(org_id)).runs


def test_the_seal_covers_the_runs_seals_and_what_was_asked(lab, conn) -> None:
    c = campaign(conn)
    expected = {"format": CAMPAIGN_SEAL_FORMAT, "org": {"id": c.org_id, "name": ORG},
                "period": [None, None], "role": None,
                "runs": sorted([r.run_id, report_seal(conn, r.run_id)] for r in c.runs)}
    assert c.seal == hashlib.sha256(canonical_json(expected)).hexdigest()
    assert campaign(conn).seal == c.seal  # not the time it was made
    assert campaign(conn, date_to="2026-11-30").seal != c.seal  # the period asked is sealed
    conn.execute("UPDATE run_measurements SET value_json = '99' WHERE run_id = ? AND seq = 0",
                 (lab.ids["closed"],))
    try:
        assert campaign(conn).seal != c.seal
    finally:
        conn.rollback()
    assert campaign(conn).seal == c.seal


def test_a_run_sealed_before_and_changed_since_is_said(lab, conn) -> None:
    conn.execute("UPDATE runs SET seal = ? WHERE id = ?", ("0" * 64, lab.ids["pass"]))
    try:
        c = campaign(conn)
        assert [r.run_id for r in c.runs if r.seal_changed] == [lab.ids["pass"]]
        assert "changed since they were sealed" in render_campaign_html(c)
    finally:
        conn.rollback()


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def test_pdf_is_byte_identical_and_says_everything(lab, conn, tmp_path) -> None:
    c = campaign(conn)
    seen: list[tuple[float, str]] = []
    write_campaign_pdf(c, tmp_path / "a.pdf", progress=lambda f, what: seen.append((f, what)))
    write_campaign_pdf(campaign(conn), tmp_path / "b.pdf")
    data = (tmp_path / "a.pdf").read_bytes()
    assert data == (tmp_path / "b.pdf").read_bytes()
    assert seen[0][0] == 0.0 and seen[-1][0] == 1.0
    assert f"MeterLab-Campaign-Seal: {c.seal}".encode() in data
    reader = PdfReader(io.BytesIO(data))
    assert reader.metadata.subject == f"MeterLab-Campaign-Seal: {c.seal}"
    text = pdf_text(data)
    assert ORG in text and c.seal in text
    for run in c.runs:
        assert f"#{run.run_id}" in text and run.seal in text
    pages = len(reader.pages)
    assert f"page {pages} of {pages}" in text
    for word in ("Failures still open", "readout-sanity", ESME, "not tested",
                 "Summary", "MARGINAL", "ABORTED"):
        assert word in text


def test_html_is_self_contained_with_the_seal_and_escapes_user_text(lab, conn,
                                                                   tmp_path) -> None:
    c = campaign(conn)
    write_campaign_html(c, tmp_path / "c.html")
    page = (tmp_path / "c.html").read_text(encoding="utf-8")
    assert f'<meta name="meterlab-campaign-seal" content="{c.seal}">' in page
    assert c.canonical_json().decode() in page
    assert "<link" not in page and "src=" not in page and "@media print" in page
    for run in c.runs:
        assert f"#{run.run_id}" in page and run.seal in page
    assert "Failures still open" in page and "1 failure(s) still open" in page
    odd = campaign(conn, org=ODD)
    html = render_campaign_html(odd)
    assert ODD not in html and "Smith &amp; &lt;Sons&gt; &quot;Meters&quot;" in html
    assert odd.runs == () and "None: every plan" in html


def test_an_empty_campaign_and_odd_names_make_a_pdf(conn, tmp_path) -> None:
    c = campaign(conn, org=ODD)
    write_campaign_pdf(c, tmp_path / "odd.pdf")
    text = pdf_text((tmp_path / "odd.pdf").read_bytes())
    assert ODD in text and c.seal in text


def test_the_default_seal_is_the_run_reports_seal(lab, conn) -> None:
    build = pytest.importorskip("app.services.reports.build")
    c = build_campaign(conn, ORG, clock=GENERATED)
    assert [r.seal for r in c.runs] == [build.build_report(conn, r.run_id, GENERATED).seal()
                                        for r in c.runs]


def test_period_days_follow_the_lab_clock_across_summer_time(tmp_path) -> None:
    """23:30 UTC on 30 June is 00:30 on 1 July in London: a July run."""
    db = tmp_path / "summer.db"
    ctx = build_context(db, FixedClock(datetime(2026, 6, 29, 8, tzinfo=UTC)), "tester")
    create_demo_lab(ctx.lab_service, ctx.booking_service)
    org_id = ctx.orgs.resolve(ORG).id
    ctx.close()
    conn = sqlite3.connect(db)
    repo = RunRepo(conn)
    ids = []
    for at in (datetime(2026, 6, 30, 22, 30, tzinfo=UTC), datetime(2026, 6, 30, 23, 30,
                                                                   tzinfo=UTC)):
        # Recorded through the store (as a run's executor records it), not executed.
        run_id = repo.start(RunStart(
            plan_name="readout-sanity", plan_version="1.0", plan_sha256="", bench="Bench 1",
            plan_source="builtin:readout-sanity", parameters={}, started=at, emulated=True,
            org_id=org_id, devices=(RunDeviceInfo("Bench 1 ESME", "ESME", "00-DB-12-34-56-78-"
                                                                          "90-A0"),)))
        repo.close_interrupted(run_id, at + timedelta(minutes=1), "stopped")
        ids.append(run_id)
    try:
        june = campaign(conn, date_from="2026-06-30", date_to="2026-06-30")
        july = campaign(conn, date_from="2026-07-01", date_to="2026-07-01")
        assert [r.run_id for r in june.runs] == ids[:1]
        assert [r.run_id for r in july.runs] == ids[1:]
        assert july.local(july.runs[0].started).strftime("%d %H:%M %z") == "01 00:30 +0100"
    finally:
        conn.close()
