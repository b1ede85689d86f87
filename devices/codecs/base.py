"""Shared contracts of the sans-I/O codecs: the error type, counters, the protocol, the registry.

A codec turns bytes into :class:`~app.domain.events.CodecEvent` values. It never reads or writes a
port itself, keeps its buffers bounded, resynchronises after garbage and counts what it did, so a
device session can show health figures (frames, errors, resyncs, dropped bytes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from app.domain.events import CodecEvent

#: The protocol names :func:`make_codec` accepts, as shown to the user.
PROTOCOL_NAMES = ("iec62056-21", "gbcs-hex", "profile:NAME")


class CodecError(Exception):
    """Bad input found by a codec.

    Attributes:
        offset: byte offset of the problem in the input the failing call was given.
        message: the explanation without the offset.
    """

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(f"{message} (at byte offset {offset})")
        self.message = message
        self.offset = offset


@dataclass(slots=True)
class CodecStats:
    """Counters a codec keeps while it runs.

    Attributes:
        frames: complete frames (lines, data blocks, APDUs) decoded.
        errors: frames rejected (bad check character, malformed content).
        resyncs: times the codec discarded input to find the next frame boundary.
        dropped_bytes: bytes discarded (garbage, over-long lines, rejected partial frames).
        bytes_in: bytes fed in total.
    """

    frames: int = 0
    errors: int = 0
    resyncs: int = 0
    dropped_bytes: int = 0
    bytes_in: int = 0

    def clear(self) -> None:
        """Set every counter back to zero."""
        self.frames = self.errors = self.resyncs = self.dropped_bytes = self.bytes_in = 0


@runtime_checkable
class Codec(Protocol):
    """What a device session needs from a codec."""

    stats: CodecStats

    def feed(self, data: bytes) -> list[CodecEvent]:
        """Take bytes received from the device and return the events they complete."""
        ...

    def reset(self) -> None:
        """Forget buffered input and state (after a reconnect); counters are kept."""
        ...


def make_codec(protocol: str, *, profile_dirs: Sequence[Path] = ()) -> Codec:
    """Build the codec for a protocol name as given on the command line (``--protocol``).

    Args:
        protocol: ``iec62056-21``, ``gbcs-hex`` or ``profile:NAME`` (a line profile found in
            ``profile_dirs`` or among the profiles shipped in ``resources/profiles``).
        profile_dirs: extra directories searched for ``NAME.toml`` before the shipped ones.

    Returns:
        A new codec with zeroed counters.

    Raises:
        ValueError: the protocol name is not known, or the profile does not exist or is invalid.
    """
    # Imported here: the codec modules import this one for CodecError and CodecStats.
    if protocol == "iec62056-21":
        from devices.codecs.iec62056_21 import IecReadoutClient

        return IecReadoutClient()
    if protocol == "gbcs-hex":
        from devices.codecs.gbcs_codec import GbcsHexCodec

        return GbcsHexCodec()
    if protocol.startswith("profile:"):
        from devices.codecs.profiles import ProfileCodec, available_profiles, load_profile

        name = protocol.removeprefix("profile:")
        found = available_profiles(profile_dirs)
        if name not in found:
            names = ", ".join(sorted(found)) or "none"
            raise ValueError(
                f"--protocol: there is no line profile named {name!r}; profiles found: {names}."
            )
        return ProfileCodec(load_profile(found[name]))
    accepted = ", ".join(PROTOCOL_NAMES)
    raise ValueError(
        f"--protocol: {protocol!r} is not a known protocol; expected one of {accepted}."
    )
