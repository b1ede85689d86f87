"""Colours and labels shared by the pages: one place so the calendar, list and legend agree."""

from __future__ import annotations

from PySide6.QtGui import QColor

from app.domain.bookings import BookingStatus

#: status -> (fill, text colour, label)
STATUS_STYLE: dict[BookingStatus, tuple[str, str, str]] = {
    BookingStatus.REQUESTED: ("#f6c453", "#3b2a00", "Requested"),
    BookingStatus.SCHEDULED: ("#3d7bd9", "#ffffff", "Scheduled"),
    BookingStatus.CHECKED_IN: ("#2e9e5b", "#ffffff", "Checked in"),
    BookingStatus.COMPLETED: ("#8e9aa6", "#ffffff", "Completed"),
    BookingStatus.CANCELLED: ("#d9d9d9", "#555555", "Cancelled"),
    BookingStatus.REJECTED: ("#e8b4b4", "#5a1a1a", "Rejected"),
    BookingStatus.NO_SHOW: ("#b57b9a", "#ffffff", "No-show"),
}

#: action name (app.domain.bookings.TRANSITIONS) -> button label
ACTION_LABELS: dict[str, str] = {
    "approve": "Approve",
    "reject": "Reject",
    "checkin": "Check in",
    "complete": "Complete",
    "cancel": "Cancel booking",
    "no_show": "No-show",
}

PHASE_LABELS = {
    "e2e": "E2E",
    "uept": "UEPT",
    "device": "Device",
    "induction": "Induction",
    "other": "Other",
}


def status_fill(status: BookingStatus) -> QColor:
    return QColor(STATUS_STYLE[status][0])


def status_text(status: BookingStatus) -> QColor:
    return QColor(STATUS_STYLE[status][1])


def status_label(status: BookingStatus) -> str:
    return STATUS_STYLE[status][2]


def _mix(a: QColor, b: QColor, t: float) -> QColor:
    return QColor(
        round(a.red() + (b.red() - a.red()) * t),
        round(a.green() + (b.green() - a.green()) * t),
        round(a.blue() + (b.blue() - a.blue()) * t),
    )


_RAMP = (QColor("#e7f4ea"), QColor("#fbe7a1"), QColor("#f4a259"), QColor("#e04f4f"))


def capacity_colour(fraction: float) -> QColor:
    """Pale green when empty, through yellow and orange, to red at full capacity."""
    f = min(max(fraction, 0.0), 1.0)
    if f >= 1.0:
        return QColor(_RAMP[-1])
    # Stops at 0, 0.6, 0.85, 1.0: the colour stays calm until the lab is getting full.
    stops = (0.0, 0.6, 0.85, 1.0)
    for i in range(3):
        if f <= stops[i + 1]:
            return _mix(_RAMP[i], _RAMP[i + 1], (f - stops[i]) / (stops[i + 1] - stops[i]))
    return QColor(_RAMP[-1])


#: run / step / measurement outcome -> (fill, text colour)
OUTCOME_STYLE: dict[str, tuple[str, str]] = {
    "PASS": ("#2e9e5b", "#ffffff"),
    "MARGINAL": ("#f6c453", "#3b2a00"),
    "FAIL": ("#d64545", "#ffffff"),
    "ERROR": ("#8a3ab9", "#ffffff"),
    "ABORTED": ("#5f6b76", "#ffffff"),
    "UNSET": ("#e8b4b4", "#5a1a1a"),
    "SKIPPED": ("#e3e6e9", "#555555"),
    "RUNNING": ("#3d7bd9", "#ffffff"),
    "WAITING": ("#ffffff", "#555555"),
}


def outcome_fill(outcome: str) -> QColor:
    return QColor(OUTCOME_STYLE.get(outcome, OUTCOME_STYLE["WAITING"])[0])


def outcome_text(outcome: str) -> QColor:
    return QColor(OUTCOME_STYLE.get(outcome, OUTCOME_STYLE["WAITING"])[1])


def spaces_text(spaces: int) -> str:
    """"1 space", "6 spaces"."""
    return f"{spaces} space" if spaces == 1 else f"{spaces} spaces"
