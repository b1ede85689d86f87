"""Real runs on the emulated bench, made once per test session and copied by the tests.

``meterlab run start ... --emulate`` runs in a subprocess (about 5 s a run) into a database
beside its capture files: run 1 is power-outage PASS, run 2 is power-outage FAIL (the emulated
meter's power-failure counter stuck). Both belong to the organisation "Acme".
A test that writes (exports, seals, tampers) works on :func:`fresh_copy`.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ORG = "Acme"
_MADE: dict[str, Path] = {}


def _meterlab(db: Path, *args: str, ok: tuple[int, ...] = (0,)) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", "import sys; from app.cli import main; sys.exit(main())",
         "--db", str(db), *args], capture_output=True, text=True, timeout=120)
    assert proc.returncode in ok, proc.stderr
    return proc.stdout


def emulated_runs(factory: pytest.TempPathFactory) -> Path:
    """The folder holding ``runs.db`` and ``captures/`` (made on first use)."""
    if "folder" not in _MADE:
        folder = factory.mktemp("emulated_runs")
        db = folder / "runs.db"
        _meterlab(db, "--no-demo", "org", "add", "--name", ORG, "--roles", "IS")
        _meterlab(db, "run", "start", "power-outage", "--bench", "Bench 1", "--emulate",
                  "--org", ORG)
        _meterlab(db, "run", "start", "power-outage", "--bench", "Bench 1", "--emulate",
                  "--org", ORG, "--fault", "counter-stuck", ok=(5,))
        _MADE["folder"] = folder
    return _MADE["folder"]


def fresh_copy(factory: pytest.TempPathFactory, into: Path) -> Path:
    """A copy of the runs' database and capture files in `into`, the evidence paths pointing
    at the copied files; returns the copy's database path (nothing sealed yet)."""
    source = emulated_runs(factory)
    shutil.copytree(source / "captures", into / "captures")
    db = into / "runs.db"
    src = sqlite3.connect(source / "runs.db")
    dst = sqlite3.connect(db)
    try:
        src.backup(dst)
        old, new = str(source / "captures"), str(into / "captures")
        dst.execute("UPDATE run_evidence SET path = replace(path, ?, ?)", (old, new))
        dst.execute("UPDATE capture_sessions SET capture_path = replace(capture_path, ?, ?)", (old, new))
        dst.commit()
    finally:
        src.close()
        dst.close()
    return db
