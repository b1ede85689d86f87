"""Emulated Communications Hub debug port: a plausible log of the hub's life (sans-I/O endpoint).

After power-up the hub prints a boot line, a status line and HAN joins of the ESME, GSME and IHD,
then periodic status lines, periodic ESME readings, radio noise, and GBCS alerts relayed from the
meters (and its own) at a configured rate. The hub is powered from the ESME supply, so while the
bench has no mains it prints nothing; when mains return it boots again, reports the outage with
its emulated start and restore times, and relays the ESME's restore alert: 8F35 for an outage
under three minutes, 8F36 for three minutes or more (GBCS alert code table).

Deliberate faults (:mod:`devices.emulator.faults`) change the restore report: ``no-outage-log``
leaves out the outage lines, ``wrong-restore-alert`` swaps the alert code, ``late-alert`` delays
the alert (its GBCS time stays the restore time) and ``no-restore-alert`` leaves it out.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Literal

from devices.codecs.gbcs_build import build_alert_apdu
from devices.emulator.clock import ScaledClock, iso_ms
from devices.emulator.faults import ActiveFaults, FaultKind
from devices.emulator.hub_log import LogLevel, NoiseSource, Timeline, format_log_line
from devices.emulator.pacing import BytePacer, FloodMode, FloodSource
from devices.emulator.power import (
    SUPPLY_RESTORED,
    SUPPLY_RESTORED_LONG,
    BenchPower,
    MeterRegisters,
    Outage,
    restore_alert_code,
)

# Routine alerts the hub relays, per originator kind, from the GBCS alert code table.
ESME_ALERTS = (0x8F0A, 0x8F01, 0x8F0C, 0x8F3F)  # billing log, load limit, clock, tamper
GSME_ALERTS = (0x8F1F, 0x8F0A, 0x8F73)  # low battery, billing log, battery cover removed
CHF_ALERTS = (0x8F12, 0x8F66, 0x8F67)  # CHF log changed, future-dated command (not) actioned
ENDLESS_CHUNK_BYTES = 4096
CATCH_UP_S = 1.0  # periodic output further behind than this (real seconds) is skipped, not burst
RESTORE_ALERT_DELAY_S = 2.0  # emulated seconds from restore to the relayed restore alert


class HanKind(str, Enum):
    """Device types that join the hub's HAN (DUIS device types)."""

    ESME = "ESME"
    GSME = "GSME"
    IHD = "IHD"


@dataclass(frozen=True, slots=True)
class HanDevice:
    """A device on the hub's HAN."""

    eui: str
    kind: HanKind


@dataclass
class HubSettings:
    """Behaviour of the emulated hub.

    Attributes:
        firmware: firmware text in the boot line.
        alert_rate_per_min: routine alerts per real minute (0 disables them). Their originator
            is random, but every other one at least is the ESME's (when the hub has one), so a
            test waiting for a meter's alert waits at most two alert intervals.
        status_period_s: emulated seconds between status lines.
        read_period_s: emulated seconds between ESME register readings.
        noise_lines_per_s: debug noise lines per real second (0 disables them).
        rssi_dbm: typical WAN signal strength reported in status lines.
        acb_eui: recipient of alerts (the DCC access control broker's entity identifier).
        pace_baud: limit output to ``pace_baud / 10`` bytes per real second (None: unlimited).
        flood: hostile output mode for robustness tests (None: an ordinary log).
        backlog_limit_bytes: output not yet sent beyond this is dropped, oldest first.
    """

    firmware: str = "CH-EMU 1.4.2"
    alert_rate_per_min: float = 2.0
    status_period_s: float = 60.0
    read_period_s: float = 300.0
    noise_lines_per_s: float = 1.0
    rssi_dbm: int = -71
    acb_eui: str = "90-B3-D5-1F-30-01-00-00"
    pace_baud: int | None = None
    flood: FloodMode | None = None
    backlog_limit_bytes: int = 65536


class _Job(Enum):
    LINE = "line"
    STATUS = "status"
    READ = "read"
    NOISE = "noise"
    ALERT = "alert"
    JOIN = "join"
    RESTORE_ALERT = "restore_alert"


