"""The Runs page: start a test plan on a bench, follow it step by step, answer its prompts in the
page, abort it; and the history of stored runs with their measurements against their limits.

The run itself executes on the I/O loop (:mod:`app.services.runs`); its progress arrives through
:class:`ui.bridge.RunBridge` signals. A prompt is answered in the page, never in a modal dialog,
so the operator can still look at the Live page while deciding.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QPixmap, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.domain.errors import NotFoundError, RuleRefusal, ValidationError
from app.domain.plans import ParameterSpec, ParamType, Plan
from app.domain.runs import VERDICT_ORDER
from app.services.runs.api import PromptAnswer, PromptRequest, RunResult, RunStart
from ui.bridge import PromptBoardBridge, RunBridge
from ui.pages.registry import PageEnv
from ui.theme import OUTCOME_STYLE
from ui.widgets.run_tables import (
    MeasurementsModel,
    StepRow,
    StepsModel,
    format_value,
    make_table,
)

log = logging.getLogger(__name__)

ANY = "Any"
#: The plan the form offers first.
DEFAULT_PLAN = "power-outage"


def _verdict_css(verdict: str) -> str:
    fill, text = OUTCOME_STYLE.get(verdict, OUTCOME_STYLE["WAITING"])
    return (f"QLabel {{ background: {fill}; color: {text}; border-radius: 6px; padding: 6px 14px;"
            f" font-size: 15pt; font-weight: 600; }}")


def parameter_label(spec: ParameterSpec) -> str:
    """"duration_s" -> "Duration" (the unit is shown in the editor)."""
    name = spec.name
    if spec.unit and name.endswith(f"_{spec.unit}"):
        name = name[: -len(spec.unit) - 1]
    text = name.replace("_", " ").strip() or spec.name
    return text[0].upper() + text[1:]


class ParameterForm(QWidget):
    """One editor per plan parameter, typed and bounded as the plan says."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.form = QFormLayout(self)
        self.form.setContentsMargins(0, 0, 0, 0)
        self.editors: dict[str, tuple[ParameterSpec, QWidget]] = {}

    def set_plan(self, plan: Plan | None) -> None:
        while self.form.rowCount():
            self.form.removeRow(0)
        self.editors = {}
        if plan is None:
            return
        if not plan.parameters:
            self.form.addRow(QLabel("This plan has no parameters."))
        for spec in plan.parameters:
            editor = self._editor(spec)
            editor.setObjectName(f"param_{spec.name}")
            editor.setToolTip(spec.description or spec.name)
            self.form.addRow(f"{parameter_label(spec)}:", editor)
            self.editors[spec.name] = (spec, editor)

    @staticmethod
    def _editor(spec: ParameterSpec) -> QWidget:
        suffix = f" {spec.unit}" if spec.unit else ""
        if spec.type is ParamType.INT:
            box = QSpinBox()
            box.setRange(int(spec.minimum if spec.minimum is not None else -2**31 + 1),
                         int(spec.maximum if spec.maximum is not None else 2**31 - 1))
            box.setValue(int(spec.default))
            box.setSuffix(suffix)
            box.setAccelerated(True)
            return box
        if spec.type is ParamType.FLOAT:
            dbox = QDoubleSpinBox()
            dbox.setDecimals(1 if float(spec.default).is_integer() else 3)
            dbox.setRange(spec.minimum if spec.minimum is not None else -1e12,
                          spec.maximum if spec.maximum is not None else 1e12)
            dbox.setValue(float(spec.default))
            dbox.setSuffix(suffix)
            return dbox
        if spec.type is ParamType.BOOL:
            check = QCheckBox()
            check.setChecked(bool(spec.default))
            return check
        line = QLineEdit(str(spec.default))
        return line

    def values(self) -> dict[str, str]:
        """The parameters as text, as the command line would give them (the service checks)."""
        out: dict[str, str] = {}
        for name, (_spec, editor) in self.editors.items():
            if isinstance(editor, QSpinBox | QDoubleSpinBox):
                out[name] = f"{editor.value()}"
            elif isinstance(editor, QCheckBox):
                out[name] = "true" if editor.isChecked() else "false"
            elif isinstance(editor, QLineEdit):
                out[name] = editor.text()
        return out

    def set_value(self, name: str, value: float | str | bool) -> None:
        _spec, editor = self.editors[name]
        if isinstance(editor, QSpinBox):
            editor.setValue(int(value))
        elif isinstance(editor, QDoubleSpinBox):
            editor.setValue(float(value))
        elif isinstance(editor, QCheckBox):
            editor.setChecked(bool(value))
        elif isinstance(editor, QLineEdit):
            editor.setText(str(value))


