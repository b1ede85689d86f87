"""A participant sees nothing of another organisation and changes nothing, whatever it calls.

One lab database holds two organisations' data (bookings, runs, devices on their benches,
people, inductions). Every service entry point and every command is walked as a participant of
the first organisation: no row of the second comes back (all of its names carry the marker
"beta"), another organisation's ids read as missing ones, and every change is refused (exit 3)
with the database unchanged.
"""

from __future__ import annotations

import io
import json
import re
import sqlite3
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from app.cli import main
from app.domain.clock import FixedClock
from app.domain.devices import Device
from app.domain.errors import NotFoundError, RuleRefusal
from app.domain.principals import Principal
from app.main import AppContext, build_context
from app.services.device_registry import DeviceRegistry
from app.services.principals import participant_principal
from app.services.reports.build import build_report
from app.services.reports.campaign import build_campaign
from app.services.reports.export import ExportRequest, export_run
from app.services.runs.api import RunDeviceInfo, RunStart
from app.services.runs.service import RunsService
from app.storage.bookings import BookingRepo
from app.storage.devices import DeviceRepo
from app.storage.people import OrgRepo, PersonRepo
from app.storage.runs import RunRepo
from tests.cli.helpers import dump

#: Monday 10:00 in London (UTC in November): both organisations' bookings are open now.
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
CLOCK = FixedClock(NOW)
ALPHA, BETA = "Alpha Metering", "Beta Energy"
ALPHA_EMAIL, BETA_EMAIL = "ann@alpha.example", "bob@beta.example"
#: Every organisation-owned thing of the other organisation carries this (any case).
MARK = "beta"


@dataclass(frozen=True)
class TwoOrgs:
    db: Path
    alpha_booking: int
    beta_booking: int
    alpha_run: int
    beta_run: int


def _book(ctx: AppContext, org: str, bench: str, email: str) -> int:
    lab, req = ctx.booking_service.build_request(
        "Shared Lab", org, NOW - timedelta(hours=1), NOW + timedelta(hours=6), 1, "device",
        attendees=[email], benches=[bench], devices=f"{org} meters", notes=f"{org} notes")
    outcome = ctx.booking_service.request(lab, req, override=f"{org}: booked at the desk")
    assert outcome.booking is not None
    return ctx.booking_service.transition(outcome.booking.id, "approve").id


def _run(db: Path, org_id: int, booking_id: int, bench: str, label: str, ended: bool) -> int:
    conn = sqlite3.connect(db)
    try:
        repo = RunRepo(conn)
        run_id = repo.start(RunStart(
            plan_name="readout-sanity", plan_version="1.0", plan_sha256="", bench=bench,
            plan_source="builtin:readout-sanity", parameters={}, started=NOW - timedelta(
                minutes=30), emulated=True, operator="tester", booking_id=booking_id,
            org_id=org_id, devices=(RunDeviceInfo(label, "ESME", "00-DB-12-34-56-78-90-A0"),)))
        if ended:
            assert repo.close_interrupted(run_id, NOW - timedelta(minutes=20), "bench stopped")
        return run_id
    finally:
        conn.close()


@pytest.fixture(scope="module")
def two_orgs(tmp_path_factory: pytest.TempPathFactory) -> TwoOrgs:
    db = tmp_path_factory.mktemp("isolation") / "lab.db"
    ctx = build_context(db, CLOCK, "tester")
    try:
        ctx.lab_service.add_lab("Shared Lab", 4, benches=2)
        ids = {}
        for org, email, person in ((ALPHA, ALPHA_EMAIL, "Ann Alpha"),
                                   (BETA, BETA_EMAIL, "Bob Beta")):
            ids[org] = ctx.lab_service.add_org(org, "IS", "").id
            ctx.lab_service.add_person(org, person, email)
            ctx.lab_service.induct(email, "Shared Lab", date(2026, 11, 2), "Lab staff",
                                   reason="held on an earlier visit")
        alpha_booking = _book(ctx, ALPHA, "Bench 1", ALPHA_EMAIL)
        beta_booking = _book(ctx, BETA, "Bench 2", BETA_EMAIL)
        registry = DeviceRegistry(ctx.db, CLOCK)
        registry.add(Device.create("Alpha ESME", "ESME", bench="Bench 1"))
        registry.add(Device.create("Beta ESME", "ESME", bench="Bench 2", mpxn="1312345678907"))
        registry.add(Device.create("Spare CHF", "CHF"))
    finally:
        ctx.close()
    alpha_run = _run(db, ids[ALPHA], alpha_booking, "Bench 1", "Alpha ESME", ended=True)
    beta_run = _run(db, ids[BETA], beta_booking, "Bench 2", "Beta ESME", ended=True)
    _run(db, ids[BETA], beta_booking, "Bench 2", "Beta ESME", ended=False)  # still executing
    return TwoOrgs(db, alpha_booking, beta_booking, alpha_run, beta_run)


