"""The participant's completion report: every run of an organisation, by plan and device.

A campaign is what one organisation did at the lab over a period: every stored, finished run of
that organisation (a run still executing has no verdict yet and is left out), optionally only the
runs of bookings made for one SEC user role, grouped by plan and device under test.

Definitions:

- **Period**: ``date_from`` and ``date_to`` are days in the lab's local time, both included; a run
  belongs to the period when it *started* on one of those days. The lab's time zone is that of
  the lab the organisation's runs were booked in (if they name exactly one), else that of the
  only lab in the database, else Europe/London.
- **Device under test**: a run records every device of its bench. The devices it tested are
  those of the kinds its plan needs (the plan's ``device_kinds``, read from the file the run was
  loaded from), bench equipment (relay board, radio adapter) excepted: the ESME and the Comms Hub
  of the power-outage plan, the ESME alone of readout-sanity. A device is known by its Device ID
  (its label when it has none). When the plan file can no longer be read, every recorded device
  that is not bench equipment counts. Two runs are on "the same device" when these devices are
  the same, all of them.
- **Group**: the runs of one plan (by name) on one device under test, oldest first. Its
  *latest verdict* is the verdict of its latest run, whatever it is.
- **Tested**: PASS, MARGINAL and FAIL are verdicts on the device. ERROR is the bench's fault and
  ABORTED means the run was stopped: either way the device was *not tested* by that run, which
  the report says, and such a run neither opens nor closes a failure.
- **Failure still open**: a FAIL run not followed, in its group, by a PASS or MARGINAL run
  (a MARGINAL result is within limits). Equivalently, a group has an open failure when the
  latest of its runs that tested the device ended FAIL; the failure lists every FAIL since the
  last PASS or MARGINAL, and the runs after the last FAIL that did not test the device.
- **Seal**: each run's seal is its report's seal (:meth:`app.domain.reports.RunReport.seal`),
  recomputed from the database now. The campaign's seal is the SHA-256 of the canonical JSON of
  ``{"format": CAMPAIGN_SEAL_FORMAT, "org": {"id", "name"}, "period": [from, to], "role",
  "runs": [[run_id, seal], ...]}`` with the runs in id order; a period end not given is null.
  When and by which MeterLab the report was made is not sealed.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlite_utils import Database

from app.domain.clock import Clock, SystemClock
from app.domain.errors import NotFoundError, ValidationError
from app.domain.parsing import parse_day
from app.domain.participants import parse_roles
from app.domain.principals import WORKSTATION_ADMIN, Principal
from app.domain.reports import canonical_json, seal_of
from app.domain.run_records import RunDevice, RunRecord
from app.domain.runs import VERDICT_ORDER, Verdict
from app.storage.bookings import BookingRepo
from app.storage.labs import LabRepo
from app.storage.labstore import LabStore
from app.storage.people import OrgRepo
from app.storage.runs import RunRepo

#: The version of the campaign seal's canonical form.
CAMPAIGN_SEAL_FORMAT = "meterlab-campaign-seal/1"
#: Kinds that belong to the bench, not to the participant: never a device under test.
BENCH_KINDS = frozenset({"relay board", "radio adapter"})
#: Verdicts that say something about the device (the others: it was not tested).
TESTED = frozenset({Verdict.PASS, Verdict.MARGINAL, Verdict.FAIL})
#: Verdicts that close a failure.
PASSED = frozenset({Verdict.PASS, Verdict.MARGINAL})
DEFAULT_TIMEZONE = "Europe/London"
#: More runs than any organisation makes; RunRepo.list needs a limit.
_ALL_RUNS = 10_000_000

SealOfRun = Callable[[int], str]
Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class TestedDevice:
    """A device a run tested, as the run recorded it."""

    kind: str
    device_id: str
    label: str

    @property
    def name(self) -> str:
        """``ESME 00-DB-12-34-56-78-90-A0`` (the label when there is no Device ID)."""
        return f"{self.kind} {self.device_id or self.label}"


@dataclass(frozen=True)
class CampaignRun:
    """One run of the campaign.

    Attributes:
        started, ended: UTC instants.
        seal: the run's report seal, recomputed now.
        stored_seal: the seal stored with the run when its report was sealed (None if never).
    """

    run_id: int
    plan_name: str
    plan_version: str
    started: datetime
    ended: datetime | None
    verdict: Verdict
    bench: str
    devices: tuple[TestedDevice, ...]
    seal: str
    booking_id: int | None = None
    emulated: bool = False
    operator: str = ""
    message: str = ""
    stored_seal: str | None = None

    @property
    def device_key(self) -> str:
        """The device(s) under test in one line: ``ESME 00-DB-..-A0 + CHF 00-DB-..-A2``."""
        return " + ".join(d.name for d in self.devices) or "(no device recorded)"

    @property
    def tested(self) -> bool:
        """False for ERROR (the bench's fault) and ABORTED: the device was not tested."""
        return self.verdict in TESTED

    @property
    def seal_changed(self) -> bool:
        """The run was sealed before and its data no longer gives that seal."""
        return self.stored_seal is not None and self.stored_seal != self.seal


@dataclass(frozen=True)
class OpenFailure:
    """A plan that failed on a device and has not passed on it since.

    Attributes:
        failed: the FAIL runs since the last PASS or MARGINAL, oldest first.
        untested: runs after the last FAIL that did not test the device (ERROR, ABORTED).
    """

    plan_name: str
    device_key: str
    failed: tuple[CampaignRun, ...]
    untested: tuple[CampaignRun, ...] = ()


@dataclass(frozen=True)
class CampaignGroup:
    """The runs of one plan on one device under test, oldest first."""

    plan_name: str
    devices: tuple[TestedDevice, ...]
    runs: tuple[CampaignRun, ...]

    @property
    def device_key(self) -> str:
        return self.runs[0].device_key

    @property
    def latest(self) -> CampaignRun:
        return self.runs[-1]

    @property
    def latest_verdict(self) -> Verdict:
        return self.latest.verdict

    @property
    def last_tested(self) -> CampaignRun | None:
        """The latest run that tested the device (PASS, MARGINAL or FAIL), if any."""
        return next((r for r in reversed(self.runs) if r.tested), None)

    @property
    def open_failure(self) -> OpenFailure | None:
        failed: list[CampaignRun] = []
        untested: list[CampaignRun] = []
        for run in self.runs:
            if run.verdict in PASSED:
                failed, untested = [], []
            elif run.verdict is Verdict.FAIL:
                failed.append(run)
                untested = []
            elif failed:
                untested.append(run)
        if not failed:
            return None
        return OpenFailure(self.plan_name, self.device_key, tuple(failed), tuple(untested))


@dataclass(frozen=True)
class Campaign:
    """An organisation's completion report as data (every format is drawn from it).

    Attributes:
        date_from, date_to: the period's first and last day (lab local time), None if open.
        timezone: the lab's time zone, in which the report shows times.
        runs: oldest first.
        groups: by plan name, then device.
        generated: when the report was made (not sealed); version: the MeterLab that made it.
    """

    org_id: int
    org_name: str
    role: str | None
    date_from: date | None
    date_to: date | None
    timezone: str
    runs: tuple[CampaignRun, ...]
    groups: tuple[CampaignGroup, ...]
    generated: datetime
    version: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def canonical(self) -> dict[str, Any]:
        """The sealed content (see the module's docstring)."""
        return {
            "format": CAMPAIGN_SEAL_FORMAT,
            "org": {"id": self.org_id, "name": self.org_name},
            "period": [_iso(self.date_from), _iso(self.date_to)],
            "role": self.role,
            "runs": sorted([r.run_id, r.seal] for r in self.runs),
        }

    def canonical_json(self) -> bytes:
        return canonical_json(self.canonical())

    @property
    def seal(self) -> str:
        return seal_of(self.canonical())

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def local(self, moment: datetime) -> datetime:
        """`moment` in the lab's local time."""
        return moment.astimezone(self.tz)

    @property
    def plans(self) -> tuple[str, ...]:
        return tuple(sorted({g.plan_name for g in self.groups}))

    @property
    def devices(self) -> tuple[str, ...]:
        """Every device under test, by name (``ESME 00-DB-...``)."""
        return tuple(sorted({d.name for r in self.runs for d in r.devices}))

    @property
    def counts(self) -> dict[Verdict, int]:
        """Runs by verdict, every verdict present (0 when none)."""
        out = {v: 0 for v in VERDICT_ORDER}
        for run in self.runs:
            out[run.verdict] += 1
        return out

    @property
    def open_failures(self) -> tuple[OpenFailure, ...]:
        return tuple(f for g in self.groups if (f := g.open_failure) is not None)

    @property
    def untested(self) -> tuple[CampaignRun, ...]:
        """Runs that did not test their device (ERROR: the bench's fault; ABORTED)."""
        return tuple(r for r in self.runs if not r.tested)

    def period_text(self) -> str:
        """``2026-11-23 to 2026-11-27``, ``from ...``, ``until ...`` or ``all runs``."""
        if self.date_from and self.date_to:
            return f"{self.date_from} to {self.date_to}"
        if self.date_from:
            return f"from {self.date_from}"
        if self.date_to:
            return f"until {self.date_to}"
        return "all runs"


def run_seal(conn: sqlite3.Connection, run_id: int, clock: Clock,
             store: LabStore | None = None) -> str:
    """The seal of run `run_id`'s report, built from the database now (the run in `store`,
    else in the file `conn`)."""
    from app.services.reports.build import build_report

    return build_report(conn, run_id, clock, store=store).seal()


def build_campaign(conn: sqlite3.Connection | Database, org: str | int, role: str | None = None,
                   date_from: date | str | None = None, date_to: date | str | None = None,
                   clock: Clock | None = None, seal_of_run: SealOfRun | None = None,
                   version: str = "", progress: Progress | None = None,
                   principal: Principal = WORKSTATION_ADMIN,
                   store: LabStore | None = None) -> Campaign:
    """Gather an organisation's campaign from the database (see the module's docstring).

    Args:
        org: the organisation's name (any case) or id.
        role: only runs whose booking was made for this SEC user role (``IS``, ``GS``, ...).
        date_from, date_to: the period's first and last day in the lab's local time (a
            ``date`` or ``YYYY-MM-DD``), both included; None leaves that end open.
        clock: tells when the report is made (default: the workstation's clock).
        seal_of_run: run id -> that run's seal (default: :func:`run_seal`).
        version: the MeterLab version shown in the report.
        progress: told (fraction, what) as the runs are sealed.
        principal: who asks; a participant only its own organisation's campaign.
        store: the lab store on a server holding the runs, organisations, labs and bookings
            (None: the file `conn`'s); `conn` stays the bench store.

    Raises:
        NotFoundError: there is no such organisation (field ``org``), or it is not the
            participant's own.
        ValidationError: a bad role or date, or a period that ends before it starts.
        EvidenceElsewhereError: a run executed on another workstation was never sealed.
    """
    if isinstance(conn, Database):
        conn = conn.conn
    clock = clock or SystemClock()
    db: Database | LabStore = store if store is not None else Database(conn)
    first = _day(date_from, "from")
    last = _day(date_to, "to")
    if first is not None and last is not None and last < first:
        raise ValidationError("to", f"The period must end on or after its first day {first}, "
                                    f"not on {last}.")
    wanted_role = _role(role)
    found = OrgRepo(db, clock).resolve(org, "org", principal.org_scope())
    if found.id is None:  # stored organisations always have one
        raise NotFoundError("org", f"There is no organisation {org!r}.")
    seal_fn = seal_of_run or (lambda run_id: run_seal(conn, run_id, clock, store))

    repo = RunRepo(db)
    records = [r for s in repo.list(org_id=found.id, limit=_ALL_RUNS,
                                    org_scope=principal.org_scope())
               if s.verdict is not None and (r := repo.get(s.id)) is not None
               and r.verdict is not None]
    tz_name = _timezone(db, clock, {r.lab_id for r in records if r.lab_id is not None})
    tz = ZoneInfo(tz_name)
    lo = _local_midnight(first, tz)
    hi = _local_midnight(last + timedelta(days=1), tz) if last is not None else None
    records = [r for r in records
               if (lo is None or r.started >= lo) and (hi is None or r.started < hi)]
    if wanted_role is not None:
        roles = _booking_roles(db, clock, {r.booking_id for r in records})
        records = [r for r in records if wanted_role in roles.get(r.booking_id, ())]
    records.sort(key=lambda r: (r.started, r.id))

    kinds = _PlanKinds()
    runs = []
    for n, record in enumerate(records):
        if progress is not None:
            progress(n / max(1, len(records)), f"sealing run {record.id}")
        runs.append(_campaign_run(record, kinds.of(record), seal_fn(record.id)))
    if progress is not None:
        progress(1.0, "campaign gathered")
    return Campaign(
        org_id=found.id, org_name=found.name, role=wanted_role, date_from=first, date_to=last,
        timezone=tz_name, runs=tuple(runs), groups=group_runs(runs),
        generated=clock.now().astimezone(UTC), version=version)


def group_runs(runs: Iterable[CampaignRun]) -> tuple[CampaignGroup, ...]:
    """`runs` grouped by plan name and device under test; each group oldest first, the groups
    by plan name, then device."""
    groups: dict[tuple[str, str], list[CampaignRun]] = {}
    for run in sorted(runs, key=lambda r: (r.started, r.run_id)):
        groups.setdefault((run.plan_name, run.device_key), []).append(run)
    return tuple(CampaignGroup(plan, members[0].devices, tuple(members))
                 for (plan, _), members in sorted(groups.items()))


def write_campaign_pdf(campaign: Campaign, path: str | Path,
                       progress: Progress | None = None) -> None:
    """Write the campaign as an A4 PDF (the same campaign gives the same bytes)."""
    from app.services.reports.campaign_pdf import write_pdf

    write_pdf(campaign, Path(path), progress)


def write_campaign_html(campaign: Campaign, path: str | Path) -> None:
    """Write the campaign as one self-contained HTML file."""
    from app.services.reports.campaign_html import render

    Path(path).write_text(render(campaign), encoding="utf-8")


def render_campaign_html(campaign: Campaign) -> str:
    """The campaign as one self-contained HTML document."""
    from app.services.reports.campaign_html import render

    return render(campaign)


# --- helpers ----------------------------------------------------------------------------------
def _campaign_run(record: RunRecord, kinds: tuple[str, ...] | None, seal: str) -> CampaignRun:
    assert record.verdict is not None
    return CampaignRun(
        run_id=record.id, plan_name=record.plan_name, plan_version=record.plan_version,
        started=record.started, ended=record.ended, verdict=record.verdict, bench=record.bench,
        devices=devices_under_test(record.devices, kinds), seal=seal,
        booking_id=record.booking_id, emulated=record.emulated, operator=record.operator,
        message=record.message, stored_seal=record.seal)


def devices_under_test(devices: Iterable[RunDevice],
                       kinds: tuple[str, ...] | None) -> tuple[TestedDevice, ...]:
    """The devices of `kinds` (in that order; None: every kind), bench equipment excepted."""
    devices = [d for d in devices if d.kind not in BENCH_KINDS]
    if kinds is not None:
        rank = {k.casefold(): i for i, k in enumerate(kinds)}
        devices = sorted((d for d in devices if d.kind.casefold() in rank),
                         key=lambda d: rank[d.kind.casefold()])
    return tuple(TestedDevice(d.kind, d.device_id, d.label) for d in devices)


class _PlanKinds:
    """The device kinds of the plans runs were loaded from, each plan file read once."""

    def __init__(self) -> None:
        self._known: dict[str, tuple[str, ...] | None] = {}

    def of(self, record: RunRecord) -> tuple[str, ...] | None:
        source = record.plan_source
        if source not in self._known:
            self._known[source] = _read_kinds(source)
        return self._known[source]


def _read_kinds(source: str) -> tuple[str, ...] | None:
    from app.services.runs.plans import builtin_plan_dir, load_plan

    if not source:
        return None
    try:
        if source.startswith("builtin:"):
            name = source.removeprefix("builtin:")
            return load_plan(builtin_plan_dir().joinpath(f"{name}.toml"), source).device_kinds
        return load_plan(Path(source)).device_kinds
    except (ValidationError, OSError):
        return None


def _day(value: date | str | None, field: str) -> date | None:
    if isinstance(value, datetime):
        raise ValidationError(field, f"{field.capitalize()} must be a day, not a time "
                                     f"({value.isoformat()}).")
    if value is None or isinstance(value, date):
        return value
    return parse_day(value, field)


def _role(role: str | None) -> str | None:
    if role is None or not role.strip():
        return None
    roles = parse_roles(role, "role")
    if len(roles) != 1:
        raise ValidationError("role", f"Role must be one SEC user role, not {role!r}.")
    return roles[0]


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


def _local_midnight(day: date | None, tz: ZoneInfo) -> datetime | None:
    return None if day is None else datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def _timezone(db: Database | LabStore, clock: Clock, lab_ids: set[int]) -> str:
    """The time zone of the one lab of `lab_ids`, else of the only lab, else Europe/London."""
    labs = LabRepo(db, clock)
    names: list[str] = []
    if len(lab_ids) == 1:
        try:
            names = [labs.get(next(iter(lab_ids))).timezone]
        except NotFoundError:
            names = []
    elif not lab_ids:
        found = labs.list()
        names = [found[0].timezone] if len(found) == 1 else []
    name = names[0] if names and names[0] else DEFAULT_TIMEZONE
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return DEFAULT_TIMEZONE
    return name


def _booking_roles(db: Database | LabStore, clock: Clock,
                   booking_ids: set[int | None]) -> dict[int | None, tuple[str, ...]]:
    repo = BookingRepo(db, clock)
    out: dict[int | None, tuple[str, ...]] = {}
    for booking_id in booking_ids:
        if booking_id is None:
            continue
        try:
            out[booking_id] = repo.get(booking_id).roles
        except NotFoundError:
            out[booking_id] = ()
    return out
