"""Smoke test of a frozen MeterLab: it starts, reads its bundled data and plans, and renders its window.

Usage: python installer/smoke_test.py PATH_TO_FROZEN_EXECUTABLE
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path


def run(exe: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=120, env=env)


def main() -> int:
    exe = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "smoke.db")
        versions = json.loads(run(exe, "--version").stdout)
        assert versions["meterlab"], versions
        res = run(exe, "--db", db, "--now", "2026-11-25T10:00+00:00", "lab", "add", "--name", "Smoke",
                  "--spaces", "10")
        assert res.returncode == 0, res.stderr
        res = run(exe, "decode", "--gbcs", "DF090300000000000000010800DB1234567890A00890B3D51F300100"
                  "0000020067190F20000001000202128F36090C07DF010104000000008000FF00")
        assert res.returncode == 0 and json.loads(res.stdout)["alert_code"] == "8F36", res.stderr
        res = run(exe, "plan", "list")  # the built-in plans are bundled and load
        plans = {p["name"]: p for p in json.loads(res.stdout)} if res.returncode == 0 else {}
        assert plans.get("power-outage", {}).get("source") == "builtin:power-outage", res.stderr
        assert not any("error" in p for p in plans.values() if p["source"].startswith("builtin:"))
        shot = Path(tmp) / "shot.png"
        res = run(exe, "--db", db, "--screenshot", str(shot), "--no-demo")
        assert res.returncode == 0 and shot.stat().st_size > 10_000, res.stderr
    print("frozen MeterLab smoke test passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
