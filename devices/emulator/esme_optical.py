"""Emulated ESME optical port: the meter side of an IEC 62056-21 mode C data readout (sans-I/O).

Exchange (IEC 62056-21 clause 6.3, protocol mode C):

1. host, at 300 baud 7E1: request ``/?`` [address] ``!`` CR LF
2. meter, after the reaction time: identification ``/EML5<ident>`` CR LF (``5`` offers 9600 baud)
3. host: option select ``ACK 0 Z 0`` CR LF (Z = baud character, last ``0`` = data readout);
   both sides then switch to the baud rate Z
4. meter, after the reaction time: data message ``STX`` data block ``!`` CR LF ``ETX`` BCC

A pseudo-terminal has no line speed, so the baud switch is recorded (``negotiated_baud``) rather
than enforced. While the bench has no mains the meter is dead: it answers nothing and forgets any
exchange in progress. When the supply returns it answers again at once (no boot delay).

The meter keeps its own power failure counter (C.7.0), one up for each outage it notices.
Deliberate faults (:mod:`devices.emulator.faults`): ``counter-stuck`` leaves outages uncounted,
``silent-after-restore`` makes the port answer nothing once the supply has been restored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from devices.codecs import iec62056_21 as iec
from devices.emulator.clock import ScaledClock
from devices.emulator.faults import ActiveFaults, FaultKind
from devices.emulator.power import BenchPower, MeterRegisters

# Baud-rate characters of protocol mode C (IEC 62056-21 clause 6.3.14, table 3).
MODE_C_BAUD = {"0": 300, "1": 600, "2": 1200, "3": 2400, "4": 4800, "5": 9600, "6": 19200}

_REQUEST = re.compile(rb"/\?([0-9A-Za-z ]{0,32})!\r\n")
_OPTION_SELECT = re.compile(rb"\x06([0-9])([0-9])([0-9])\r\n")
MAX_INBOX_BYTES = 256


def build_data_message(lines: list[str], corrupt_bcc: bool = False) -> bytes:
    """Frame data lines as ``STX`` block ``!`` CR LF ``ETX`` BCC (IEC 62056-21 clause 6.3.8).

    Args:
        lines: data lines such as ``1.8.0(012345.678*kWh)``, without line endings.
        corrupt_bcc: flip the lowest bit of the BCC, to exercise a host's error path.

    Raises:
        ValueError: a line is not 7-bit ASCII (UnicodeEncodeError).
    """
    message = iec.build_data_message(lines)
    if not corrupt_bcc:
        return message
    # The BCC is the message's last byte (clause 6.3.4).
    return message[:-1] + bytes([message[-1] ^ 0x01])


class OpticalState(str, Enum):
    """Where the meter is in a mode C exchange."""

    IDLE = "idle"
    AWAIT_OPTION = "await_option"  # identification queued or sent, waiting for option select


@dataclass
class OpticalSettings:
    """Behaviour of the emulated optical port.

    Attributes:
        manufacturer: three-letter flag in the identification (IEC 62056-21 clause 6.3.2).
        identification: model text after the baud character (at most 16 printable characters).
        serial: meter serial reported as OBIS 0.0.0.
        device_address: address accepted in ``/?address!``; an empty address is always accepted.
        reply_delay_s: reaction time before each reply, real seconds (real meters: about 200 ms).
        option_timeout_s: how long the meter waits for option select before going idle again.
        corrupt_bcc: send a wrong BCC in every data message.
    """

    manufacturer: str = "EML"
    identification: str = "EMLESME-2"
    serial: str = "EML1234567890"
    device_address: str = "EML1234567890"
    reply_delay_s: float = 0.2
    option_timeout_s: float = 5.0
    corrupt_bcc: bool = False


class EsmeOpticalPort:
    """The meter side of the ESME optical port.

    Args:
        power: bench mains; the meter is silent while it is off.
        registers: the meter's energy registers.
        clock: the bench clock, for the meter's date and time lines.
        settings: identification, address, timing and fault options.
        faults: the bench's active faults (None: always healthy).

    Attributes:
        power_failures: the meter's power failure counter (C.7.0) as last brought up to date.
    """

    def __init__(
        self,
        power: BenchPower,
        registers: MeterRegisters,
        clock: ScaledClock,
        settings: OpticalSettings | None = None,
        faults: ActiveFaults | None = None,
    ) -> None:
        self.settings = settings or OpticalSettings()
        self._faults = faults or ActiveFaults()
        self._power = power
        self._registers = registers
        self._clock = clock
        self._inbox = bytearray()
        self._queued: list[tuple[float, bytes]] = []
        self.state = OpticalState.IDLE
        self._await_since_s = 0.0
        self.negotiated_baud = MODE_C_BAUD["0"]
        self.readouts_sent = 0
        self.power_failures = 0
        self._outages_noticed = 0

    def handle_input(self, data: bytes) -> None:
        """Take bytes from the optical head; 7E1 on the wire, so only 7 data bits count."""
        self._inbox += bytes(byte & 0x7F for byte in data)

    def pending_output(self, now_s: float) -> bytes:
        """Answer complete requests and release replies whose reaction time has passed."""
        self._count_failures(now_s)
        if not self._power.is_on(now_s) or self._silenced(now_s):
            self._power_down()
            return b""
        if (
            self.state is OpticalState.AWAIT_OPTION
            and not self._queued
            and now_s - self._await_since_s > self.settings.option_timeout_s
        ):
            self.state = OpticalState.IDLE
        self._parse(now_s)
        out = bytearray()
        while self._queued and self._queued[0][0] <= now_s:
            out += self._queued.pop(0)[1]
        return bytes(out)

    def identification_message(self) -> bytes:
        """``/`` manufacturer ``5`` identification CR LF: ``5`` offers 9600 baud."""
        return iec.build_identification(
            self.settings.manufacturer, "5", self.settings.identification
        )

    def data_lines(self, now_s: float) -> list[str]:
        """The data block lines at ``now_s``, in OBIS reduced notation."""
        moment = self._clock.emulated_at(now_s)
        return [
            f"0.0.0({self.settings.serial})",
            f"0.9.1({moment:%H%M%S})",
            f"0.9.2({moment:%y%m%d})",
            f"1.8.0({self._registers.import_kwh(now_s):010.3f}*kWh)",
            f"2.8.0({self._registers.export_kwh(now_s):010.3f}*kWh)",
            f"1.7.0({self._registers.active_power_kw(now_s):06.3f}*kW)",
            f"C.7.0({self._count_failures(now_s):04d})",
        ]

    def _count_failures(self, now_s: float) -> int:
        """Bring the power failure counter up to date with the outages begun by ``now_s``."""
        started = self._power.failure_count(now_s)
        if started > self._outages_noticed:
            if FaultKind.COUNTER_STUCK not in self._faults:
                self.power_failures += started - self._outages_noticed
            self._outages_noticed = started
        return self.power_failures

    def _silenced(self, now_s: float) -> bool:
        """Whether ``silent-after-restore`` holds and the supply has been restored by ``now_s``."""
        if FaultKind.SILENT_AFTER_RESTORE not in self._faults:
            return False
        return any(
            outage.end_mono_s is not None and outage.end_mono_s <= now_s
            for outage in self._power.outages(now_s)
        )

    def _power_down(self) -> None:
        self._inbox.clear()
        self._queued.clear()
        self.state = OpticalState.IDLE
        self.negotiated_baud = MODE_C_BAUD["0"]

    def _parse(self, now_s: float) -> None:
        while (end := self._inbox.find(b"\n")) >= 0:
            line = bytes(self._inbox[: end + 1])
            del self._inbox[: end + 1]
            self._handle_line(line, now_s)
        if len(self._inbox) > MAX_INBOX_BYTES:
            self._inbox.clear()

    def _handle_line(self, line: bytes, now_s: float) -> None:
        request = _REQUEST.search(line)
        if request is not None:
            address = request.group(1).decode("ascii").strip()
            if address and address != self.settings.device_address:
                return  # addressed to another meter on the same bus (clause 6.3.1)
            self._queued.clear()
            self.negotiated_baud = MODE_C_BAUD["0"]
            self.state = OpticalState.AWAIT_OPTION
            self._await_since_s = now_s + self.settings.reply_delay_s
            self._queue(now_s, self.identification_message())
            return
        option = _OPTION_SELECT.fullmatch(line)
        if option is None or self.state is not OpticalState.AWAIT_OPTION:
            return
        protocol, baud_char, mode = (group.decode("ascii") for group in option.groups())
        self.state = OpticalState.IDLE
        # Only the normal protocol procedure in data readout mode is emulated; a programming
        # or HDLC request gets no answer, like a meter that refuses that mode.
        if protocol != "0" or mode != "0" or baud_char not in MODE_C_BAUD or baud_char > "5":
            return
        self.negotiated_baud = MODE_C_BAUD[baud_char]
        message = build_data_message(self.data_lines(now_s), corrupt_bcc=self.settings.corrupt_bcc)
        self._queue(now_s, message)
        self.readouts_sent += 1

    def _queue(self, now_s: float, message: bytes) -> None:
        self._queued.append((now_s + self.settings.reply_delay_s, message))
