"""Choosing a database file and the lab store, and saying why one cannot be opened."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QVBoxLayout,
    QWidget,
)

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


class LabStoreDialog(QDialog):
    """File › Lab store…: where this workstation keeps the lab's shared data.

    Empty: the workstation's own database file (no server). A PostgreSQL URL is checked before
    it is saved: a password in it is refused (the settings file is plain text; libpq reads it
    from ``~/.pgpass`` or ``PGPASSWORD``), and a server that does not answer or has no MeterLab
    schema is shown in the dialog, which stays open. Saved in the desktop's settings
    (:mod:`ui.settings`); the window then opens again on it.

    Args:
        current: the URL saved now ("" for none).
        overridden_by: ``--lab-store`` or ``MELAB_LAB_STORE`` when the window was started with
            one, which wins over this setting ("" when not).
        check: how a URL is checked (default: :func:`check_lab_store`).
    """

    def __init__(self, current: str, overridden_by: str = "", parent: QWidget | None = None,
                 check: Callable[[Any], None] | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("labStoreDialog")
        self.setWindowTitle("Lab store")
        self._check = check or check_lab_store
        #: The URL saved when the dialog was accepted ("" : the workstation's file).
        self.saved: str | None = None
        about = QLabel(
            "Where this workstation keeps the lab's shared data: labs, organisations, people, "
            "inductions, bookings and staff accounts. Leave it empty to keep them in this "
            "workstation's own database file (no server needed). Give the same PostgreSQL "
            "database on every workstation of the lab to share them.")
        about.setWordWrap(True)
        # A dialog does not ask its wrapped labels how tall they are at its width: say it.
        about.setFixedWidth(540)
        about.setMinimumHeight(about.heightForWidth(540))
        self.url_edit = QLineEdit(current)
        self.url_edit.setObjectName("labStoreUrl")
        self.url_edit.setPlaceholderText("postgresql://meterlab@dbhost/meterlab")
        self.url_edit.setClearButtonEnabled(True)
        hint = QLabel("A password never goes in the URL: put it in ~/.pgpass (or PGPASSWORD).")
        hint.setWordWrap(True)
        hint.setStyleSheet("QLabel { color: palette(mid); }")
        self.error_label = QLabel()
        self.error_label.setObjectName("labStoreError")
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("QLabel { color: #b00020; font-weight: 600; }")
        self.error_label.setVisible(False)
        layout = QVBoxLayout(self)
        layout.addWidget(about)
        form = QFormLayout()
        form.addRow("&PostgreSQL URL:", self.url_edit)
        layout.addLayout(form)
        layout.addWidget(hint)
        if overridden_by:
            note = QLabel(f"This window was started with {overridden_by}, which is used instead "
                          f"of this setting while it is given.")
            note.setObjectName("labStoreOverridden")
            note.setWordWrap(True)
            note.setStyleSheet("QLabel { color: #8a5a00; }")
            layout.addWidget(note)
        layout.addWidget(self.error_label)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.buttons = buttons

    def show_error(self, sentence: str) -> None:
        """Say in the dialog why the URL was not saved."""
        self.error_label.setText(sentence)
        self.error_label.setVisible(True)
        self.adjustSize()  # room for the sentence, the rest of the dialog unsqueezed

    def accept(self) -> None:
        """Check the URL and save it; on a fault, say why and stay open."""
        from app.cli import parse_lab_store_url
        from app.domain.errors import ValidationError
        from ui.settings import save_lab_store

        text = self.url_edit.text().strip()
        try:
            url = parse_lab_store_url(text, refuse_password=True)
        except ValidationError as exc:
            self.show_error(exc.message)
            return
        if url is not None:
            QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
            try:
                self._check(url)
            except (DatabaseError, ValueError) as exc:
                self.show_error(str(exc))
                return
            finally:
                QApplication.restoreOverrideCursor()
        try:
            save_lab_store(text)
        except OSError as exc:
            self.show_error(str(exc))
            return
        self.saved = text
        super().accept()


def check_lab_store(url: Any) -> None:
    """Open the lab store at `url` once and close it.

    Raises:
        LabStoreError: the server does not answer, or its schema is not this MeterLab's.
    """
    from app.storage.labstore import open_lab_store

    open_lab_store(url).close()


def lab_store_error_box(url: str, source: str, error: DatabaseError,
                        parent: QWidget | None = None) -> QMessageBox:
    """The dialog saying the lab store at `url` (given by `source`) cannot be used, offering to
    try again, to change the setting (when it came from File › Lab store…) or to quit. Built,
    not shown: the caller shows it."""
    box = QMessageBox(parent)
    box.setObjectName("labStoreUnusable")
    box.setIcon(QMessageBox.Icon.Critical)
    box.setStyleSheet("QLabel#qt_msgbox_label, QLabel#qt_msgbox_informativelabel"
                      " { min-width: 460px; }")
    box.setWindowTitle("MeterLab cannot use its lab store")
    box.setText("The lab store cannot be used")
    box.setInformativeText(f"{error}\n\nLab store: {url} (from {source})")
    box.retry_button = box.addButton("Try again", QMessageBox.ButtonRole.AcceptRole)
    box.settings_button = None
    if source == SETTINGS_SOURCE:
        box.settings_button = box.addButton("Lab store…", QMessageBox.ButtonRole.ActionRole)
    box.quit_button = box.addButton("Quit", QMessageBox.ButtonRole.RejectRole)
    box.setDefaultButton(box.retry_button)
    box.setEscapeButton(box.quit_button)
    return box


#: Where a lab store chosen in the dialog comes from, as the messages name it.
SETTINGS_SOURCE = "File › Lab store…"


def ask_after_lab_store_error(url: str, source: str, error: DatabaseError,
                              parent: QWidget | None = None) -> str:
    """Show why the lab store cannot be used (modal): ``"retry"`` (also after the setting was
    changed) or ``"quit"``."""
    from ui.settings import saved_lab_store

    box = lab_store_error_box(url, source, error, parent)
    box.exec()
    clicked = box.clickedButton()
    box.deleteLater()
    if clicked is box.retry_button:
        return "retry"
    if box.settings_button is not None and clicked is box.settings_button:
        dialog = LabStoreDialog(saved_lab_store(), parent=parent)
        try:
            dialog.exec()
        finally:
            dialog.deleteLater()
        return "retry"
    return "quit"
