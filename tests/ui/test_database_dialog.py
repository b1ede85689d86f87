"""Starting the window on a database that cannot be opened shows why, with the path, in a
dialog (not only a line on stderr), and offers another file or quitting. Real files each time:
not SQLite, written by a newer MeterLab, on a read-only file system."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from app.cli import EXIT_OK, EXIT_STORAGE, main
from app.storage.db import open_database

pytestmark = pytest.mark.timeout(120)


def _when_modal(name: str, act: Callable[[object], None]) -> None:
    """Once a modal dialog named `name` is up, call `act` on it (the dialog blocks the caller
    of `main`, so this runs from the event loop the dialog spins)."""
    def poll() -> None:
        box = QApplication.activeModalWidget()
        if box is None or box.objectName() != name:
            QTimer.singleShot(20, poll)
            return
        act(box)
    QTimer.singleShot(0, poll)


def _seen_and_click(seen: list[dict], button: str) -> Callable[[object], None]:
    def act(box) -> None:
        seen.append({"title": box.windowTitle(), "text": box.text(),
                     "info": box.informativeText()})
        getattr(box, button).click()
    return act


def _newer_schema_db(path: Path) -> Path:
    db = open_database(path)
    db.conn.close()
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
                     "VALUES ('meterlab', 'm099_from_the_future', '2027-01-01 00:00:00')")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return path


def test_a_file_that_is_not_sqlite(qtbot, tmp_path, capsys) -> None:
    bad = tmp_path / "notes.db"
    bad.write_text("shopping list: fuses, a kettle lead\n")
    seen: list[dict] = []
    _when_modal("databaseError", _seen_and_click(seen, "quit_button"))
    assert main(["--db", str(bad)]) == EXIT_STORAGE
    assert len(seen) == 1
    assert "not an SQLite database" in seen[0]["info"]
    assert f"Database: {bad.resolve()}" in seen[0]["info"]
    assert "cannot open" in seen[0]["title"]
    assert bad.read_text() == "shopping list: fuses, a kettle lead\n"  # nothing written
    assert "not an SQLite database" in capsys.readouterr().err  # and the line for a terminal


def test_a_database_from_a_newer_meterlab(qtbot, tmp_path) -> None:
    db = _newer_schema_db(tmp_path / "lab.db")
    before = db.read_bytes()
    seen: list[dict] = []
    _when_modal("databaseError", _seen_and_click(seen, "quit_button"))
    assert main(["--db", str(db)]) == EXIT_STORAGE
    assert seen[0]["text"] == "The database is from a newer MeterLab"
    assert "m099_from_the_future" in seen[0]["info"] and str(db.resolve()) in seen[0]["info"]
    assert db.read_bytes() == before


def test_open_another_database_from_the_dialog(qtbot, tmp_path, monkeypatch) -> None:
    """'Open another database…' asks for a file (the desktop's file dialog replaced by a
    stand-in that answers with a path) and opens the window on it."""
    bad = tmp_path / "notes.db"
    bad.write_text("not a database")
    good = tmp_path / "good.db"
    monkeypatch.setattr("ui.database_dialog.choose_database", lambda _parent, _start: good)
    opened: list[Path] = []

    def close_window() -> None:
        from ui.main_window import MainWindow

        windows = [w for w in QApplication.topLevelWidgets()
                   if isinstance(w, MainWindow) and w.isVisible()]
        if not windows:
            QTimer.singleShot(20, close_window)
            return
        opened.append(windows[0].ctx.db_path)
        windows[0].close()

    seen: list[dict] = []

    def act(box) -> None:
        _seen_and_click(seen, "open_other_button")(box)
        QTimer.singleShot(0, close_window)

    _when_modal("databaseError", act)
    assert main(["--db", str(bad), "--no-demo"]) == EXIT_OK
    assert opened == [good] and len(seen) == 1


def _can_mount_read_only(folder: Path) -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c",
         f"mount --bind '{folder}' '{folder}' && mount -o remount,bind,ro '{folder}'"],
        capture_output=True, timeout=30)
    return probe.returncode == 0


#: Runs the launcher as a separate process (in a mount namespace where the folder is read-only)
#: and prints what the dialog said.
_CHILD = """
import json, sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
app = QApplication([])
seen = []
def poll():
    box = QApplication.activeModalWidget()
    if box is None or box.objectName() != "databaseError":
        QTimer.singleShot(20, poll)
        return
    seen.append({"title": box.windowTitle(), "text": box.text(), "info": box.informativeText()})
    box.quit_button.click()
QTimer.singleShot(0, poll)
from app.cli import main
code = main(["--db", sys.argv[1]])
print(json.dumps({"code": code, "seen": seen}))
"""


def test_a_read_only_database(qtbot, tmp_path) -> None:
    folder = tmp_path / "share"
    folder.mkdir()
    db = folder / "lab.db"
    open_database(db).conn.close()
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    if os.geteuid() != 0:  # permission bits stop writes for anyone but root
        folder.chmod(0o555)
        db.chmod(0o444)
        try:
            proc = subprocess.run([sys.executable, "-c", _CHILD, str(db)], capture_output=True,
                                  text=True, timeout=90, env=env)
        finally:
            folder.chmod(0o755)
            db.chmod(0o644)
    else:
        if not _can_mount_read_only(folder):
            pytest.skip("running as root without the right to mount a read-only bind mount")
        # Root ignores permission bits: a read-only bind mount in a private mount namespace is
        # a file system that truly refuses writes, as a read-only share would.
        script = (f"mount --bind '{folder}' '{folder}' && "
                  f"mount -o remount,bind,ro '{folder}' && "
                  f"exec \"$0\" -c \"$1\" '{db}'")
        proc = subprocess.run(["unshare", "-m", "sh", "-c", script, sys.executable, _CHILD],
                              capture_output=True, text=True, timeout=90, env=env)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["code"] == EXIT_STORAGE
    assert result["seen"][0]["text"] == "The database is read-only"
    assert "read-only" in result["seen"][0]["info"]
    assert f"Database: {db.resolve()}" in result["seen"][0]["info"]
