"""The main window: navigation on the left, one page at a time, a status bar with lab and time."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QFont, QFontMetrics, QKeySequence
from PySide6.QtWidgets import (
    QGraphicsView,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.about import versions
from app.main import AppContext
from app.services.lab_changes import LabStoreState
from ui.about import AboutDialog, licences_html
from ui.errors import ErrorReporter
from ui.icon import app_icon
from ui.pages.placeholder import PlaceholderPage
from ui.pages.registry import PAGES, LabSelection, PageEnv, PageSpec

#: A plot that takes the keyboard says so with a frame in the highlight colour.
PLOT_FOCUS_STYLE = ("QGraphicsView { border: 2px solid transparent; }"
                    "QGraphicsView:focus { border: 2px solid palette(highlight); }")


def show_focus_of_plots(root: QWidget) -> None:
    """Give every plot under `root` that can take the keyboard a visible focus frame."""
    for view in root.findChildren(QGraphicsView):
        if view.focusPolicy() != Qt.FocusPolicy.NoFocus and not view.styleSheet():
            view.setStyleSheet(PLOT_FOCUS_STYLE)


class MainWindow(QMainWindow):
    """Navigation list + stacked pages + status bar (database, lab, lab local time)."""

    def __init__(self, ctx: AppContext, pages: tuple[PageSpec, ...] = PAGES,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setWindowTitle("MeterLab")
        self.setWindowIcon(app_icon())
        self.errors = ErrorReporter(self)
        self.selection = LabSelection(self)
        self.specs = pages
        self.pages: dict[str, QWidget] = {}
        self._tz = ZoneInfo("Europe/London")
        #: Set by File › Open database… (or a new lab store): the file the launcher opens once
        #: this window closes.
        self.requested_database: Path | None = None
        #: Where the lab store's URL came from when not from File › Lab store… (the launcher
        #: sets it: ``--lab-store`` or ``MELAB_LAB_STORE``), "" otherwise.
        self.lab_store_override = ""
        #: The lab store's reachability as its change feed last said (None: not known yet).
        self.lab_store_state: LabStoreState | None = None
        #: The change feed refreshing this window (set by :func:`ui.lab_feed.attach_lab_feed`).
        self.lab_feed: object | None = None
        self._guides: dict[str, QWidget] = {}
        #: Asks whether to close while a run is going (given the run's title); True closes.
        #: Replaceable in tests.
        self.ask_abort_run: Callable[[str], bool] = self._ask_abort_run

        self.nav = QListWidget()
        self.nav.setObjectName("navigation")
        self.nav.setIconSize(QSize(0, 0))
        self.nav.setStyleSheet(
            "QListWidget#navigation { font-size: 11pt; border: none; background: palette(window); }"
            "QListWidget#navigation::item { padding: 9px 14px; }"
            "QListWidget#navigation::item:selected { background: palette(highlight);"
            " color: palette(highlighted-text); border-radius: 4px; }"
        )
        self.stack = QStackedWidget()
        env = PageEnv(ctx, self.errors, self.selection, self.show_status)
        for index, spec in enumerate(pages):
            item = QListWidgetItem(spec.title)
            if index < 9:
                item.setToolTip(f"{spec.title} (Ctrl+{index + 1})")
            self.nav.addItem(item)
            page = spec.factory(env) if spec.factory else PlaceholderPage(spec.title, spec.summary)
            self.pages[spec.name] = page
            self.stack.addWidget(page)
            if index < 9:
                act = QAction(spec.title, self)
                act.setShortcut(QKeySequence(f"Ctrl+{index + 1}"))
                act.triggered.connect(lambda _=False, n=spec.name: self.show_page(n))
                self.addAction(act)
        self.nav.currentRowChanged.connect(self.stack.setCurrentIndex)
        show_focus_of_plots(self.stack)
        self.nav.setFixedWidth(self._nav_width())

        # Across the top while the lab store does not answer.
        self.lab_store_banner = QLabel()
        self.lab_store_banner.setObjectName("labStoreBanner")
        self.lab_store_banner.setWordWrap(True)
        self.lab_store_banner.setStyleSheet(
            "QLabel#labStoreBanner { background: #b00020; color: white; font-weight: 600;"
            " padding: 6px 10px; border-radius: 3px; }")
        self.lab_store_banner.setVisible(False)
        central = QWidget()
        outer = QVBoxLayout(central)
        outer.setContentsMargins(6, 6, 6, 0)
        outer.addWidget(self.lab_store_banner)
        layout = QHBoxLayout()
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.nav)
        layout.addWidget(self.stack, 1)
        outer.addLayout(layout, 1)
        self.setCentralWidget(central)

        self._build_menus()
        self._build_status_bar()
        self.selection.sig_lab_changed.connect(self._lab_changed)
        self._lab_changed(self.selection.name)
        self.nav.setCurrentRow(0)

    # --- navigation ----------------------------------------------------------------------------
    def _nav_width(self) -> int:
        """As wide as the longest page title needs (11 pt, 14 px padding each side), no wider."""
        font = QFont(self.nav.font())
        font.setPointSizeF(11)
        metrics = QFontMetrics(font)
        widest = max((metrics.horizontalAdvance(s.title) for s in self.specs), default=0)
        return max(widest + 2 * 14 + 2 * 8, 100)

    def show_page(self, name: str) -> None:
        """Switch to the page registered as `name` (KeyError for an unknown one)."""
        names = [s.name for s in self.specs]
        row = names.index(name)
        if self.nav.isRowHidden(row):  # not offered to who is logged in (its shortcut too)
            return
        self.nav.setCurrentRow(row)

    def current_page_name(self) -> str:
        return self.specs[self.stack.currentIndex()].name

    # --- chrome --------------------------------------------------------------------------------
    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.open_database_action = self._action(
            "&Open database…", QKeySequence.StandardKey.Open, self.open_database,
            "Close this database and open another MeterLab database file")
        self.export_action = self._action(
            "&Export…", QKeySequence("Ctrl+E"), self.export_report,
            "Export the report of the run selected on the Runs or Reports page")
        quit_action = self._action("&Quit", QKeySequence.StandardKey.Quit, self.close)
        quit_action.setShortcut(QKeySequence("Ctrl+Q"))  # also where the platform has none
        file_menu.addAction(self.open_database_action)
        self.lab_store_action = self._action(
            "&Lab store…", None, self.choose_lab_store,
            "Where this workstation keeps the lab's shared data: its own file or a "
            "PostgreSQL server")
        file_menu.addAction(self.lab_store_action)
        file_menu.addAction(self.export_action)
        file_menu.addSeparator()
        file_menu.addAction(quit_action)
        help_menu = self.menuBar().addMenu("&Help")
        self.guide_action = self._action("&User guide", QKeySequence.StandardKey.HelpContents,
                                         self.show_user_guide)
        self.guide_action.setShortcut(QKeySequence("F1"))
        help_menu.addAction(self.guide_action)
        help_menu.addAction(self._action("&Participant guide", None,
                                         lambda: self.show_user_guide("participant")))
        help_menu.addSeparator()
        about = QAction("&About MeterLab", self)
        about.triggered.connect(self.show_about)
        help_menu.addAction(about)

    def _action(self, text: str, shortcut: QKeySequence | QKeySequence.StandardKey | None,
                slot: Callable[[], object], tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setStatusTip(tip)
        action.triggered.connect(lambda _=False: slot())
        return action

    # --- File and Help -------------------------------------------------------------------------
    def open_database(self) -> None:
        """Ask for another database file; when one is chosen, close this window so the launcher
        opens it (devices stopped, a run in progress aborted with its teardown, first)."""
        from ui.database_dialog import choose_database

        path = choose_database(self, self.ctx.db_path.parent)
        if path is None or path.resolve() == self.ctx.db_path.resolve():
            return
        self.requested_database = path
        self.close()

    def choose_lab_store(self) -> None:
        """File › Lab store…: change where the lab's shared data is kept; once a new one is
        saved, close this window so the launcher opens it again on it."""
        from ui.database_dialog import LabStoreDialog
        from ui.settings import saved_lab_store

        dialog = LabStoreDialog(saved_lab_store(), self.lab_store_override, self)
        try:
            if dialog.exec() != LabStoreDialog.DialogCode.Accepted or dialog.saved is None:
                return
            if self.lab_store_override:
                self.show_status(f"Lab store saved; this window keeps using "
                                 f"{self.lab_store_override} while it is given.")
                return
        finally:
            dialog.deleteLater()
        self.requested_database = Path(self.ctx.db_path)
        self.close()

    # --- the lab store's change feed ------------------------------------------------------------
    def show_lab_store_state(self, state: LabStoreState) -> None:
        """Show whether the lab store answers: a red banner while it does not."""
        previous, self.lab_store_state = self.lab_store_state, state
        if state.reachable:
            self.lab_store_banner.setVisible(False)
            self.lab_store_label.setStyleSheet("")
            self.lab_store_label.setText(self._lab_store_text())
            self.lab_store_label.setVisible(bool(self.lab_store_label.text()))
            if previous is not None and not previous.reachable:
                self.show_status("The lab store answers again.")
            return
        reason = (state.message[0].upper() + state.message[1:]).rstrip(". ")
        self.lab_store_banner.setText(
            f"{reason}. Bookings, people and inductions cannot be changed until it is back; "
            f"bench capture goes on into this workstation's file.")
        self.lab_store_banner.setVisible(True)
        self.lab_store_label.setText("Lab store: unreachable")
        self.lab_store_label.setVisible(True)
        self.lab_store_label.setStyleSheet("QLabel { color: #b00020; font-weight: 600; }")

    def refresh_lab_data(self) -> None:
        """Reload the pages that show the lab store's data (another workstation changed it),
        keeping what is selected. Nothing while the lab store does not answer."""
        if self.lab_store_state is not None and not self.lab_store_state.reachable:
            return
        for page in self.pages.values():
            reload = getattr(page, "refresh_from_lab_store", None)
            if reload is not None:
                with self.errors.guard("Refreshing"):
                    reload()

    def _lab_store_text(self) -> str:
        if not self.ctx.shared or self.ctx.store is None:
            return ""
        url = self.ctx.store.engine.url
        where = url.host or url.query.get("host") or "local socket"
        return f"Lab store: {url.database} on {where}"

    def closeEvent(self, event: QCloseEvent) -> None:
        """Closing (Quit, the window's close button, Open database…) while a run is going
        aborts it, its teardown restoring the supply: ask first."""
        runs = self.pages.get("runs")
        if getattr(runs, "handle", None) is not None:
            title = runs.run_title.text()  # type: ignore[union-attr]
            if not self.ask_abort_run(title):
                self.requested_database = None
                event.ignore()
                return
        super().closeEvent(event)

    def _ask_abort_run(self, title: str) -> bool:
        answer = QMessageBox.question(
            self, "A run is going",
            f"{title} is still running. Closing aborts it; its teardown then restores the "
            f"bench's supply, and the run is stored as ABORTED.\n\nClose and abort the run?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    def export_report(self) -> None:
        """Export the report of the run in view: the one selected in the Runs page's history,
        or the one previewed on the Reports page (as PDF, the participant's copy; the page has
        the other formats). Without one, the Reports page, to choose a run."""
        reports = self.pages.get("reports")
        if reports is None or self.nav.isRowHidden(self._row("reports")):
            self.show_status("Reports are not available here.")
            return
        run_id: int | None = None
        runs = self.pages.get("runs")
        if self.current_page_name() == "runs" and hasattr(runs, "selected_run_id"):
            run_id = runs.selected_run_id()
        self.show_page("reports")
        if run_id is not None and hasattr(reports, "show_run"):
            reports.show_run(run_id)
        if getattr(reports, "report", None) is None:
            self.show_status("Choose a run to export its report.")
            return
        reports.export("pdf")

    def _row(self, name: str) -> int:
        return [s.name for s in self.specs].index(name)

    def show_user_guide(self, which: str = "staff") -> None:
        """The user guide (or the participant guide) in a window of its own, offline."""
        from ui.user_guide import GuideWindow

        guide = self._guides.get(which)
        if guide is None:
            guide = GuideWindow(which, self)
            self._guides[which] = guide
        guide.show()
        guide.raise_()
        guide.activateWindow()

    def about_text(self) -> str:
        rows = "".join(f"<tr><td><b>{k}</b></td><td>&nbsp;{v}</td></tr>" for k, v in versions().items())
        return ("<h3>MeterLab</h3><p>Bookings, devices and results for GB smart-metering test "
                f"labs.</p><table>{rows}</table>{licences_html()}")

    def show_about(self) -> None:
        AboutDialog(self.about_text(), self).open()

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        # The file's name; its whole path (often long) in the tooltip.
        self.db_label = QLabel(f"Database: {Path(self.ctx.db_path).name}")
        self.db_label.setToolTip(f"Database: {self.ctx.db_path}")
        self.lab_store_label = QLabel(self._lab_store_text())
        self.lab_store_label.setObjectName("labStore")
        if self.ctx.shared and self.ctx.store is not None:
            self.lab_store_label.setToolTip(
                "Lab store: " + self.ctx.store.engine.url.render_as_string(hide_password=True))
        self.lab_label = QLabel()
        self.time_label = QLabel()
        self.time_label.setObjectName("clock")
        for w in (self.db_label, self.lab_store_label, self.lab_label, self.time_label):
            w.setContentsMargins(8, 0, 8, 0)
            bar.addPermanentWidget(w)
        self.lab_store_label.setVisible(bool(self.lab_store_label.text()))
        self._tick = QTimer(self)
        self._tick.setInterval(1000)
        self._tick.timeout.connect(self.update_clock)
        self._tick.start()
        self.update_clock()

    def show_status(self, message: str) -> None:
        """A message that stays in the status bar until the next one."""
        self.statusBar().showMessage(message)

    def _lab_changed(self, name: str) -> None:
        self.lab_label.setText(f"Lab: {name}" if name else "No lab yet")
        lab = self.ctx.labs.find(name) if name else None
        self._tz = lab.tz if lab else ZoneInfo("Europe/London")
        self.update_clock()

    def update_clock(self) -> None:
        now = self.ctx.clock.now().astimezone(self._tz)
        self.time_label.setText(f"{now:%a %d %b %Y  %H:%M:%S %Z}")
