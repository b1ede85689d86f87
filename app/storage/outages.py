"""Outages and alert acknowledgements in the database."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from app.domain.outages import Flag, Outage
from app.storage.audit import write_audit
from app.storage.timefmt import from_db, to_db


def _t(moment: datetime | None) -> str | None:
    return to_db(moment) if moment else None


class OutageRepo:
    """Writes outages as the tracker learns about them; lists them for people and reports."""

    COLUMNS = ("id", "bench", "mpxn", "start", "end", "duration_s", "long", "start_source",
               "end_source", "device_start", "device_end", "device_duration_s",
               "restore_alert_code", "restore_alert_host_time", "restore_alert_device",
               "latency_s", "interrupted_alert", "flags_json", "updated_at")

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    @staticmethod
    def _values(o: Outage, now: datetime) -> tuple:
        """The outage's values in :attr:`COLUMNS` order after the id."""
        return (o.bench, o.mpxn, _t(o.start), _t(o.end), o.duration_s,
                None if o.long is None else int(o.long), o.start_source, o.end_source,
                _t(o.device_start), _t(o.device_end), o.device_duration_s, o.restore_alert_code,
                _t(o.restore_alert_host_time), o.restore_alert_device, o.latency_s,
                int(o.interrupted_alert), json.dumps([f.to_dict() for f in o.flags]), to_db(now))

    # The outage is tied to the device whose alert restored it: its stable id is looked up from
    # the label when it is written, so the outage stays with the device across renames.
    _DEVICE_REF = "(SELECT id FROM devices WHERE label = ?)"

    def save(self, outages: list[Outage], now: datetime, stored: dict[int, int], *,
             device_ref_of: Callable[[str], int | None] | None = None) -> None:
        """Store what a tracker learnt, in one transaction: an outage it has not stored yet gets
        its id from the database (never one counted in memory: two processes tracking into one
        file cannot take each other's), one it has is updated in place.

        Args:
            outages: the tracker's outages that changed (their ``id`` is the tracker's own).
            now: when they were written (``updated_at``).
            stored: the tracker's id of each outage stored so far -> its id in the database;
                the new ones are added when the transaction has committed.
            device_ref_of: the id in the file's devices table of the device with a label
                (a lab store's device's stand-in, see :mod:`app.storage.lab_devices`); None:
                the file's registry is asked for the label.
        """
        added: dict[int, int] = {}
        columns = self.COLUMNS[1:]
        fragment = self._device_ref_sql(device_ref_of)
        with self.conn:
            for o in outages:
                values = (*self._values(o, now), self._device_ref_value(o, device_ref_of))
                row_id = stored.get(o.id)
                if row_id is None:
                    cur = self.conn.execute(
                        f"INSERT INTO outages ({', '.join(columns)}, device_ref) "
                        f"VALUES ({', '.join('?' * len(columns))}, {fragment})", values)
                    added[o.id] = int(cur.lastrowid)  # type: ignore[arg-type]
                else:
                    assignments = ", ".join(f"[{c}] = ?" for c in columns)
                    self.conn.execute(
                        f"UPDATE outages SET {assignments}, device_ref = {fragment} "
                        "WHERE id = ?", (*values, row_id))
        stored.update(added)

    def upsert(self, outages: list[Outage], now: datetime, *,
               device_ref_of: Callable[[str], int | None] | None = None) -> None:
        """Store outages under the ids they carry (replacing a stored one of the same id): for
        outages whose ids were given by this database before (restoring, fixtures). A tracker's
        outages go through :meth:`save`.

        Args:
            device_ref_of: as for :meth:`save`.
        """
        fragment = self._device_ref_sql(device_ref_of)
        rows = [(o.id, *self._values(o, now), self._device_ref_value(o, device_ref_of))
                for o in outages]
        with self.conn:
            self.conn.executemany(
                f"INSERT OR REPLACE INTO outages ({', '.join(self.COLUMNS)}, device_ref) "
                f"VALUES ({', '.join('?' * len(self.COLUMNS))}, {fragment})", rows)

    def _device_ref_sql(self, device_ref_of: Callable[[str], int | None] | None) -> str:
        return self._DEVICE_REF if device_ref_of is None else "?"

    @staticmethod
    def _device_ref_value(o: Outage, device_ref_of: Callable[[str], int | None] | None) -> Any:
        """The restoring device's label (looked up in SQL) or, with `device_ref_of`, its id."""
        if device_ref_of is None:
            return o.restore_alert_device
        return device_ref_of(o.restore_alert_device) if o.restore_alert_device else None

    def list(self, bench: str | None = None, day_from: date | None = None,
             day_to: date | None = None, *, device_ref: int | None = None) -> list[dict[str, Any]]:
        """Outages in time order, optionally of one bench, days, or device (by stable id)."""
        where, args = ["1 = 1"], []  # type: list[str], list[Any]
        if device_ref is not None:
            where.append("device_ref = ?")
            args.append(device_ref)
        if bench:
            where.append("lower(bench) = lower(?)")
            args.append(bench)
        if day_from:
            where.append("coalesce(start, end, restore_alert_host_time) >= ?")
            args.append(day_from.isoformat())
        if day_to:
            where.append("coalesce(start, end, restore_alert_host_time) < ?")
            args.append(f"{day_to.isoformat()}T99")  # any time on that day sorts below
        cur = self.conn.execute(
            f"SELECT {', '.join(self.COLUMNS)}, device_ref FROM outages "
            f"WHERE {' AND '.join(where)} "
            "ORDER BY coalesce(start, end, restore_alert_host_time), id", args)
        out = []
        for row in cur.fetchall():
            item = dict(zip((*self.COLUMNS, "device_ref"), row, strict=True))
            item["long"] = None if item["long"] is None else bool(item["long"])
            item["interrupted_alert"] = bool(item["interrupted_alert"])
            item["flags"] = json.loads(item.pop("flags_json") or "[]")
            item.pop("updated_at")
            out.append(item)
        return out


    def outages(self, since: datetime, benches: list[str] | None = None) -> list[Outage]:
        """The stored outages of `benches` (None: every bench) seen at or after `since`, as the
        tracker had them, in time order.

        The bench's time scale is not stored: it is found again from the relay's times and the
        duration recorded on the bench's clock (1 where they do not give it). An outage stored
        with a start and no end gets `recorded_until`, the last time it was written.
        """
        where, args = ["coalesce(end, restore_alert_host_time, start, updated_at) >= ?"], \
            [to_db(since)]  # type: list[str], list[Any]
        if benches is not None:
            if not benches:
                return []
            where.append(f"bench IN ({','.join('?' * len(benches))})")
            args += benches
        cur = self.conn.execute(
            f"SELECT {', '.join(self.COLUMNS)} FROM outages WHERE {' AND '.join(where)} "
            "ORDER BY coalesce(start, end, restore_alert_host_time), id", args)
        return [_outage(dict(zip(self.COLUMNS, row, strict=True))) for row in cur.fetchall()]


