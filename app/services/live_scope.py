"""What a participant may watch live: the devices on the benches its bookings hold now, from the
start of those bookings, and nothing of the rest of the lab.

The staff window's device runtime serves the whole lab. A participant session does not read its
buffers (they hold every bench); it keeps a :class:`ScopedLiveFeed` of its own, fed from the same
event queue through a filter, and sees the outages of its own benches only.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from app.domain.bookings import ACTIVE_STATUSES
from app.domain.clock import Clock
from app.domain.devices import Device
from app.domain.events import DeviceEvent
from app.domain.outages import Outage
from app.services.live import LiveData
from app.storage.bookings import BookingRepo
from app.storage.db import Database
from app.storage.devices import DeviceRepo
from app.storage.labstore import LabStore

#: Alerts a participant's live view keeps (one bench's worth of a long day).
SCOPED_ALERT_CAPACITY = 200_000
#: Points kept per reading curve in a participant's live view.
SCOPED_READING_CAPACITY = 50_000


@dataclass(frozen=True)
class LiveScope:
    """What one participant may watch.

    Attributes:
        devices: the registered devices on the benches its organisation's bookings hold now.
        benches: those benches' names, lower-cased.
        since: the earliest start of those bookings: data from before it belongs to whoever
            used the bench then, and is not shown. None when no booking holds a bench now.
    """

    devices: tuple[Device, ...]
    benches: frozenset[str]
    since: datetime | None

    @property
    def labels(self) -> frozenset[str]:
        return frozenset(d.label for d in self.devices)

    def shows_bench(self, bench: str) -> bool:
        return bench.casefold() in self.benches

    def shows_time(self, moment: datetime | None) -> bool:
        return self.since is not None and moment is not None and moment >= self.since

    def shows_outage(self, outage: Outage) -> bool:
        """An outage of one of its benches that began (or was reported) since its start."""
        return self.shows_bench(outage.bench) and self.shows_time(
            outage.start or outage.restore_alert_host_time)


def participant_scope(db: Database | LabStore, clock: Clock, org_id: int) -> LiveScope:
    """The benches `org_id`'s open bookings hold now, their devices, and since when."""
    now = clock.now()
    held = [b for b in BookingRepo(db, clock).list(statuses=ACTIVE_STATUSES, start=now, end=now,
                                                   org_scope=org_id)
            if b.start <= now < b.end and b.benches]
    devices = tuple(DeviceRepo(db, clock).list(org_scope=org_id))
    benches = frozenset(name.casefold() for b in held for name in b.benches)
    since = min((b.start for b in held), default=None)
    return LiveScope(devices, benches, since)


class ScopedLiveFeed:
    """A participant's own live buffers, fed from the runtime's event queue through
    :class:`LiveScope`, and its benches' outages.

    Args:
        add_listener: the event queue's ``add_batch_listener``.
        remove_listener: its ``remove_batch_listener``.
        outages: the runtime's outage snapshot (version, outages).
        scope: what may be shown.
    """

    def __init__(self, add_listener: Callable[[Callable[[list[DeviceEvent]], None]], None],
                 remove_listener: Callable[[Callable[[list[DeviceEvent]], None]], None],
                 outages: Callable[[], tuple[int, list[Outage]]], scope: LiveScope) -> None:
        self.scope = scope
        self.live = LiveData(SCOPED_ALERT_CAPACITY, SCOPED_READING_CAPACITY)
        self.live.set_devices(scope.devices)
        self._labels = scope.labels
        self._euis = frozenset(d.device_id.upper() for d in scope.devices if d.device_id)
        self._outages = outages
        self._remove = remove_listener
        self._lock = threading.Lock()
        self._closed = False
        #: events of the lab that were not the participant's (counted, not kept)
        self.withheld = 0
        add_listener(self.on_events)

    def mine(self, event: DeviceEvent) -> bool:
        """Whether `event` may be shown: from (or, relayed by a hub, about) a device in scope,
        at or after the scope's start."""
        if not self.scope.shows_time(event.host_time):
            return False
        if event.device in self._labels:  # a hub on the bench relays the bench's own HAN
            return True
        origin = event.fields.get("originator")
        return bool(origin) and str(origin).upper() in self._euis

    def on_events(self, events: Sequence[DeviceEvent]) -> None:
        """Take the lab's events (I/O thread): keep the participant's, count the rest."""
        if self._closed:
            return
        kept = [e for e in events if self.mine(e)]
        with self._lock:
            self.withheld += len(events) - len(kept)
        if kept:
            self.live.on_events(kept)

    def outages(self) -> tuple[int, list[Outage]]:
        """(version, outages) of the participant's benches, since the scope's start."""
        version, outages = self._outages()
        return version, [o for o in outages if self.scope.shows_outage(o)]

    def close(self) -> None:
        """Stop taking events (the session ends)."""
        if not self._closed:
            self._closed = True
            self._remove(self.on_events)
