"""The Live page: alerts and outages as they happen, alert rate, readings, the alert table.

Data reaches the page only through timers: the plots pull ring-buffer snapshots at 60 Hz, the
status line and notifications are checked a few times a second, the alert table queries the
database once a second. The device runtime is attached after start-up (:meth:`LivePage.attach`);
without one the page shows stored alerts and can replay capture files.
"""

from __future__ import annotations

import html
import sqlite3
import time
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QHideEvent, QShowEvent
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QProgressBar,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.services.ingest import IngestStats
from app.services.live import LiveData
from app.services.live_alerts import AlertQuery
from app.services.live_outages import OutageSnapshot, PageOutages
from app.services.live_replay import CaptureReplay, ReplayState, find_capture
from app.services.live_scope import LiveScope, ScopedLiveFeed, participant_scope
from app.services.live_view import (
    RANGE_PRESETS,
    CriticalNotifier,
    ViewMode,
)
from app.services.runtime import DeviceRuntime
from app.storage.db import default_profile_dir
from app.storage.devices import DeviceRepo
from ui.pages.registry import PageEnv
from ui.widgets.alert_table import AlertTablePanel
from ui.widgets.live_plots import LivePlots, LiveSource
from ui.widgets.live_status import StatusLine, TrayNotifier, status_html

#: Display timer: the plots redraw at up to this rate.
FRAME_MS = 16
#: The alert table's query period.
TABLE_MS = 1000
#: Status line and notifications are looked at every this many frames.
STATUS_EVERY = 8
PROTOCOL_CHOICES = ("profile:emulator", "gbcs-hex", "iec62056-21", "profile:relay")


