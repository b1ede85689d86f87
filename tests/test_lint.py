"""The code style is checked, not hoped for: ruff with the rules in pyproject.toml."""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_finds_nothing() -> None:
    exe = shutil.which("ruff", path=str(Path(sys.executable).parent)) or "ruff"
    res = subprocess.run([exe, "check", "app", "devices", "ui", "tests", "docs", "installer"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
