"""Every page of the demo lab at the window's default size (1440x900) and at 200 % scale:
no table title elided, no value of 40 characters or fewer elided (longer ones elided with a
tooltip), every column and every line in view, no widgets drawn over each other or cut short,
the status bar's message whole and the calendar's blocks saying everything.

The checks (tests/ui/layout_check.py) measure with the font metrics Qt lays text out with."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ui.demo_pages import check_all, demo_window

pytestmark = pytest.mark.timeout(180)
ROOT = Path(__file__).resolve().parents[2]


def test_every_page_at_1440x900_shows_every_title_and_value(qtbot, tmp_path) -> None:
    with demo_window(tmp_path) as demo:
        assert demo.window.size().width() == 1440 and demo.window.size().height() == 900
        faults = check_all(demo, None)
    assert faults == {}


def test_every_page_at_200_percent_scale(tmp_path) -> None:
    env = {**os.environ, "QT_SCALE_FACTOR": "2", "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run([sys.executable, "-m", "tests.ui.demo_pages", str(tmp_path)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=170)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["device_pixel_ratio"] == 2.0
    assert result["faults"] == {}
    shots = sorted(p.name for p in tmp_path.glob("*.png"))
    assert "live.png" in shots and "bookings-list.png" in shots and len(shots) == 10
