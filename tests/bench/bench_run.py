"""Real time of one `power-outage` run on the emulated bench at time-scale 60 (goal: under 15 s).

Run: .venv/bin/python tests/bench/bench_run.py [--runs 5] [--durations 120,179,181]
     [--time-scale 60]   (prints one JSON object; progress goes to stderr)

Each run is `meterlab run start power-outage --bench "Bench 1" --emulate --time-scale 60
--param duration_s=D` in its own process, on a fresh database in a temporary folder, as a user
would type it. Reported per duration, as min / median / max over the runs:
- ``wall_s``: from starting the process to its exit (the figure the goal is about);
- ``startup_s``: from starting the process to the run's first step starting (interpreter,
  imports, database, emulated bench and its devices connecting), from the stored record;
- ``run_s``: from the first step starting to the run's end (the plan itself), from the record;
- ``exit_s``: from the run's end to the process's exit (closing the bench, the database).
Every run must end PASS with exit 0, with the restore alert the duration calls for (8F35 under
180 s, 8F36 from 180 s); otherwise the failures are listed and the exit code is 1.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
GOAL_WALL_S = 15.0
#: Outages this long or longer call for the long-outage restore alert.
LONG_OUTAGE_S = 180


def command(db: Path, duration_s: int, time_scale: str) -> list[str]:
    """The `meterlab run start` command line for one run (through this interpreter)."""
    return [sys.executable, "-c", "import sys; from app.cli import main; sys.exit(main())",
            "--db", str(db), "run", "start", "power-outage", "--bench", "Bench 1", "--emulate",
            "--time-scale", time_scale, "--param", f"duration_s={duration_s}"]


def one_run(duration_s: int, time_scale: str) -> dict[str, Any]:
    """Run the plan once on a fresh database; its timings, verdict and restore alert."""
    env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen")}
    with tempfile.TemporaryDirectory(prefix="meterlab-bench-run-") as tmp:
        cmd = command(Path(tmp) / "bench.db", duration_s, time_scale)
        spawned = time.time()
        t0 = time.perf_counter()
        done = subprocess.run(cmd, cwd=REPO, env=env, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, check=False)
        wall_s = time.perf_counter() - t0
        exited = spawned + wall_s
    out: dict[str, Any] = {"wall_s": wall_s, "exit_code": done.returncode, "verdict": None,
                           "restore_alert": None}
    lines = done.stdout.strip().splitlines()
    record = json.loads(lines[-1]) if lines else {}
    if "verdict" not in record:
        out["error"] = (done.stderr.strip() or "no run record printed")[-500:]
        return out
    out["verdict"] = record["verdict"]
    steps = record.get("steps") or []
    for step in steps:
        for m in step.get("measurements") or []:
            if m.get("name") == "restore_alert":
                out["restore_alert"] = m.get("value")
    if steps and record.get("ended"):
        first = datetime.fromisoformat(steps[0]["started"]).timestamp()
        ended = datetime.fromisoformat(record["ended"]).timestamp()
        out["startup_s"] = first - spawned
        out["run_s"] = ended - first
        out["exit_s"] = exited - ended
    return out


def spread(values: list[float]) -> dict[str, float] | None:
    """min / median / max, rounded to milliseconds."""
    if not values:
        return None
    return {"min": round(min(values), 3), "median": round(statistics.median(values), 3),
            "max": round(max(values), 3)}


def problems_of(run: dict[str, Any], duration_s: int) -> list[str]:
    """What is wrong with one run (empty when it passed as it should)."""
    found = []
    if run["exit_code"] != 0:
        found.append(f"exit code {run['exit_code']}")
    if run["verdict"] != "PASS":
        found.append(f"verdict {run['verdict']}")
    expected = "8F36" if duration_s >= LONG_OUTAGE_S else "8F35"
    if run["restore_alert"] != expected:
        found.append(f"restore alert {run['restore_alert']}, expected {expected}")
    if "error" in run:
        found.append(run["error"])
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per duration (5)")
    parser.add_argument("--durations", default="120,179,181",
                        help="the plan's duration_s values, comma-separated (120,179,181)")
    parser.add_argument("--time-scale", dest="time_scale", default="60")
    args = parser.parse_args()
    durations = [int(d) for d in args.durations.split(",") if d.strip()]
    figures: dict[str, Any] = {
        "command": 'meterlab --db FRESH.db run start power-outage --bench "Bench 1" --emulate '
                   f"--time-scale {args.time_scale} --param duration_s=D",
        "runs_per_duration": args.runs, "time_scale": float(args.time_scale),
        "goal_wall_s": GOAL_WALL_S, "by_duration_s": {},
    }
    failures: list[str] = []
    all_wall: list[float] = []
    for duration_s in durations:
        runs = []
        for i in range(args.runs):
            run = one_run(duration_s, args.time_scale)
            runs.append(run)
            print(f"duration_s={duration_s} run {i + 1}/{args.runs}: {run['wall_s']:.2f} s "
                  f"{run['verdict']} {run['restore_alert']}", file=sys.stderr)
            failures += [f"duration_s={duration_s} run {i + 1}: {p}"
                         for p in problems_of(run, duration_s)]
        walls = [r["wall_s"] for r in runs]
        all_wall += walls
        figures["by_duration_s"][str(duration_s)] = {
            "wall_s": spread(walls),
            "wall_s_each": [round(w, 2) for w in walls],
            "startup_s": spread([r["startup_s"] for r in runs if "startup_s" in r]),
            "run_s": spread([r["run_s"] for r in runs if "run_s" in r]),
            "exit_s": spread([r["exit_s"] for r in runs if "exit_s" in r]),
            "verdicts": sorted({str(r["verdict"]) for r in runs}),
            "restore_alerts": sorted({str(r["restore_alert"]) for r in runs}),
        }
    figures["wall_s_all"] = spread(all_wall)
    figures["within_goal"] = bool(all_wall) and max(all_wall) < GOAL_WALL_S
    figures["all_pass"] = not failures
    if failures:
        figures["failures"] = failures
    figures["machine"] = (f"{platform.machine()}, {os.cpu_count()} cores, Python "
                          f"{platform.python_version()}")
    print(json.dumps(figures, indent=2))
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
