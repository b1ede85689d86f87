"""Snapshots of the ring buffers for the Live page, taken off the GUI thread.

The display timer must never wait for a copy of a million alerts: a thread here takes snapshots
while the page asks for them and the data changed, and the page picks up the newest one.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from app.services.live import LiveData
from app.services.live_view import lane_severity_key


@dataclass(frozen=True)
class Snapshot:
    """A copy of the ring buffers as the plots use it.

    Attributes:
        seq: increases with every new snapshot.
        version: the LiveData version it was taken at.
        alerts: the alert records, oldest first.
        t: their host times as a contiguous array (for fast searching).
        key: :func:`lane_severity_key` of the alerts.
        readings: (device, OBIS) -> reading records, for the OBIS codes asked for.
        lanes: lane names.
    """

    seq: int
    version: int
    alerts: np.ndarray
    t: np.ndarray
    key: np.ndarray
    readings: dict[tuple[str, str], np.ndarray]
    lanes: list[str]


def take_snapshot(live: LiveData, obis: frozenset[str], seq: int = 0) -> Snapshot:
    """Copy what the plots need from `live` (any thread)."""
    version = live.version
    alerts = live.alert_snapshot()
    readings = {k: v for k, v in live.reading_snapshot().items() if k[1] in obis}
    return Snapshot(seq, version, alerts, np.ascontiguousarray(alerts["t"]),
                    lane_severity_key(alerts), readings, live.lane_names())


class SnapshotThread:
    """Takes snapshots of a LiveData on its own thread whenever its version changed.

    Copying a ring of a million alerts takes tens of milliseconds; done here, the display timer
    on the GUI thread only picks up the newest finished copy and never waits for one. A new
    copy is taken at most every `period_s`, and only while someone asks for snapshots.

    Args:
        live: the ring buffers.
        obis: OBIS codes of the reading curves wanted.
        period_s: least time between two snapshots.
    """

    def __init__(self, live: LiveData, obis: frozenset[str], period_s: float = 0.1) -> None:
        self.live, self.obis, self.period_s = live, obis, period_s
        self._latest: Snapshot | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wanted = threading.Event()
        self._thread = threading.Thread(target=self._run, name="meterlab-live-snapshots",
                                        daemon=True)
        self._thread.start()

    def latest(self) -> Snapshot | None:
        """The newest snapshot taken (never blocks on a copy in progress).

        Asking is also what keeps snapshots coming: nobody asking (a hidden page) costs nothing.
        """
        self._wanted.set()
        with self._lock:
            return self._latest

    def stop(self, timeout_s: float = 2.0) -> None:
        self._stop.set()
        self._wanted.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout_s)

    def _run(self) -> None:
        seq, version = 0, -1
        while True:
            self._wanted.wait()
            if self._stop.is_set():
                return
            self._wanted.clear()
            if self.live.version != version:
                seq += 1
                snap = take_snapshot(self.live, self.obis, seq)
                version = snap.version
                with self._lock:
                    self._latest = snap
            if self._stop.wait(self.period_s):
                return
