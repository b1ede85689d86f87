"""Starting the GUI: QApplication, composition, first-start demo lab, screenshot mode."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from app.cli import (
    EXIT_BAD_INPUT,
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_REFUSED,
    EXIT_STORAGE,
    db_path_of,
)
from app.domain.clock import Clock, FixedClock, OffsetClock
from app.main import AppContext, build_context
from app.services.demo import create_demo_lab
from app.storage.labstore import LAB_STORE_ENV
from ui.pages.registry import PAGES, page_names, pages_for

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from PySide6.QtWidgets import QWidget
    from sqlalchemy.engine import URL

SCREENSHOT_SIZE = (1440, 900)

#: The status bar's note while no staff account exists.
NO_ACCOUNTS_MESSAGE = "No staff accounts yet: this workstation acts as admin"


def _fail(message: str, code: int) -> int:
    sys.stderr.write(f"meterlab: {message}\n")
    sys.stderr.flush()
    return code


def gui_clock(clock: Clock) -> Clock:
    """`--now` gives a clock that stands still; the GUI wants one that starts there and moves."""
    if isinstance(clock, FixedClock):
        return OffsetClock(clock.now())
    return clock


def prepare_context(db_path: Path, clock: Clock, actor: str | None,
                    demo: bool, lab_store_url: str | URL | None = None) -> tuple[AppContext, str]:
    """Open the database (and the lab store on its server, with `lab_store_url`); on first
    start (no labs) create the demo lab unless told not to. A shared lab store never gets the
    demo lab: it is the lab's real data.

    Returns the context and a status-bar message (empty when there is nothing to say).

    Raises:
        DatabaseError: the file cannot be opened or upgraded.
        LabStoreError: the lab store's server does not answer or has another schema.
    """
    ctx = build_context(db_path, clock, actor, lab_store_url=lab_store_url)
    if demo and ctx.labs.count() == 0 and not ctx.shared:
        name = create_demo_lab(ctx.lab_service, ctx.booking_service)
        from app.services.runtime import register_demo_devices
        from app.storage.devices import DeviceRepo

        register_demo_devices(DeviceRepo(ctx.db, clock))
        return ctx, (f"Demo lab created: {name}, with participants, people and a week of "
                     "bookings to try things on.")
    if ctx.labs.count() == 0:
        return ctx, "No labs yet: add one with `meterlab lab add`."
    return ctx, ""


#: Shared libraries Qt's xcb platform plugin needs -> the Debian/Ubuntu package holding each.
_XCB_PACKAGES = {
    "libxcb-cursor.so.0": "libxcb-cursor0", "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0", "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0", "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0", "libxcb-xinerama.so.0": "libxcb-xinerama0",
    "libxcb-xkb.so.1": "libxcb-xkb1", "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxcb-xinput.so.0": "libxcb-xinput0", "libEGL.so.1": "libegl1",
}


def missing_display_library() -> str:
    """A sentence naming the system libraries Qt's X11 platform plugin cannot find, or "".

    Qt aborts the whole process when no platform plugin loads, so on Linux the xcb plugin's
    dependencies are checked first (with ldd) and the missing ones named with their packages.
    """
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return ""
    if not os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return ""
    import subprocess

    import PySide6

    plugin = Path(PySide6.__file__).parent / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    if not plugin.exists():
        return ""
    try:
        out = subprocess.run(["ldd", str(plugin)], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return ""
    missing = list(dict.fromkeys(
        line.split()[0] for line in out.splitlines() if "not found" in line))
    if not missing:
        return ""
    packages = sorted({_XCB_PACKAGES.get(lib, lib) for lib in missing})
    return (f"The desktop cannot open: Qt's X11 plugin needs {', '.join(missing)}. Install them "
            f"(Debian/Ubuntu: sudo apt install {' '.join(packages)}) and start MeterLab again.")


def lab_store_choice(args: argparse.Namespace) -> tuple[URL | None, str]:
    """The lab store the window uses and where that was said: ``--lab-store``, else
    MELAB_LAB_STORE (both checked by the command line, in ``args.lab_store_url``), else the
    setting of File › Lab store…; (None, "") for the workstation's own file.

    Raises:
        ValidationError: the saved setting is not a usable URL (field ``lab_store``).
    """
    from app.cli import parse_lab_store_url
    from ui.database_dialog import SETTINGS_SOURCE
    from ui.settings import saved_lab_store

    given = getattr(args, "lab_store_url", None)
    if given is not None:
        return given, "--lab-store" if getattr(args, "lab_store", None) else LAB_STORE_ENV
    url = parse_lab_store_url(saved_lab_store(), refuse_password=True)
    return url, SETTINGS_SOURCE if url is not None else ""


def run(args: argparse.Namespace, clock: Clock) -> int:
    """Open the main window (or render a screenshot) and return the exit code."""
    page = (getattr(args, "page", None) or "bookings").strip().lower()
    if page not in page_names():
        return _fail(f"--page must be one of {', '.join(page_names())}, not {page!r}.",
                     EXIT_BAD_INPUT)
    screenshot: Path | None = getattr(args, "screenshot", None)
    after_s = float(getattr(args, "after", 0.0) or 0.0)
    if after_s < 0:
        return _fail(f"--after must be 0 seconds or more, not {after_s:g}.", EXIT_BAD_INPUT)
    if screenshot is not None and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    missing = missing_display_library()
    if missing:
        return _fail(missing, EXIT_FAILURE)

    from PySide6.QtWidgets import QApplication

    from ui.qt_messages import silenced_platform_noise

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("MeterLab")
    from ui.icon import app_icon

    app.setWindowIcon(app_icon())  # every window, the lock screen's too
    app.setDesktopFileName("meterlab")  # Wayland matches the window to meterlab.desktop's icon
    db_path, db_given = db_path_of(args), bool(getattr(args, "db", None))
    with silenced_platform_noise():
        while True:
            outcome = _open_window(app, args, clock, page, screenshot, after_s, db_path, db_given)
            if not isinstance(outcome, Path):
                return outcome
            # File › Open database… chose another file (or File › Lab store… another lab
            # store): everything built on the old one is closed (devices stopped, a run aborted
            # with its teardown), then the window opens again on the new file, from its lock
            # screen if it has staff accounts.
            # The same file again (a new lab store, or trying the lab store again) keeps where
            # its captures go.
            if outcome != db_path:
                db_path, db_given = outcome, True


def _open_window(app: Any, args: argparse.Namespace, clock: Clock, page: str,
                 screenshot: Path | None, after_s: float, db_path: Path,
                 db_given: bool) -> int | Path:
    """One main window on the database at `db_path`, until it closes.

    Returns the exit code, or the database to open next (File › Open database…, or the choice
    offered when `db_path` cannot be opened).
    """
    from PySide6.QtCore import QEvent

    from app.domain.errors import ValidationError
    from app.domain.principals import WORKSTATION_ADMIN, Principal
    from app.storage.db import DatabaseError
    from app.storage.labstore import LabStoreError
    from ui.database_dialog import SETTINGS_SOURCE, ask_after_lab_store_error
    from ui.kiosk import add_session_menu
    from ui.lab_feed import attach_lab_feed
    from ui.lock_screen import LockScreen
    from ui.main_window import MainWindow

    try:
        lab_store_url, lab_store_source = lab_store_choice(args)
    except ValidationError as exc:
        return _fail(f"the lab store saved in File › Lab store… cannot be used: {exc.message}",
                     EXIT_BAD_INPUT)
    try:
        ctx, message = prepare_context(db_path, gui_clock(clock), getattr(args, "actor", None),
                                       not getattr(args, "no_demo", False), lab_store_url)
    except LabStoreError as exc:
        if screenshot is not None:
            raise  # nobody to see a dialog: one sentence on stderr and exit 9
        _fail(f"--lab-store: {exc}", EXIT_STORAGE)
        assert lab_store_url is not None
        shown = lab_store_url.render_as_string(hide_password=True)
        if ask_after_lab_store_error(shown, lab_store_source, exc) == "retry":
            return db_path
        return EXIT_STORAGE
    except DatabaseError as exc:
        if screenshot is not None:
            raise  # nobody to see a dialog: one sentence on stderr and exit 9
        _fail(f"--db: {exc}", EXIT_STORAGE)  # for whoever started it from a terminal
        from ui.database_dialog import ask_after_database_error

        other = ask_after_database_error(db_path, exc)
        return other if other is not None else EXIT_STORAGE
    accounts = account_service(ctx)
    with_accounts = accounts is not None and bool(accounts.any_accounts())
    principal: Principal = WORKSTATION_ADMIN
    lock: LockScreen | None = None
    if with_accounts and screenshot is None:
        lock = LockScreen(accounts.verify)
        first = wait_for_login(app, lock)
        if first is None:  # the lock screen was closed: nobody logged in
            lock.deleteLater()
            ctx.close()
            return EXIT_OK
        principal = first
    elif with_accounts:
        # A screenshot has nobody at the lock screen: it acts as the staff account mapped to
        # the OS login, as the command line does (refused when there is none).
        from app.domain.errors import RuleRefusal
        from app.services.accounts import cli_principal

        try:
            principal = cli_principal(ctx.lab_source, ctx.clock)
        except RuleRefusal as exc:
            ctx.close()
            return _fail(str(exc), EXIT_REFUSED)
    if with_accounts:
        ctx.act_as(principal)  # the audit trail names who logged in
    window = MainWindow(ctx, pages_for(principal, PAGES))
    if lab_store_source != SETTINGS_SOURCE:
        window.lab_store_override = lab_store_source
    # Another workstation's changes refresh the pages; an unreachable lab store is shown.
    feed = attach_lab_feed(window, ctx)
    if not with_accounts:
        add_no_accounts_note(window)
    from ui.device_runtime import start_device_runtime

    devices = start_device_runtime(ctx, window.pages, window.errors, db_given=db_given)
    live_page = window.pages.get("live")
    if devices is not None:
        if hasattr(live_page, "attach"):
            live_page.attach(devices.runtime)
        # The demo's scripted outages start once its devices are connected (queued after them).
        devices.bridge.run_for_device("demo outages", devices.runtime.start_demo_outages)
    runs = attach_runs(window, ctx, devices.runtime if devices is not None else None)
    previous_hook = sys.excepthook

    def hook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        # An exception escaping a slot becomes a sentence in the one error dialog, never a crash.
        if isinstance(exc, Exception):
            window.errors.report_exception(exc)
        else:
            previous_hook(kind, exc, tb)

    sys.excepthook = hook
    try:
        window.show_page(page)
        if message:
            window.show_status(message)
        if screenshot is None:
            sessions = Sessions(window, ctx, accounts if with_accounts else None, lock)
            sessions.runtime = devices.runtime if devices is not None else None
            add_session_menu(window, sessions.open_participant_session,
                             sessions.lock if with_accounts else None)
            window.resize(1440, 900)
            window.show()
            code = int(app.exec())
            chosen = window.requested_database
            return chosen if chosen is not None else code
        return _screenshot(window, Path(screenshot), after_s)
    finally:
        feed.stop()
        sys.excepthook = previous_hook
        if hasattr(live_page, "detach"):
            live_page.detach()
        if runs is not None:
            runs.shutdown()
        if devices is not None:
            devices.stop()
        window.close()
        window.deleteLater()
        if lock is not None:  # it checks passwords against this database: not the next one's
            lock.hide()
            lock.deleteLater()
        # Outside an event loop nothing would process the deletion: do it now, so a caller that
        # goes on using the QApplication (tests, scripts) does not keep a dead window around.
        app.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        ctx.close()


def add_no_accounts_note(window: Any) -> None:
    """The lasting note in the status bar while no staff account exists."""
    from PySide6.QtWidgets import QLabel

    note = QLabel("Acting as admin: no staff accounts yet")
    note.setObjectName("noAccounts")
    note.setToolTip(f"{NO_ACCOUNTS_MESSAGE}. Add the first (an admin) with "
                    f"`meterlab staff add`; MeterLab then starts at a lock screen.")
    note.setStyleSheet("QLabel { color: #8a5a00; font-weight: 600; padding: 0 6px; }")
    window.statusBar().insertPermanentWidget(0, note)


def account_service(ctx: AppContext) -> Any:
    """The staff account service, or None in a build without staff accounts."""
    try:
        from app.services.accounts import AccountService
    except ImportError:
        return None
    return AccountService(ctx.lab_source, ctx.clock)


def wait_for_login(app: Any, lock: Any) -> Any:
    """Show the lock screen until a staff member logs in; their principal, or None when the
    lock screen was closed first."""
    from PySide6.QtCore import QEventLoop

    loop = QEventLoop()
    got: list[Any] = []

    def unlocked(principal: Any) -> None:
        got.append(principal)
        loop.quit()

    lock.sig_unlocked.connect(unlocked)
    lock.destroyed.connect(loop.quit)
    closed = app.lastWindowClosed.connect(loop.quit)
    lock.reset()
    lock.showMaximized()
    loop.exec()
    lock.sig_unlocked.disconnect(unlocked)
    app.lastWindowClosed.disconnect(closed)
    lock.hide()
    return got[0] if got else None


class Sessions:
    """Who uses the staff window: locking it, logging in again, participant sessions."""

    def __init__(self, window: Any, ctx: AppContext, accounts: Any, lock: Any) -> None:
        self.window, self.ctx, self.accounts, self.lock_screen = window, ctx, accounts, lock
        self.kiosk: Any = None
        #: the device runtime, when device I/O is running (a participant session's Live page)
        self.runtime: Any = None
        if lock is not None:
            lock.sig_unlocked.connect(self._unlocked)

    def lock(self) -> None:
        """Hide the staff window behind the lock screen."""
        if self.lock_screen is None:
            return
        self.window.hide()
        self.lock_screen.reset()
        self.lock_screen.showMaximized()

    def _unlocked(self, principal: Any) -> None:
        if self.kiosk is not None:
            return
        self.lock_screen.hide()
        self.ctx.act_as(principal)  # services and the audit trail act for who logged in
        # Pages the new principal is not offered are hidden from the navigation.
        for row, spec in enumerate(self.window.specs):
            self.window.nav.setRowHidden(row, not spec.visible(principal))
        if self.window.nav.isRowHidden(self.window.nav.currentRow()):
            self.window.nav.setCurrentRow(0)
        self.window.show()

    def open_participant_session(self) -> None:
        """Choose a checked-in participant and open their session full screen."""
        from PySide6.QtWidgets import QDialog

        from ui.kiosk import KioskWindow, ParticipantChooser, checked_in_participants

        if self.accounts is None:
            self.window.errors.report(
                "A participant session closes only with a staff password: add a staff account "
                "first (meterlab staff add).", "Participant session")
            return
        chooser = ParticipantChooser(checked_in_participants(self.ctx), self.window)
        try:
            if chooser.exec() != QDialog.DialogCode.Accepted or chooser.chosen() is None:
                return
            person = chooser.chosen()
        finally:
            chooser.deleteLater()
        assert person is not None
        kiosk = KioskWindow(self.ctx, person.principal(), self.accounts.verify,
                            booking=person.booking, person_name=person.name,
                            staff_runs=self.window.pages.get("runs"), runtime=self.runtime)
        kiosk.sig_ended.connect(self._session_ended)
        self.kiosk = kiosk
        self.window.hide()
        kiosk.start()

    def _session_ended(self, reason: str) -> None:
        kiosk, self.kiosk = self.kiosk, None
        if kiosk is not None:
            kiosk.deleteLater()
        if reason == "idle":
            self.lock()
        else:
            self.window.show()


def attach_runs(window: Any, ctx: AppContext, runtime: Any) -> Any:
    """Give the Runs page its service (runs start only with a device runtime; the history is
    there either way) and let it open a run's window on the Live page."""
    from ui.pages.runs import RunsPage
    from ui.runs_service import runs_service

    page = window.pages.get("runs")
    if not isinstance(page, RunsPage):
        return None
    try:
        service = runs_service(ctx, ctx.actor, runtime=runtime)
    except Exception as exc:  # the rest of the application works without runs
        log.exception("the runs service did not start")
        window.errors.report(f"Test runs are not available ({exc}).", "Runs")
        return None
    page.attach(service)
    live = window.pages.get("live")

    def show_on_live(start: Any, end: Any) -> None:
        if hasattr(live, "show_window"):
            window.show_page("live")
            live.show_window(start, end)

    page.sig_show_on_live.connect(show_on_live)
    return page


def _screenshot(window: QWidget, path: Path, after_s: float) -> int:
    """Show the window at a fixed size, let it run `after_s` seconds, then save it as PNG.

    A local event loop (not QApplication.exec/quit) keeps the application usable afterwards for
    callers in the same process, such as tests and the docs screenshot script.
    """
    from PySide6.QtCore import QEventLoop, QTimer

    window.resize(*SCREENSHOT_SIZE)
    window.show()
    loop = QEventLoop()
    result: dict[str, int] = {}

    def grab() -> None:
        image = window.grab()
        path.parent.mkdir(parents=True, exist_ok=True)
        ok = image.save(str(path), "PNG")
        result["code"] = EXIT_OK if ok else _fail(f"--screenshot: could not write {path}.",
                                                  EXIT_FAILURE)
        loop.quit()

    QTimer.singleShot(max(int(after_s * 1000), 50), grab)
    loop.exec()
    return result.get("code", EXIT_FAILURE)
