"""Ring buffers behind the live plots.

Events are appended on the I/O thread (as the queue accepts them); the UI's display timer takes
snapshots at 30-60 Hz. Nothing here knows about Qt.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence

import numpy as np

from app.domain.devices import Device
from app.domain.events import DeviceEvent, EventKind

#: Severity word (today's or a former one, see app.domain.severity) -> level in the alert ring.
SEVERITY_LEVEL = {"critical": 2, "non-critical": 1, "warning": 1, "info": 0}
SEVERITY_NAME = {2: "critical", 1: "non-critical", 0: "info", -1: "unknown"}

ALERT_DTYPE = np.dtype([("t", "f8"), ("lane", "i2"), ("severity", "i1"), ("code", "u2"),
                        ("device_t", "f8")])
READING_DTYPE = np.dtype([("t", "f8"), ("v", "f8")])


class Ring:
    """A fixed-capacity ring of numpy records; the oldest are overwritten when full."""

    def __init__(self, capacity: int, dtype: np.dtype) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._data = np.zeros(capacity, dtype=dtype)
        self.capacity = capacity
        self.total = 0  # records ever appended

    def __len__(self) -> int:
        return min(self.total, self.capacity)

    def append(self, record: tuple) -> None:
        self._data[self.total % self.capacity] = record
        self.total += 1

    def extend(self, records: np.ndarray) -> None:
        """Append many records at once (e.g. a benchmark's history)."""
        n = len(records)
        if n >= self.capacity:
            self._data[:] = records[-self.capacity:]
            self.total += n
            # Keep chronological order readable from index total % capacity.
            shift = self.total % self.capacity
            self._data = np.roll(self._data, shift)
            return
        start = self.total % self.capacity
        first = min(n, self.capacity - start)
        self._data[start:start + first] = records[:first]
        if first < n:
            self._data[: n - first] = records[first:]
        self.total += n

    def view(self) -> np.ndarray:
        """The records, oldest first (a copy).

        Copied as raw bytes: numpy copies a packed record array field by field while holding
        the GIL (about 30 ms a million alerts, stalling the UI and I/O threads); as bytes it is
        one memcpy that releases the GIL (about 3 ms).
        """
        size = self._data.dtype.itemsize
        raw = self._data.view(np.uint8)
        if self.total <= self.capacity:
            out = raw[: self.total * size].copy()
        else:
            start = (self.total % self.capacity) * size
            out = np.concatenate((raw[start:], raw[:start]))
        return out.view(self._data.dtype)


class LiveData:
    """What the Live page draws: alerts per device lane and reading curves, bounded in memory.

    Args:
        alert_capacity: most alerts kept (the plots show the newest).
        reading_capacity: most points kept per (device, OBIS) curve.
    """

    def __init__(self, alert_capacity: int = 1_000_000, reading_capacity: int = 100_000) -> None:
        self.alerts = Ring(alert_capacity, ALERT_DTYPE)
        self.reading_capacity = reading_capacity
        self.readings: dict[tuple[str, str], Ring] = {}
        self.units: dict[tuple[str, str], str] = {}
        self.lanes: list[str] = []
        self._lane_of: dict[str, int] = {}
        self.counts: dict[str, int] = {k.value: 0 for k in EventKind}
        self._label_of_eui: dict[str, str] = {}
        self._lock = threading.Lock()
        self.version = 0

    def set_devices(self, devices: Iterable[Device]) -> None:
        """Give the registry's devices their lanes, and learn their EUI-64s.

        A Comms Hub delivers the alerts of the meters on its HAN; the alert's originator names
        the meter, so an alert whose originator is a registered device goes to that device's
        lane, not the hub's.
        """
        devices = list(devices)
        with self._lock:
            self._label_of_eui = {d.device_id.upper(): d.label for d in devices if d.device_id}
            for d in devices:
                self.lane(d.label)

    def lane(self, device: str) -> int:
        idx = self._lane_of.get(device)
        if idx is None:
            idx = self._lane_of[device] = len(self.lanes)
            self.lanes.append(device)
        return idx

    def set_lanes(self, devices: Iterable[str]) -> None:
        """Give devices their lanes up front, in the registry's order."""
        with self._lock:
            for d in devices:
                self.lane(d)

    def on_event(self, ev: DeviceEvent) -> None:
        """Take one event (I/O thread). Must stay cheap: it runs for every event."""
        self.on_events((ev,))

    def on_events(self, events: Sequence[DeviceEvent]) -> None:
        """Take several events (I/O thread), under one lock: a session's chunk at a time."""
        alert_kind, reading_kind = EventKind.ALERT, EventKind.READING
        counts = self.counts
        with self._lock:
            for ev in events:
                kind = ev.kind
                counts[kind.value] = counts.get(kind.value, 0) + 1
                if kind is alert_kind:
                    self._add_alert(ev)
                elif kind is reading_kind:
                    self._add_reading(ev)
            self.version += len(events)

    def _add_alert(self, ev: DeviceEvent) -> None:
        f = ev.fields
        origin = f.get("originator")
        device = self._label_of_eui.get(str(origin).upper(), ev.device) if origin else ev.device
        try:
            code = int(str(f.get("alert_code", "0")), 16)
        except ValueError:
            code = 0
        self.alerts.append((
            ev.host_time.timestamp(), self.lane(device),
            SEVERITY_LEVEL.get(str(f.get("severity")), -1), code,
            ev.device_time.timestamp() if ev.device_time else np.nan,
        ))

    def _add_reading(self, ev: DeviceEvent) -> None:
        value = ev.fields.get("value")
        if isinstance(value, (int, float)):
            key = (ev.device, str(ev.fields.get("obis", "")))
            ring = self.readings.get(key)
            if ring is None:
                ring = self.readings[key] = Ring(self.reading_capacity, READING_DTYPE)
                self.units[key] = str(ev.fields.get("unit") or "")
            ring.append((ev.host_time.timestamp(), float(value)))

    def alert_snapshot(self) -> np.ndarray:
        with self._lock:
            return self.alerts.view()

    def reading_snapshot(self) -> dict[tuple[str, str], np.ndarray]:
        with self._lock:
            return {k: r.view() for k, r in self.readings.items()}

    def lane_names(self) -> list[str]:
        with self._lock:
            return list(self.lanes)
