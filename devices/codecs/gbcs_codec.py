"""Streaming decoder for GBCS alerts written as hex, one APDU per line (protocol ``gbcs-hex``)."""

from __future__ import annotations

import re
from typing import Any

from app.domain.events import CodecEvent, EventKind
from devices.codecs.alert_catalogue import AlertCatalogue, default_catalogue
from devices.codecs.base import CodecError
from devices.codecs.gbcs import GbcsAlert, decode_alert, hex_to_bytes
from devices.codecs.lines import LineFramer

#: Longest line kept: alert APDUs are a few hundred bytes, i.e. under 1 kB of hex.
DEFAULT_MAX_LINE_BYTES = 16384

# Where an APDU starts inside a line that carries a prefix (a sniffer's timestamp, "RX:" ...).
_APDU_START = re.compile(r"(?i)(?<![0-9a-f])(?:df\s*:?\s*09|dd\s*:?\s*00)")

#: Characters kept of a bad line in its ERROR event.
_ERROR_TEXT_CHARS = 200


def alert_fields(alert: GbcsAlert, catalogue: AlertCatalogue) -> dict[str, Any]:
    """The fields of an ALERT event for a decoded alert."""
    return {
        "alert_code": alert.alert_code,
        "alert_name": alert.alert_name,
        "severity": catalogue.severity(alert.alert_code),
        "originator": alert.originator,
        "recipient": alert.recipient,
        "message_code": alert.message_code,
        "wrapper": alert.wrapper,
        "content_kind": alert.content_kind,
    }


class GbcsHexCodec:
    """Lines of hex in, ALERT events out; a bad line gives an ERROR event, never an exception.

    A line may carry a prefix before the APDU (the codec looks for ``DF 09`` or ``DD 00``; the
    prefix is counted as dropped and as a resync). Blank lines are skipped.

    Attributes:
        stats: frames = alerts decoded; errors = bad lines; dropped_bytes includes framing cuts.
    """

    def __init__(
        self,
        catalogue: AlertCatalogue | None = None,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    ) -> None:
        self.catalogue = catalogue or default_catalogue()
        self._framer = LineFramer(max_line_bytes)
        self.stats = self._framer.stats
        self._frames = 0

    def reset(self) -> None:
        """Drop a partial line."""
        self._framer.reset()

    def feed(self, data: bytes) -> list[CodecEvent]:
        """Take bytes; return one event per complete non-blank line."""
        lines = self._framer.feed(data)
        events = [self.decode_line(line) for line in lines if line.strip()]
        # The framer counted lines; frames here means decoded alerts.
        self.stats.frames = self._frames
        return events

    def decode_line(self, line: bytes) -> CodecEvent:
        """Decode one line (without its ending) into an ALERT or ERROR event."""
        text = line.decode("ascii", "replace")
        try:
            alert = decode_alert(hex_to_bytes(text), self.catalogue)
        except CodecError as first_error:
            found = _APDU_START.search(text)
            if found is None or found.start() == 0:
                return self._error(first_error, text)
            try:
                alert = decode_alert(hex_to_bytes(text[found.start() :]), self.catalogue)
            except CodecError as exc:
                return self._error(exc, text)
            self.stats.dropped_bytes += found.start()
            self.stats.resyncs += 1
        self._frames += 1
        return CodecEvent(EventKind.ALERT, alert_fields(alert, self.catalogue), alert.timestamp)

    def _error(self, exc: CodecError, text: str) -> CodecEvent:
        self.stats.errors += 1
        return CodecEvent(
            EventKind.ERROR,
            {"message": exc.message, "offset": exc.offset, "text": text[:_ERROR_TEXT_CHARS]},
        )
