"""A realistic run's report built from the domain's dataclasses (no database): a power-outage run
on Bench 1 with a FAIL and a MARGINAL, five devices, restore alerts, two outages and evidence."""

from __future__ import annotations

import hashlib
import random
from datetime import UTC, datetime, timedelta

from app.domain.reports import AlertRow, OutageRow, ReportContext, RunReport
from app.domain.run_records import RunDevice, RunEvidence, RunRecord
from app.domain.runs import MeasurementOutcome, MeasurementResult, StepOutcome, StepResult, Verdict

T0 = datetime(2026, 7, 14, 9, 30, 0, tzinfo=UTC)  # 10:30 in London (BST)
ORG = "Acme Metering Ltd"
DEVICE_IDS = ("00-DB-12-34-56-78-90-A0", "00-DB-12-34-56-78-90-A1", "00-DB-12-34-56-78-90-A2",
              "00-DB-12-34-56-78-90-A3", "00-DB-12-34-56-78-90-A4")
STEP_NAMES = ("Cut and restore the supply", "Read the meter after restore",
              "Check the IHD shows the outage")
NOTE = "IHD display flickered — café lights dimmed; <script>alert(1)</script> & done"
PLAN_SOURCE = 'name = "power-outage"\nversion = "1.0"\n'


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def devices() -> tuple[RunDevice, ...]:
    return (
        RunDevice("Bench 1 ESME", "ESME", DEVICE_IDS[0], "1312345678907", "Acme", "E-100",
                  "2.1.0", 1),
        RunDevice("Bench 1 GSME", "GSME", DEVICE_IDS[1], "1234567890", "Acme", "G-20", "1.0.3",
                  2),
        RunDevice("Bench 1 Comms Hub", "CHF", DEVICE_IDS[2], "", "HubCo", "CH-4", "1.4.2", 3),
        RunDevice("Bench 1 IHD", "IHD", DEVICE_IDS[3], "", "Displays Ltd", "IHD-7", "", 4),
        RunDevice("Bench 1 PPMID", "PPMID", DEVICE_IDS[4], "", "Displays Ltd", "PP-1", "0.9",
                  5),
    )


def steps() -> tuple[StepResult, ...]:
    m = MeasurementResult
    return (
        StepResult(0, STEP_NAMES[0], "outage", StepOutcome.MARGINAL, at(10), at(160), (
            m("restore_alert", "8F35", "", "x == '8F35'", MeasurementOutcome.PASS),
            m("restore_latency_s", 7.25, "s", "0 <= x <= 30; marginal outside 0..6",
              MeasurementOutcome.MARGINAL),
            m("power_fail_count_delta", 1, "", "x == 1", MeasurementOutcome.PASS,
              "0 -> 1"),
        )),
        StepResult(1, STEP_NAMES[1], "readout", StepOutcome.FAIL, at(160), at(175), (
            m("1.8.0", 12345.689, "kWh", "0 <= x <= 999999999", MeasurementOutcome.PASS),
            m("readable_after_restore_s", 75.5, "s", "0 <= x <= 60", MeasurementOutcome.FAIL),
        ), message="readable_after_restore_s is out of its limits."),
        StepResult(2, STEP_NAMES[2], "prompt", StepOutcome.PASS, at(175), at(230), (
            m("operator_answer", "pass", "", "x == 'pass'", MeasurementOutcome.PASS, NOTE),
        ), answer=f"pass: {NOTE}"),
        StepResult(3, "Supply on", "relay", StepOutcome.PASS, at(230), at(231), teardown=True),
    )


def alerts(count: int = 0) -> tuple[AlertRow, ...]:
    """The run's own alerts (8F35 and 8F36 restores and a few others), plus `count` more spread
    over the window on every device (for the large-run tests)."""
    rows = [
        AlertRow(at(72.4), "Bench 1 ESME", "8F35", "Supply Outage Restored", "warning",
                 at(71.9), 0.5, 30.0, 11),
        AlertRow(at(150.2), "Bench 1 ESME", "8F36", "Supply Outage Restored - Outage >= 3 "
                 "minutes", "critical", at(143.0), 7.2, 5.0, 12),
        AlertRow(at(151.0), "Bench 1 GSME", "8F36", "Supply Outage Restored - Outage >= 3 "
                 "minutes", "critical", at(150.7), 0.3, 5.0, 13),
        AlertRow(at(40.0), "Bench 1 Comms Hub", "8F0C", "Clock not adjusted (adjustment "
                 "greater than 10 seconds)", "warning", None, None, None, 14),
        AlertRow(at(200.0), "Bench 1 IHD", "8F01", "Active Power Import above Load Limit "
                 "Threshold", "info", at(199.5), 0.5, None, 15),
    ]
    rng = random.Random(9)
    names = [d.label for d in devices()]
    kinds = (("8F01", "Active Power Import above Load Limit Threshold", "warning"),
             ("8F0C", "Clock not adjusted (adjustment greater than 10 seconds)", "info"),
             ("8F36", "Supply Outage Restored - Outage >= 3 minutes", "critical"))
    for i in range(count):
        code, name, severity = kinds[i % 3]
        t = rng.uniform(0, 240)
        rows.append(AlertRow(at(t), names[i % 5], code, name, severity, at(t - 0.4), 0.4,
                             5.0 if code == "8F36" else None, 100 + i))
    return tuple(sorted(rows, key=lambda a: a.host_time))


def outages() -> tuple[OutageRow, ...]:
    return (
        OutageRow(1, at(12), at(72), "relay", 60.0, at(11.5), at(71.6), "8F35"),
        OutageRow(2, at(80), at(150), "relay", 70.0, at(79.0), at(260.0), "8F36",
                  ("hub duration 181 s differs from the relay's 70 s",)),
    )


def evidence() -> tuple[RunEvidence, ...]:
    return tuple(
        RunEvidence(i + 1, d, f"/var/lib/meterlab/captures/20260714T093000Z-{d.replace(' ', '_')}"
                              f"-s{i + 1}.bin", 1000 * (i + 1) + 17,
                    hashlib.sha256(d.encode()).hexdigest())
        for i, d in enumerate(("Bench 1 ESME", "Bench 1 Comms Hub", "Bench 1 relay")))


def record(**changes) -> RunRecord:
    base = dict(
        id=42, plan_name="power-outage", plan_version="1.0",
        plan_sha256=hashlib.sha256(PLAN_SOURCE.encode()).hexdigest(), plan_source=PLAN_SOURCE,
        parameters={"duration_s": 60, "bench": "Bench 1"}, bench="Bench 1", started=at(5),
        emulated=False, ended=at(232), verdict=Verdict.FAIL, message="",
        operator="Zoë Lab-Tech", lab_id=1, booking_id=7, org_id=3, org_name=ORG,
        faults=(), time_scale=1.0, step_names=(*STEP_NAMES, "Supply on"), steps=steps(),
        devices=devices(), evidence=evidence())
    base.update(changes)
    return RunRecord(**base)


def report(alert_count: int = 0, generated: datetime | None = None, **changes) -> RunReport:
    """The sample run's report; `alert_count` more alerts make a large one."""
    events = 5 + alert_count
    return RunReport(
        record=record(**changes),
        context=ReportContext("Newcastle Device Lab", "Europe/London", at(-1800), at(5400),
                              "confirmed"),
        alerts=alerts(alert_count), outages=outages(), window_start=at(0), window_end=at(240),
        generated=generated or datetime(2026, 7, 15, 8, 0, tzinfo=UTC), version="0.1.0",
        events_total=events + 40)
