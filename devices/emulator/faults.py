"""Deliberate faults of the emulated bench, so that a test runner can be shown to fail.

Each fault makes one emulated device misbehave in one way a real device might:

``wrong-restore-alert``
    the meter's restore alert has the wrong code: 8F35 after an outage of 3 minutes or more,
    8F36 after a shorter one.
``late-alert=SECONDS``
    the restore alert is sent SECONDS emulated seconds after the supply returns instead of about
    2 s; its GBCS time is still the restore time (default 20 s).
``no-restore-alert``
    no restore alert at all.
``no-outage-log``
    the Comms Hub's debug log has no outage start and restore lines.
``counter-stuck``
    the meter's power failure counter (C.7.0) does not count outages.
``silent-after-restore``
    once the supply has been restored, the optical port never answers again.

Faults are written ``NAME`` or ``NAME=VALUE`` (only ``late-alert`` takes a value).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class FaultKind(StrEnum):
    """The ways the emulated bench can misbehave on purpose."""

    WRONG_RESTORE_ALERT = "wrong-restore-alert"
    LATE_ALERT = "late-alert"
    NO_RESTORE_ALERT = "no-restore-alert"
    NO_OUTAGE_LOG = "no-outage-log"
    COUNTER_STUCK = "counter-stuck"
    SILENT_AFTER_RESTORE = "silent-after-restore"


#: Delay of the restore alert, emulated seconds, for ``late-alert`` without a value.
DEFAULT_LATE_ALERT_S = 20.0
#: The longest delay ``late-alert`` accepts, emulated seconds.
MAX_LATE_ALERT_S = 3600.0

_TAKES_VALUE = frozenset({FaultKind.LATE_ALERT})
KNOWN_FAULTS = ", ".join(
    f"{kind.value}[=SECONDS]" if kind in _TAKES_VALUE else kind.value for kind in FaultKind
)


@dataclass(frozen=True, slots=True)
class Fault:
    """One active fault.

    Attributes:
        kind: what goes wrong.
        value: the fault's number (``late-alert``: the delay in emulated seconds; None for the
            others). ``late-alert`` without a value takes :data:`DEFAULT_LATE_ALERT_S`.
    """

    kind: FaultKind
    value: float | None = None

    def __post_init__(self) -> None:
        kind = FaultKind(self.kind)
        object.__setattr__(self, "kind", kind)
        if kind in _TAKES_VALUE:
            value = DEFAULT_LATE_ALERT_S if self.value is None else float(self.value)
            _check_seconds(kind, value, repr(self.value))
            object.__setattr__(self, "value", value)
        elif self.value is not None:
            raise _takes_no_value(kind, repr(self.value))

    def __str__(self) -> str:
        """The fault as written on the command line: ``late-alert=30`` or ``counter-stuck``."""
        if self.value is None:
            return self.kind.value
        return f"{self.kind.value}={self.value:g}"


def _check_seconds(kind: FaultKind, value: float, shown: str) -> None:
    if not (math.isfinite(value) and 0 < value <= MAX_LATE_ALERT_S):
        raise ValueError(
            f"--fault: {kind.value} needs a number of seconds above 0 and at most "
            f"{MAX_LATE_ALERT_S:g}, got {shown}; known faults: {KNOWN_FAULTS}."
        )


def _takes_no_value(kind: FaultKind, shown: str) -> ValueError:
    return ValueError(
        f"--fault: {kind.value} takes no value, got {shown}; known faults: {KNOWN_FAULTS}."
    )


def parse_fault(text: str) -> Fault:
    """Read one fault written ``NAME`` or ``NAME=VALUE``, e.g. ``late-alert=30``.

    Raises:
        ValueError: an unknown name or a bad value; the message is one sentence naming
            ``--fault`` and listing the known faults.
    """
    name, sep, raw_value = text.strip().partition("=")
    name = name.strip().lower()
    try:
        kind = FaultKind(name)
    except ValueError:
        raise ValueError(
            f"--fault: {text!r} is not a known fault; known faults: {KNOWN_FAULTS}."
        ) from None
    if not sep:
        return Fault(kind)
    raw_value = raw_value.strip()
    if kind not in _TAKES_VALUE:
        raise _takes_no_value(kind, repr(raw_value))
    try:
        value = float(raw_value)
    except ValueError:
        value = math.nan
    _check_seconds(kind, value, repr(raw_value))
    return Fault(kind, value)


def parse_faults(texts: Iterable[str]) -> tuple[Fault, ...]:
    """Read several faults; when one kind is given twice, the last one wins.

    Raises:
        ValueError: as :func:`parse_fault`, for the first bad one.
    """
    return unique_faults(parse_fault(text) for text in texts)


def unique_faults(faults: Iterable[Fault]) -> tuple[Fault, ...]:
    """``faults`` with one per kind, the last of each kind winning."""
    by_kind: dict[FaultKind, Fault] = {}
    for fault in faults:
        if not isinstance(fault, Fault):
            raise TypeError(f"expected a Fault, got {fault!r}")
        by_kind.pop(fault.kind, None)
        by_kind[fault.kind] = fault
    return tuple(by_kind.values())


class ActiveFaults:
    """The bench's current faults, shared by its devices and changeable while the bench runs.

    The set is replaced as a whole under a lock, so a device reading it on the emulator's thread
    sees either the old faults or the new ones, never a mixture.

    Args:
        faults: the faults active from the start.
    """

    def __init__(self, faults: Iterable[Fault] = ()) -> None:
        self._lock = threading.Lock()
        self._by_kind: dict[FaultKind, Fault] = {f.kind: f for f in unique_faults(faults)}

    def set(self, faults: Iterable[Fault]) -> None:
        """Replace the active faults (an empty iterable makes the bench healthy again)."""
        by_kind = {f.kind: f for f in unique_faults(faults)}
        with self._lock:
            self._by_kind = by_kind

    def get(self, kind: FaultKind) -> Fault | None:
        """The active fault of ``kind``, or None."""
        with self._lock:
            return self._by_kind.get(kind)

    def __contains__(self, kind: object) -> bool:
        with self._lock:
            return kind in self._by_kind

    def all(self) -> tuple[Fault, ...]:
        """Every active fault."""
        with self._lock:
            return tuple(self._by_kind.values())
