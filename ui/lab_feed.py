"""The window's side of the lab store's change feed: pages refreshed, reachability shown.

:class:`LabFeed` runs a :class:`app.services.lab_changes.LabChangeWatcher` and hands what it
reports to the GUI thread as signals. :func:`attach_lab_feed` connects it to a main window:
changes committed by another workstation (or another MeterLab process on this one) refresh the
calendar, the booking list and the participants within a few seconds, keeping what the user
selected; while the lab store is unreachable, a red banner across the window says so (and the
booking services refuse changes with the same sentence), until it is back.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from app.main import AppContext
from app.services.lab_changes import LabChangeWatcher, LabStoreState

#: Changes arriving within this many milliseconds are taken as one refresh.
COALESCE_MS = 250


class LabFeed(QObject):
    """A lab change watcher whose reports arrive on the GUI thread.

    Signals:
        sig_changed(frozenset): tables changed (empty: not known), after coalescing.
        sig_state(LabStoreState): the lab store became reachable or unreachable.
    """

    sig_changed = Signal(object)
    sig_state = Signal(object)
    # From the watcher's thread; queued to this object's (the GUI's) thread.
    _sig_raw_change = Signal(object)
    _sig_raw_state = Signal(object)

    def __init__(self, ctx: AppContext, parent: QObject | None = None, *,
                 poll_s: float = 1.0, **options: Any) -> None:
        super().__init__(parent)
        source: Any = ctx.store if ctx.store is not None else ctx.db_path
        self.watcher = LabChangeWatcher(source, self._sig_raw_change.emit,
                                        self._sig_raw_state.emit,
                                        poll_s=poll_s, **options)
        self._pending: set[str] = set()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(COALESCE_MS)
        self._timer.timeout.connect(self._deliver)
        self._sig_raw_change.connect(self._collect)
        self._sig_raw_state.connect(self.sig_state.emit)

    @property
    def state(self) -> LabStoreState | None:
        return self.watcher.state

    def start(self) -> None:
        self.watcher.start()

    def stop(self) -> None:
        self.watcher.stop()
        self._timer.stop()

    def _collect(self, tables: frozenset[str]) -> None:
        self._pending |= tables
        if not self._timer.isActive():
            self._timer.start()

    def _deliver(self) -> None:
        tables, self._pending = frozenset(self._pending), set()
        self.sig_changed.emit(tables)


def attach_lab_feed(window: Any, ctx: AppContext, **options: Any) -> LabFeed:
    """Start a :class:`LabFeed` on `ctx`'s lab store for `window` (a :class:`MainWindow`):
    its state goes to the window's banner, its changes refresh the window's pages. The caller
    stops it (:meth:`LabFeed.stop`) before the context is closed."""
    feed = LabFeed(ctx, window, **options)
    feed.sig_state.connect(window.show_lab_store_state)
    feed.sig_changed.connect(lambda _tables: window.refresh_lab_data())
    window.lab_feed = feed
    feed.start()
    return feed
