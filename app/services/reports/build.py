"""A run's report as data, from the database: the run's record, the alerts and outages of its
window, and what the report says around it (lab, booking).

Alert latency is measured as the run's ``outage`` step measures it
(:func:`app.services.runs.steps.outage.alert_latency_s`, on the bench's clock) against the
per-code targets of outage checking (:class:`app.domain.outages.TrackerConfig`, 8 s unless a code
has its own). The anchor between host time and bench time that the run read is not stored; on a
bench running fast it is estimated from the hand-over times the Comms Hub logged in the window:
the quickest hand-over is taken as instantaneous (so a latency is never over-stated by the host's
own delays). On a real bench (time scale 1) bench time is host time.

With the lab store on a server, a run's record is shared but its events, outages and evidence
files stay on the workstation that executed it (``runs.workstation``). A report built on another
workstation takes the alerts, outages and window from the copy stored when the run was first
sealed (so its seal is the same), and says on which workstation the evidence lives; a run never
sealed there cannot be reported elsewhere (:class:`EvidenceElsewhereError`).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlite_utils import Database

from app.domain.clock import Clock
from app.domain.errors import NotFoundError, ValidationError
from app.domain.events import DeviceEvent, EventKind
from app.domain.outages import Outage, TrackerConfig
from app.domain.parsing import aware_datetime
from app.domain.principals import WORKSTATION_ADMIN, Principal
from app.domain.reports import AlertRow, OutageRow, ReportContext, RunReport
from app.domain.run_records import RunRecord
from app.services.runs.bench_link import BenchClock
from app.services.runs.steps.outage import alert_latency_s
from app.storage.bookings import BookingRepo
from app.storage.capture_sessions import workstation_name
from app.storage.labs import LabRepo
from app.storage.labstore import LabStore
from app.storage.outages import OutageRepo
from app.storage.runs import RunRepo
from app.storage.timefmt import from_db, to_db

#: The window of a run's report: from this long before its start to this long after its end
#: (see :func:`_window`).
WINDOW_MARGIN = timedelta(seconds=10)


class EvidenceElsewhereError(Exception):
    """A run executed on another workstation whose report was never sealed: its events and
    evidence files are only in that workstation's bench store, so its first report is made
    there.

    Attributes:
        run_id: the run.
        workstation: the workstation holding its evidence.
    """

    def __init__(self, run_id: int, workstation: str) -> None:
        self.run_id, self.workstation = run_id, workstation
        super().__init__(
            f"run {run_id} was executed on workstation {workstation}, whose bench store holds "
            f"its events and evidence files; make its first report there (that seals it), "
            f"then any workstation can export it.")


def evidence_workstation(store: LabStore | None, record: RunRecord) -> str:
    """The workstation holding `record`'s evidence, when the lab store is a server shared by
    several workstations ("" on a workstation's own file: the evidence is that workstation's)."""
    if store is None or store.dialect == "sqlite":
        return ""
    return record.workstation


def build_report(conn: sqlite3.Connection, run_id: int, clock: Clock,
                 version: str | None = None,
                 principal: Principal = WORKSTATION_ADMIN, store: LabStore | None = None,
                 workstation: str | None = None) -> RunReport:
    """The report of run `run_id`.

    Once a run's report has been sealed, what the report says around the run (the lab's name,
    the booking's times and status, the organisation's name) is taken as it was then: those can
    change later (a booking is checked out, an organisation renamed) without the run changing.

    Args:
        conn: the workstation's database: its bench store (events, outages), and its lab store
            unless `store` is given.
        version: the MeterLab version to print (default: the installed one).
        principal: who asks; a participant gets only its organisation's runs.
        store: the lab store holding the run (None: the one in the file `conn`).
        workstation: this workstation's name (default: :func:`workstation_name`).

    Raises:
        NotFoundError: there is no run `run_id` (or it is another organisation's).
        ValidationError: the run is still executing (it has no verdict yet).
        EvidenceElsewhereError: the run was executed on another workstation and never sealed.
    """
    source: LabStore | Database = store if store is not None else Database(conn)
    repo = RunRepo(source)
    record = repo.get(run_id, principal.org_scope())
    if record is None:
        raise NotFoundError("run_id", f"There is no run {run_id} (see `meterlab run list`).")
    if record.running or record.ended is None:
        raise ValidationError("run_id", f"run {run_id} is still running; its report can be made "
                                        f"once it has ended.")
    context = _context(source, clock, record)
    sealed = repo.sealed(run_id)
    canonical = json.loads(sealed[1]) if sealed is not None else None
    if canonical is not None:
        record, context = _as_sealed(record, context, canonical)
    holder = evidence_workstation(store, record)
    if holder and holder != (workstation or workstation_name()):
        if canonical is None:
            raise EvidenceElsewhereError(run_id, holder)
        return _from_sealed_copy(record, context, canonical, clock, version, holder)
    window_start, window_end = _window(repo, record)
    labels = [d.label for d in record.devices]
    alerts, events_total = _alerts(conn, record, labels, window_start, window_end)
    return RunReport(
        record=record, context=context, alerts=alerts,
        outages=_outages(conn, record, window_start, window_end),
        window_start=window_start, window_end=window_end, generated=clock.now(),
        version=version if version is not None else _installed_version(),
        events_total=events_total, evidence_workstation=holder,
    )


def _from_sealed_copy(record: RunRecord, context: ReportContext, canonical: dict[str, Any],
                      clock: Clock, version: str | None, holder: str) -> RunReport:
    """The report of a run executed on workstation `holder`: the alerts, outages and window
    (which that workstation's bench store holds) as they were sealed."""
    try:
        first, last = (_instant(v) for v in canonical["window"])
        alerts = tuple(AlertRow(**_instants(a, ("host_time", "device_time")))
                       for a in canonical["alerts"])
        outages = tuple(OutageRow(**{**_instants(o, ("start", "end", "device_start",
                                                     "device_end")),
                                     "flags": tuple(o.get("flags") or ())})
                        for o in canonical["outages"])
    except (KeyError, TypeError, ValueError):  # a damaged copy: it will not verify
        first, last, alerts, outages = None, None, (), ()
    return RunReport(
        record=record, context=context, alerts=alerts, outages=outages, window_start=first,
        window_end=last, generated=clock.now(),
        version=version if version is not None else _installed_version(),
        evidence_workstation=holder, evidence_here=False)


def _instant(value: Any) -> datetime | None:
    return None if value is None else datetime.fromisoformat(str(value))


def _instants(row: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    return {k: _instant(v) if k in names else v for k, v in row.items()}


def _window(repo: RunRepo, record: RunRecord) -> tuple[datetime, datetime]:
    """The run's span with :data:`WINDOW_MARGIN` either side, but not reaching into the bench's
    run before or after (so back-to-back runs do not share their alerts)."""
    assert record.ended is not None
    start, end = record.started - WINDOW_MARGIN, record.ended + WINDOW_MARGIN
    before, after = repo.neighbours_on_bench(record.id)
    if before is not None and before > start:
        start = min(before, record.started)
    if after is not None and after < end:
        end = max(after, record.ended)
    return start, end


def _installed_version() -> str:
    from app.about import versions

    return versions()["meterlab"]


def _context(db: LabStore | Database, clock: Clock, record: RunRecord) -> ReportContext:
    booking = None
    if record.booking_id is not None:
        try:
            booking = BookingRepo(db, clock).get(record.booking_id)
        except NotFoundError:
            booking = None
    lab_id = record.lab_id if record.lab_id is not None else (booking.lab_id if booking else None)
    lab_name, tz = "", ReportContext().lab_timezone
    if lab_id is not None:
        try:
            lab = LabRepo(db, clock).get(lab_id)
            lab_name, tz = lab.name, lab.timezone or tz
        except NotFoundError:
            pass
    if not lab_name and booking is not None:
        lab_name = booking.lab_name
    return ReportContext(
        lab_name=lab_name, lab_timezone=tz,
        booking_start=booking.start if booking else None,
        booking_end=booking.end if booking else None,
        booking_status=_text(booking.status) if booking else "",
    )


def _text(value: Any) -> str:
    return str(getattr(value, "value", value))


def _as_sealed(record: RunRecord, context: ReportContext,
               canonical: dict[str, Any]) -> tuple[RunRecord, ReportContext]:
    """`record` and `context` with the names and booking as they were sealed."""
    sealed_context = canonical.get("context")
    if isinstance(sealed_context, dict):
        try:
            context = ReportContext(
                lab_name=str(sealed_context.get("lab_name", "")),
                lab_timezone=str(sealed_context.get("lab_timezone", context.lab_timezone)),
                booking_start=from_db(sealed_context.get("booking_start")),
                booking_end=from_db(sealed_context.get("booking_end")),
                booking_status=str(sealed_context.get("booking_status", "")),
            )
        except (TypeError, ValueError):
            pass  # a damaged copy: the report says what is known now (and will not verify)
    org = (canonical.get("run") or {}).get("org")
    if isinstance(org, dict) and org.get("id") == record.org_id and isinstance(
            org.get("name"), str):
        record = replace(record, org_name=org["name"])
    return record, context


def _alerts(conn: sqlite3.Connection, record: RunRecord, labels: list[str],
            start: datetime, end: datetime) -> tuple[tuple[AlertRow, ...], int]:
    """The alerts raised by or for the run's devices within [start, end], and how many events
    of the run's devices the window holds."""
    if not labels:
        return (), 0
    marks = ",".join("?" * len(labels))
    window = (to_db(start), to_db(end))
    total = int(conn.execute(
        f"SELECT count(*) FROM events WHERE device IN ({marks}) AND host_time >= ? "
        f"AND host_time <= ?", (*labels, *window)).fetchone()[0])
    by_eui = {d.device_id.upper(): d.label for d in record.devices if d.device_id}
    rows = conn.execute(
        "SELECT id, session_id, device, device_ref, host_time, device_time, fields_json "
        "FROM events WHERE kind = ? AND host_time >= ? AND host_time <= ? ORDER BY host_time, id",
        (EventKind.ALERT.value, *window)).fetchall()
    events: list[tuple[int, str, DeviceEvent]] = []
    for event_id, session_id, device, device_ref, host, device_time, fields_json in rows:
        fields = json.loads(fields_json or "{}")
        origin = by_eui.get(str(fields.get("originator", "")).upper())
        if device not in labels and origin is None:
            continue
        ev = DeviceEvent(device=device, kind=EventKind.ALERT, host_time=_aware(host),
                         device_time=from_db(device_time), fields=fields, session_id=session_id,
                         device_ref=device_ref)
        events.append((event_id, origin or device, ev))
    clock = _bench_clock(conn, record.time_scale, labels, window)
    config = TrackerConfig()
    alerts = []
    for event_id, attributed, ev in events:
        code = str(ev.fields.get("alert_code", "")).upper()
        latency = alert_latency_s(clock, ev)
        alerts.append(AlertRow(
            host_time=ev.host_time, device=attributed, code=code,
            name=str(ev.fields.get("alert_name") or ev.fields.get("name") or ""),
            severity=str(ev.fields.get("severity", "")), device_time=ev.device_time,
            latency_s=None if latency is None else round(latency, 3),
            target_s=config.target_for(code) if code else None, event_id=event_id))
    return tuple(alerts), total


def _bench_clock(conn: sqlite3.Connection, time_scale: float, labels: list[str],
                 window: tuple[str, str]) -> BenchClock:
    """The bench's clock for the window (see the module's docstring)."""
    if time_scale == 1.0:
        return BenchClock()
    marks = ",".join("?" * len(labels))
    pairs: list[tuple[datetime, datetime]] = []
    for host, fields_json in conn.execute(
            f"SELECT host_time, fields_json FROM events WHERE device IN ({marks}) "
            f"AND host_time >= ? AND host_time <= ? AND fields_json LIKE '%\"log_time\"%'",
            (*labels, *window)):
        handed = aware_datetime(json.loads(fields_json or "{}").get("log_time"))
        if handed is not None:
            pairs.append((_aware(host), handed))
    if not pairs:
        return BenchClock(time_scale)
    bench_anchor = pairs[0][1]
    host_anchor = min(host - (bench - bench_anchor) / time_scale for host, bench in pairs)
    return BenchClock(time_scale, host_anchor, bench_anchor)


def _aware(text: str) -> datetime:
    moment = from_db(text)
    assert moment is not None  # NOT NULL in the schema
    return moment


def _outages(conn: sqlite3.Connection, record: RunRecord, start: datetime,
             end: datetime) -> tuple[OutageRow, ...]:
    """Outages of the run's bench overlapping [start, end]; durations on the bench's clock."""
    rows = []
    for item in OutageRepo(conn).list(bench=record.bench):
        first = from_db(item["start"] or item["restore_alert_host_time"] or item["end"])
        last = from_db(item["end"] or item["restore_alert_host_time"] or item["start"])
        if first is None or last is None or first > end or last < start:
            continue
        outage = Outage(
            id=item["id"], bench=item["bench"], start=from_db(item["start"]),
            end=from_db(item["end"]), start_source=item["start_source"] or "",
            device_duration_s=item["device_duration_s"],
            time_scale=record.time_scale if item["start_source"] == "relay" else 1.0)
        duration = outage.duration_s
        rows.append(OutageRow(
            outage_id=item["id"], start=outage.start, end=outage.end,
            start_source=outage.start_source,
            duration_s=None if duration is None else round(duration, 3),
            device_start=from_db(item["device_start"]), device_end=from_db(item["device_end"]),
            restore_alert=item["restore_alert_code"],
            flags=tuple(str(f.get("code", "")) for f in item["flags"] if isinstance(f, dict))))
    return tuple(rows)
