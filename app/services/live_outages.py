"""The outages the Live page draws: the stored ones and the running tracker's, as one list.

The running tracker knows only what it has seen since the device runtime started, so on its own
the page would show (and count) a different set of outages after every restart of the same data.
The page therefore starts from the outages stored in the database (every change the tracker makes
is written there, under the same id) and lays the tracker's newer state over them by id. Which of
them a view shows and counts is :func:`app.domain.outages.outages_in_view`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime, timedelta

from app.domain.outages import Outage
from app.storage.outages import OutageRepo

#: Stored outages read when the page opens go back this far (the widest time preset but "All").
STORED_OUTAGES_S = 86400.0

OutageSnapshot = Callable[[], tuple[int, list[Outage]]]


class PageOutages:
    """Stored outages (read once) with a running tracker's snapshot laid over them.

    Args:
        conn: the GUI's database connection.
        now: the time the page opens (the lab clock).
        live: the running tracker's snapshot, or None without device I/O.
        shows: which outages the page may show at all (a participant's: its benches, from its
            booking's start); None: every one.
    """

    def __init__(self, conn: sqlite3.Connection, now: datetime,
                 live: OutageSnapshot | None = None,
                 shows: Callable[[Outage], bool] | None = None) -> None:
        self.shows = shows or (lambda _o: True)
        stored = OutageRepo(conn).outages(now - timedelta(seconds=STORED_OUTAGES_S))
        self.stored = [o for o in stored if self.shows(o)]
        self.live = live
        self._seen = -1
        self._merged = list(self.stored)

    def __call__(self) -> tuple[int, list[Outage]]:
        """(version, outages in time order): the version changes when the list does."""
        version, live = self.live() if self.live is not None else (0, [])
        if version != self._seen:
            self._seen = version
            by_id = {o.id: o for o in self.stored}
            by_id.update((o.id, o) for o in live if self.shows(o))
            self._merged = sorted(by_id.values(), key=_order)
        return version + 1, self._merged


def _order(o: Outage) -> tuple[float, int]:
    moment = o.start or o.end or o.restore_alert_host_time or o.recorded_until
    return (moment.timestamp() if moment is not None else float("inf"), o.id)
