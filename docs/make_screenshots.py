"""Remake the screenshots in docs/: `.venv/bin/python docs/make_screenshots.py`.

Everything is rendered offscreen on a fresh temporary database with the demo lab, at a fixed
"now" (Wed 25 Nov 2026 10:00 UTC), so the pictures come out the same each time.
"""

from __future__ import annotations

import os
import sys
import tempfile
from datetime import datetime
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QEventLoop, Qt, QTimer
from PySide6.QtWidgets import QApplication, QWidget

from app.cli import main as cli_main
from app.domain.bookings import Phase
from app.domain.clock import FixedClock
from ui.dialogs.booking_dialog import to_qdatetime
from ui.launch import SCREENSHOT_SIZE, prepare_context
from ui.main_window import MainWindow

NOW = "2026-11-25T10:00+00:00"
DOCS = ROOT / "docs"


def settle(ms: int = 200) -> None:
    """Let layouts and paints happen (a local loop; this is a script, not a timer slot)."""
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def save(widget: QWidget, name: str) -> None:
    path = DOCS / name
    widget.grab().save(str(path), "PNG")
    print(f"wrote {path.relative_to(ROOT)}")


def _check(list_widget, text: str) -> None:
    for i in range(list_widget.count()):
        if text in list_widget.item(i).text():
            list_widget.item(i).setCheckState(Qt.CheckState.Checked)


def main() -> int:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    with tempfile.TemporaryDirectory() as tmp:
        # 1. The calendar, exactly as the command line renders it.
        code = cli_main(["--db", str(Path(tmp) / "cli.db"), "--now", NOW,
                         "--screenshot", str(DOCS / "bookings.png")])
        if code != 0:
            return code
        print("wrote docs/bookings.png")

        ctx, message = prepare_context(Path(tmp) / "lab.db",
                                       FixedClock(datetime.fromisoformat(NOW)), "lab.staff", True)
        window = MainWindow(ctx)
        window.show_status(message)
        window.resize(*SCREENSHOT_SIZE)
        window.show()
        page = window.pages["bookings"]

        # 2. The booking dialog with a request that breaks several rules at once.
        dialog = page.new_booking()
        assert dialog is not None
        dialog.org.setCurrentText("Brightside Power")
        dialog.start.setDateTime(to_qdatetime(datetime(2026, 11, 26, 7, 30)))
        dialog.end.setDateTime(to_qdatetime(datetime(2026, 11, 26, 18, 30)))
        dialog.spaces.setValue(16)
        dialog.phase.setCurrentIndex(dialog.phase.findData(Phase.E2E.value))
        dialog.roles.boxes["IS"].setChecked(True)
        dialog.roles.boxes["RSA"].setChecked(True)
        _check(dialog.attendees, "jo.walker@brightside.example")
        _check(dialog.benches, "Bench 5")
        dialog.devices.setText("Own SMETS2 ESME and IHD")
        dialog.recheck()
        settle()
        save(dialog, "booking-dialog.png")
        dialog.reject()

        # 3. Participants: organisations, people and inductions.
        page.tabs.setCurrentIndex(page.TAB_PARTICIPANTS)
        panel = page.participants
        panel.org_table.selectRow(1)
        settle()
        save(window, "participants.png")
        window.close()
        ctx.close()
    app.processEvents()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
