"""Ingest of N emulated Comms Hub debug ports on ptys: runs `meterlab bench ingest`.

Run: .venv/bin/python tests/bench/bench_ingest.py [--ports 64] [--seconds 30] [--baud 115200]
     [--no-ui]   (prints the command's JSON object; progress goes to stderr)

Goal: 64 ports at 115200 baud for 30 s with 0 lines lost and the live page drawing at 30 fps or
more while ingesting (``ui_fps``). ``cpu_percent`` is the MeterLab process's CPU time over the
window (100 = one core); the emulated hubs run in a child process, reported separately as
``emulator_cpu_percent``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ports", default="64")
    parser.add_argument("--seconds", default="30")
    parser.add_argument("--baud", default="115200")
    parser.add_argument("--no-ui", dest="no_ui", action="store_true")
    args = parser.parse_args()
    command = [sys.executable, "-c", "import sys; from app.cli import main; sys.exit(main())",
               "bench", "ingest", "--ports", args.ports, "--seconds", args.seconds,
               "--baud", args.baud, *(["--no-ui"] if args.no_ui else [])]
    env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen")}
    done = subprocess.run(command, cwd=REPO, env=env, stdout=subprocess.PIPE, check=False)
    if done.returncode != 0:
        return done.returncode
    figures = json.loads(done.stdout)
    figures["cpus"] = os.cpu_count()
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
