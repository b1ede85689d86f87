"""The About box: MeterLab's versions, the bundled libraries and their licences."""

from __future__ import annotations

from html import escape

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from app.about import bundled_libraries, canonical, licence_folder, runtime_components
from ui.icon import app_icon

#: Libraries MeterLab uses under one of the licences they offer.
USED_UNDER = {"pyside6-essentials": "LGPL-3.0-only", "shiboken6": "LGPL-3.0-only"}


def licence_rows() -> list[tuple[str, str, str]]:
    """(name, version, licence) of every bundled library but MeterLab itself, then Python and
    SQLite."""
    rows = [(lib.name, lib.version, USED_UNDER.get(canonical(lib.name), lib.licence))
            for lib in bundled_libraries() if canonical(lib.name) != "meterlab"]
    return rows + runtime_components()


def licences_html() -> str:
    """A table of the bundled libraries with their licences, and where their texts are."""
    body = "".join(f"<tr><td>{escape(n)}</td><td>{escape(v)}</td><td>{escape(lic)}</td></tr>"
                   for n, v, lic in licence_rows())
    folder = licence_folder()
    where = (f"Their licence texts are in <code>{escape(str(folder))}</code>."
             if folder is not None else
             "Their licence texts are in each library's installed metadata "
             "(<code>pip show -f NAME</code>).")
    return ("<h4>Bundled libraries and their licences</h4>"
            "<table cellspacing='0' cellpadding='2'>"
            "<tr><th align='left'>library</th><th align='left'>version</th>"
            f"<th align='left'>licence</th></tr>{body}</table>"
            f"<p>{where} Qt and Qt for Python (PySide6, shiboken6) are used under the GNU LGPL "
            "version 3: you may replace the Qt libraries with your own build of the same version "
            "(README, \"Replacing the Qt libraries\").</p>")


class AboutDialog(QDialog):
    """The icon beside the text, which scrolls: versions first, then the licences."""

    def __init__(self, html: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About MeterLab")
        icon = QLabel()
        icon.setPixmap(app_icon().pixmap(64, 64))
        icon.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.text = QTextBrowser()
        self.text.setObjectName("aboutText")
        self.text.setOpenExternalLinks(True)
        self.text.setFrameShape(QTextBrowser.Shape.NoFrame)
        self.text.setStyleSheet("QTextBrowser#aboutText { background: transparent; }")
        self.text.setHtml(html)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        row = QHBoxLayout()
        row.addWidget(icon)
        row.addWidget(self.text, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(row, 1)
        layout.addWidget(buttons)
        self.resize(640, 600)
