"""Capturing from a device of a lab store on a server into the workstation's bench store.

The bench store refers to a lab-store device through its stand-in (see
:mod:`app.storage.lab_devices`): capture of a device asks the lab store for it, brings its
stand-in up to date and records events, the capture session and outages under the stand-in's id.
While the lab store does not answer, a device this workstation has captured from before is
captured under its stand-in as last seen; a device never captured here cannot be, since nothing
here says which device it is.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from app.domain.clock import Clock
from app.domain.devices import Device
from app.storage.db import DbErrorKind, connect
from app.storage.devices import DeviceRepo
from app.storage.lab_devices import LabDeviceMap
from app.storage.labstore import LabStore, LabStoreError


@dataclass(frozen=True)
class CaptureDevice:
    """The device a capture records its events under.

    Attributes:
        label: the label its events carry (the lab store's, as last seen).
        local_ref: its id in the bench store's devices table (the stand-in's).
        lab_ref: its id in the lab store.
    """

    label: str
    local_ref: int
    lab_ref: int


def follow_device(conn: sqlite3.Connection, store: LabStore, key: str, ref: str,
                  clock: Clock) -> CaptureDevice | None:
    """The lab store's device `ref` (id, label or EUI-64), its stand-in brought up to date.

    Returns:
        None when the lab store has no such device.

    Raises:
        LabStoreError: the lab store stopped answering.
    """
    repo = DeviceRepo(store, clock)
    device = repo.find(ref)
    if device is None or device.id is None:
        return None
    local_ref = LabDeviceMap(conn, key).follow(device, repo.registered_at(device.id), clock.now())
    return CaptureDevice(device.label, local_ref, device.id)


def device_while_unreachable(conn: sqlite3.Connection, key: str, ref: str,
                             unreachable: LabStoreError) -> CaptureDevice:
    """The device `ref` as this workstation last saw it in the lab store `key`, for capturing
    while the lab store does not answer.

    Raises:
        LabStoreError: `unreachable` itself, saying that `ref` was never captured here (nothing
            here says which device it is).
    """
    found = LabDeviceMap(conn, key).find(ref)
    if found is None:
        raise LabStoreError(
            f"{unreachable}; no device {ref!r} of it was ever captured on this workstation, so "
            f"it can be captured only once the lab store answers again.",
            DbErrorKind.UNREACHABLE)
    return CaptureDevice(found.label, found.local_ref, found.lab_ref)


class StandIns:
    """Gives a lab store's device its stand-in's id in the bench store (a
    :class:`~app.services.device_manager.DeviceManager`'s ``device_refs``).

    Args:
        db_path: the bench store.
        store: the lab store the devices are from.
        key: its key (:func:`app.storage.labstore.lab_store_key`).
        clock: when devices are seen.
    """

    def __init__(self, db_path: Path, store: LabStore, key: str, clock: Clock) -> None:
        self.db_path, self.store, self.key, self.clock = Path(db_path), store, key, clock

    def __call__(self, device: Device) -> int:
        """The stand-in's id of `device` (a lab-store device), brought up to date from it.

        While the lab store does not answer, `device` (as the caller loaded it earlier) is
        followed without its registration time.

        Raises:
            ValueError: `device` has no lab-store id.
        """
        if device.id is None:
            raise ValueError(f"{device.label} is not a registered device.")
        try:
            registered = DeviceRepo(self.store, self.clock).registered_at(device.id)
        except LabStoreError:
            registered = None
        conn = connect(self.db_path)
        try:
            return LabDeviceMap(conn, self.key).follow(device, registered, self.clock.now())
        finally:
            conn.close()
