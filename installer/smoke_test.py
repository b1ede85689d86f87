"""Smoke test of a frozen MeterLab: it starts, reads its bundled data and plans, renders every page,
runs a plan on the emulated bench to a PASS and exports the run's PDF report.

Usage: python installer/smoke_test.py PATH_TO_FROZEN_EXECUTABLE [--shots DIR]

--shots DIR keeps the page screenshots there (otherwise they go with the scratch folder).
Exits 0 and prints one line when everything passed; an AssertionError says what did not.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

NOW = "2026-11-25T10:00+00:00"
#: A whole GBCS alert APDU (8F36, restore after 3 minutes or more), General Signing with DLMS.
ALERT = ("DF090300000000000000010800DB1234567890A00890B3D51F3001000000020067190F20000001000202"
         "128F36090C07DF010104000000008000FF00")


def run(exe: str | Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    return subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=timeout,
                          env=env, stdin=subprocess.DEVNULL)


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", head[16:24])


def check_bundle(exe: Path) -> None:
    """What the runs, reports and About need is in the folder."""
    internal = exe.parent / "_internal"
    for rel in ("resources/plans/power-outage.toml", "resources/induction/default.toml",
                "resources/alert_codes.csv", "resources/profiles/emulator.toml",
                "resources/icons/meterlab.svg", "resources/icons/meterlab-256.png",
                "reportlab/fonts/Vera.ttf", "reportlab/fonts/VeraBd.ttf",
                "docs/USER_GUIDE.md", "docs/PARTICIPANT_GUIDE.md", "docs/bookings.png"):
        assert (internal / rel).is_file(), f"the bundle lacks {rel}"
    index = exe.parent / "licenses" / "README.txt"
    assert index.is_file(), "the bundle has no licenses/README.txt"
    listing = index.read_text("utf-8")
    for name in ("PySide6_Essentials", "shiboken6", "reportlab", "Python"):
        assert name in listing, f"licenses/README.txt does not list {name}"
    qt_texts = list((exe.parent / "licenses").glob("PySide6_Essentials-*/LGPL-3.0.txt"))
    assert qt_texts, "the LGPL-3.0 text for Qt for Python is not in licenses/"


def page_names(exe: Path, tmp: Path) -> list[str]:
    """The pages the frozen build offers, as its own --page check lists them."""
    res = run(exe, "--db", str(tmp / "pages.db"), "--screenshot", str(tmp / "x.png"),
              "--page", "no-such-page")
    found = re.search(r"--page must be one of (.+?), not ", res.stderr)
    assert res.returncode == 2 and found, res.stderr
    return [name.strip() for name in found.group(1).split(",")]


def smoke(exe: Path, tmp: Path, shots: Path) -> list[str]:
    """Runs every check; returns what was done, one line each."""
    done = []
    check_bundle(exe)
    done.append("bundle holds plans, induction, alert codes, profiles, icon, fonts, licences")

    versions = json.loads(run(exe, "--version").stdout)
    assert versions["meterlab"] not in ("", "not installed"), versions
    assert versions["PySide6"] not in ("", "not installed"), versions
    how = ""
    if os.name == "posix":  # as the package's /usr/bin/meterlab starts it
        link = tmp / "meterlab-link"
        link.symlink_to(exe)
        via_link = run(link, "--version")
        assert via_link.returncode == 0 and json.loads(via_link.stdout) == versions, (
            via_link.stderr)
        how = " (also through a symbolic link)"
    done.append(f"--version: meterlab {versions['meterlab']}, PySide6 {versions['PySide6']}{how}")

    db = str(tmp / "smoke.db")
    res = run(exe, "--db", db, "--now", NOW, "lab", "add", "--name", "Smoke", "--spaces", "10")
    assert res.returncode == 0, res.stderr
    done.append("lab add")
    res = run(exe, "decode", "--gbcs", ALERT)
    assert res.returncode == 0 and json.loads(res.stdout)["alert_code"] == "8F36", res.stderr
    done.append("decode --gbcs: 8F36")
    res = run(exe, "plan", "list")  # the built-in plans are bundled and load
    plans = {p["name"]: p for p in json.loads(res.stdout)} if res.returncode == 0 else {}
    assert plans.get("power-outage", {}).get("source") == "builtin:power-outage", res.stderr
    assert not any("error" in p for p in plans.values() if p["source"].startswith("builtin:"))
    done.append(f"plan list: {len(plans)} plans")

    demo = str(tmp / "demo.db")  # the demo lab, created by the first screenshot
    pages = page_names(exe, tmp)
    for page in pages:
        shot = shots / f"{page}.png"
        res = run(exe, "--db", demo, "--now", NOW, "--screenshot", str(shot), "--page", page)
        assert res.returncode == 0 and shot.is_file(), f"--page {page}: {res.stderr}"
        assert png_size(shot) == (1440, 900) and shot.stat().st_size > 20_000, (
            f"--page {page}: {png_size(shot)}, {shot.stat().st_size} bytes")
    done.append(f"screenshots of {len(pages)} pages: {', '.join(pages)}")

    runs = str(tmp / "runs.db")
    started = time.monotonic()
    res = run(exe, "--db", runs, "run", "start", "power-outage", "--bench", "Bench 1", "--emulate",
              timeout=90)
    record = json.loads(res.stdout.splitlines()[-1]) if res.stdout.strip() else {}
    assert res.returncode == 0 and record.get("verdict") == "PASS", (res.returncode, res.stderr,
                                                                     record)
    done.append(f"run start power-outage --emulate: PASS in {time.monotonic() - started:.1f} s")
    pdf = tmp / "run.pdf"
    res = run(exe, "--db", runs, "report", str(record["run_id"]), "--pdf", str(pdf))
    assert res.returncode == 0 and pdf.read_bytes()[:5] == b"%PDF-", res.stderr
    assert pdf.stat().st_size > 20_000, pdf.stat().st_size
    res = run(exe, "--db", runs, "report", "verify", str(pdf))
    assert res.returncode == 0, res.stdout + res.stderr
    done.append(f"report --pdf: {pdf.stat().st_size // 1024} kB, its seal verifies")
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Smoke test of a frozen MeterLab.")
    parser.add_argument("exe", type=Path, help="the frozen `meterlab` executable")
    parser.add_argument("--shots", type=Path, help="keep the page screenshots in this folder")
    args = parser.parse_args(argv)
    exe = args.exe.resolve()
    with tempfile.TemporaryDirectory(prefix="meterlab-smoke-") as scratch:
        tmp = Path(scratch)
        shots = args.shots or tmp / "shots"
        shots.mkdir(parents=True, exist_ok=True)
        for line in smoke(exe, tmp, shots):
            print(f"  ok  {line}")
    print("frozen MeterLab smoke test passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
