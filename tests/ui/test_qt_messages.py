"""Qt's "This plugin does not support propagateSizeHints()" is not printed; other messages are."""

from __future__ import annotations

import os
import subprocess
import sys

from PySide6.QtCore import qInstallMessageHandler, qWarning

from ui.qt_messages import silenced_platform_noise

NOISE = "This plugin does not support propagateSizeHints()"


def test_the_filter_drops_that_message_and_passes_the_others() -> None:
    seen: list[str] = []
    previous = qInstallMessageHandler(lambda _kind, _context, message: seen.append(message))
    try:
        with silenced_platform_noise():
            qWarning(NOISE)
            qWarning("Something MeterLab should hear about")
        qWarning(NOISE)  # the previous handler is back afterwards
    finally:
        qInstallMessageHandler(previous)
    assert seen == ["Something MeterLab should hear about", NOISE]


def test_a_screenshot_prints_nothing_on_stderr(tmp_path) -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run(
        [sys.executable, "-c", "import sys; from app.cli import main; sys.exit(main())",
         "--db", str(tmp_path / "lab.db"), "--screenshot", str(tmp_path / "shot.png")],
        capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "propagateSizeHints" not in proc.stderr
    assert proc.stderr == ""
    assert (tmp_path / "shot.png").stat().st_size > 0
