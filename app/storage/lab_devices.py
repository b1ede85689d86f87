"""Devices of a lab store on a server, as the workstation's bench store refers to them.

Part of the bench store (the workstation's SQLite file). Events, capture sessions and outages
refer to a device by its id in the file's own ``devices`` table (a foreign key). A device of a
lab store on a server has an id there that means nothing in the file, and may be the id of one
of the file's own devices (those registered before the workstation joined the lab store), so a
lab-store device is captured under a *stand-in*: a row of the file's ``devices`` table made from
the server's row when capture of the device starts, and brought up to date (a rename, a new
firmware) each time it starts again. ``lab_devices`` (migration m010) says which lab-store device
each stand-in is. Bench-store rows keep local ids, so every bench-store query works as before;
the lab-store id is found here where one is needed.

A stand-in's label says what it is (``"Bench 1 ESME [lab store device 3; stand-in 12]"``), so
that it can never take a label the file's own registry may want, and it has no connection
settings, so that the desktop working on the file alone never opens its port. The events keep the
device's label of the moment, as always.

A lab store is named by its server and database (:func:`app.storage.labstore.lab_store_key`).
A database created again from scratch gives its ids out again, to other devices: a device whose
registration time differs from the one recorded gets a stand-in of its own, and the earlier
stand-in keeps the earlier device's history.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime

from app.domain.devices import Device
from app.storage.timefmt import to_db
from app.storage.transactions import write_transaction


@dataclass(frozen=True)
class StandIn:
    """A lab-store device's stand-in in the bench store.

    Attributes:
        local_ref: the stand-in's id in the file's devices table (what bench-store rows hold).
        lab_ref: the device's id in the lab store.
        label: the device's label in the lab store when it was last seen.
        device_id: its EUI-64 then ("" if none).
    """

    local_ref: int
    lab_ref: int
    label: str
    device_id: str


def stand_in_label(label: str, lab_ref: int, local_ref: int) -> str:
    """The label of a stand-in row: the device's label, and which device and row it is."""
    return f"{label} [lab store device {lab_ref}; stand-in {local_ref}]"


class LabDeviceMap:
    """The stand-ins of one lab store's devices in a workstation's bench store.

    Args:
        conn: the bench store's connection (MeterLab's pragmas, foreign keys on).
        store: the lab store's key (:func:`app.storage.labstore.lab_store_key`).
    """

    def __init__(self, conn: sqlite3.Connection, store: str) -> None:
        self.conn = conn
        self.store = store

    def follow(self, device: Device, registered_at: str | None, now: datetime) -> int:
        """The stand-in of `device` (a lab store's, with its id there), made or brought up to
        date from it now, in one transaction.

        Args:
            device: the device as the lab store holds it now.
            registered_at: when the lab store registered it (its ``created_at``); None when not
                known (the stand-in recorded is then taken as the device's).
            now: when it was seen.

        Returns:
            The stand-in's id in the file's devices table.

        Raises:
            ValueError: `device` has no lab-store id.
        """
        if device.id is None:
            raise ValueError("device has no id")
        seen = to_db(now)
        with write_transaction(self.conn):
            row = self.conn.execute(
                "SELECT local_ref, lab_created_at FROM lab_devices WHERE store = ? AND lab_ref = ?",
                (self.store, device.id)).fetchone()
            same = row is not None and (registered_at is None or row[1] is None
                                        or row[1] == registered_at)
            if same:
                local_ref = int(row[0])
                self.conn.execute(
                    f"UPDATE devices SET {', '.join(f'{c} = ?' for c in _COPIED)}, label = ?, "
                    "updated_at = ? WHERE id = ?",
                    (*_copied(device), stand_in_label(device.label, device.id, local_ref), seen,
                     local_ref))
            else:
                # The label is made unique by the row's own id, known once it is inserted.
                cur = self.conn.execute(
                    f"INSERT INTO devices ({', '.join(_COPIED)}, label, connection_json, "
                    "created_at, updated_at) VALUES "
                    f"({', '.join('?' * len(_COPIED))}, ?, ?, ?, ?)",
                    (*_copied(device), f"{self.store} {device.id} {seen}", json.dumps({}), seen,
                     seen))
                local_ref = int(cur.lastrowid or 0)
                self.conn.execute("UPDATE devices SET label = ? WHERE id = ?",
                                  (stand_in_label(device.label, device.id, local_ref), local_ref))
            self.conn.execute(
                "INSERT OR REPLACE INTO lab_devices (store, lab_ref, lab_created_at, local_ref, "
                "label, device_id, seen_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (self.store, device.id, registered_at or (row[1] if same else None), local_ref,
                 device.label, device.device_id, seen))
        return local_ref

    def find(self, ref: str | int) -> StandIn | None:
        """A device of this lab store captured here before, by its lab-store id, its label
        (ignoring case) or its EUI-64, as last seen: for when the lab store does not answer."""
        text = str(ref).strip()
        if text.isdigit() and len(text) <= 18:
            found = self._select("lab_ref = ?", int(text))
            if found:
                return found[0]
        found = self._select("lower(label) = lower(?) OR upper(device_id) = upper(?)", text, text)
        return found[0] if found else None

    def stand_in(self, lab_ref: int) -> int | None:
        """The stand-in of the lab-store device `lab_ref`, if it was captured here."""
        found = self._select("lab_ref = ?", lab_ref)
        return found[0].local_ref if found else None

    def lab_refs(self) -> dict[int, int]:
        """Each stand-in's id mapped to its device's id in this lab store."""
        return {s.local_ref: s.lab_ref for s in self._select("1 = 1")}

    def _select(self, where: str, *args: object) -> list[StandIn]:
        cur = self.conn.execute(
            f"SELECT local_ref, lab_ref, label, device_id FROM lab_devices "
            f"WHERE store = ? AND ({where}) ORDER BY seen_at DESC, lab_ref", (self.store, *args))
        return [StandIn(int(r[0]), int(r[1]), r[2], r[3] or "") for r in cur.fetchall()]


#: The columns a stand-in copies from the lab store's row (the label is its own, see above).
_COPIED = ("kind", "device_id", "mpxn", "manufacturer", "model", "firmware", "owner", "bench")


def _copied(device: Device) -> tuple[str, ...]:
    return (device.kind.value, device.device_id, device.mpxn, device.manufacturer, device.model,
            device.firmware, device.owner, device.bench)
