"""The pages the main window offers, by name. A new page is one more entry in PAGES."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget

from app.domain.principals import Action, Principal
from app.main import AppContext
from ui.errors import ErrorReporter


class LabSelection(QObject):
    """The lab the workstation is looking at; pages follow it and the status bar shows it."""

    sig_lab_changed = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._name = ""

    @property
    def name(self) -> str:
        return self._name

    def set_name(self, name: str) -> None:
        if name != self._name:
            self._name = name
            self.sig_lab_changed.emit(name)


@dataclass(frozen=True)
class PageEnv:
    """What a page is given when it is built."""

    ctx: AppContext
    errors: ErrorReporter
    selection: LabSelection
    show_status: Callable[[str], None]


PageFactory = Callable[[PageEnv], QWidget]


@dataclass(frozen=True)
class PageSpec:
    """One entry of the navigation.

    Attributes:
        name: the name used by ``--page`` (lower case).
        title: what the navigation shows.
        summary: what the page holds, shown while it is not available yet.
        factory: builds the page; None while the section is not built.
        visible_to: who is offered the page (None: everyone the window is built for).
    """

    name: str
    title: str
    summary: str
    factory: PageFactory | None = None
    visible_to: Callable[[Principal], bool] | None = None

    def visible(self, principal: Principal) -> bool:
        return self.visible_to is None or self.visible_to(principal)


def _bookings(env: PageEnv) -> QWidget:
    from ui.pages.bookings import BookingsPage

    return BookingsPage(env)


def _devices(env: PageEnv) -> QWidget:
    from ui.pages.devices import DevicesPage

    return DevicesPage(env)


def _live(env: PageEnv) -> QWidget:
    from ui.pages.live import LivePage

    return LivePage(env)


def _runs(env: PageEnv) -> QWidget:
    from ui.pages.runs import RunsPage

    return RunsPage(env)


def _reports(env: PageEnv) -> QWidget:
    from ui.pages.reports import ReportsPage

    return ReportsPage(env)


def _induction(env: PageEnv) -> QWidget:
    from ui.pages.induction import InductionPage

    return InductionPage(env)


def _audit(env: PageEnv) -> QWidget:
    from ui.pages.audit import AuditPage

    return AuditPage(env)


def _may_read_audit(principal: Principal) -> bool:
    return principal.may(Action.AUDIT)


PAGES: tuple[PageSpec, ...] = (
    PageSpec("bookings", "Bookings",
             "Lab space bookings by week, the booking list, participants and inductions.",
             _bookings),
    PageSpec("devices", "Devices",
             "The lab's meters, comms hubs, IHDs and relay boards: connect over the optical "
             "port, serial or Bluetooth and see each device's state.", _devices),
    PageSpec("live", "Live",
             "Alerts and outages as they happen: a timeline of GBCS alerts, N28/N29 events and "
             "line profiles from the devices on the benches.", _live),
    PageSpec("runs", "Runs",
             "Test runs: run a plan on a bench, answer its prompts, and the stored results with "
             "their measurements against their limits.", _runs),
    PageSpec("reports", "Reports",
             "Sealed reports of test runs for participants (PDF, HTML, CSV, JSON), an "
             "organisation's completion report, and checking a report's seal.", _reports),
    PageSpec("induction", "Induction",
             "The lab induction with a participant at the workstation: the lab's rules, safety, "
             "confidentiality and this visit, each with a question, then both signatures.",
             _induction),
    PageSpec("audit", "Audit",
             "The audit trail: who changed what, when and why, filtered by kind, actor and time.",
             _audit, visible_to=_may_read_audit),
)


def page_names(pages: tuple[PageSpec, ...] = PAGES) -> list[str]:
    return [p.name for p in pages]


def pages_for(principal: Principal, pages: tuple[PageSpec, ...] = PAGES) -> tuple[PageSpec, ...]:
    """The pages `principal` is offered, in navigation order."""
    return tuple(p for p in pages if p.visible(principal))
