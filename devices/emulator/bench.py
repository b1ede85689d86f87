"""An emulated bench: ESME optical port, Comms Hub debug port and relay board sharing one mains.

:class:`EmulatedBench` wires the endpoints to one :class:`~devices.emulator.power.BenchPower` and
one :class:`~devices.emulator.clock.ScaledClock`; a carrier (the pty host, or an in-process
transport) then moves their bytes.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from app.domain.devices import mpan_check_digit
from devices.emulator.clock import ScaledClock
from devices.emulator.comms_hub import CommsHubDebugPort, HanDevice, HanKind, HubSettings
from devices.emulator.endpoint import EmulatedEndpoint
from devices.emulator.esme_optical import EsmeOpticalPort, OpticalSettings
from devices.emulator.faults import ActiveFaults, Fault, unique_faults
from devices.emulator.pacing import FloodMode
from devices.emulator.power import (
    BenchPower,
    MeterRegisters,
    PlannedOutage,
    PowerEvent,
    as_plan,
    power_event_log,
)
from devices.emulator.relay import RelayBoard

#: Port names, as reported to the host (``{"esme_optical": "/dev/pts/5", ...}``).
ESME_OPTICAL = "esme_optical"
CH_DEBUG = "ch_debug"
RELAY = "relay"

_EUI64 = re.compile(r"[A-Fa-f0-9]{2}(-[A-Fa-f0-9]{2}){7}")  # DUIS schema type EUI


@dataclass
class BenchConfig:
    """Identities and behaviour of an emulated bench.

    Attributes:
        esme_eui: ESME device ID (EUI-64).
        gsme_eui: GSME device ID.
        chf_eui: Comms Hub Function device ID.
        ihd_eui: IHD device ID.
        mpan: MPAN core of the bench supply (13 digits with a valid check digit).
        time_scale: emulated seconds per real second.
        start: emulated wall time when the bench starts (None: the real time now, UTC).
        alert_rate_per_min: routine hub alerts per real minute.
        seed: makes noise, alert choice and timing jitter reproducible (None: not reproducible).
        outage_plan: scripted outages ``(start_after_s real, duration_emulated_s)``.
        reply_delay_s: the optical port's reaction time, real seconds.
        corrupt_bcc: the optical port sends wrong BCCs.
        pace_baud: limit the hub's debug output to ``pace_baud / 10`` bytes per second.
        flood: hostile debug output for robustness tests.
        noise_lines_per_s: hub debug noise lines per real second.
        relay_channels: channels on the relay board (channel 1 switches the mains).
        faults: deliberate faults active from the start (one per kind; the last of a kind wins).
    """

    esme_eui: str = "00-DB-12-34-56-78-90-A0"
    gsme_eui: str = "00-DB-12-34-56-78-90-A1"
    chf_eui: str = "00-DB-12-34-56-78-90-A2"
    ihd_eui: str = "00-DB-12-34-56-78-90-A3"
    mpan: str = "1312345678907"
    time_scale: float = 1.0
    start: datetime | None = None
    alert_rate_per_min: float = 2.0
    seed: int | None = None
    outage_plan: list[PlannedOutage | tuple[float, float]] = field(default_factory=list)
    reply_delay_s: float = 0.2
    corrupt_bcc: bool = False
    pace_baud: int | None = None
    flood: FloodMode | None = None
    noise_lines_per_s: float = 1.0
    relay_channels: int = 4
    faults: tuple[Fault, ...] = ()

    def __post_init__(self) -> None:
        for name in ("esme_eui", "gsme_eui", "chf_eui", "ihd_eui"):
            value = getattr(self, name)
            if not _EUI64.fullmatch(value):
                raise ValueError(
                    f"{name}: {value!r} is not an EUI-64; expected 8 hex pairs joined by hyphens, "
                    "e.g. 00-DB-12-34-56-78-90-A0."
                )
            setattr(self, name, value.upper())
        if not (len(self.mpan) == 13 and self.mpan.isdigit()) or mpan_check_digit(
            self.mpan[:12]
        ) != int(self.mpan[12]):
            raise ValueError(
                f"mpan: {self.mpan!r} is not a valid MPAN core; expected 13 digits with a valid "
                "check digit, e.g. 1312345678907."
            )
        if not self.time_scale > 0:
            raise ValueError(f"time_scale: expected a positive number, got {self.time_scale!r}.")
        if self.alert_rate_per_min < 0:
            raise ValueError(
                f"alert_rate_per_min: expected 0 or more, got {self.alert_rate_per_min!r}."
            )
        self.outage_plan = list(as_plan(self.outage_plan))
        self.faults = unique_faults(self.faults)


class EmulatedBench:
    """The bench's emulated devices, sharing power, clock and the active faults.

    Attributes:
        faults: the active faults, shared by the devices (change them with :meth:`set_faults`).

    Args:
        config: identities and behaviour.
        monotonic: real monotonic time source (a test may pass a hand-driven one).
        outage_plan: overrides ``config.outage_plan`` when given.
    """

    def __init__(
        self,
        config: BenchConfig | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        outage_plan: Iterable[PlannedOutage | tuple[float, float]] | None = None,
    ) -> None:
        self.config = config or BenchConfig()
        start = self.config.start or datetime.now(UTC).replace(microsecond=0)
        self.clock = ScaledClock(start, self.config.time_scale, monotonic)
        plan = as_plan(self.config.outage_plan if outage_plan is None else outage_plan)
        self.power = BenchPower(self.clock, plan)
        self.faults = ActiveFaults(self.config.faults)
        self.registers = MeterRegisters(self.power)
        serial = "EML" + self.config.esme_eui.replace("-", "")[-10:]
        self.esme_optical = EsmeOpticalPort(
            self.power,
            self.registers,
            self.clock,
            OpticalSettings(
                serial=serial,
                device_address=serial,
                reply_delay_s=self.config.reply_delay_s,
                corrupt_bcc=self.config.corrupt_bcc,
            ),
            faults=self.faults,
        )
        self.comms_hub = CommsHubDebugPort(
            self.power,
            self.registers,
            self.clock,
            chf_eui=self.config.chf_eui,
            han=[
                HanDevice(self.config.esme_eui, HanKind.ESME),
                HanDevice(self.config.gsme_eui, HanKind.GSME),
                HanDevice(self.config.ihd_eui, HanKind.IHD),
            ],
            mpxn=self.config.mpan,
            settings=HubSettings(
                alert_rate_per_min=self.config.alert_rate_per_min,
                noise_lines_per_s=self.config.noise_lines_per_s,
                pace_baud=self.config.pace_baud,
                flood=self.config.flood,
            ),
            seed=self.config.seed,
            faults=self.faults,
        )
        self.relay = RelayBoard(self.power, channels=self.config.relay_channels)

    def set_faults(self, faults: Iterable[Fault]) -> None:
        """Replace the active faults while the bench runs (an empty iterable: healthy again).

        Safe to call from any thread. A fault about the restore (alert code, delay, outage lines)
        applies from the next restore the devices see; ``counter-stuck`` from the next outage;
        ``silent-after-restore`` at once if the supply has already been restored.
        """
        self.faults.set(faults)

    def esme_power_events(self, now_s: float) -> list[PowerEvent]:
        """The ESME's power event log at ``now_s``: 8F57 per outage, then 8F35 or 8F36."""
        return power_event_log(self.power.outages(now_s))

    def endpoints(self) -> dict[str, EmulatedEndpoint]:
        """The bench's ports by name: ``esme_optical``, ``ch_debug``, ``relay``."""
        return {ESME_OPTICAL: self.esme_optical, CH_DEBUG: self.comms_hub, RELAY: self.relay}
