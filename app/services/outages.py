"""From decoded events to outages: evidence attributed to benches, tracked, stored, shown."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from datetime import datetime

from app.domain.clock import Clock
from app.domain.devices import Device, DeviceKind
from app.domain.events import DeviceEvent, EventKind
from app.domain.outages import (
    MAINS_CHANNEL,
    RESTORE_LONG,
    RESTORE_SHORT,
    SUPPLY_INTERRUPTED,
    Outage,
    OutageTracker,
    PowerEvidence,
    TrackerConfig,
)
from app.storage.outages import OutageRepo

POWER_ALERTS = frozenset({RESTORE_SHORT, RESTORE_LONG, SUPPLY_INTERRUPTED})


class EvidenceMapper:
    """Attributes events to benches using the device registry.

    Relay ground truth arrives as OUTAGE_START/OUTAGE_END events with ``source = "relay"``; the
    Comms Hub's log gives OUTAGE_START/OUTAGE_END; a meter's power alerts are attributed through
    the alert's originator EUI-64 (the hub relays them), else the reporting device.
    """

    def __init__(self, devices: list[Device]) -> None:
        self.by_label = {d.label: d for d in devices}
        self.by_eui = {d.device_id.upper(): d for d in devices if d.device_id}
        self.mpan_of_bench = {d.bench: d.mpxn for d in devices if d.kind is DeviceKind.ESME and d.mpxn}

    def bench_of(self, ev: DeviceEvent) -> str:
        dev = self.by_label.get(ev.device)
        return dev.bench if dev and dev.bench else ev.device

    def map(self, ev: DeviceEvent) -> PowerEvidence | None:
        f = ev.fields
        if ev.kind in (EventKind.OUTAGE_START, EventKind.OUTAGE_END):
            bench = f.get("bench") or self.bench_of(ev)
            mpxn = str(f.get("mpxn") or self.mpan_of_bench.get(bench, ""))
            start = ev.kind is EventKind.OUTAGE_START
            if f.get("source") == "relay":
                if _int(f.get("channel"), MAINS_CHANNEL) != MAINS_CHANNEL:
                    return None  # the relay switched something other than the bench's mains
                return PowerEvidence("relay_off" if start else "relay_on", bench, ev.host_time, mpxn=mpxn,
                                     device=ev.device)
            return PowerEvidence("device_start" if start else "device_end", bench, ev.host_time,
                                 device_time=ev.device_time, mpxn=mpxn, device=ev.device,
                                 duration_s=_float(f.get("duration_s")))
        if ev.kind is EventKind.ALERT:
            code = str(f.get("alert_code", "")).upper()
            if code not in POWER_ALERTS:
                return None
            origin = self.by_eui.get(str(f.get("originator", "")).upper())
            bench = origin.bench if origin and origin.bench else self.bench_of(ev)
            label = origin.label if origin else ev.device
            mpxn = (origin.mpxn if origin else "") or self.mpan_of_bench.get(bench, "")
            return PowerEvidence("alert", bench, ev.host_time, device_time=ev.device_time, mpxn=mpxn,
                                 code=code, device=label)
        return None


def _int(value: object, default: int) -> int:
    try:
        return default if value is None else int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return default


def _float(value: object) -> float | None:
    try:
        return None if value is None else float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


class OutageService:
    """Runs the tracker on each stored batch (on the writer thread) and keeps a snapshot for the UI."""

    def __init__(self, clock: Clock, devices: list[Device], config: TrackerConfig | None = None,
                 device_ref_of: Callable[[str], int | None] | None = None) -> None:
        """
        Args:
            device_ref_of: the bench store's id of the device with a label, when the devices
                are a lab store's (its stand-in's, see :mod:`app.storage.lab_devices`); None:
                the file's registry is asked for the label.
        """
        self.clock = clock
        self.device_ref_of = device_ref_of
        self.mapper = EvidenceMapper(devices)
        self.tracker = OutageTracker(config)
        self._lock = threading.Lock()
        self._snapshot: list[Outage] = []
        self.version = 0
        #: The tracker's id of each outage stored -> its id in the database (the one people see).
        self._stored: dict[int, int] = {}

    def set_devices(self, devices: list[Device]) -> None:
        self.mapper = EvidenceMapper(devices)

    def on_batch(self, conn: sqlite3.Connection, events: list[DeviceEvent]) -> None:
        """Feed a stored batch to the tracker and store what changed (writer thread)."""
        repo = OutageRepo(conn)
        for ev in events:
            evidence = self.mapper.map(ev)
            if evidence is not None:
                self.tracker.feed(evidence)
        self.tracker.evaluate(self.clock.now())
        changed = self.tracker.take_changed()
        if changed:
            try:
                repo.save(changed, self.clock.now(), self._stored,
                          device_ref_of=self.device_ref_of)
            except BaseException:
                # Not stored: written with the next batch's (nothing of it is lost meanwhile).
                self.tracker.changed.update(o.id for o in changed)
                raise
            with self._lock:
                self._snapshot = [_copy(o, self._stored.get(o.id)) for o in self.tracker.outages]
                self.version += 1

    def snapshot(self) -> tuple[int, list[Outage]]:
        """(version, outages) as of the last batch; safe from any thread."""
        with self._lock:
            return self.version, list(self._snapshot)


def _copy(o: Outage, stored_id: int | None) -> Outage:
    """The tracker's outage for the snapshot, under its database id once it has one."""
    from dataclasses import replace

    return replace(o, id=o.id if stored_id is None else stored_id, flags=list(o.flags))


def ground_truth_event(relay_label: str, bench: str, off: bool, at: datetime, channel: int = 1) -> DeviceEvent:
    """The event recorded when the lab's relay cut (off=True) or restored a bench's supply."""
    return DeviceEvent(
        device=relay_label, kind=EventKind.OUTAGE_START if off else EventKind.OUTAGE_END, host_time=at,
        fields={"source": "relay", "bench": bench, "channel": channel,
                "relay_state": "OFF" if off else "ON"},
    )
