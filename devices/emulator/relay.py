"""Emulated USB relay board speaking a line-based ASCII protocol (sans-I/O endpoint).

Commands end with CR or LF (a CRLF pair gives an empty line, which is ignored), case-insensitive:

``RELAY <n> ON`` / ``RELAY <n> OFF``
    switch channel n, reply ``OK``. Channel 1 is wired to the bench mains.
``STATUS`` / ``STATUS <n>``
    reply ``RELAY <n> ON`` or ``RELAY <n> OFF`` (channel 1 when n is omitted).
anything else
    reply ``ERR unknown command``.

The board has its own USB supply, so it answers whether or not the bench has mains.
"""

from __future__ import annotations

from enum import Enum

from devices.emulator.power import BenchPower, CutSource

MAX_COMMAND_BYTES = 64  # longer lines are garbage; dropping them keeps the buffer bounded
MAINS_CHANNEL = 1


class RelayState(str, Enum):
    """Contact state of one relay channel."""

    ON = "ON"
    OFF = "OFF"


class RelayBoard:
    """A relay board whose channel 1 switches the bench mains.

    Commands are executed when the carrier next asks for output, at that monotonic time, so the
    outage history carries the moment the board acted.

    Args:
        power: the bench mains that channel 1 switches.
        channels: number of channels on the board (1-based numbering).
    """

    def __init__(self, power: BenchPower, channels: int = 4) -> None:
        if channels < 1:
            raise ValueError(f"a relay board needs at least one channel, got {channels}")
        self._power = power
        self._states = [RelayState.ON] * channels
        self._inbox = bytearray()
        self._overlong = False
        self.commands_seen = 0

    def state(self, channel: int) -> RelayState:
        """Contact state of ``channel`` (1-based)."""
        return self._states[channel - 1]

    def handle_input(self, data: bytes) -> None:
        """Take bytes the host wrote to the board."""
        self._inbox += data

    def pending_output(self, now_s: float) -> bytes:
        """Execute every complete command and return the replies."""
        replies = bytearray()
        while True:
            end = _line_end(self._inbox)
            if end < 0:
                if len(self._inbox) > MAX_COMMAND_BYTES:
                    self._inbox.clear()
                    self._overlong = True
                break
            line = bytes(self._inbox[:end])
            del self._inbox[: end + 1]
            if self._overlong:
                # The tail of a line already judged too long.
                self._overlong = False
                replies += b"ERR unknown command\r\n"
                continue
            if not line.strip():
                continue
            self.commands_seen += 1
            replies += self._execute(line, now_s).encode("ascii") + b"\r\n"
        return bytes(replies)

    def _execute(self, line: bytes, now_s: float) -> str:
        words = line.decode("ascii", errors="replace").upper().split()
        if len(words) == 3 and words[0] == "RELAY" and words[2] in ("ON", "OFF"):
            channel = self._channel(words[1])
            if channel is not None:
                self._switch(channel, RelayState(words[2]), now_s)
                return "OK"
        elif words and words[0] == "STATUS" and len(words) <= 2:
            channel = MAINS_CHANNEL if len(words) == 1 else self._channel(words[1])
            if channel is not None:
                return f"RELAY {channel} {self._states[channel - 1].value}"
        return "ERR unknown command"

    def _channel(self, word: str) -> int | None:
        if word.isdigit() and 1 <= int(word) <= len(self._states):
            return int(word)
        return None

    def _switch(self, channel: int, state: RelayState, now_s: float) -> None:
        self._states[channel - 1] = state
        if channel == MAINS_CHANNEL:
            self._power.set_cut(CutSource.RELAY, state is RelayState.OFF, now_s)


def _line_end(buffer: bytearray) -> int:
    """Index of the first CR or LF in ``buffer``, or -1."""
    positions = [p for p in (buffer.find(b"\r"), buffer.find(b"\n")) if p >= 0]
    return min(positions) if positions else -1
