"""IEC 62056-21 mode C data readout, host side, sans-I/O.

The host sends the request at 300 baud 7E1, the meter identifies itself and offers a baud rate,
the host acknowledges with an option select and both switch speed, then the meter sends its data
message. :class:`IecReadoutClient` never touches a port: ``start()`` gives the request to send,
``feed()`` takes what the meter sent, ``take_actions()`` says what the host must do next and
``timeout()`` is called when the host's reply timer expires.

Without ``start()`` the client decodes passively (a sniffed optical port): identifications become
status events and data messages become readings, and no actions are produced.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from app.domain.events import CodecEvent, EventKind
from devices.codecs.base import CodecStats
from devices.codecs.iec62056_21_frames import (
    BAUD_BY_CHAR,
    ETX,
    INITIAL_BAUD,
    MODE_B_BAUD_BY_CHAR,
    PARITY_MASK,
    Identification,
    Reading,
    bcc,
    build_data_message,
    build_identification,
    build_option_select,
    build_request,
    parse_data_block,
    parse_identification,
)

__all__ = [
    "BAUD_BY_CHAR",
    "INITIAL_BAUD",
    "MODE_B_BAUD_BY_CHAR",
    "Done",
    "Identification",
    "IecReadoutClient",
    "IecStep",
    "Reading",
    "Send",
    "SetBaud",
    "bcc",
    "build_data_message",
    "build_identification",
    "build_option_select",
    "build_request",
    "parse_data_block",
    "parse_identification",
]

#: How long the host should wait for each reply: clause 6.3.14 allows the meter up to 1.5 s
#: before answering (tr), plus the message's own transmission time at 300 baud.
REPLY_TIMEOUT_S = 3.0

#: Longest identification message kept while waiting for its CR LF (/ + 3 + 1 + \W + 32 + CR LF).
_MAX_IDENT_BYTES = 40

_ADDRESS_RE = re.compile(r"[0-9A-Za-z ]{0,32}")

# Where a frame may start: STX; "/" and three letters (an identification's manufacturer, clause
# 6.3.2); "/?" address "!" (a request, e.g. the echo of ours, clause 6.3.1); or the start of
# either cut short by the end of the buffer (the rest has not come yet). Any other "/" is garbage:
# skipping a run of them in one C-level search keeps a flood linear.
_FRAME_START = re.compile(
    rb"\x02|/(?:[A-Za-z]{3}|\?[0-9A-Za-z ]{0,32}!|[A-Za-z]{0,2}\Z|\?[0-9A-Za-z ]{0,32}\Z)"
)


class IecStep(str, Enum):
    """Where the readout is; the value names the step a timeout reports."""

    IDLE = "idle"
    REQUEST = "request"  # request sent, waiting for the identification
    OPTION_SELECT = "option_select"  # identification answered, waiting for the data message
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Send:
    """Write these bytes to the meter."""

    data: bytes


@dataclass(frozen=True, slots=True)
class SetBaud:
    """Switch the port to this baud rate once everything sent so far has left the port."""

    baud: int


@dataclass(frozen=True, slots=True)
class Done:
    """The readout is over; ``ok`` tells whether a data message was received."""

    ok: bool
    reason: str = ""


Action = Send | SetBaud | Done


class IecReadoutClient:
    """Host side of a mode C readout (also accepts mode A and B meters).

    Args:
        address: the device address for the request (empty: any meter on the probe).
        max_baud: the fastest baud the host port supports; a meter offering more is asked for
            the fastest mode C rate not above it.
        max_block_bytes: longest data message kept while waiting for its ETX.

    Attributes:
        stats: frames = identifications and data messages accepted; errors = BCC mismatches and
            timeouts; resyncs/dropped_bytes = garbage skipped.
        step: the current :class:`IecStep`.
    """

    def __init__(
        self, address: str = "", max_baud: int = 19200, max_block_bytes: int = 65536
    ) -> None:
        if not _ADDRESS_RE.fullmatch(address):
            raise ValueError(
                f"device address {address!r} must be up to 32 letters, digits or spaces"
            )
        if max_baud < INITIAL_BAUD:
            raise ValueError(f"max_baud must be at least {INITIAL_BAUD}")
        self.address = address
        self.max_baud = max_baud
        self.max_block_bytes = max_block_bytes
        self.stats = CodecStats()
        self.step = IecStep.IDLE
        self._buf = bytearray()
        self._actions: list[Action] = []
        self._request = build_request(address)
        self._option = b""
        # True while discarding garbage (so a stretch of it counts as one resync).
        self._lost = False
        # How far the data message at the start of the buffer was searched for ETX in vain, so
        # that a message arriving a byte at a time is not searched from its start every time.
        self._etx_searched = 0

    def reset(self) -> None:
        """Forget buffered bytes, queued actions and the readout in progress."""
        self._buf.clear()
        self._actions.clear()
        self._option = b""
        self._lost = False
        self._etx_searched = 0
        self.step = IecStep.IDLE

    def start(self) -> bytes:
        """Begin a readout: return the request to send at :data:`INITIAL_BAUD` (7E1)."""
        self.reset()
        self.step = IecStep.REQUEST
        return self._request

    def take_actions(self) -> list[Action]:
        """Return and clear the actions the host must carry out, in order."""
        actions, self._actions = self._actions, []
        return actions

    def timeout(self) -> CodecEvent:
        """The host's reply timer expired: report which step got no reply and give up.

        Returns:
            An ERROR event with ``step`` (``request``: no identification; ``option_select``: no
            data message) and ``message``. A ``Done(ok=False)`` action is queued.
        """
        messages = {
            IecStep.REQUEST: "no identification message after the request (no reply from meter)",
            IecStep.OPTION_SELECT: "no data message after the option select",
        }
        message = messages.get(self.step, f"timeout while {self.step.value}: no readout running")
        step = self.step.value
        if self.step in messages:
            self.stats.errors += 1
            self.step = IecStep.FAILED
            self._actions.append(Done(False, message))
        return CodecEvent(EventKind.ERROR, {"step": step, "message": message})

    def feed(self, data: bytes) -> list[CodecEvent]:
        """Take bytes from the meter; return the events they complete."""
        self.stats.bytes_in += len(data)
        buf = self._buf
        buf += data.translate(PARITY_MASK)
        events: list[CodecEvent] = []
        while buf:
            option = self._option
            if option:
                # Half-duplex optical probes echo what the host sends: skip our option select.
                if buf.startswith(option):
                    del buf[: len(option)]
                    self._etx_searched = 0
                    continue
                if option.startswith(buf):
                    break  # maybe the start of the echo: wait for more
            found = _FRAME_START.search(buf)
            start = found.start() if found else len(buf)
            if start:
                self._discard(start)
                continue
            if self._frame(events) == 0:
                break
        return events

    def _discard(self, count: int, garbage: bool = True) -> None:
        del self._buf[:count]
        self._etx_searched = 0
        if garbage:
            self.stats.dropped_bytes += count
            # One resync per stretch of garbage, however it arrives.
            if not self._lost:
                self._lost = True
                self.stats.resyncs += 1
        else:
            self._lost = False

    def _frame(self, events: list[CodecEvent]) -> int:
        """Handle the frame at the start of the buffer; return bytes consumed (0 = need more)."""
        buf = self._buf
        if buf[0] == 0x2F:  # "/": identification, or the echo of our request
            # Only the first _MAX_IDENT_BYTES + 1 bytes can hold its line end: searching further
            # would make a flood of "/" cost the square of its length.
            end = buf.find(b"\n", 0, _MAX_IDENT_BYTES + 1)
            if end < 0:
                if len(buf) > _MAX_IDENT_BYTES:
                    self._discard(1)
                    return 1
                return 0
            line = bytes(buf[: end + 1])
            if line == self._request:
                self._discard(len(line), garbage=False)
                return len(line)
            ident = parse_identification(line)
            if ident is None:
                self._discard(1)
                return 1
            self._discard(len(line), garbage=False)
            self.stats.frames += 1
            events.append(self._identified(ident))
            return len(line)
        # STX: the data message runs to ETX, followed by the BCC.
        etx = buf.find(ETX, self._etx_searched)
        if etx < 0:
            self._etx_searched = len(buf)
            if len(buf) > self.max_block_bytes:
                # The message kept so far is dropped as one block with one error: dropping it a
                # byte at a time would report every byte of an STX flood as a message of its own.
                size = self.max_block_bytes
                self.stats.errors += 1
                events.append(
                    self._error(
                        "data",
                        f"data message without ETX within {size} bytes: {size} bytes discarded",
                        0,
                    )
                )
                self._discard(size)
                return size
            return 0
        if etx + 1 >= len(buf):
            self._etx_searched = etx
            return 0  # the BCC has not come yet
        received = buf[etx + 1]
        computed = bcc(buf[1 : etx + 1])
        block = bytes(buf[1:etx])
        size = etx + 2
        if received != computed:
            self.stats.errors += 1
            events.append(
                self._error(
                    "data",
                    f"BCC mismatch: received {received:02X}, computed {computed:02X}; "
                    "data message rejected",
                    etx + 1,
                )
            )
            self._discard(size)
            return size
        self._discard(size, garbage=False)
        self.stats.frames += 1
        readings = parse_data_block(block)
        for reading in readings:
            fields = {
                "obis": reading.obis,
                "value": reading.value,
                "unit": reading.unit,
                "raw": reading.raw,
            }
            if reading.index:
                fields["index"] = reading.index
            events.append(CodecEvent(EventKind.READING, fields))
        events.append(CodecEvent(EventKind.STATUS, {"step": "data", "readings": len(readings)}))
        if self.step in (IecStep.REQUEST, IecStep.OPTION_SELECT):
            self.step = IecStep.DONE
            self._actions.append(Done(True))
        return size

    def _identified(self, ident: Identification) -> CodecEvent:
        char = ident.baud_char
        if char in BAUD_BY_CHAR:
            mode, offered = "C", BAUD_BY_CHAR[char]
        elif char in MODE_B_BAUD_BY_CHAR:
            mode, offered = "B", MODE_B_BAUD_BY_CHAR[char]
        else:
            mode, offered = "A", INITIAL_BAUD
        fields = {
            "step": "identification",
            "manufacturer": ident.manufacturer,
            "baud_char": char,
            "baud": offered,
            "mode": mode,
            "enhanced_id": ident.enhanced_id,
            "identification": ident.identification,
        }
        if self.step is IecStep.REQUEST:
            self.step = IecStep.OPTION_SELECT
            if mode == "C":
                # Clause 6.4.3: the host may select any rate up to the one proposed.
                chosen = max(
                    (c for c, b in BAUD_BY_CHAR.items() if b <= min(offered, self.max_baud)),
                    key=BAUD_BY_CHAR.__getitem__,
                )
                self._option = build_option_select(chosen)
                self._actions += [Send(self._option), SetBaud(BAUD_BY_CHAR[chosen])]
                fields["selected_baud"] = BAUD_BY_CHAR[chosen]
            elif mode == "B":
                # Mode B: the meter changes speed right after its identification (6.4.2).
                self._actions.append(SetBaud(offered))
        return CodecEvent(EventKind.STATUS, fields)

    def _error(self, step: str, message: str, offset: int) -> CodecEvent:
        # ``offset`` is relative to the buffer; report it as a position in the whole stream.
        position = self.stats.bytes_in - len(self._buf) + offset
        return CodecEvent(EventKind.ERROR, {"step": step, "message": message, "offset": position})