class PromptPanel(QFrame):
    """The operator's question, in the page: Pass / Fail, a note, the time left."""

    sig_answered = Signal(object, object)  # (PromptRequest, PromptAnswer)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("promptPanel")
        self.setStyleSheet("QFrame#promptPanel { background: #fff7dc; border: 2px solid #f0b429;"
                           " border-radius: 6px; }")
        self.request: PromptRequest | None = None
        #: What the question is called: the operator's check, or the participant's own.
        self.heading = "Operator check"
        self._deadline_s = 0.0
        self._left_s = 0.0
        layout = QVBoxLayout(self)
        self.title = QLabel("Operator check")
        self.title.setStyleSheet("font-weight: 600; font-size: 11pt;")
        self.question = QLabel()
        self.question.setWordWrap(True)
        self.question.setStyleSheet("font-size: 12pt;")
        self.picture = QLabel()
        self.picture.setVisible(False)
        self.note = QLineEdit()
        self.note.setPlaceholderText("Note (optional): what you saw")
        self.pass_button = QPushButton("Pass")
        self.pass_button.setObjectName("promptPass")
        self.fail_button = QPushButton("Fail")
        self.fail_button.setObjectName("promptFail")
        self.pass_button.setStyleSheet("QPushButton { background: #2e9e5b; color: white;"
                                       " padding: 6px 22px; font-weight: 600; }")
        self.fail_button.setStyleSheet("QPushButton { background: #d64545; color: white;"
                                       " padding: 6px 22px; font-weight: 600; }")
        self.countdown = QLabel()
        buttons = QHBoxLayout()
        buttons.addWidget(self.pass_button)
        buttons.addWidget(self.fail_button)
        buttons.addStretch(1)
        buttons.addWidget(self.countdown)
        layout.addWidget(self.title)
        layout.addWidget(self.question)
        layout.addWidget(self.picture)
        layout.addWidget(self.note)
        layout.addLayout(buttons)
        self.pass_button.clicked.connect(lambda: self._answer(True))
        self.fail_button.clicked.connect(lambda: self._answer(False))
        self.note.returnPressed.connect(lambda: self._answer(True))
        self.timer = QTimer(self)
        self.timer.setInterval(1000)
        self.timer.timeout.connect(self._tick)
        self.setVisible(False)

    def ask(self, request: PromptRequest) -> None:
        self.request = request
        self.title.setText(f"{self.heading} — step {request.step_index + 1}: {request.step_name}")
        self.question.setText(request.question)
        self.note.clear()
        pixmap = QPixmap(request.picture) if request.picture else QPixmap()
        self.picture.setVisible(not pixmap.isNull())
        if not pixmap.isNull():
            self.picture.setPixmap(pixmap.scaledToHeight(
                min(220, pixmap.height()), Qt.TransformationMode.SmoothTransformation))
        self._left_s = request.time_limit_s
        self._tick(count=False)
        self.timer.start()
        self.setVisible(True)
        self.pass_button.setFocus()

    def _tick(self, count: bool = True) -> None:
        if count:
            self._left_s = max(0.0, self._left_s - 1.0)
        minutes, seconds = divmod(int(self._left_s), 60)
        self.countdown.setText(f"{minutes}:{seconds:02d} left to answer")
        if self._left_s <= 0:
            self.timer.stop()

    def _answer(self, passed: bool) -> None:
        if self.request is None:
            return
        request, self.request = self.request, None
        self.timer.stop()
        self.setVisible(False)
        self.sig_answered.emit(request, PromptAnswer(passed, self.note.text().strip()))

    def withdraw(self) -> None:
        """The step ended without an answer (time limit or abort): hide the question."""
        self.request = None
        self.timer.stop()
        self.setVisible(False)


class FollowedRun:
    """A run started on the staff window that a participant session follows: it is watched
    here, never aborted from here."""

    def __init__(self, run_id: int) -> None:
        self.run_id = run_id

    def abort(self) -> None:
        """A participant does not abort a run; the staff window does."""

    def result(self, timeout: float | None = None) -> None:
        return None


