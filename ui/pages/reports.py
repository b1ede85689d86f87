"""The Reports page: finished runs, a preview of a run's report, its export (PDF, HTML, CSV,
JSON) with progress, an organisation's completion report, and checking a report's seal.

The preview is drawn from the same :class:`~app.domain.reports.RunReport` the exporters write,
so what is seen here is what the participant receives. Exports run on a worker thread; the page
stays usable and shows progress once one takes longer than half a second.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from PySide6.QtCore import QDate, Qt, QTimer, QUrl
from PySide6.QtGui import QDesktopServices, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.domain.errors import NotFoundError, ValidationError
from app.domain.reports import RunReport
from app.domain.runs import VERDICT_ORDER
from app.storage.labstore import LabStore
from app.storage.runs import RunRepo
from ui.bridge import BackgroundTask
from ui.pages.registry import PageEnv
from ui.theme import OUTCOME_STYLE
from ui.widgets.run_history import RunHistoryModel
from ui.widgets.run_tables import MeasurementsModel, StepRow, StepsModel, make_table

log = logging.getLogger(__name__)

ANY = "Any"
#: Progress is shown once an export has taken this long.
PROGRESS_AFTER_MS = 500

#: Asks where to save: (title, suggested path, filter) -> path, or None when cancelled.
ChoosePath = Callable[[str, str, str], Path | None]
#: Asks for a folder: (title, suggested folder) -> folder, or None.
ChooseFolder = Callable[[str, str], Path | None]


def _verdict_css(verdict: str) -> str:
    fill, text = OUTCOME_STYLE.get(verdict, OUTCOME_STYLE["WAITING"])
    return (f"QLabel {{ background: {fill}; color: {text}; border-radius: 6px; padding: 4px 12px;"
            f" font-size: 14pt; font-weight: 600; }}")


class ReportsPage(QWidget):
    """Reports of stored runs. Reads the database it is given; writes only the seal."""

    def __init__(self, env: PageEnv, parent: QWidget | None = None,
                 choose_path: ChoosePath | None = None,
                 choose_folder: ChooseFolder | None = None,
                 open_file: Callable[[Path], None] | None = None) -> None:
        super().__init__(parent)
        self.env, self.ctx = env, env.ctx
        self._tz = ZoneInfo("Europe/London")
        self.choose_path = choose_path or self._ask_path
        self.choose_folder = choose_folder or self._ask_folder
        self.open_file = open_file or (lambda p: QDesktopServices.openUrl(
            QUrl.fromLocalFile(str(p))))
        self.report: RunReport | None = None
        self.task: BackgroundTask | None = None
        self.last_files: list[Path] = []
        self.setAcceptDrops(True)

        outer = QHBoxLayout(self)
        split = QSplitter(Qt.Orientation.Horizontal)
        outer.addWidget(split)
        split.addWidget(self._build_list())
        split.addWidget(self._build_preview())
        split.setSizes([640, 640])  # at 1440 px every column of the runs table in view
        self._progress_timer = QTimer(self)
        self._progress_timer.setSingleShot(True)
        self._progress_timer.timeout.connect(lambda: self.progress.setVisible(True))
        self.reload()

    # --- building ------------------------------------------------------------------------------
    def _build_list(self) -> QWidget:
        box = QWidget()
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        filters = QFormLayout()
        self.f_org = QComboBox()
        self.f_plan = QComboBox()
        self.f_verdict = QComboBox()
        self.f_verdict.addItems([ANY, *[v.value for v in reversed(VERDICT_ORDER)]])
        period = QHBoxLayout()
        self.f_period = QCheckBox("From")
        self.f_from = QDateEdit()
        self.f_to = QDateEdit()
        for edit in (self.f_from, self.f_to):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("d MMM yyyy")
            edit.setEnabled(False)
        today = self.ctx.clock.now().astimezone(self._tz).date()
        self.f_from.setDate(QDate(today.year, today.month, 1))
        self.f_to.setDate(QDate(today.year, today.month, today.day))
        period.addWidget(self.f_period)
        period.addWidget(self.f_from)
        period.addWidget(QLabel("to"))
        period.addWidget(self.f_to)
        period.addStretch(1)
        filters.addRow("&Organisation:", self.f_org)
        filters.addRow("&Plan:", self.f_plan)
        filters.addRow("&Verdict:", self.f_verdict)
        filters.addRow("Period:", period)
        layout.addLayout(filters)
        self.runs_model = RunHistoryModel(self._tz)
        self.runs_view = make_table(self.runs_model, stretch=2)
        self.runs_view.setObjectName("reportRuns")
        self.runs_view.hideColumn(5)  # devices: in the preview
        layout.addWidget(self.runs_view, 1)

        camp = QGroupBox("Completion report of an organisation")
        cl = QFormLayout(camp)
        self.c_org = QComboBox()
        self.c_role = QComboBox()
        self.c_role.setEditable(False)
        cbuttons = QHBoxLayout()
        self.c_pdf = QPushButton("Campaign PDF…")
        self.c_html = QPushButton("Campaign HTML…")
        cbuttons.addWidget(self.c_pdf)
        cbuttons.addWidget(self.c_html)
        cl.addRow("Organisation:", self.c_org)
        cl.addRow("Role:", self.c_role)
        cl.addRow(QLabel("The period above applies when ticked."))
        cl.addRow(cbuttons)
        layout.addWidget(camp)

        ver = QGroupBox("Check a report's seal")
        vl = QVBoxLayout(ver)
        vrow = QHBoxLayout()
        self.verify_button = QPushButton("Verify a report file…")
        self.verify_button.setToolTip("Or drop a PDF, HTML or JSON report on this page")
        vrow.addWidget(self.verify_button)
        vrow.addWidget(QLabel("or drop a report file here"))
        vrow.addStretch(1)
        self.verify_result = QLabel()
        self.verify_result.setWordWrap(True)
        self.verify_result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        vl.addLayout(vrow)
        vl.addWidget(self.verify_result)
        layout.addWidget(ver)

        for w in (self.f_org, self.f_plan, self.f_verdict):
            w.currentIndexChanged.connect(self.refresh)
        self.f_period.toggled.connect(self._period_toggled)
        self.f_from.dateChanged.connect(self.refresh)
        self.f_to.dateChanged.connect(self.refresh)
        self.runs_view.selectionModel().currentRowChanged.connect(self._run_selected)
        self.c_pdf.clicked.connect(lambda: self.export_campaign("pdf"))
        self.c_html.clicked.connect(lambda: self.export_campaign("html"))
        self.verify_button.clicked.connect(self._verify_chosen)
        return box

    def _build_preview(self) -> QWidget:
        box = QWidget()
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        head = QHBoxLayout()
        self.title = QLabel("Choose a run to see its report.")
        self.title.setStyleSheet("font-size: 12pt; font-weight: 600;")
        self.title.setWordWrap(True)
        self.verdict = QLabel()
        self.verdict.setVisible(False)
        head.addWidget(self.title, 1)
        head.addWidget(self.verdict)
        layout.addLayout(head)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.summary)
        from ui.widgets.report_plot import ReportPlot

        self.plot = ReportPlot()
        layout.addWidget(self.plot, 1)
        inner = QSplitter(Qt.Orientation.Vertical)
        self.steps_model = StepsModel()
        self.steps_view = make_table(self.steps_model, stretch=5)
        self.meas_model = MeasurementsModel()
        self.meas_view = make_table(self.meas_model, stretch=3)
        inner.addWidget(self.steps_view)
        inner.addWidget(self.meas_view)
        layout.addWidget(inner, 1)
        exports = QHBoxLayout()
        self.export_buttons: dict[str, QPushButton] = {}
        for fmt, text in (("pdf", "Export PDF…"), ("html", "HTML…"), ("csv", "CSV…"),
                          ("json", "JSON…")):
            button = QPushButton(text)
            button.setObjectName(f"export_{fmt}")
            button.clicked.connect(lambda _=False, f=fmt: self.export(f))
            exports.addWidget(button)
            self.export_buttons[fmt] = button
        self.open_button = QPushButton("Open")
        self.open_button.setToolTip("Open the exported file in the desktop's viewer")
        self.open_button.clicked.connect(self._open_last)
        exports.addWidget(self.open_button)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setVisible(False)
        exports.addWidget(self.progress, 1)
        layout.addLayout(exports)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.status)
        self.steps_view.selectionModel().currentRowChanged.connect(self._step_selected)
        self._set_busy(False)
        return box

    # --- data ----------------------------------------------------------------------------------
    def _shared_store(self) -> LabStore | None:
        """The lab store on a server that holds the runs; None: they are in the file."""
        return self.ctx.store if self.ctx.shared else None

    def reload(self) -> None:
        """Organisations, plans and roles for the choosers, then the runs."""
        # A participant's context lists only its own organisation and its own runs' plans.
        orgs = self.ctx.orgs.list()
        scope = self.ctx.principal.org_scope()
        plans = RunRepo(self.ctx.lab_source).plan_names(scope)
        roles = sorted({role for o in orgs for role in getattr(o, "roles", ()) or ()})
        for box, items in ((self.f_org, [(o.id, o.name) for o in orgs]),
                           (self.f_plan, [(p, p) for p in plans])):
            current = box.currentData()
            box.blockSignals(True)
            box.clear()
            box.addItem(ANY, None)
            for key, text in items:
                box.addItem(text, key)
            if current is not None and box.findData(current) >= 0:
                box.setCurrentIndex(box.findData(current))
            box.blockSignals(False)
        self.c_org.clear()
        for o in orgs:
            self.c_org.addItem(o.name, o.id)
        self.c_role.clear()
        self.c_role.addItem("Any role", None)
        for role in roles:
            self.c_role.addItem(role, role)
        self.refresh()

    def _period(self) -> tuple[date | None, date | None]:
        if not self.f_period.isChecked():
            return None, None
        return self.f_from.date().toPython(), self.f_to.date().toPython()  # type: ignore[return-value]

    def _period_toggled(self, on: bool) -> None:
        self.f_from.setEnabled(on)
        self.f_to.setEnabled(on)
        self.refresh()

    def refresh(self) -> None:
        verdict = None if self.f_verdict.currentText() == ANY else self.f_verdict.currentText()
        rows = [r for r in RunRepo(self.ctx.lab_source).list(
            org_scope=self.ctx.principal.org_scope(),
            org_id=self.f_org.currentData(), plan=self.f_plan.currentData(), verdict=verdict,
            limit=5000) if r.verdict is not None]
        first, last = self._period()
        if first is not None and last is not None:
            rows = [r for r in rows
                    if first <= r.started.astimezone(self._tz).date() <= last]
        selected = self.report.record.id if self.report is not None else None
        self.runs_model.set_rows(rows)
        for i, r in enumerate(rows):
            if r.id == selected:
                self.runs_view.selectRow(i)
        self._set_busy(self.task is not None)

    def _run_selected(self, current: Any, _previous: Any = None) -> None:
        if not current.isValid():
            return
        self.show_run(self.runs_model.rows[current.row()].id)

    def show_run(self, run_id: int) -> None:
        """Preview run `run_id`'s report."""
        from app.services.reports.build import EvidenceElsewhereError, build_report

        try:
            report = build_report(self.ctx.db.conn, run_id, self.ctx.clock,
                                  principal=self.ctx.principal, store=self._shared_store())
        except (NotFoundError, ValidationError, EvidenceElsewhereError) as exc:
            self.report = None
            said = getattr(exc, "message", None) or str(exc)
            self.status.setText(said[:1].upper() + said[1:])
            self._set_busy(False)
            return
        self.report = report
        rec = report.record
        tz = ZoneInfo(report.context.lab_timezone or "Europe/London")
        self._tz_report = tz
        verdict = rec.verdict.value if rec.verdict is not None else "RUNNING"
        self.title.setText(f"Run {rec.id}: {rec.plan_name} {rec.plan_version} on {rec.bench}")
        self.verdict.setText(verdict)
        self.verdict.setStyleSheet(_verdict_css(verdict))
        self.verdict.setVisible(True)
        self.summary.setText(_summary_html(report, tz))
        self.plot.set_report(report)
        rows = [StepRow(s.index, s.name, s.kind, s.teardown, s.outcome.value, s.started, s.ended,
                        s.message, s.answer, list(s.measurements)) for s in rec.steps]
        self.steps_model.set_rows(rows)
        self.meas_model.set_rows([])
        if rows:
            bad = next((i for i, r in enumerate(rows)
                        if r.status in ("FAIL", "ERROR", "ABORTED")), 0)
            self.steps_view.selectRow(bad)
        self.status.setText("")
        self.last_files = []
        self._set_busy(self.task is not None)

    def _step_selected(self, current: Any, _previous: Any = None) -> None:
        if current.isValid():
            self.meas_model.set_rows(self.steps_model.rows[current.row()].measurements)

    # --- exports -------------------------------------------------------------------------------
    def _set_busy(self, busy: bool) -> None:
        for button in self.export_buttons.values():
            button.setEnabled(not busy and self.report is not None)
        self.open_button.setEnabled(not busy and any(p.suffix in (".pdf", ".html")
                                                     for p in self.last_files))
        for button in (self.c_pdf, self.c_html):
            button.setEnabled(not busy and self.c_org.count() > 0)
        self.verify_button.setEnabled(not busy)

    def export(self, fmt: str) -> None:
        """Ask where, then write the selected run's report as `fmt` on a worker thread."""
        if self.report is None or self.task is not None:
            return
        from app.services.reports.export import ExportRequest, export_run

        run_id = self.report.record.id
        if fmt == "csv":
            folder = self.choose_folder("Folder for the CSV files", str(Path.home()))
            if folder is None:
                return
            request = ExportRequest(csv=folder)
        else:
            names = {"pdf": "PDF files (*.pdf)", "html": "HTML files (*.html)",
                     "json": "JSON files (*.json)"}
            path = self.choose_path(f"Export run {run_id} as {fmt.upper()}",
                                    str(Path.home() / f"meterlab-run-{run_id}.{fmt}"), names[fmt])
            if path is None:
                return
            request = ExportRequest(**{fmt: path})
        db_path, clock, version = self.ctx.db_path, self.ctx.clock, _version()
        principal, store = self.ctx.principal, self._shared_store()
        self._start(f"Exporting run {run_id} as {fmt.upper()}",
                    lambda progress: export_run(db_path, run_id, clock, request, version,
                                                progress, principal, store),
                    self._exported)

    def _exported(self, result: Any) -> None:
        if self.report is not None and self.report.record.id == result.run_id:
            self.show_run(result.run_id)  # now with its seal
        self.last_files = list(result.files)
        names = ", ".join(p.name for p in result.files)
        self.status.setText(f"Wrote {names}. Seal {result.seal}.")
        self.env.show_status(f"Run {result.run_id}'s report written: {names}")

    def export_campaign(self, fmt: str) -> None:
        if self.task is not None or self.c_org.count() == 0:
            return
        from app.services.reports.campaign import (
            build_campaign,
            write_campaign_html,
            write_campaign_pdf,
        )
        from app.services.reports.files import write_atomically

        org_id, org_name = self.c_org.currentData(), self.c_org.currentText()
        filt = {"pdf": "PDF files (*.pdf)", "html": "HTML files (*.html)"}[fmt]
        safe = "".join(c if c.isalnum() else "-" for c in org_name).strip("-").lower()
        path = self.choose_path(f"Completion report of {org_name}",
                                str(Path.home() / f"meterlab-campaign-{safe}.{fmt}"), filt)
        if path is None:
            return
        role = self.c_role.currentData()
        first, last = self._period()
        db_path, clock, version = self.ctx.db_path, self.ctx.clock, _version()
        principal, store = self.ctx.principal, self._shared_store()

        def work(progress: Callable[[float, str], None]) -> Any:
            from app.main import open_bench_database

            db = open_bench_database(db_path, clock)
            try:
                campaign = build_campaign(db.conn, org_id, role, first, last, clock,
                                          version=version, principal=principal,
                                          progress=lambda f, w: progress(f * 0.5, w),
                                          store=store)
            finally:
                db.conn.close()
            if fmt == "pdf":
                write_atomically(path, lambda tmp: write_campaign_pdf(
                    campaign, tmp, progress=lambda f, w: progress(0.5 + f * 0.5, w)))
            else:
                write_atomically(path, lambda tmp: write_campaign_html(campaign, tmp))
            return campaign, path

        self._start(f"Completion report of {org_name}", work, self._campaign_done)

    def _campaign_done(self, result: Any) -> None:
        campaign, path = result
        self.last_files = [path]
        self.status.setText(f"Wrote {path.name}: {len(campaign.runs)} runs of "
                            f"{campaign.org_name}, {len(campaign.open_failures)} failures still "
                            f"open. Seal {campaign.seal}.")

    def _start(self, what: str, work: Callable[[Callable[[float, str], None]], Any],
               done: Callable[[Any], None]) -> None:
        self.status.setText(f"{what}…")
        self.progress.setValue(0)
        self.progress.setFormat(f"{what}: %p%")
        self._progress_timer.start(PROGRESS_AFTER_MS)
        task = BackgroundTask(work, self)
        task.sig_progress.connect(self._on_progress)
        task.sig_done.connect(lambda r: self._finish(done, r))
        task.sig_failed.connect(self._failed)
        self.task = task
        self._set_busy(True)
        task.start()

    def _on_progress(self, fraction: float, what: str) -> None:
        self.progress.setValue(round(fraction * 100))
        self.progress.setFormat(f"{what}: %p%")

    def _finish(self, done: Callable[[Any], None], result: Any) -> None:
        self._end_task()
        done(result)
        self._set_busy(False)

    def _failed(self, message: str) -> None:
        self._end_task()
        self.status.setText(message)
        self.env.errors.report(message, "Reports")
        self._set_busy(False)

    def _end_task(self) -> None:
        self._progress_timer.stop()
        self.progress.setVisible(False)
        self.task = None

    def wait_idle(self, timeout_s: float = 30.0) -> bool:
        """Wait for an export in progress (tests, closing)."""
        return self.task is None or self.task.wait(timeout_s)

    def _open_last(self) -> None:
        for path in self.last_files:
            if path.suffix in (".pdf", ".html"):
                self.open_file(path)
                return

    # --- verify --------------------------------------------------------------------------------
    def _verify_chosen(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Verify a report file", str(Path.home()),
                                              "Reports (*.pdf *.html *.json);;All files (*)")
        if path:
            self.verify(Path(path))

    def verify(self, path: Path) -> bool:
        """Check `path`'s seal against its content or the database; show the outcome."""
        from app.services.reports.verify import NotAReportError, verify_file

        try:
            result = verify_file(path, self.ctx.db_path, self.ctx.clock,
                                 store=self._shared_store())
        except NotAReportError as exc:
            self._verify_said(f"{path.name}: {exc}", ok=False)
            return False
        except OSError as exc:
            self._verify_said(f"{path.name} cannot be read ({exc.strerror or exc}).", ok=False)
            return False
        if result.valid:
            elsewhere = result.elsewhere()
            self._verify_said(f"Seal valid: {path.name} is run {result.run_id} as stored "
                              f"(seal {result.seal})." + (f"\n{elsewhere}" if elsewhere else ""),
                              ok=True)
        else:
            lines = "\n".join(f"• {d}" for d in result.differences[:12])
            more = len(result.differences) - 12
            self._verify_said(f"Seal does NOT verify: {path.name}\n{lines}"
                              + (f"\n…and {more} more" if more > 0 else ""), ok=False)
        return result.valid

    def _verify_said(self, text: str, ok: bool) -> None:
        colour = "#1b6e3a" if ok else "#b00020"
        self.verify_result.setStyleSheet(f"color: {colour}; font-weight: 600;")
        self.verify_result.setText(text)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        for url in event.mimeData().urls():
            if url.isLocalFile():
                self.verify(Path(url.toLocalFile()))
                event.acceptProposedAction()
                return

    # --- dialogs -------------------------------------------------------------------------------
    def _ask_path(self, title: str, suggested: str, filt: str) -> Path | None:
        path, _ = QFileDialog.getSaveFileName(self, title, suggested, filt)
        return Path(path) if path else None

    def _ask_folder(self, title: str, suggested: str) -> Path | None:
        path = QFileDialog.getExistingDirectory(self, title, suggested)
        return Path(path) if path else None