@pytest.fixture
def ctx(two_orgs: TwoOrgs) -> Iterator[AppContext]:
    context = build_context(two_orgs.db, CLOCK, "ann")
    context.act_as(participant_principal(context.db, CLOCK, ALPHA_EMAIL))
    yield context
    context.close()


def _clean(value: Any) -> Any:
    """`value` after asserting it says nothing of the other organisation."""
    assert MARK not in repr(value).lower(), value
    return value


def test_the_fixture_holds_both_organisations(two_orgs: TwoOrgs) -> None:
    ctx = build_context(two_orgs.db, CLOCK, "tester")  # the workstation admin sees everything
    try:
        assert {o.name for o in ctx.orgs.list()} == {ALPHA, BETA}
        assert len(ctx.booking_service.list()) == 2
        assert len(RunRepo(ctx.db.conn).list()) == 3
        assert len(DeviceRepo(ctx.db, CLOCK).list()) == 3
        assert sum(len(p.inductions) for p in ctx.people.list()) == 2
        assert MARK in repr(ctx.booking_service.list()).lower()
    finally:
        ctx.close()


def test_participant_principal_is_the_persons_organisation(ctx: AppContext) -> None:
    assert ctx.principal.is_participant and ctx.principal.name == ALPHA_EMAIL
    assert ctx.orgs.get(ctx.principal.org_scope() or 0).name == ALPHA
    with pytest.raises(NotFoundError) as err:
        participant_principal(ctx.db, CLOCK, "nobody@alpha.example")
    assert err.value.field == "participant"


def test_every_read_entry_point_returns_only_its_organisation(two_orgs: TwoOrgs,
                                                              ctx: AppContext) -> None:
    me: Principal = ctx.principal
    scope = me.org_scope()
    bookings = _clean(ctx.booking_service.list())
    assert [b.id for b in bookings] == [two_orgs.alpha_booking]
    lab = ctx.labs.resolve("Shared Lab")
    assert [b.id for b in _clean(ctx.booking_service.active_between(
        lab, NOW - timedelta(days=1), NOW + timedelta(days=1)))] == [two_orgs.alpha_booking]
    with pytest.raises(NotFoundError):
        ctx.booking_service.list(org_ref=BETA)
    with pytest.raises(NotFoundError) as err:
        ctx.booking_service.list(org_ref="999")
    assert MARK not in err.value.message.lower()
    repo = BookingRepo(ctx.db, CLOCK)
    assert _clean(repo.list(org_scope=scope)) == bookings
    with pytest.raises(NotFoundError):
        repo.get(two_orgs.beta_booking, org_scope=scope)

    assert [o.name for o in _clean(OrgRepo(ctx.db, CLOCK).list(scope))] == [ALPHA]
    people = _clean(PersonRepo(ctx.db, CLOCK).list(org_scope=scope))
    assert [p.email for p in people] == [ALPHA_EMAIL] and len(people[0].inductions) == 1
    beta_id = OrgRepo(ctx.db, CLOCK).resolve(BETA).id
    assert PersonRepo(ctx.db, CLOCK).list(beta_id, org_scope=scope) == []

    assert [d.label for d in _clean(DeviceRegistry(ctx.db, CLOCK, me).list())] == ["Alpha ESME"]

    runs = RunsService(ctx.db, two_orgs.db, CLOCK, "ann", devices=[], principal=me)
    try:
        assert [r.id for r in _clean(runs.history())] == [two_orgs.alpha_run]
        assert runs.get(two_orgs.beta_run) is None
        assert _clean(runs.get(two_orgs.alpha_run)) is not None
        assert [name for _, name in runs.organisations()] == [ALPHA]
        assert runs.booking_choices("Bench 2") == []
    finally:
        runs.close()
    run_repo = RunRepo(ctx.db.conn)
    assert [r.id for r in _clean(run_repo.list(org_scope=scope))] == [two_orgs.alpha_run]
    assert run_repo.get(two_orgs.beta_run, org_scope=scope) is None

    assert _clean(build_report(ctx.db.conn, two_orgs.alpha_run, CLOCK, "1", me)).record.id \
        == two_orgs.alpha_run
    with pytest.raises(NotFoundError):
        build_report(ctx.db.conn, two_orgs.beta_run, CLOCK, "1", me)
    campaign = _clean(build_campaign(ctx.db.conn, ALPHA, clock=CLOCK, principal=me))
    assert [r.run_id for r in campaign.runs] == [two_orgs.alpha_run]
    with pytest.raises(NotFoundError):
        build_campaign(ctx.db.conn, BETA, clock=CLOCK, principal=me)