def _outage(r: dict[str, Any]) -> Outage:
    start, end = from_db(r["start"]), from_db(r["end"])
    scale = 1.0
    if r["start_source"] == "relay" and start and end and r["duration_s"]:
        real = (end - start).total_seconds()
        scale = float(r["duration_s"]) / real if real > 0 else 1.0
    flags = [Flag(str(f.get("code", "")), str(f.get("message", "")))
             for f in json.loads(r["flags_json"] or "[]")]
    return Outage(
        id=int(r["id"]), bench=str(r["bench"] or ""), mpxn=str(r["mpxn"] or ""), start=start,
        end=end, start_source=str(r["start_source"] or ""), end_source=str(r["end_source"] or ""),
        device_start=from_db(r["device_start"]), device_end=from_db(r["device_end"]),
        device_duration_s=r["device_duration_s"], restore_alert_code=r["restore_alert_code"],
        restore_alert_host_time=from_db(r["restore_alert_host_time"]),
        restore_alert_device=str(r["restore_alert_device"] or ""),
        interrupted_alert=bool(r["interrupted_alert"]), flags=flags, time_scale=scale,
        recorded_until=from_db(r["updated_at"]) if start is not None and end is None else None)


class AckRepo:
    """Acknowledgements of alerts by lab staff, with a note."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def acknowledge(self, event_id: int, note: str, actor: str, at: datetime) -> None:
        with self.conn:
            self.conn.execute(
                "INSERT OR REPLACE INTO alert_acks (event_id, note, actor, at) VALUES (?,?,?,?)",
                (event_id, note, actor, to_db(at)))
            write_audit(self.conn, to_db(at), actor, "acknowledged", "alert", event_id,
                        {"note": note})

    def for_events(self, ids: list[int]) -> dict[int, dict[str, str]]:
        if not ids:
            return {}
        cur = self.conn.execute(
            f"SELECT event_id, note, actor, at FROM alert_acks WHERE event_id IN ({','.join('?' * len(ids))})", ids)
        return {e: {"note": n, "actor": a, "at": t} for e, n, a, t in cur.fetchall()}