class LivePage(QWidget):
    """Live timeline, plots and alert table; follows an attached runtime or a replay."""

    def __init__(self, env: PageEnv, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.env = env
        self.ctx = env.ctx
        # A participant sees the devices of the benches its bookings hold, and their alerts
        # only, from the start of those bookings.
        self._scope = env.ctx.principal.org_scope()
        self.watch: LiveScope | None = None
        self.feed: ScopedLiveFeed | None = None
        if self._scope is not None:
            self.watch = participant_scope(env.ctx.lab_source, env.ctx.clock, self._scope)
            self.devices = list(self.watch.devices)
        else:
            self.devices = env.ctx.as_bench_store_knows(
                DeviceRepo(env.ctx.lab_source, env.ctx.clock).list())
        self.runtime: DeviceRuntime | None = None
        self.replay: CaptureReplay | None = None
        self.stats: IngestStats | None = None
        self.notifier = CriticalNotifier()
        self.tray = TrayNotifier(self)
        idle = LiveData(alert_capacity=1000)
        idle.set_devices(self.devices)  # their lanes, for the stored outages' spans
        self._live_source = self._source_for(idle, self._page_outages(None), "Live")

        self.plots = LivePlots(self._live_source)
        only = tuple(d.label for d in self.devices) if self._scope is not None else None
        not_before = self.watch.since if self.watch is not None else None
        if self.watch is not None and not_before is None:
            only = ()  # no booking holds a bench now: nothing to show
        self.alerts = AlertTablePanel(AlertQuery(env.ctx.db.conn, self.devices, only=only,
                                                 not_before=not_before,
                                                 principal=env.ctx.principal),
                                      env.ctx.actor,
                                      env.ctx.clock.now, self.plots.view_range)
        self.alerts.set_devices([d.label for d in self.devices])
        if self._scope is not None:  # acknowledging alerts is for lab staff
            self.alerts.note.setVisible(False)
            self.alerts.ack_button.setVisible(False)

        self.follow_button = QPushButton("Follow now")
        self.follow_button.setToolTip("Keep the newest data in view (leaves pause and zoom)")
        self.pause_button = QPushButton("Pause")
        self.pause_button.setCheckable(True)
        self.pause_button.setToolTip("Freeze the view; capture and storage carry on")
        self.preset_group = QButtonGroup(self)
        presets = QHBoxLayout()
        presets.setSpacing(2)
        for label in RANGE_PRESETS:
            b = QPushButton(label)
            b.setCheckable(True)
            b.setFixedWidth(52)
            self.preset_group.addButton(b)
            presets.addWidget(b)
            if label == "5 min":
                b.setChecked(True)
        self.open_button = QPushButton("Open capture…")
        self.open_button.setToolTip("Replay a stored capture file through the current codecs")
        self.back_button = QPushButton("Back to live")
        self.back_button.setVisible(False)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setFixedWidth(140)
        self.progress.setVisible(False)
        self.notify_box = QCheckBox("Notify critical alerts")
        self.notify_box.setChecked(True)
        self.notify_box.setToolTip("Desktop notification for critical alerts (at most one every "
                                   f"{self.notifier.min_interval_s:g} s)")
        self.hint = QLabel("Drag to pan, wheel to zoom; hover a marker for its details.")
        self.hint.setStyleSheet("color: #7a7a7a;")

        bar = QHBoxLayout()
        for w in (self.follow_button, self.pause_button):
            bar.addWidget(w)
        bar.addSpacing(8)
        bar.addLayout(presets)
        bar.addSpacing(8)
        for w in (self.open_button, self.back_button, self.progress):
            bar.addWidget(w)
        bar.addStretch(1)
        bar.addWidget(self.hint)
        bar.addWidget(self.notify_box)
        # Capture files on this workstation hold whole benches of every participant.
        self.open_button.setVisible(self._scope is None)

        self.status = StatusLine()
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.plots)
        splitter.addWidget(self.alerts)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([600, 690])  # at 1440 px every column of the alert table in view
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(self.status)
        layout.addWidget(splitter, 1)

        self.follow_button.clicked.connect(self.follow)
        self.pause_button.toggled.connect(self.set_paused)
        self.preset_group.buttonClicked.connect(lambda b: self.set_preset(b.text()))
        self.open_button.clicked.connect(self.open_capture)
        self.back_button.clicked.connect(self.back_to_live)
        self.notify_box.toggled.connect(self._notify_toggled)

        self._frame = 0
        self._detached = False
        # The timers run only while the page is shown (see showEvent/hideEvent).
        self.timer = QTimer(self)
        self.timer.setInterval(FRAME_MS)
        self.timer.timeout.connect(self._tick)
        self.table_timer = QTimer(self)
        self.table_timer.setInterval(TABLE_MS)
        self.table_timer.timeout.connect(self._refresh_table)
        self._update_status()

    # --- sources -------------------------------------------------------------------------------
    def _source_for(self, live: LiveData, outages, name: str) -> LiveSource:
        return LiveSource(live, outages, self.devices,
                          now_s=lambda: self.ctx.clock.now().timestamp(), name=name)

    def _page_outages(self, live: OutageSnapshot | None) -> PageOutages:
        """The stored outages with the running tracker's over them; a participant's page
        only those of its benches since its booking's start."""
        watch = self.watch
        if watch is None:
            return PageOutages(self.ctx.db.conn, self.ctx.clock.now(), live)
        return PageOutages(self.ctx.db.conn, self.ctx.clock.now(), live, watch.shows_outage)

    def attach(self, runtime: DeviceRuntime) -> None:
        """Show the running devices (called once the device runtime has started)."""
        self.runtime = runtime
        self.stats = runtime.events.stats
        if self._scope is not None:
            self.stats = None  # the lab's ingest figures are the lab's
            # The runtime serves the whole lab: a participant's page keeps its own buffers of
            # its benches' devices, fed through the scope's filter, and leaves the lab's alone.
            self.watch = participant_scope(self.ctx.lab_source, self.ctx.clock, self._scope)
            self.devices = list(self.watch.devices)
            self.alerts.query.set_devices(self.devices)
            self.alerts.set_devices([d.label for d in self.devices])
            if self.feed is not None:
                self.feed.close()
            self.feed = ScopedLiveFeed(runtime.events.add_batch_listener,
                                       runtime.events.remove_batch_listener,
                                       runtime.outages.snapshot, self.watch)
            self._live_source = self._source_for(self.feed.live,
                                                 self._page_outages(self.feed.outages), "Live")
            if self.replay is None:
                self.plots.set_source(self._live_source)
            self._update_status()
            return
        self.devices = self.ctx.as_bench_store_knows(
            DeviceRepo(self.ctx.lab_source, self.ctx.clock).list())
        self.alerts.query.set_devices(self.devices)
        self.alerts.set_devices([d.label for d in self.devices])
        runtime.live.set_devices(self.devices)
        self._live_source = self._source_for(runtime.live,
                                             self._page_outages(runtime.outages.snapshot), "Live")
        if self.replay is None:
            self.plots.set_source(self._live_source)
        self._update_status()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._detached:
            self.timer.start()
            self.table_timer.start()
            self._refresh_table()

    def hideEvent(self, event: QHideEvent) -> None:
        # A hidden page draws nothing, queries nothing and asks for no snapshots.
        super().hideEvent(event)
        self.timer.stop()
        self.table_timer.stop()

    def detach(self) -> None:
        """Stop drawing (the runtime is stopping or the page is going away)."""
        self._detached = True
        if self.feed is not None:
            self.feed.close()
        self.timer.stop()
        self.table_timer.stop()
        self.plots.stop()
        if self.replay is not None:
            self.replay.stop()

    # --- view controls -------------------------------------------------------------------------
    def follow(self) -> None:
        self.pause_button.setChecked(False)
        self.plots.follow()

    def set_paused(self, paused: bool) -> None:
        """Freeze or release the view; capture is never paused."""
        if self.pause_button.isChecked() != paused:
            self.pause_button.setChecked(paused)  # comes back here through the signal
            return
        self.plots.set_paused(paused)

    def set_preset(self, label: str) -> None:
        for b in self.preset_group.buttons():
            b.setChecked(b.text() == label)
        self.plots.set_preset(label)

    def show_window(self, start: datetime, end: datetime | None) -> None:
        """Show the span from `start` to `end` (now while it is still open): a run's window."""
        self.pause_button.setChecked(False)
        until = end if end is not None else self.ctx.clock.now()
        self.plots.show_window(start.timestamp(), until.timestamp())

    @property
    def paused(self) -> bool:
        return self.plots.state.mode is ViewMode.PAUSED

    # --- replay --------------------------------------------------------------------------------
    def open_capture(self) -> None:
        """Ask for a capture file (and its protocol when the database does not know it)."""
        start_dir = str(Path(self.ctx.db_path).parent / "captures")
        path, _ = QFileDialog.getOpenFileName(self, "Open capture file", start_dir,
                                              "Capture files (*.bin);;All files (*)")
        if not path:
            return
        info = find_capture(self.ctx.db.conn, Path(path))
        protocol = info.protocol if info and info.protocol else ""
        if not protocol:
            protocol, ok = QInputDialog.getItem(
                self, "Protocol", f"{Path(path).name} is not in this database's capture "
                "sessions. Decode it as:", list(PROTOCOL_CHOICES), 0, True)
            if not ok or not protocol:
                return
        self.start_replay(Path(path), protocol)

    def start_replay(self, path: Path, protocol: str = "", device: str = "") -> CaptureReplay | None:
        """Play `path` through the codec for `protocol` into this page (on a worker thread).

        Protocol and device default from the capture session that wrote the file.
        """
        info = find_capture(self.ctx.db.conn, path)
        protocol = protocol or (info.protocol if info else "")
        device = device or (info.device if info else path.stem)
        try:
            replay = CaptureReplay(path, protocol, device, self.devices,
                                   started=info.started if info else None,
                                   profile_dirs=(default_profile_dir(),),
                                   db_path=Path(self.ctx.db_path) if info else None,
                                   session_id=info.session_id if info else None)
        except (ValueError, OSError) as exc:
            self.env.errors.report(f"The capture cannot be replayed: {exc}", "Live")
            return None
        if self.replay is not None:
            self.replay.stop()
        self.replay = replay
        self.plots.set_source(LiveSource(replay.live, replay.snapshot, self.devices, now_s=None,
                                         name=f"Replay of {path.name} ({protocol}, device times)"))
        self.back_button.setVisible(True)
        self.progress.setVisible(True)
        self.progress.setValue(0)
        replay.start()
        self._update_status()
        return replay

    def back_to_live(self) -> None:
        if self.replay is not None:
            self.replay.stop()
            self.replay = None
        self.back_button.setVisible(False)
        self.progress.setVisible(False)
        self.plots.set_source(self._live_source)
        self._update_status()

    # --- timers --------------------------------------------------------------------------------
    def _refresh_table(self) -> None:
        try:
            self.alerts.refresh()
        except sqlite3.Error as exc:
            self.table_timer.stop()
            self.env.errors.report(f"The alert table cannot be read from the database: {exc}.",
                                   "Live")

    def _tick(self) -> None:
        self.plots.refresh()
        self._frame += 1
        if self._frame % STATUS_EVERY == 0:
            self._update_status()
            self._check_notifications()

    def _update_status(self) -> None:
        source = self.plots.source
        outages = self.plots.outages_in_view()
        extra = ""
        stats = self.stats if self.replay is None else None
        if self.replay is not None:
            r = self.replay
            self.progress.setValue(int(r.progress * 1000))
            extra = f"{r.events:,} events decoded, {r.errors} errors · {r.state.value}"
            if r.state is ReplayState.FAILED:
                extra += f": {r.message}"
            if r.restored is not None:
                extra += f" · {r.restored.restored:,} missing events restored to the database"
            elif r.restore_message:
                extra += f" · <span style='color:#c62828'>{html.escape(r.restore_message)}</span>"
        elif self.runtime is None:
            extra = "device I/O is not running"
        if self.paused:
            extra = (extra + " · " if extra else "") + "view paused (capture continues)"
        self.status.show_status(status_html(source.name, stats, len(outages), extra))

    def _notify_toggled(self, on: bool) -> None:
        self.notifier.enabled = on

    def _check_notifications(self) -> None:
        if self.runtime is None or self.replay is not None:
            return
        snap = self.plots.latest_snapshot()
        if snap is None:
            return
        message = self.notifier.check(snap.alerts, time.monotonic())
        if message:
            self.tray.notify("MeterLab: critical alert", message)