class RunsPage(QWidget):
    """Start and follow runs; browse stored ones. Works read-only until :meth:`attach`."""

    sig_show_on_live = Signal(object, object)  # (start, end) datetimes of a run
    #: A question of a followed run waits here: the window should show this page.
    sig_question = Signal()

    def __init__(self, env: PageEnv, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.env = env
        self.ctx = env.ctx
        self._tz = ZoneInfo("Europe/London")
        self.service: Any = None
        self.handle: Any = None
        self.run_id = 0
        self.bridge = RunBridge(self)
        self.plans: dict[str, Any] = {}
        self._history_rows: list[Any] = []
        self._unstored_before = 0
        self._following = False

        outer = QVBoxLayout(self)
        self.tabs = QTabWidget()
        outer.addWidget(self.tabs)
        self.tabs.addTab(self._build_run_tab(), "Run")
        self.tabs.addTab(self._build_history_tab(), "History")

        self.bridge.sig_run_started.connect(self._on_run_started)
        self.bridge.sig_step_started.connect(self._on_step_started)
        self.bridge.sig_measurement.connect(self._on_measurement)
        self.bridge.sig_prompt.connect(self._on_prompt)
        self.bridge.sig_step_finished.connect(self._on_step_finished)
        self.bridge.sig_run_finished.connect(self._on_run_finished)
        self.prompt_panel.sig_answered.connect(self._on_answered)
        QShortcut(QKeySequence("Ctrl+Return"), self, activated=self.start_run)
        self._set_running(False)

    # --- building ------------------------------------------------------------------------------
    def _build_run_tab(self) -> QWidget:
        tab = QWidget()
        split = QSplitter(Qt.Orientation.Horizontal, tab)
        layout = QHBoxLayout(tab)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(split)

        left = QGroupBox("New run")
        self.run_form = left
        left.setMinimumWidth(300)
        form = QFormLayout(left)
        self.plan_box = QComboBox()
        self.plan_box.setObjectName("planBox")
        self.plan_about = QLabel()
        self.plan_about.setWordWrap(True)
        self.plan_about.setStyleSheet("color: palette(mid);")
        self.bench_box = QComboBox()
        self.bench_box.setObjectName("benchBox")
        self.booking_box = QComboBox()
        self.booking_box.setObjectName("bookingBox")
        self.params = ParameterForm()
        self.bench_note = QLabel()
        self.bench_note.setWordWrap(True)
        self.faults_edit = QLineEdit()
        self.faults_edit.setObjectName("faults")
        self.faults_edit.setPlaceholderText("none (e.g. counter-stuck, late-alert=30)")
        self.faults_edit.setToolTip(
            "Make the emulated bench misbehave for this run, to see a plan fail: "
            "wrong-restore-alert, late-alert=SECONDS, no-restore-alert, no-outage-log, "
            "counter-stuck, silent-after-restore (separate them with commas)")
        self.faults_label = QLabel("&Faults:")
        self.faults_label.setBuddy(self.faults_edit)
        self.start_button = QPushButton("Start run")
        self.start_button.setObjectName("startRun")
        self.start_button.setToolTip("Start the plan on the bench (Ctrl+Return)")
        self.start_button.setStyleSheet("QPushButton { padding: 6px 18px; font-weight: 600; }")
        self.form_error = QLabel()
        self.form_error.setWordWrap(True)
        self.form_error.setStyleSheet("color: #b00020;")
        form.addRow("&Plan:", self.plan_box)
        form.addRow("", self.plan_about)
        form.addRow("&Bench:", self.bench_box)
        form.addRow("B&ooking:", self.booking_box)
        form.addRow(QLabel("<b>Parameters</b>"))
        form.addRow(self.params)
        form.addRow("", self.bench_note)
        form.addRow(self.faults_label, self.faults_edit)
        form.addRow(self.start_button)
        form.addRow(self.form_error)
        split.addWidget(left)

        right = QWidget()
        rl = QVBoxLayout(right)
        head = QHBoxLayout()
        self.run_title = QLabel("No run yet")
        self.run_title.setStyleSheet("font-size: 12pt; font-weight: 600;")
        self.run_title.setWordWrap(True)
        self.verdict_label = QLabel("")
        self.verdict_label.setObjectName("verdict")
        self.verdict_label.setVisible(False)
        head.addWidget(self.run_title, 1)
        head.addWidget(self.verdict_label)
        rl.addLayout(head)
        prog = QHBoxLayout()
        self.progress = QProgressBar()
        self.progress.setFormat("%v of %m steps")
        self.abort_button = QPushButton("Abort")
        self.abort_button.setObjectName("abortRun")
        self.abort_button.setToolTip("Stop the run; its teardown still runs (the supply is "
                                     "restored)")
        prog.addWidget(self.progress, 1)
        prog.addWidget(self.abort_button)
        rl.addLayout(prog)
        self.run_status = QLabel("")
        self.run_status.setWordWrap(True)
        rl.addWidget(self.run_status)
        self.prompt_panel = PromptPanel()
        rl.addWidget(self.prompt_panel)
        inner = QSplitter(Qt.Orientation.Vertical)
        self.steps_model = StepsModel()
        self.steps_view = make_table(self.steps_model, stretch=5)
        self.steps_view.setObjectName("runSteps")
        self.meas_model = MeasurementsModel()
        self.meas_view = make_table(self.meas_model, stretch=3)
        self.meas_view.setObjectName("runMeasurements")
        self.meas_title = QLabel("Measurements")
        self.meas_title.setStyleSheet("font-weight: 600;")
        meas_box = QWidget()
        ml = QVBoxLayout(meas_box)
        ml.setContentsMargins(0, 0, 0, 0)
        ml.addWidget(self.meas_title)
        ml.addWidget(self.meas_view)
        inner.addWidget(self.steps_view)
        inner.addWidget(meas_box)
        inner.setSizes([260, 240])
        rl.addWidget(inner, 1)
        self.live_button = QPushButton("Show this run on Live")
        self.live_button.setEnabled(False)
        rl.addWidget(self.live_button, 0, Qt.AlignmentFlag.AlignRight)
        split.addWidget(right)
        split.setStretchFactor(1, 1)
        split.setSizes([340, 900])

        self.plan_box.currentIndexChanged.connect(self._plan_chosen)
        self.bench_box.currentIndexChanged.connect(self._bench_chosen)
        self.start_button.clicked.connect(self.start_run)
        self.abort_button.clicked.connect(self.abort_run)
        self.steps_view.selectionModel().currentRowChanged.connect(self._step_selected)
        self.live_button.clicked.connect(self._show_current_on_live)
        return tab

    def _build_history_tab(self) -> QWidget:
        tab = QWidget()
        layout = QVBoxLayout(tab)
        filters = QHBoxLayout()
        self.f_org = QComboBox()
        self.f_bench = QComboBox()
        self.f_device = QLineEdit()
        self.f_device.setPlaceholderText("Device label or ID")
        self.f_device.setClearButtonEnabled(True)
        self.f_plan = QComboBox()
        self.f_verdict = QComboBox()
        self.f_verdict.addItems([ANY, *[v.value for v in reversed(VERDICT_ORDER)]])
        for label, widget in (("Organisation", self.f_org), ("Bench", self.f_bench),
                              ("Device", self.f_device), ("Plan", self.f_plan),
                              ("Verdict", self.f_verdict)):
            filters.addWidget(QLabel(label))
            filters.addWidget(widget, 1 if widget is self.f_device else 0)
        refresh = QPushButton("Refresh")
        refresh.setShortcut(QKeySequence.StandardKey.Refresh)
        filters.addWidget(refresh)
        layout.addLayout(filters)

        from ui.widgets.run_history import RunHistoryModel

        self.history_model = RunHistoryModel(self._tz)
        self.history_view = make_table(self.history_model, stretch=5)  # devices: the longest
        self.history_view.setObjectName("runHistory")
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.history_view)
        detail = QWidget()
        dl = QVBoxLayout(detail)
        dl.setContentsMargins(0, 0, 0, 0)
        dh = QHBoxLayout()
        self.h_title = QLabel("Choose a run to see its steps and measurements.")
        self.h_title.setWordWrap(True)
        self.h_verdict = QLabel()
        self.h_verdict.setVisible(False)
        self.h_live = QPushButton("Show on Live")
        self.h_live.setEnabled(False)
        dh.addWidget(self.h_title, 1)
        dh.addWidget(self.h_verdict)
        dh.addWidget(self.h_live)
        dl.addLayout(dh)
        dsplit = QSplitter(Qt.Orientation.Horizontal)
        self.h_steps_model = StepsModel()
        self.h_steps_view = make_table(self.h_steps_model, stretch=5)
        self.h_meas_model = MeasurementsModel()
        self.h_meas_view = make_table(self.h_meas_model, stretch=3)
        dsplit.addWidget(self.h_steps_view)
        dsplit.addWidget(self.h_meas_view)
        dsplit.setSizes([500, 600])
        dl.addWidget(dsplit, 1)
        split.addWidget(detail)
        split.setSizes([300, 300])
        layout.addWidget(split, 1)

        for box in (self.f_org, self.f_bench, self.f_plan, self.f_verdict):
            box.currentIndexChanged.connect(self.refresh_history)
        self.f_device.returnPressed.connect(self.refresh_history)
        refresh.clicked.connect(self.refresh_history)
        self.history_view.selectionModel().currentRowChanged.connect(self._history_selected)
        self.h_steps_view.selectionModel().currentRowChanged.connect(self._history_step_selected)
        self.h_live.clicked.connect(self._show_history_on_live)
        self._history_record: Any = None
        return tab

    # --- wiring to the core --------------------------------------------------------------------
    def attach(self, service: Any) -> None:
        """Use `service` (:class:`app.services.runs.service.RunsService`) for plans and runs."""
        self.service = service
        if service.principal.is_participant:
            # A participant reads its own runs; starting one is for lab staff.
            self.tabs.setTabVisible(0, False)
            self.tabs.setCurrentIndex(1)
            self.f_org.setVisible(False)
        self.reload()

    def follow(self, source: RunBridge) -> None:
        """Follow the runs another page starts (a participant session watching the staff
        window's runs): those the service may show appear in the Run tab as they go, and their
        questions, from the service's shared prompt queue, are answered here."""
        assert self.service is not None
        self._following = True
        self.run_form.setVisible(False)
        self.abort_button.setVisible(False)
        self.live_button.setVisible(False)
        self.prompt_panel.heading = "Your check"
        self.tabs.setTabVisible(0, True)
        self.tabs.setTabText(0, "Your run")
        self.run_title.setText("No run of yours is going on now. When staff start one on your "
                               "bench, it is followed here, and its questions are yours to "
                               "answer.")
        self._sources = [
            (source.sig_run_started, self._followed_started),
            (source.sig_step_started, self._followed_step_started),
            (source.sig_measurement, self._followed_measurement),
            (source.sig_step_finished, self._followed_step_finished),
            (source.sig_run_finished, self._followed_run_finished),
        ]
        for signal, slot in self._sources:
            signal.connect(slot)
        self.board = PromptBoardBridge(self)
        self.board.sig_asked.connect(self._board_asked)
        self.board.sig_settled.connect(self._board_settled)
        self._stop_listening = self.service.prompts.listen(self.board)
        self._next_board_prompt()
        self.tabs.setCurrentIndex(0)

    def detach(self) -> None:
        """Stop following (the participant session ends)."""
        for signal, slot in getattr(self, "_sources", []):
            try:
                signal.disconnect(slot)
            except (RuntimeError, TypeError):
                pass
        self._sources = []
        stop = getattr(self, "_stop_listening", None)
        if stop is not None:
            stop()
            self._stop_listening = None

    # --- following another page's runs ----------------------------------------------------------
    def _adopt(self, run_id: int) -> bool:
        """Whether `run_id` is the followed run, adopting it if nothing is followed yet and the
        service may show it."""
        if self.handle is not None:
            return self.run_id == run_id
        if self.service is None or run_id <= 0:
            return False
        record = self.service.get(run_id)
        if record is None:
            return False
        self.handle, self.run_id = FollowedRun(run_id), run_id
        plan = self.plans.get(record.plan_name)
        rows = self._rows_of(plan) if plan is not None else []
        self.steps_model.set_rows(rows)
        self.meas_model.set_rows([])
        self.progress.setRange(0, max(len(rows), 1))
        self.progress.setValue(0)
        self.run_title.setText(f"Run {run_id}: {record.plan_name} {record.plan_version} on "
                               f"{record.bench}")
        self.verdict_label.setText("RUNNING")
        self.verdict_label.setStyleSheet(_verdict_css("RUNNING"))
        self.verdict_label.setVisible(True)
        self.run_status.setText("Under way")
        self._run_window = [record.started, None]
        return True

    def _followed_started(self, run_id: int, start: RunStart) -> None:
        if self.handle is not None and self.run_id != run_id and \
                isinstance(self.handle, FollowedRun) and self.service.get(run_id) is not None:
            self.handle = None  # a new run of ours replaces the one that ended
        if self._adopt(run_id):
            self._on_run_started(run_id, start)

    def _followed_step_started(self, run_id: int, index: int, name: str, kind: str,
                               teardown: bool) -> None:
        if self._adopt(run_id):
            self._on_step_started(run_id, index, name, kind, teardown)

    def _followed_measurement(self, run_id: int, index: int, result: Any) -> None:
        if self._adopt(run_id):
            self._on_measurement(run_id, index, result)

    def _followed_step_finished(self, run_id: int, result: Any) -> None:
        if self._adopt(run_id):
            self._on_step_finished(run_id, result)

    def _followed_run_finished(self, result: RunResult) -> None:
        if self.handle is not None and self.run_id == result.run_id:
            self._on_run_finished(result)
            self._next_board_prompt()

    def _board_asked(self, request: PromptRequest) -> None:
        if self.prompt_panel.request is None:
            self._next_board_prompt()

    def _board_settled(self, request: PromptRequest) -> None:
        if self.prompt_panel.request == request:
            self.prompt_panel.withdraw()
            self._next_board_prompt()

    def _next_board_prompt(self) -> None:
        """Show the oldest question this principal may answer, if none is shown."""
        if self.service is None or self.prompt_panel.request is not None:
            return
        for request in self.service.pending_prompts():
            self._adopt(request.run_id)
            self.prompt_panel.ask(request)
            self.tabs.setCurrentIndex(0)
            self.sig_question.emit()
            return

    def shutdown(self, timeout_s: float = 30.0) -> None:
        """Closing: abort a run in progress and wait for its teardown (the bench's supply is
        restored before the application goes), then write what the recorder holds."""
        handle, self.handle = self.handle, None
        if handle is not None:
            handle.abort()
            try:
                handle.result(timeout=timeout_s)
            except Exception:
                log.exception("the run did not end within %s s of the abort", timeout_s)
        if self.service is not None:
            self.service.close()

    def reload(self) -> None:
        """Plans, benches and filters from the service (after attach, or after a change)."""
        if self.service is None:
            return
        current = self.plan_box.currentData()
        self.plan_box.blockSignals(True)
        self.plan_box.clear()
        self.plans = {}
        for entry in self.service.plans():
            if entry.plan is None:
                continue
            self.plans[entry.name] = entry.plan
            self.plan_box.addItem(f"{entry.name} ({entry.plan.version})", entry.name)
        self.plan_box.blockSignals(False)
        wanted = current or DEFAULT_PLAN
        if self.plan_box.findData(wanted) >= 0:
            self.plan_box.setCurrentIndex(self.plan_box.findData(wanted))
        self._plan_chosen()
        benches = self.service.benches()
        self.bench_box.blockSignals(True)
        self.bench_box.clear()
        self.bench_box.addItems(benches)
        self.bench_box.blockSignals(False)
        self._bench_chosen()
        self._fill_filters(benches)
        self.refresh_history()
        self._set_running(self.handle is not None)

    def _fill_filters(self, benches: list[str]) -> None:
        for box, items in ((self.f_org, self.service.organisations()),
                           (self.f_bench, [(b, b) for b in benches]),
                           (self.f_plan, [(n, n) for n in self.plans])):
            box.blockSignals(True)
            box.clear()
            box.addItem(ANY, None)
            for key, text in items:
                box.addItem(text, key)
            box.blockSignals(False)

    def _plan_chosen(self) -> None:
        plan = self.plans.get(self.plan_box.currentData())
        self.plan_about.setText(plan.description if plan else "")
        self.params.set_plan(plan)
        if self.handle is None and plan is not None:  # a preview of what the run will do
            self.steps_model.set_rows(self._rows_of(plan))
            self.meas_model.set_rows([])
            self.progress.setRange(0, max(1, len(self.steps_model.rows)))
            self.progress.setValue(0)
            self.run_title.setText(f"{plan.name} {plan.version}: {len(plan.steps)} steps, "
                                   f"{len(plan.teardown)} teardown")
            self.verdict_label.setVisible(False)
            self.run_status.setText("Choose the bench and parameters, then Start run "
                                    "(Ctrl+Return).")
            self.live_button.setEnabled(False)

    @staticmethod
    def _rows_of(plan: Plan) -> list[StepRow]:
        rows = [StepRow(i, s.name, s.kind) for i, s in enumerate(plan.steps)]
        return rows + [StepRow(len(plan.steps) + i, s.name, s.kind, teardown=True)
                       for i, s in enumerate(plan.teardown)]

    def _bench_chosen(self) -> None:
        self.booking_box.clear()
        bench = self.bench_box.currentText()
        if self.service is None or not bench:
            return
        self.booking_box.addItem("No booking", None)
        default = self.service.default_booking(bench)
        for booking_id, text in self.service.booking_choices(bench):
            self.booking_box.addItem(text, booking_id)
            if booking_id == default:
                self.booking_box.setCurrentIndex(self.booking_box.count() - 1)
        self.bench_note.setText(self.service.bench_note(bench))
        emulated = self.service.is_emulated(bench)
        self.faults_label.setVisible(emulated)
        self.faults_edit.setVisible(emulated)
        if not emulated:
            self.faults_edit.clear()

    def _set_running(self, running: bool) -> None:
        can_start = self.service is not None and self.service.can_run()
        self.start_button.setEnabled(not running and can_start and bool(self.plans))
        for w in (self.plan_box, self.bench_box, self.booking_box, self.params,
                  self.faults_edit):
            w.setEnabled(not running)
        self.abort_button.setEnabled(running)
        if self.service is None:
            self.form_error.setText("Device I/O is not running, so no run can start. Stored "
                                    "runs are under History.")
        elif not can_start:
            self.form_error.setText(self.service.why_not_run())
        elif self.form_error.text() == self.service.why_not_run() or \
                self.form_error.text().startswith("Device I/O is not running"):
            self.form_error.setText("")

    # --- a run ---------------------------------------------------------------------------------
    def start_run(self) -> None:
        if self.service is None or self.handle is not None or not self.start_button.isEnabled():
            return
        name = self.plan_box.currentData()
        plan = self.plans.get(name)
        if plan is None:
            self.form_error.setText("Choose a plan.")
            return
        self.form_error.setText("")
        self.run_id = 0
        self._unstored_before = self.service.recorder.unstored
        try:
            self.handle = self.service.start(
                plan=name, bench=self.bench_box.currentText(),
                booking_id=self.booking_box.currentData(), parameters=self.params.values(),
                observer=self.bridge, prompt_ui=True,
                faults=tuple(f.strip() for f in self.faults_edit.text().split(",") if f.strip()))
        except (ValidationError, NotFoundError) as exc:
            self.form_error.setText(exc.message)
            return
        except RuleRefusal as exc:
            self.form_error.setText(str(exc))
            return
        except Exception as exc:  # a bench that cannot start a run: said, not a crash
            log.exception("run did not start")
            self.form_error.setText(f"The run could not start: {exc}")
            return
        rows = self._rows_of(plan)
        self.steps_model.set_rows(rows)
        self.meas_model.set_rows([])
        self.progress.setRange(0, len(rows))
        self.progress.setValue(0)
        self.run_title.setText(f"{plan.name} {plan.version} on {self.bench_box.currentText()}")
        self.verdict_label.setText("RUNNING")
        self.verdict_label.setStyleSheet(_verdict_css("RUNNING"))
        self.verdict_label.setVisible(True)
        self.run_status.setText("Starting…")
        self._run_window: list[datetime | None] = [self.ctx.clock.now(), None]
        self.live_button.setEnabled(True)
        self._set_running(True)

    def abort_run(self) -> None:
        if self.handle is None:
            return
        self.handle.abort()
        self.abort_button.setEnabled(False)
        self.run_status.setText("Aborting: the current step stops and the teardown runs…")

    def _mine(self, run_id: int) -> bool:
        return self.handle is not None and (self.run_id in (0, run_id))

    def _on_run_started(self, run_id: int, start: RunStart) -> None:
        if self.handle is None:
            return
        self.run_id = run_id
        emulated = " (emulated bench" + (f", faults: {', '.join(start.faults)})"
                                          if start.faults else ")") if start.emulated else ""
        self.run_title.setText(f"Run {run_id}: {start.plan_name} {start.plan_version} on "
                               f"{start.bench}{emulated}")
        self._run_window[0] = start.started

    def _on_step_started(self, run_id: int, index: int, name: str, kind: str,
                         teardown: bool) -> None:
        if not self._mine(run_id):
            return
        i = self.steps_model.row_of(index)
        if i is None:  # a step the plan does not list: the executor's own supply restore
            rows = [*self.steps_model.rows, StepRow(index, name, kind, teardown=teardown)]
            self.steps_model.set_rows(rows)
            self.progress.setMaximum(len(rows))
            i = len(rows) - 1
        row = self.steps_model.rows[i]
        row.status, row.started = "RUNNING", self.ctx.clock.now()
        row.measurements = []
        self.steps_model.changed(index)
        self.steps_view.selectRow(i)
        self.meas_title.setText(f"Measurements of step {index + 1}: {name}")
        self.meas_model.set_rows([])
        what = "Teardown" if teardown else "Step"
        self.run_status.setText(f"{what} {index + 1} of {len(self.steps_model.rows)}: {name} "
                                f"({kind})")

    def _on_measurement(self, run_id: int, index: int, result: Any) -> None:
        if not self._mine(run_id):
            return
        i = self.steps_model.row_of(index)
        if i is None:
            return
        self.steps_model.rows[i].measurements.append(result)
        if self.steps_view.currentIndex().row() == i:
            self.meas_model.append(result)

    def _on_prompt(self, request: PromptRequest) -> None:
        if self._mine(request.run_id):
            self.prompt_panel.ask(request)

    def _on_answered(self, request: PromptRequest, answer: PromptAnswer) -> None:
        if self.service is None or (self.handle is None and not self._following):
            return
        try:
            taken = self.service.answer(self.handle, request, answer)
        except RuleRefusal as exc:
            self.run_status.setText(str(exc))
            return
        if not taken:
            self.run_status.setText("That question no longer waits: it was answered elsewhere, "
                                    "its time ran out, or the run was stopped.")
        if self._following:
            self._next_board_prompt()

    def _on_step_finished(self, run_id: int, result: Any) -> None:
        if not self._mine(run_id):
            return
        i = self.steps_model.row_of(result.index)
        if i is None:
            return
        row = self.steps_model.rows[i]
        row.status = result.outcome.value
        row.started, row.ended = result.started or row.started, result.ended
        row.message, row.answer = result.message, result.answer
        row.measurements = list(result.measurements)
        self.steps_model.changed(result.index)
        if self.prompt_panel.request is not None and \
                self.prompt_panel.request.step_index == result.index:
            self.prompt_panel.withdraw()
        if self.steps_view.currentIndex().row() == i:
            self.meas_model.set_rows(row.measurements)
        self.progress.setValue(sum(1 for r in self.steps_model.rows
                                   if r.status not in ("WAITING", "RUNNING")))

    def _on_run_finished(self, result: RunResult) -> None:
        if not self._mine(result.run_id):
            return
        self.handle = None
        self.prompt_panel.withdraw()
        verdict = result.verdict.value
        self.verdict_label.setText(verdict)
        self.verdict_label.setStyleSheet(_verdict_css(verdict))
        for row in self.steps_model.rows:  # steps the executor never reached
            if row.status in ("WAITING", "RUNNING"):
                row.status = "SKIPPED"
        self.steps_model.layoutChanged.emit()
        self.progress.setValue(self.progress.maximum())
        failed = [r for r in self.steps_model.rows if r.status in ("FAIL", "ERROR", "ABORTED")]
        summary = f"Run {result.run_id} ended {verdict}."
        if failed:
            first = failed[0]
            why = first.message or ", ".join(
                f"{getattr(m, 'name', '')} {format_value(getattr(m, 'value', None))}"
                for m in first.measurements
                if getattr(getattr(m, 'outcome', None), 'value', '') in ("FAIL", "UNSET"))
            summary += f" Step {first.index + 1} ({first.name}): {why}"
        if result.message:
            summary += f" {result.message}"
        lost = 0
        if self.service is not None:
            # The result's last writes are queued: wait a moment for them (milliseconds
            # normally), so a database that refused them is said now, not never.
            self.service.recorder.flush(1.0)
            lost = self.service.recorder.unstored - self._unstored_before
        if lost or not result.run_id:
            why = self.service.recorder.last_error if self.service is not None else ""
            summary += (f" {lost} of its results could not be stored in the database"
                        f"{f' ({why})' if why else ''}: what is shown here is the only copy.")
            self.env.errors.report(summary, "Runs")
        self.run_status.setText(summary)
        self._run_window[1] = result.ended
        if failed:
            self.steps_view.selectRow(self.steps_model.row_of(failed[0].index) or 0)
        self.env.show_status(summary)
        self._set_running(False)
        self.refresh_history()

    def _step_selected(self, current: Any, _previous: Any = None) -> None:
        if not current.isValid():
            return
        row = self.steps_model.rows[current.row()]
        self.meas_title.setText(f"Measurements of step {row.index + 1}: {row.name}")
        self.meas_model.set_rows(row.measurements)

    def _show_current_on_live(self) -> None:
        start, end = self._run_window
        if start is not None:
            self.sig_show_on_live.emit(start, end)

    # --- history -------------------------------------------------------------------------------
    def refresh_history(self) -> None:
        if self.service is None:
            return
        try:
            rows = self.service.history(
                org_id=self.f_org.currentData(), bench=self.f_bench.currentData(),
                device=self.f_device.text().strip() or None, plan=self.f_plan.currentData(),
                verdict=None if self.f_verdict.currentText() == ANY else
                self.f_verdict.currentText())
        except Exception as exc:
            log.exception("run history")
            self.env.errors.report(f"The run history could not be read ({exc}).", "Runs")
            return
        selected = self._history_record.id if self._history_record is not None else None
        self.history_model.set_rows(rows)
        if selected is not None:
            for i, r in enumerate(rows):
                if r.id == selected:
                    self.history_view.selectRow(i)

    def _history_selected(self, current: Any, _previous: Any = None) -> None:
        if not current.isValid() or self.service is None:
            return
        summary = self.history_model.rows[current.row()]
        record = self.service.get(summary.id)
        self._history_record = record
        if record is None:
            return
        self.h_title.setText(self.history_model.describe(record))
        self.h_verdict.setText(record.verdict or "RUNNING")
        self.h_verdict.setStyleSheet(_verdict_css(record.verdict or "RUNNING"))
        self.h_verdict.setVisible(True)
        self.h_live.setEnabled(True)
        rows = []
        for s in record.steps:
            rows.append(StepRow(s.index, s.name, s.kind, s.teardown, s.outcome.value, s.started,
                                s.ended, s.message, s.answer, list(s.measurements)))
        self.h_steps_model.set_rows(rows)
        self.h_meas_model.set_rows([])
        if rows:
            bad = next((i for i, r in enumerate(rows)
                        if r.status in ("FAIL", "ERROR", "ABORTED")), 0)
            self.h_steps_view.selectRow(bad)

    def selected_run_id(self) -> int | None:
        """The run selected in the history, if any."""
        return self._history_record.id if self._history_record is not None else None

    def _history_step_selected(self, current: Any, _previous: Any = None) -> None:
        if current.isValid():
            self.h_meas_model.set_rows(self.h_steps_model.rows[current.row()].measurements)

    def _show_history_on_live(self) -> None:
        record = self._history_record
        if record is not None:
            self.sig_show_on_live.emit(record.started, record.ended)
