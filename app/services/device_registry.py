"""Registering and listing the lab's devices, for a principal.

Devices carry no organisation: a participant sees the devices on the benches its organisation's
open bookings hold now (:meth:`app.storage.devices.DeviceRepo.list`), and may register none.
"""

from __future__ import annotations

from sqlite_utils import Database

from app.domain.clock import Clock
from app.domain.devices import Device
from app.domain.errors import ValidationError
from app.domain.principals import WORKSTATION_ADMIN, Action, Principal
from app.storage.devices import DeviceRepo
from app.storage.labs import LabRepo
from app.storage.labstore import LabStore


class DeviceRegistry:
    """The device registry's use cases, acting for `principal`."""

    def __init__(self, db: Database | LabStore, clock: Clock,
                 principal: Principal = WORKSTATION_ADMIN) -> None:
        self.repo = DeviceRepo(db, clock)
        self.labs = LabRepo(db, clock)
        self.principal = principal

    def list(self) -> list[Device]:
        """The devices the principal may see (every device for staff)."""
        return self.repo.list(self.principal.org_scope())

    def add(self, device: Device, force: bool = False) -> Device:
        """Register `device`.

        Args:
            force: register it even if another device has the same MPxN.

        Raises:
            RuleRefusal: the principal may not register devices.
            ValidationError: a bench no lab has, a label already used, or an MPxN already
                registered (without `force`).
        """
        self.principal.require(Action.DEVICES, "register devices")
        if device.bench:
            labs = self.labs.list()
            if not any(lab.bench_by_name(device.bench) for lab in labs):
                names = sorted({b.name for lab in labs for b in lab.benches})
                known = ", ".join(names[:10]) or "none (add a lab with benches)"
                raise ValidationError("bench", f"No lab has a bench {device.bench!r}; benches: "
                                               f"{known}.")
        if device.mpxn and not force:
            other = next((d for d in self.repo.list() if d.mpxn == device.mpxn), None)
            if other is not None:
                raise ValidationError(
                    "mpxn", f"MPxN {device.mpxn} is already registered to device "
                            f"{other.label!r} (id {other.id}); give --force to register it "
                            f"again.")
        return self.repo.add(device, self.principal.name)
