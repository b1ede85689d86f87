"""What the repository holds: nothing that installing or building MeterLab writes."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_build_output_is_not_tracked() -> None:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.splitlines()
    written = [p for p in tracked
               if p.split("/")[0].endswith(".egg-info") or p.split("/")[0] in {"build", "dist"}]
    assert not written, f"tracked files that pip or the installer write: {written[:5]}"
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    for pattern in ("*.egg-info/", "build/", "dist/"):
        assert pattern in ignored, f".gitignore lacks {pattern}"