def test_another_organisations_report_is_no_such_run(two_orgs: TwoOrgs, ctx: AppContext,
                                                     tmp_path: Path) -> None:
    before = dump(two_orgs.db)
    with pytest.raises(NotFoundError):
        export_run(two_orgs.db, two_orgs.beta_run, CLOCK, ExportRequest(json=tmp_path / "b.json"),
                   "1", principal=ctx.principal)
    assert dump(two_orgs.db) == before and not (tmp_path / "b.json").exists()


def test_every_changing_entry_point_is_refused(two_orgs: TwoOrgs, ctx: AppContext) -> None:
    me = ctx.principal
    lab = ctx.labs.resolve("Shared Lab")
    _, request = ctx.booking_service.build_request(
        "Shared Lab", ALPHA, NOW + timedelta(days=14), NOW + timedelta(days=14, hours=2), 1,
        "device")
    runs = RunsService(ctx.db, two_orgs.db, CLOCK, "ann", devices=[], principal=me)
    changes = {
        "add lab": lambda: ctx.lab_service.add_lab("Own Lab", 2),
        "add org": lambda: ctx.lab_service.add_org("Gamma"),
        "add person": lambda: ctx.lab_service.add_person(ALPHA, "Cy", "cy@alpha.example"),
        "induct": lambda: ctx.lab_service.induct(ALPHA_EMAIL, "Shared Lab", date(2026, 11, 20)),
        "request": lambda: ctx.booking_service.request(lab, request),
        "override": lambda: ctx.booking_service.request(lab, request, override="please"),
        "cancel own": lambda: ctx.booking_service.transition(two_orgs.alpha_booking, "cancel"),
        "approve other": lambda: ctx.booking_service.transition(two_orgs.beta_booking, "cancel"),
        "add device": lambda: DeviceRegistry(ctx.db, CLOCK, me).add(
            Device.create("Own ESME", "ESME")),
        "prepare run": lambda: runs.prepare("readout-sanity", "Bench 1"),
        "start run": lambda: runs.start("readout-sanity", "Bench 1"),
    }
    before = dump(two_orgs.db)
    try:
        for what, change in changes.items():
            with pytest.raises(RuleRefusal) as err:
                change()
            assert err.value.reasons[0].code == "permission", what
            sentence = str(err.value)
            assert sentence.endswith(".") and ". " not in sentence, what
            assert sentence.startswith(f"{ALPHA_EMAIL} is a participant and may not "), what
    finally:
        runs.close()
    assert dump(two_orgs.db) == before


def test_a_participant_sees_and_answers_only_its_own_runs_questions(two_orgs: TwoOrgs,
                                                                      ctx: AppContext) -> None:
    """The staff window's prompt queue is shared with the participant session: the participant
    sees only the questions of its organisation's runs, answers them as itself, and another
    organisation's question is refused without being answered."""
    from app.services.runs.api import PromptAnswer, PromptRequest
    from app.services.runs.prompts import QueuePrompt

    board = QueuePrompt()
    staff = RunsService(ctx.db, two_orgs.db, CLOCK, "staff", devices=[], prompts=board)
    mine = RunsService(ctx.db, two_orgs.db, CLOCK, "ann", devices=[], principal=ctx.principal,
                       prompts=board)

    def question(run_id: int) -> PromptRequest:
        return PromptRequest(run_id, "Bench 1", 1, "look", "Shown?", None, 60.0)

    ours, theirs, unstored = question(two_orgs.alpha_run), question(two_orgs.beta_run), question(0)
    futures = {r: board.ask(r) for r in (ours, theirs, unstored)}
    try:
        assert set(staff.pending_prompts()) == {ours, theirs, unstored}
        assert mine.pending_prompts() == [ours]
        with pytest.raises(RuleRefusal):
            mine.answer(None, theirs, PromptAnswer(True))
        assert not futures[theirs].done()
        assert mine.answer(None, ours, PromptAnswer(False, "blank"))
        assert futures[ours].result(0) == PromptAnswer(False, "blank", ALPHA_EMAIL)
        assert not mine.answer(None, ours, PromptAnswer(True))  # answered already
        assert mine.pending_prompts() == []
    finally:
        for future in futures.values():
            future.cancel()
        staff.close()
        mine.close()


