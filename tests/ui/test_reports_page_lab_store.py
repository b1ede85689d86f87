"""The Reports page on a shared lab store: a run executed by another workstation (a real
`meterlab run start` process on the same PostgreSQL lab store, under another host name) is
listed here; its first report is refused in one sentence naming that workstation, and once
made there, this workstation previews, exports and verifies it, naming where the evidence is."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.domain.clock import FixedClock
from app.storage.capture_sessions import PRETEND_HOST_ENV
from tests.cli.test_cli_shared_lab_store import libpq
from ui.launch import prepare_context

pytestmark = pytest.mark.timeout(180)

EXE = Path(sys.executable).with_name("meterlab")
NOW = "2026-11-25T10:00+00:00"


def bench_pc(store: str, root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    root.mkdir(exist_ok=True)
    env = {**os.environ, "MELAB_LAB_STORE": store, PRETEND_HOST_ENV: "bench-pc-1"}
    return subprocess.run([str(EXE), *args, "--db", str(root / "bench.db")], env=env, cwd=root,
                          capture_output=True, text=True, timeout=120, check=False)


def test_another_workstations_run_on_the_reports_page(qtbot, tmp_path, pg_url) -> None:
    from ui.main_window import MainWindow

    store, other = libpq(pg_url), tmp_path / "bench-pc"
    assert bench_pc(store, other, "org", "add", "--name", "Acme", "--roles", "IS").returncode == 0
    ran = bench_pc(store, other, "run", "start", "power-outage", "--bench", "Bench 1",
                   "--emulate", "--org", "Acme", "--param", "duration_s=179", "--now", NOW)
    assert ran.returncode == 0, ran.stderr
    run_id = json.loads(ran.stdout.splitlines()[-1])["run_id"]

    ctx, _ = prepare_context(tmp_path / "desk.db", FixedClock(datetime(2026, 11, 25, 11,
                                                                       tzinfo=UTC)),
                             "tester", demo=False, lab_store_url=pg_url)
    window = MainWindow(ctx)
    qtbot.addWidget(window)
    window.resize(1440, 900)
    window.show_page("reports")
    window.show()
    page = window.pages["reports"]
    try:
        page.reload()
        assert [r.id for r in page.runs_model.rows] == [run_id]
        page.runs_view.selectRow(0)
        assert page.report is None and "workstation bench-pc-1" in page.status.text()

        assert bench_pc(store, other, "report", str(run_id), "--json", "first.json"
                        ).returncode == 0
        page.show_run(run_id)
        assert page.report is not None and page.verdict.text() == "PASS"
        page.choose_path = lambda *_args: tmp_path / "desk.pdf"
        page.export("pdf")
        assert page.wait_idle()
        qtbot.waitUntil(lambda: page.task is None and "Wrote desk.pdf" in page.status.text())
        assert page.verify(tmp_path / "desk.pdf")
        said = page.verify_result.text()
        assert "Seal valid" in said and "workstation bench-pc-1" in said
    finally:
        page.wait_idle()
        window.close()
        ctx.close()
