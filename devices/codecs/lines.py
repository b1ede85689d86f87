"""Split a byte stream into lines, with a bound on line length.

Works on whole chunks with ``bytes.split`` (C speed); only over-long lines take a slower path.
"""

from __future__ import annotations

from devices.codecs.base import CodecStats

#: Default longest line kept, in bytes (without the line ending).
DEFAULT_MAX_LINE_BYTES = 4096


class LineFramer:
    """Turn chunks of bytes into complete lines.

    A line feed completes a line. The completed text is split at ``\\r\\n``, ``\\n`` and a lone
    ``\\r`` alike, and the endings are removed.

    A line longer than ``max_line_bytes`` is cut to that length and the rest of it, up to the next
    ``\\n``, is discarded and counted in ``stats.dropped_bytes`` (one ``stats.resyncs`` per cut
    line), so memory stays bounded whatever arrives.

    Attributes:
        stats: frames = lines returned; bytes_in; dropped_bytes and resyncs for cut lines.
    """

    def __init__(self, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> None:
        if max_line_bytes < 1:
            raise ValueError("max_line_bytes must be at least 1")
        self.max_line_bytes = max_line_bytes
        self.stats = CodecStats()
        self._pending = b""
        # True while the rest of an over-long line is being discarded.
        self._cutting = False

    def reset(self) -> None:
        """Drop any partial line (counted as dropped)."""
        self.stats.dropped_bytes += len(self._pending)
        self._pending = b""
        self._cutting = False

    def feed(self, data: bytes) -> list[bytes]:
        """Add bytes; return the lines they complete, without line endings."""
        stats = self.stats
        stats.bytes_in += len(data)
        if self._pending:
            data = self._pending + data
        end = data.rfind(b"\n") + 1
        tail = data[end:]
        # splitlines on bytes breaks at \n, \r\n and \r only: the ending goes, CR included.
        lines = data[:end].splitlines() if end else []
        limit = self.max_line_bytes
        if self._cutting:
            if not lines:
                # Still inside the over-long line: keep its head, discard the rest.
                stats.dropped_bytes += len(tail) - limit
                self._pending = tail[:limit]
                return lines
            # The first line ends the one being cut (its head was kept at ``limit`` bytes).
            stats.dropped_bytes += max(len(lines[0]) - limit, 0)
            lines[0] = lines[0][:limit]
            self._cutting = False
        # Only a chunk longer than the limit can hold an over-long line (cheap common path).
        if end > limit and max(map(len, lines)) > limit:
            lines = self._cut_lines(lines, limit)
        # A tail one byte over the limit may be a line of exactly ``limit`` bytes plus the \r of
        # a \r\n split across chunks.
        if len(tail) > limit and not (len(tail) == limit + 1 and tail.endswith(b"\r")):
            stats.resyncs += 1
            stats.dropped_bytes += len(tail) - limit
            tail = tail[:limit]
            self._cutting = True
        self._pending = tail
        stats.frames += len(lines)
        return lines

    def flush(self) -> list[bytes]:
        """Return the partial last line, if any (the stream has ended)."""
        line = self._pending.removesuffix(b"\r")[: self.max_line_bytes]
        self._pending = b""
        self._cutting = False
        if not line:
            return []
        self.stats.frames += 1
        return [line]

    def _cut_lines(self, lines: list[bytes], limit: int) -> list[bytes]:
        out = []
        for line in lines:
            if len(line) > limit:
                self.stats.dropped_bytes += len(line) - limit
                self.stats.resyncs += 1
                line = line[:limit]
            out.append(line)
        return out
