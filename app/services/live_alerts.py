"""The Live page's alert table: stored alerts, filtered and limited, with their acknowledgements.

The table is refreshed about once a second by one query with a LIMIT (never per event). Alerts a
Comms Hub relays are stored under the hub; the originator's EUI-64 names the meter that raised
them, so a filter by device matches either.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.domain.devices import Device
from app.domain.principals import WORKSTATION_ADMIN, Action, Principal
from app.domain.severity import severity_word, stored_words
from app.storage.outages import AckRepo
from app.storage.timefmt import from_db, to_db
from devices.codecs.alert_catalogue import AlertCatalogue, default_catalogue

#: Most rows the table holds.
DEFAULT_LIMIT = 500


@dataclass(frozen=True)
class AlertFilter:
    """What the alert table shows.

    Attributes:
        device: a device label (the reporting device or the alert's originator), "" for all.
        code: an alert code or its start (``8F3``), "" for all.
        severity: "critical", "non-critical" or "info", "" for all.
        since: earliest host time, or None.
        until: latest host time, or None.
        unacknowledged: only alerts nobody has acknowledged.
    """

    device: str = ""
    code: str = ""
    severity: str = ""
    since: datetime | None = None
    until: datetime | None = None
    unacknowledged: bool = False


@dataclass(frozen=True)
class AlertRow:
    """One stored alert as the table shows it."""

    event_id: int
    host_time: datetime
    device_time: datetime | None
    device: str  # the device whose link delivered it
    origin: str  # the device that raised it (registry label, else its EUI-64, else "")
    code: str
    name: str
    severity: str  # critical | non-critical | info | unknown
    ack_note: str | None = None
    ack_actor: str | None = None
    ack_at: datetime | None = None

    @property
    def acknowledged(self) -> bool:
        return self.ack_at is not None

    @property
    def origin_label(self) -> str:
        """The device that raised the alert (the delivering one when not known)."""
        return self.origin or self.device

    @property
    def shown_device(self) -> str:
        """The raising device, with the relaying one when they differ."""
        if self.origin and self.origin != self.device:
            return f"{self.origin} (via {self.device})"
        return self.device


class AlertQuery:
    """Reads alerts for the table and stores acknowledgements.

    Args:
        conn: a connection to the database (the GUI's own; reads do not block the writer in WAL).
        devices: the registry, to name originators and to match a device filter by EUI-64.
        catalogue: names and severities for alerts stored without them.
        only: when set, only alerts stored under these device labels are read.
        not_before: when set, only alerts received at or after it are read (a participant's
            benches were someone else's before its booking started).
        principal: who reads; acknowledging is for lab staff.
    """

    def __init__(self, conn: sqlite3.Connection, devices: list[Device],
                 catalogue: AlertCatalogue | None = None,
                 only: tuple[str, ...] | None = None,
                 not_before: datetime | None = None,
                 principal: Principal = WORKSTATION_ADMIN) -> None:
        self.conn = conn
        self.not_before = not_before
        self.principal = principal
        self.catalogue = catalogue or default_catalogue()
        #: when set, only alerts stored under these device labels are read (a participant's
        #: benches); None: every device's
        self.only = only
        self.set_devices(devices)

    def set_devices(self, devices: list[Device]) -> None:
        self._label_of_eui = {d.device_id.upper(): d.label for d in devices if d.device_id}
        self._eui_of_label = {d.label: d.device_id.upper() for d in devices if d.device_id}
        # A registered device's history is found by its stable id: events stored under an
        # earlier label are its history too.
        self._ref_of_label = {d.label: d.id for d in devices if d.id is not None}

    def list(self, flt: AlertFilter, limit: int = DEFAULT_LIMIT) -> list[AlertRow]:
        """The newest alerts matching `flt`, newest first, at most `limit`."""
        where, args = ["e.kind = 'alert'"], []  # type: list[str], list[Any]
        if self.only is not None:
            where.append(f"e.device IN ({','.join('?' * len(self.only))})" if self.only
                         else "0")
            args += list(self.only)
        if self.not_before is not None:
            where.append("e.host_time >= ?")
            args.append(to_db(self.not_before))
        if flt.device:
            ref = self._ref_of_label.get(flt.device)
            own, own_args = ("e.device_ref = ?", [ref]) if ref is not None else (
                "e.device = ?", [flt.device])
            eui = self._eui_of_label.get(flt.device)
            if eui:
                where.append(f"({own} OR upper(json_extract(e.fields_json, '$.originator')) = ?)")
                args += [*own_args, eui]
            else:
                where.append(own)
                args += own_args
        if flt.code.strip():
            where.append("e.code LIKE ?")
            args.append(flt.code.strip().upper() + "%")
        if flt.severity:
            # Alerts stored by earlier versions say "warning" for non-critical.
            words = stored_words(flt.severity)
            where.append(f"json_extract(e.fields_json, '$.severity') IN "
                         f"({','.join('?' * len(words))})")
            args += words
        if flt.since is not None:
            where.append("e.host_time >= ?")
            args.append(to_db(flt.since))
        if flt.until is not None:
            where.append("e.host_time <= ?")
            args.append(to_db(flt.until))
        if flt.unacknowledged:
            where.append("a.event_id IS NULL")
        cur = self.conn.execute(
            "SELECT e.id, e.host_time, e.device_time, e.device, e.code, e.fields_json, a.note, "
            "a.actor, a.at FROM events e LEFT JOIN alert_acks a ON a.event_id = e.id "
            f"WHERE {' AND '.join(where)} ORDER BY e.id DESC LIMIT ?", [*args, int(limit)])
        return [self._row(r) for r in cur.fetchall()]

    def _row(self, r: tuple[Any, ...]) -> AlertRow:
        event_id, host, dev_t, device, code, fields_json, note, actor, at = r
        try:
            fields = json.loads(fields_json or "{}")
        except ValueError:
            fields = {}
        code = str(code or fields.get("alert_code") or "")
        eui = str(fields.get("originator") or "").upper()
        origin = self._label_of_eui.get(eui, eui)
        name = str(fields.get("alert_name") or (self.catalogue.name(code) if code else "unknown"))
        severity = str(fields.get("severity") or (self.catalogue.severity(code) if code else ""))
        return AlertRow(int(event_id), from_db(host), from_db(dev_t), device, origin,  # type: ignore[arg-type]
                        code, name, severity_word(severity), note, actor, from_db(at))

    def acknowledge(self, event_id: int, note: str, actor: str, at: datetime) -> None:
        """Record that `actor` acknowledged alert `event_id` with `note`.

        Raises:
            ValueError: the note is empty, or there is no stored alert with that id.
            RuleRefusal: the principal may not acknowledge alerts (a participant).
        """
        self.principal.require(Action.DEVICES, "acknowledge alerts")
        note = note.strip()
        if not note:
            raise ValueError("Write a note saying what was done about the alert.")
        found = self.conn.execute("SELECT 1 FROM events WHERE id = ? AND kind = 'alert'",
                                  (event_id,)).fetchone()
        if found is None:
            raise ValueError(f"There is no stored alert {event_id}.")
        AckRepo(self.conn).acknowledge(event_id, note, actor, at)

    def codes(self) -> list[str]:
        """The alert codes stored so far (for the code filter's suggestions)."""
        if self.only is not None or self.not_before is not None:
            return sorted({r.code for r in self.list(AlertFilter(), limit=10_000) if r.code})
        cur = self.conn.execute(
            "SELECT DISTINCT code FROM events WHERE kind = 'alert' AND code IS NOT NULL ORDER BY code")
        return [str(c) for (c,) in cur.fetchall()]