@dataclass(frozen=True, slots=True)
class _RestoreAlert:
    """The ESME's restore alert, built when it is sent so its counter follows the send order."""

    code: int
    restored_at: datetime


# A ready line, a joining device, a restore alert, or none.
_Payload = tuple[LogLevel, str, str] | HanDevice | _RestoreAlert | None


class CommsHubDebugPort:
    """The hub's serial debug port.

    Args:
        power: bench mains (the hub is powered from the ESME supply).
        registers: the ESME's registers, for the hub's periodic readings.
        clock: the bench clock; log and alert timestamps are emulated time.
        chf_eui: the hub's own EUI-64.
        han: devices that join the HAN after each boot (the first ESME is the electricity meter).
        mpxn: the supply point (MPAN) reported with outages.
        settings: rates and output options.
        seed: seed for noise, alert choice and timing jitter (None: not reproducible).
        faults: the bench's active faults, read at each restore (None: always healthy).

    Attributes:
        boots: power-ups so far (the first at the clock's start).
        dropped_bytes: output discarded because the backlog was over its limit.
        suppressed_lines: noise lines not made because the output was saturated.
    """

    def __init__(
        self,
        power: BenchPower,
        registers: MeterRegisters,
        clock: ScaledClock,
        chf_eui: str,
        han: Sequence[HanDevice],
        mpxn: str,
        settings: HubSettings | None = None,
        seed: int | None = None,
        faults: ActiveFaults | None = None,
    ) -> None:
        self.settings = settings or HubSettings()
        self._faults = faults or ActiveFaults()
        self._power = power
        self._registers = registers
        self._clock = clock
        self._chf_eui = chf_eui
        self._han = list(han)
        self._esme = next((d for d in self._han if d.kind is HanKind.ESME), None)
        self._mpxn = mpxn
        self._alert_rng = random.Random(None if seed is None else f"{seed}/alerts")
        self._noise = NoiseSource(random.Random(None if seed is None else f"{seed}/noise"))
        self._status_rng = random.Random(None if seed is None else f"{seed}/status")
        flood_rng = random.Random(None if seed is None else f"{seed}/flood")
        self._flood = (
            None if self.settings.flood is None else FloodSource(self.settings.flood, flood_rng)
        )
        self._pacer = (
            None
            if self.settings.pace_baud is None
            else BytePacer(self.settings.pace_baud, clock.t0_s)
        )
        self._timeline: Timeline[tuple[_Job, _Payload]] = Timeline()
        self._backlog = bytearray()
        self._counters: dict[str, int] = {}
        self._last_alert_esme = True
        self._alive = False
        self._outages_handled = 0
        self._boot_s = clock.t0_s
        self._joined = 0
        self.dropped_bytes = 0
        self.suppressed_lines = 0
        self.boots = 0
        self._boot(clock.t0_s, None)

    def handle_input(self, data: bytes) -> None:
        """The debug port is output-only; bytes from the host are ignored."""

    def pending_output(self, now_s: float) -> bytes:
        """Log output due by ``now_s``, within the pacing allowance."""
        out = bytearray()
        outages = self._power.outages(now_s)
        while True:
            if self._alive and len(outages) > self._outages_handled:
                cut = outages[self._outages_handled]
                self._run_until(cut.start_mono_s)
                out += self._drain(cut.start_mono_s)
                self._die()
            elif not self._alive and outages[self._outages_handled].end_mono_s is not None:
                restored = outages[self._outages_handled]
                self._outages_handled += 1
                self._boot(restored.end_mono_s or now_s, restored)
            else:
                break
        if self._alive:
            self._run_until(now_s)
            out += self._drain(now_s)
        return bytes(out)

    def _die(self) -> None:
        self._alive = False
        self._timeline.clear()
        self._backlog.clear()

    def _boot(self, at_s: float, outage: Outage | None) -> None:
        """Schedule a power-up sequence at monotonic ``at_s``; offsets are emulated seconds."""
        self._alive = True
        self._boot_s = at_s
        self._joined = 0
        self.boots += 1
        self._timeline.clear()
        self._at(at_s, 0.0, _Job.LINE, (LogLevel.INFO, "SYS", self._boot_message()))
        if self._flood is not None and self._flood.mode is FloodMode.ENDLESS_LINE:
            return  # after the boot line, one line that never ends
        self._at(at_s, 0.5, _Job.STATUS, None)
        for index, device in enumerate(self._han):
            self._at(at_s, 1.0 + 0.2 * index, _Job.JOIN, device)
        if outage is not None and outage.end is not None:
            self._schedule_outage_report(at_s, outage, outage.end)
        self._at(at_s, 5.0, _Job.READ, None)
        if self.settings.noise_lines_per_s > 0:
            self._timeline.add(at_s + 1.0 / self.settings.noise_lines_per_s, (_Job.NOISE, None))
        if self.settings.alert_rate_per_min > 0:
            self._timeline.add(at_s + self._alert_interval_s(), (_Job.ALERT, None))

    def _schedule_outage_report(self, at_s: float, outage: Outage, end: datetime) -> None:
        duration_s = (end - outage.start).total_seconds()
        faults = self._faults
        if FaultKind.NO_OUTAGE_LOG not in faults:
            start_text = f"start={iso_ms(outage.start)} mpxn={self._mpxn}"
            restored_text = (
                f"restored at={iso_ms(end)} duration_s={duration_s:.1f} mpxn={self._mpxn}"
            )
            self._at(at_s, 1.8, _Job.LINE, (LogLevel.WARNING, "PWR", "outage " + start_text))
            self._at(at_s, 1.81, _Job.LINE, (LogLevel.INFO, "PWR", restored_text))
        if self._esme is None or FaultKind.NO_RESTORE_ALERT in faults:
            return
        code = restore_alert_code(duration_s)
        if FaultKind.WRONG_RESTORE_ALERT in faults:
            code = SUPPLY_RESTORED if code == SUPPLY_RESTORED_LONG else SUPPLY_RESTORED_LONG
        late = faults.get(FaultKind.LATE_ALERT)
        delay_s = RESTORE_ALERT_DELAY_S if late is None or late.value is None else late.value
        self._at(at_s, delay_s, _Job.RESTORE_ALERT, _RestoreAlert(code, end))

    def _at(self, base_s: float, offset_emulated_s: float, job: _Job, payload: _Payload) -> None:
        self._timeline.add(base_s + self._clock.real_s(offset_emulated_s), (job, payload))

    def _run_until(self, until_s: float) -> None:
        while (due := self._timeline.pop_due(until_s)) is not None:
            due_s, (job, payload) = due
            self._do(job, payload, due_s, until_s)
        if (
            self._flood is not None
            and self._flood.mode is FloodMode.ENDLESS_LINE
            and not self._timeline
        ):
            self._fill_endless(until_s)

    def _do(self, job: _Job, payload: _Payload, due_s: float, until_s: float) -> None:
        moment = self._clock.emulated_at(due_s)
        if job is _Job.LINE:
            assert isinstance(payload, tuple)
            level, subsystem, message = payload
            self._emit(format_log_line(moment, level, subsystem, message))
        elif job is _Job.RESTORE_ALERT:
            assert isinstance(payload, _RestoreAlert) and self._esme is not None
            # Sent now, stamped with the moment the meter saw its supply return.
            message = self._alert_message(self._esme.eui, payload.code, payload.restored_at, "dlms")
            self._emit(format_log_line(moment, LogLevel.INFO, "GBCS", message))
        elif job is _Job.JOIN:
            assert isinstance(payload, HanDevice)
            self._joined += 1
            text = f"join eui={payload.eui} type={payload.kind.value}"
            self._emit(format_log_line(moment, LogLevel.INFO, "HAN", text))
        elif job is _Job.STATUS:
            self._emit(format_log_line(moment, LogLevel.INFO, "SYS", self._status_message(due_s)))
            self._repeat(job, due_s, self._clock.real_s(self.settings.status_period_s), until_s)
        elif job is _Job.READ:
            if self._esme is not None:
                text = (
                    f"eui={self._esme.eui} obis=1.8.0 "
                    f"value={self._registers.import_kwh(due_s):.3f} unit=kWh"
                )
                self._emit(format_log_line(moment, LogLevel.INFO, "READ", text))
            self._repeat(job, due_s, self._clock.real_s(self.settings.read_period_s), until_s)
        elif job is _Job.NOISE:
            if len(self._backlog) >= self.settings.backlog_limit_bytes:
                # The output is saturated: a line made now would only push out an older one.
                self.suppressed_lines += 1
            elif self._flood is not None and self._flood.mode is FloodMode.GARBAGE:
                self._emit(self._flood.garbage_burst())
            else:
                self._emit(format_log_line(moment, *self._noise.next_line()))
            self._repeat(job, due_s, 1.0 / self.settings.noise_lines_per_s, until_s)
        elif job is _Job.ALERT:
            self._emit(self._routine_alert(moment))
            self._repeat(job, due_s, self._alert_interval_s(), until_s)

    def _repeat(self, job: _Job, due_s: float, period_s: float, until_s: float) -> None:
        """Reschedule a periodic job; after a long stall, skip the missed runs rather than burst."""
        next_s = due_s + period_s
        if next_s < until_s - max(period_s, CATCH_UP_S):
            next_s = until_s
        self._timeline.add(next_s, (job, None))

    def _routine_alert(self, moment: datetime) -> bytes:
        roll = self._alert_rng.random()
        if not self._last_alert_esme and self._esme is not None:
            roll = 0.1 + roll * 0.45  # the ESME's turn: never two alerts in a row from others
        gsme = next((d for d in self._han if d.kind is HanKind.GSME), None)
        self._last_alert_esme = False
        if roll < 0.1 or (self._esme is None and gsme is None):
            code = self._alert_rng.choice(CHF_ALERTS)
            message = self._alert_message(self._chf_eui, code, moment, "der", ciphered=True)
        elif (roll < 0.55 and self._esme is not None) or gsme is None:
            assert self._esme is not None
            code = self._alert_rng.choice(ESME_ALERTS)
            message = self._alert_message(self._esme.eui, code, moment, "dlms")
            self._last_alert_esme = True
        else:
            code = self._alert_rng.choice(GSME_ALERTS)
            message = self._alert_message(gsme.eui, code, moment, "gbz")
        return format_log_line(moment, LogLevel.INFO, "GBCS", message)

    def _alert_message(
        self,
        originator: str,
        code: int,
        moment: datetime,
        content: Literal["dlms", "gbz", "der"],
        ciphered: bool = False,
    ) -> str:
        counter = self._counters.get(originator, 0) + 1
        self._counters[originator] = counter
        apdu = build_alert_apdu(
            alert_code=code,
            originator=originator,
            recipient=self.settings.acb_eui,
            alert_time=moment,
            content=content,
            ciphered=ciphered,
            counter=counter,
        )
        return f"alert rx eui={originator} apdu={apdu.hex().upper()}"

    def _alert_interval_s(self) -> float:
        mean_s = 60.0 / self.settings.alert_rate_per_min
        return mean_s * self._alert_rng.uniform(0.5, 1.5)

    def _boot_message(self) -> str:
        return f"boot fw={self.settings.firmware} eui={self._chf_eui}"

    def _status_message(self, due_s: float) -> str:
        uptime_s = int(
            self._clock.emulated_elapsed_s(due_s) - self._clock.emulated_elapsed_s(self._boot_s)
        )
        # A wobble of a few dB, like a real WAN link.
        rssi_dbm = self.settings.rssi_dbm + self._status_rng.randint(-2, 2)
        return f"status uptime_s={uptime_s} wan=UP rssi_dbm={rssi_dbm} han_devices={self._joined}"

    def _emit(self, data: bytes) -> None:
        self._backlog += data
        excess = len(self._backlog) - self.settings.backlog_limit_bytes
        if excess > 0:
            del self._backlog[:excess]
            self.dropped_bytes += excess

    def _fill_endless(self, until_s: float) -> None:
        assert self._flood is not None
        room = ENDLESS_CHUNK_BYTES - len(self._backlog)
        if self._pacer is not None:
            room = min(room, self._pacer.allowance(until_s) - len(self._backlog))
        if room > 0:
            self._backlog += self._flood.endless(room)

    def _drain(self, now_s: float) -> bytes:
        if self._pacer is None:
            count = len(self._backlog)
        else:
            count = min(len(self._backlog), self._pacer.allowance(now_s))
            self._pacer.spend(count)
        data = bytes(self._backlog[:count])
        del self._backlog[:count]
        return data