# --- the command line ------------------------------------------------------------------------
def _cli(db: Path, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["--db", str(db), "--now", NOW.isoformat(), *argv,
                     "--participant", ALPHA_EMAIL])
    return code, out.getvalue(), err.getvalue()


def test_every_listing_command_shows_only_its_organisation(two_orgs: TwoOrgs,
                                                           tmp_path: Path) -> None:
    listings = [
        ("booking", "list"), ("booking", "list", "--lab", "Shared Lab"),
        ("booking", "export", "--lab", "Shared Lab", "--csv", str(tmp_path / "b.csv")),
        ("run", "list"), ("run", "list", "--bench", "Bench 2"),
        ("run", "show", str(two_orgs.alpha_run)), ("device", "list"), ("org", "list"),
        ("person", "list"), ("lab", "list"),
        ("report", str(two_orgs.alpha_run), "--json", str(tmp_path / "a.json")),
        ("report", "campaign", "--org", ALPHA, "--html", str(tmp_path / "c.html")),
    ]
    counts = {}
    for argv in listings:
        code, out, err = _cli(two_orgs.db, *argv)
        assert code == 0, (argv, err)
        assert MARK not in out.lower(), argv
        found = json.loads(out)
        counts[argv] = len(found) if isinstance(found, list) else 1
    for written in ("b.csv", "a.json", "c.html"):
        assert MARK not in (tmp_path / written).read_text().lower(), written
    assert counts[("booking", "list")] == 1 and counts[("run", "list")] == 1
    assert counts[("run", "list", "--bench", "Bench 2")] == 0
    assert counts[("person", "list")] == counts[("org", "list")] == 1
    assert '"label": "Alpha ESME"' in _cli(two_orgs.db, "device", "list")[1]


def test_another_organisations_ids_read_as_missing(two_orgs: TwoOrgs, tmp_path: Path) -> None:
    missing = 9999
    for argv in (("run", "show", "{}"), ("report", "{}", "--json", str(tmp_path / "x.json"))):
        other = _cli(two_orgs.db, *(a.format(two_orgs.beta_run) for a in argv))
        none = _cli(two_orgs.db, *(a.format(missing) for a in argv))
        assert other[0] == none[0] == 2, argv
        assert re.sub(r"\d+", "N", other[2]) == re.sub(r"\d+", "N", none[2]), argv
    for argv in (("booking", "list", "--org", BETA), ("run", "list", "--org", BETA),
                 ("person", "list", "--org", BETA),
                 ("report", "campaign", "--org", BETA, "--html", str(tmp_path / "x.html"))):
        code, out, err = _cli(two_orgs.db, *argv)
        assert code == 2 and out == "" and err.lower().count(MARK) == 1, argv  # echoes its input
    assert not list(tmp_path.iterdir())


def test_every_changing_command_exits_3_and_writes_nothing(two_orgs: TwoOrgs) -> None:
    booking = str(two_orgs.alpha_booking)
    changes = [
        ("lab", "add", "--name", "Own Lab", "--spaces", "2"),
        ("org", "add", "--name", "Gamma"),
        ("person", "add", "--org", ALPHA, "--name", "Cy", "--email", "cy@alpha.example"),
        ("person", "induct", "--email", ALPHA_EMAIL, "--lab", "Shared Lab",
         "--date", "2026-11-20", "--reason", "held elsewhere"),
        ("booking", "request", "--lab", "Shared Lab", "--org", ALPHA, "--start",
         "2026-12-07T09:00", "--end", "2026-12-07T12:00", "--spaces", "1", "--phase", "device"),
        *(("booking", action, booking) for action in
          ("approve", "reject", "cancel", "checkin", "complete", "no-show")),
        ("booking", "cancel", str(two_orgs.beta_booking)),
        ("device", "add", "--label", "Own ESME", "--kind", "ESME"),
        ("run", "start", "readout-sanity", "--bench", "Bench 1", "--emulate"),
        ("replay", "--session", "1"),
        ("sessions", "list"),
        ("outages", "list"),
    ]
    before = dump(two_orgs.db)
    for argv in changes:
        code, out, err = _cli(two_orgs.db, *argv)
        assert code == 3, (argv, code, err)
        assert out == "" and err.count("\n") == 1 and "may not" in err, (argv, err)
    assert dump(two_orgs.db) == before


def test_an_unknown_participant_is_bad_input(two_orgs: TwoOrgs) -> None:
    before = dump(two_orgs.db)
    code = main(["--db", str(two_orgs.db), "booking", "list", "--participant", "x@y.example"])
    assert code == 2 and dump(two_orgs.db) == before
