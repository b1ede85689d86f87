"""Test runs and their reports on a lab store on a real PostgreSQL server, with two workstations.

Each workstation is a real `meterlab` process with its own SQLite bench file. The two are on one
machine here, so the second one is told to take another host name through MELAB_PRETEND_HOST (the
variable exists for exactly this): a run's record names the workstation that executed it, whose
bench store and capture folder hold its events and evidence files.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from app.storage.capture_sessions import PRETEND_HOST_ENV
from tests.cli.test_cli_run_start import wait_for_the_cut
from tests.cli.test_cli_shared_lab_store import libpq

EXE = Path(sys.executable).with_name("meterlab")
NOW = "2026-11-25T10:00+00:00"
BENCH_PC, FRONT_DESK = "bench-pc-1", "front-desk"

pytestmark = pytest.mark.timeout(240)


class Workstation:
    """One workstation: its bench file, its host name, the lab store in its environment."""

    def __init__(self, root: Path, host: str, store: str) -> None:
        root.mkdir()
        self.root, self.db, self.host = root, root / "bench.db", host
        self.env = {**os.environ, "MELAB_LAB_STORE": store, PRETEND_HOST_ENV: host,
                    "QT_QPA_PLATFORM": "offscreen"}

    def argv(self, *args: str) -> list[str]:
        return [str(EXE), *args, "--db", str(self.db)]

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.argv(*args), capture_output=True, text=True, env=self.env,
                              timeout=120, check=False, cwd=self.root)

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(self.argv("run", "start", *args), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                                env=self.env, cwd=self.root)

    def runs_in_file(self) -> int:
        conn = sqlite3.connect(self.db)
        try:
            return conn.execute("SELECT count(*) FROM runs").fetchone()[0]
        finally:
            conn.close()


@pytest.fixture
def lab(pg_url, tmp_path) -> tuple[Workstation, Workstation]:
    store = libpq(pg_url)
    bench, desk = Workstation(tmp_path / "ws1", BENCH_PC, store), Workstation(
        tmp_path / "ws2", FRONT_DESK, store)
    added = bench("org", "add", "--name", "Acme", "--roles", "IS", "--now", NOW)
    assert added.returncode == 0, added.stderr
    return bench, desk


def test_a_run_on_the_lab_store_is_reported_and_verified_from_another_workstation(
        lab, tmp_path) -> None:
    bench, desk = lab
    ran = bench("run", "start", "power-outage", "--bench", "Bench 1", "--emulate", "--org",
                "Acme", "--param", "duration_s=179", "--now", NOW)
    assert ran.returncode == 0, ran.stderr
    record = json.loads(ran.stdout.splitlines()[-1])
    assert record["verdict"] == "PASS" and record["workstation"] == BENCH_PC
    assert record["org"]["name"] == "Acme"  # the lab store's organisation
    evidence = {e["sha256"]: e for e in record["evidence"]}
    assert evidence and all(Path(e["path"]).is_file() for e in evidence.values())
    # The run is on the server only; its capture files and events stay on the bench's PC.
    assert bench.runs_in_file() == 0

    listed = desk("run", "list")
    assert listed.returncode == 0, listed.stderr
    assert [(r["run_id"], r["verdict"]) for r in json.loads(listed.stdout)] == [
        (record["run_id"], "PASS")]
    shown = json.loads(desk("run", "show", str(record["run_id"])).stdout)
    assert shown["workstation"] == BENCH_PC and shown["evidence"] == record["evidence"]

    # Never reported on its workstation: the front desk cannot make its first report.
    run_id = str(record["run_id"])
    early = desk("report", run_id, "--json", str(tmp_path / "early.json"))
    assert early.returncode == 3 and early.stdout == ""
    assert early.stderr.count("\n") == 1 and "workstation bench-pc-1" in early.stderr
    assert not (tmp_path / "early.json").exists()
    campaign = desk("report", "campaign", "--org", "Acme", "--html", "early.html")
    assert campaign.returncode == 3 and "workstation bench-pc-1" in campaign.stderr
    assert not (desk.root / "early.html").exists()

    made = bench("report", run_id, "--pdf", "run1.pdf", "--json", "run1.json")
    assert made.returncode == 0, made.stderr
    seal = json.loads(made.stdout)["seal"]
    at_bench = json.loads((bench.root / "run1.json").read_text())

    # On the front desk: the same seal, alerts and outages; where the evidence lives.
    again = desk("report", run_id, "--pdf", "desk.pdf", "--html", "desk.html", "--json",
                 "desk.json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["seal"] == seal
    at_desk = json.loads((desk.root / "desk.json").read_text())
    assert at_desk["seal"] == seal and at_desk["alerts"] == at_bench["alerts"]
    assert at_desk["outages"] == at_bench["outages"] and at_bench["alerts"]
    assert at_desk["evidence_sha256"] == sorted(evidence)
    assert at_desk["report"]["evidence_workstation"] == BENCH_PC
    assert at_desk["report"]["events_total"] is None
    assert at_bench["report"]["evidence_workstation"] == BENCH_PC
    assert at_bench["report"]["events_total"] > 0
    campaign = desk("report", "campaign", "--org", "Acme", "--html", "acme.html")
    assert campaign.returncode == 0, campaign.stderr
    assert json.loads(campaign.stdout)["runs"] == 1
    html = (desk.root / "desk.html").read_text(encoding="utf-8")
    assert "capture files on workstation bench-pc-1" in html
    assert all(sha in html for sha in evidence)

    # Verified on the front desk: the seal holds; the evidence files are named, not sought.
    checked = desk("report", "verify", str(bench.root / "run1.pdf"))
    assert checked.returncode == 0, checked.stderr
    out = json.loads(checked.stdout)
    assert out["valid"] and out["evidence_checked"] is False
    assert out["evidence_workstation"] == BENCH_PC
    assert sorted(e["sha256"] for e in out["evidence"]) == sorted(evidence)
    assert out["message"].startswith("seal valid; its evidence files are on workstation "
                                     "bench-pc-1 and were not checked here")
    # On the bench's PC the files are checked too.
    checked = bench("report", "verify", str(desk.root / "desk.pdf"))
    assert checked.returncode == 0, checked.stderr
    out = json.loads(checked.stdout)
    assert out["valid"] and "evidence_checked" not in out and out["message"] == "seal valid"

    # An altered capture file is found on its workstation only.
    victim = Path(next(iter(evidence.values()))["path"])
    data = bytearray(victim.read_bytes())
    data[0] ^= 0xFF
    victim.write_bytes(bytes(data))
    altered = bench("report", "verify", str(bench.root / "run1.pdf"))
    assert altered.returncode == 8 and f"evidence file {victim} was altered" in altered.stderr
    assert desk("report", "verify", str(bench.root / "run1.pdf")).returncode == 0


def test_a_killed_run_on_the_server_is_closed_by_its_own_workstation_only(lab) -> None:
    bench, desk = lab
    proc = bench.start("power-outage", "--bench", "Bench 1", "--emulate", "--param",
                       "duration_s=3600")
    try:
        wait_for_the_cut(bench.db, proc)
    finally:
        proc.kill()  # no teardown, no verdict: the run is left open on the server
        proc.communicate()
    assert proc.returncode == -signal.SIGKILL

    # Another workstation cannot know whether the bench's process still runs: it leaves it.
    listed = desk("run", "list")
    assert listed.returncode == 0, listed.stderr
    assert [r["verdict"] for r in json.loads(listed.stdout)] == [None]
    # The bench's own PC sees its process is gone and closes the run as ERROR, with the
    # capture sessions of its own bench store as evidence.
    listed = bench("run", "list")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert [r["verdict"] for r in rows] == ["ERROR"]
    shown = json.loads(bench("run", "show", str(rows[0]["run_id"])).stdout)
    assert shown["message"].startswith("interrupted: MeterLab stopped during the run")
    assert {"Bench 1 ESME", "Bench 1 relay"} <= {e["device"] for e in shown["evidence"]}
    assert bench.runs_in_file() == 0


def test_a_run_on_a_bench_of_the_lab_stores_devices_records_them_under_their_stand_ins(
        lab, pg_url) -> None:
    """The bench's devices are registered on the server: the run names them by the server's ids,
    the bench file's events by their stand-ins' (never the server's ids in the file's rows)."""
    from app.domain.clock import FixedClock
    from app.services.runtime import DEMO_DEVICES
    from app.storage.devices import DeviceRepo
    from app.storage.lab_devices import LabDeviceMap
    from app.storage.labstore import PostgresLabStore, lab_store_key

    bench, _ = lab
    store = PostgresLabStore(pg_url)
    try:
        repo = DeviceRepo(store, FixedClock(datetime.fromisoformat(NOW)))
        server_ids = {d.label: repo.add(d).id for d in DEMO_DEVICES}
    finally:
        store.close()
    ran = bench("run", "start", "power-outage", "--bench", "Bench 1", "--emulate", "--org",
                "Acme", "--param", "duration_s=179", "--now", NOW)
    assert ran.returncode == 0, ran.stderr
    record = json.loads(ran.stdout.splitlines()[-1])
    assert record["verdict"] == "PASS"
    conn = sqlite3.connect(bench.db)
    try:
        stand_ins = LabDeviceMap(conn, lab_store_key(libpq(pg_url))).lab_refs()
        recorded = dict(conn.execute(
            "SELECT DISTINCT device, device_ref FROM events WHERE device_ref IS NOT NULL"
        ).fetchall())
    finally:
        conn.close()
    assert recorded, "no events of the registered devices"
    for label, local in recorded.items():
        assert stand_ins[local] == server_ids[label]  # each one's stand-in, of its server row