def _version() -> str:
    from app.about import versions

    return str(versions().get("meterlab", ""))


def _summary_html(report: RunReport, tz: ZoneInfo) -> str:
    from html import escape

    rec, ctx = report.record, report.context

    def when(moment: Any) -> str:
        return moment.astimezone(tz).strftime("%a %d %b %Y %H:%M:%S %z") if moment else "—"

    booking = (f"#{rec.booking_id} ({ctx.booking_status.replace('_', ' ')})"
               if rec.booking_id else "none")
    bench = "emulated" + (f", faults: {', '.join(rec.faults)}" if rec.faults else "") \
        if rec.emulated else "real"
    dev = "; ".join(f"{d.label} ({d.kind}{', ' + d.device_id if d.device_id else ''}"
                    f"{', ' + d.mpxn if d.mpxn else ''})" for d in rec.devices)
    rows = [("Lab", ctx.lab_name or "—"), ("Organisation", rec.org_name or "—"),
            ("Booking", booking), ("Bench", f"{rec.bench} ({bench})"),
            ("Operator", rec.operator or "—"), ("Started", when(rec.started)),
            ("Ended", when(rec.ended)),
            ("Plan", f"{rec.plan_name} {rec.plan_version}, SHA-256 {rec.plan_sha256[:16]}…"),
            ("Devices", dev or "—"),
            ("Alerts / outages", f"{len(report.alerts)} alerts, {len(report.outages)} outages, "
                                 f"{report.events_total} events in the run's window"),
            ("Evidence", f"{len(rec.evidence)} capture files"),
            ("Seal", rec.seal or "sealed at the first export")]
    cells = "".join(f"<tr><td style='color:#555;padding-right:10px'>{escape(k)}</td>"
                    f"<td>{escape(v)}</td></tr>" for k, v in rows)
    return f"<table cellspacing='0' cellpadding='1'>{cells}</table>"
