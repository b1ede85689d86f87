"""Events decoded from device traffic.

Codecs (in ``devices.codecs``) turn bytes into :class:`CodecEvent` values; a device session stamps
each with the host receive time and the device it came from, giving a :class:`DeviceEvent` that is
stored and plotted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any


class EventKind(str, Enum):
    """What a decoded event means to the lab."""

    ALERT = "alert"
    OUTAGE_START = "outage_start"
    OUTAGE_END = "outage_end"
    READING = "reading"
    STATUS = "status"
    LOG = "log"
    ERROR = "error"  # a frame that failed its check (bad BCC, malformed APDU): kept as evidence


@dataclass(slots=True)
class CodecEvent:
    """One event as a codec sees it: no host time, no device label.

    Not frozen: codecs create one per decoded line at hundreds of thousands a second, and a
    frozen dataclass costs several times more to construct. Treat it as read-only all the same.

    Attributes:
        kind: what the event means.
        fields: protocol-specific values, JSON-serialisable (e.g. ``alert_code``, ``alert_name``,
            ``originator``, ``recipient``, ``message_code`` for alerts; ``obis``, ``value``,
            ``unit`` for readings; ``text`` for log lines).
        device_time: the device's own time for the event where the protocol carries one (UTC).
    """

    kind: EventKind
    fields: dict[str, Any] = field(default_factory=dict)
    device_time: datetime | None = None


@dataclass(frozen=True, slots=True)
class DeviceEvent:
    """A decoded event attributed to a device and stamped with the host receive time (UTC).

    Attributes:
        device: the device's label when the event was received (for display).
        device_ref: the registered device's stable id (``devices.id``), or None for a port that
            is not in the registry; history follows this, not the label, across renames.
    """

    device: str
    kind: EventKind
    host_time: datetime
    fields: dict[str, Any] = field(default_factory=dict)
    device_time: datetime | None = None
    session_id: int | None = None
    device_ref: int | None = None
