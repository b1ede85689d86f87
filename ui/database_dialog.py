"""Choosing a database file, and saying why one cannot be opened."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from app.storage.db import DatabaseError, DbErrorKind

#: File-dialog filter for MeterLab databases.
DATABASE_FILTER = "MeterLab databases (*.db *.sqlite *.sqlite3);;All files (*)"

_TITLES = {
    DbErrorKind.READ_ONLY: "The database is read-only",
    DbErrorKind.NEWER_SCHEMA: "The database is from a newer MeterLab",
}


def choose_database(parent: QWidget | None, start: Path) -> Path | None:
    """Ask for an existing database file (the desktop's file dialog); None when cancelled."""
    path, _ = QFileDialog.getOpenFileName(parent, "Open database", str(start), DATABASE_FILTER)
    return Path(path) if path else None


def database_error_box(path: Path, error: DatabaseError,
                       parent: QWidget | None = None) -> QMessageBox:
    """The dialog saying why the database at `path` cannot be opened, with its path, offering to
    open another file or to quit. Built, not shown: the caller shows it."""
    box = QMessageBox(parent)
    box.setObjectName("databaseError")
    box.setIcon(QMessageBox.Icon.Critical)
    box.setStyleSheet("QLabel#qt_msgbox_label, QLabel#qt_msgbox_informativelabel"
                      " { min-width: 460px; }")  # room for a sentence and a path
    box.setWindowTitle("MeterLab cannot open its database")
    box.setText(_TITLES.get(getattr(error, "kind", None), "MeterLab cannot open the database"))
    box.setInformativeText(f"{error}\n\nDatabase: {Path(path).resolve()}")
    box.open_other_button = box.addButton("Open another database…", QMessageBox.ButtonRole.AcceptRole)
    box.quit_button = box.addButton("Quit", QMessageBox.ButtonRole.RejectRole)
    box.setDefaultButton(box.quit_button)
    box.setEscapeButton(box.quit_button)
    return box


def ask_after_database_error(path: Path, error: DatabaseError,
                             parent: QWidget | None = None) -> Path | None:
    """Show why `path` cannot be opened (modal) and return the file to open instead, or None
    to quit."""
    box = database_error_box(path, error, parent)
    box.exec()
    chosen = box.clickedButton() is box.open_other_button
    box.deleteLater()
    if not chosen:
        return None
    return choose_database(parent, Path(path).parent)
