"""Help › User guide: the guides in docs/ shown in the application, offline.

The guides are Markdown files beside the screenshots they show (docs/USER_GUIDE.md,
docs/PARTICIPANT_GUIDE.md). They are found in the source tree, or in a frozen bundle's `docs`
folder (its spec collects docs/*.md and docs/*.png there).
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QTimer, QUrl
from PySide6.QtGui import (
    QDesktopServices,
    QKeySequence,
    QResizeEvent,
    QShortcut,
    QTextCursor,
    QTextDocument,
)
from PySide6.QtWidgets import QTextBrowser, QVBoxLayout, QWidget

#: Which guide -> its file name and window title.
GUIDES = {
    "staff": ("USER_GUIDE.md", "MeterLab user guide"),
    "participant": ("PARTICIPANT_GUIDE.md", "MeterLab: a guide for participants"),
}


def docs_dirs() -> list[Path]:
    """Where the guides may be, first match wins: a frozen bundle's docs, then the source tree's."""
    found: list[Path] = []
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        found.append(Path(bundle) / "docs")
    found.append(Path(__file__).resolve().parents[1] / "docs")
    return found


def guide_path(which: str) -> Path | None:
    """The guide's Markdown file, or None when this copy of MeterLab has no docs folder."""
    name = GUIDES[which][0]
    return next((d / name for d in docs_dirs() if (d / name).is_file()), None)


class GuideWindow(QWidget):
    """A guide rendered from its Markdown, with its screenshots; links to other pages of the
    guide stay inside, links to the web open in the desktop's browser."""

    def __init__(self, which: str = "staff", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from PySide6.QtCore import Qt

        self.setWindowFlag(Qt.WindowType.Window)
        name, title = GUIDES[which]
        self.setWindowTitle(title)
        self.setObjectName(f"guide_{which}")
        self.resize(980, 820)
        self.browser = QTextBrowser()
        self.browser.setObjectName("guideText")
        self.browser.setOpenLinks(False)
        self.browser.anchorClicked.connect(self._link)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.browser)
        QShortcut(QKeySequence.StandardKey.Close, self, activated=self.close)
        self.path = guide_path(which)
        if self.path is None:
            self.browser.setMarkdown(
                f"# {title}\n\nThis copy of MeterLab was installed without its guides. They are "
                f"`docs/{name}` in MeterLab's source.")
            return
        self.load(self.path)

    def load(self, path: Path) -> None:
        """Show the Markdown file at `path`; its images are found beside it."""
        self.path = path
        self.browser.setSearchPaths([str(path.parent)])
        self.browser.document().setBaseUrl(QUrl.fromLocalFile(str(path.parent) + "/"))
        self.browser.setMarkdown(path.read_text(encoding="utf-8"))
        self.browser.document().setDocumentMargin(14)
        self.fit_images()
        self.browser.verticalScrollBar().setValue(0)

    def fit_images(self) -> None:
        """Scale the screenshots down to the window's width (never up), keeping their shape."""
        doc = self.browser.document()
        width = max(240, self.browser.viewport().width() - 2 * int(doc.documentMargin()) - 8)
        block = doc.begin()
        while block.isValid():
            for item in block:
                fragment = item.fragment()
                fmt = fragment.charFormat()
                if not fmt.isImageFormat():
                    continue
                image = fmt.toImageFormat()
                natural = doc.resource(QTextDocument.ResourceType.ImageResource,
                                       QUrl(image.name()))
                if natural is None or natural.isNull() or natural.width() == 0:
                    continue
                shown = min(width, natural.width())
                image.setWidth(shown)
                image.setHeight(natural.height() * shown / natural.width())
                cursor = QTextCursor(doc)
                cursor.setPosition(fragment.position())
                cursor.setPosition(fragment.position() + fragment.length(),
                                   QTextCursor.MoveMode.KeepAnchor)
                cursor.setCharFormat(image)
            block = block.next()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        # The browser's viewport takes its new size after this window's: fit once it has.
        QTimer.singleShot(0, self.fit_images)

    def _link(self, url: QUrl) -> None:
        if url.scheme() in ("http", "https", "mailto"):
            QDesktopServices.openUrl(url)
            return
        if url.hasFragment() and not url.path():
            self.browser.scrollToAnchor(url.fragment())
            return
        target = (self.path.parent / url.path()).resolve() if self.path else None
        if target is not None and target.suffix == ".md" and target.is_file():
            self.load(target)
            if url.hasFragment():
                self.browser.scrollToAnchor(url.fragment())
