"""Relay switching as ground truth, whoever switched: a script, a run or a line typed in the raw
console.

A bench's relay board speaks a line protocol (``resources/profiles/relay.toml``): every command
line gets exactly one reply line, in order (``OK``, ``ERR ...``, or ``RELAY n ON|OFF`` for
``STATUS``). The reply does not repeat the command, so the watch reads what is written to the
board (the session's "tx" tap) and pairs each command with the next reply the codec decodes. A
``RELAY n ON|OFF`` command the board answers ``OK`` becomes the ground-truth event of
:func:`app.services.outages.ground_truth_event`, at the host time of the ``OK``: the moment
MeterLab knew the supply was cut or restored, as for a scripted outage.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from app.domain.events import DeviceEvent, EventKind
from app.services.outages import ground_truth_event

#: Reply states of the relay profile: each answers one command line.
REPLY_STATES = frozenset({"ok", "error", "relay"})
#: Commands remembered while waiting for their replies (a board that never answers is not
#: allowed to grow the queue without bound).
MAX_PENDING = 64
#: Longest command line the board takes (longer ones are dropped unparsed).
MAX_LINE_BYTES = 64


@dataclass(frozen=True, slots=True)
class Switch:
    """A ``RELAY <channel> ON|OFF`` command."""

    channel: int
    off: bool


def parse_command(line: bytes) -> Switch | None:
    """The switch a command line asks for, or None for another command (STATUS, garbage)."""
    words = line.decode("ascii", errors="replace").upper().split()
    if len(words) == 3 and words[0] == "RELAY" and words[1].isdigit() and words[2] in ("ON", "OFF"):
        return Switch(int(words[1]), words[2] == "OFF")
    return None


class RelayWatch:
    """Turns a relay board's acknowledged switch commands into ground-truth events.

    Args:
        label: the relay board's device label.
        bench: the bench whose supply the board switches ("" until known).
    """

    def __init__(self, label: str, bench: str = "") -> None:
        self.label = label
        self.bench = bench
        self._line = bytearray()
        self._pending: deque[Switch | None] = deque(maxlen=MAX_PENDING)
        self._lock = threading.Lock()

    def sent(self, data: bytes) -> None:
        """Bytes written to the board (any writer): each complete command line awaits a reply."""
        with self._lock:
            self._line += data
            while True:
                ends = [p for p in (self._line.find(b"\r"), self._line.find(b"\n")) if p >= 0]
                if not ends:
                    if len(self._line) > MAX_LINE_BYTES:
                        self._line.clear()
                    return
                end = min(ends)
                line = bytes(self._line[:end])
                del self._line[: end + 1]
                if line.strip():  # the board ignores empty lines (the LF of a CR LF)
                    self._pending.append(parse_command(line))

    def replies(self, events: Sequence[DeviceEvent]) -> list[DeviceEvent]:
        """The ground-truth events that decoded replies in `events` confirm (often none)."""
        out: list[DeviceEvent] = []
        with self._lock:
            for ev in events:
                if ev.kind is not EventKind.STATUS or ev.fields.get("state") not in REPLY_STATES:
                    continue
                if not self._pending:
                    continue  # a reply to nothing we saw written (written before we watched)
                command = self._pending.popleft()
                if command is not None and ev.fields.get("state") == "ok":
                    out.append(ground_truth_event(self.label, self.bench or self.label,
                                                  command.off, ev.host_time, command.channel))
        return out
