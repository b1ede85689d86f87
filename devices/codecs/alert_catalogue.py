"""The GBCS alert-code catalogue: names and lab severities, kept as editable data.

``resources/alert_codes.csv`` has the columns ``code,name,severity``: the 184 device alert codes of
the GBCS alert code table with the lab's severity. The severities are lab policy, not part of
GBCS, and can be edited in the file (or a lab copy loaded with :meth:`AlertCatalogue.from_path`).
The shipped file follows these rules:

* ``critical``: supply outages of 3 minutes or more (8F36 and the per-phase 8F38/8F3A/8F3C, sent
  to the network operator), GSME power supply loss (8F1D), tamper and unauthorised physical access,
  authentication, authority and integrity failures, firmware verification failures, supply
  connect/disconnect failures and supply lock-outs.
* ``info``: supply interrupted (8F57-8F5A: logged by the meter, not sent over the WAN), values
  returning inside their limits, successful actions and notifications.
* ``non-critical``: everything else that reports a fault, threshold crossing or rejected action
  (short outages restored such as 8F35, low battery, voltage and current thresholds, ...).

A lab's copy written for an earlier version may still say ``warning``: it is read as
``non-critical`` (:mod:`app.domain.severity`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from functools import lru_cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType

from app.domain.severity import FORMER_WORDS, SEVERITIES, UNKNOWN, severity_word

__all__ = ["SEVERITIES", "UNKNOWN", "AlertCatalogue", "default_catalogue"]


class AlertCatalogue:
    """Alert code -> (name, severity), read-only.

    Codes are 4 upper-case hex digits (``8F36``); lookups accept any case or an int.
    """

    def __init__(self, entries: Mapping[str, tuple[str, str]]) -> None:
        self._entries = MappingProxyType(dict(entries))

    @classmethod
    def from_text(cls, text: str, source: str = "alert catalogue") -> AlertCatalogue:
        """Parse catalogue CSV text (header ``code,name,severity``).

        Raises:
            ValueError: a row has a bad code, an empty name or an unknown severity.
        """
        reader = csv.DictReader(io.StringIO(text))
        if reader.fieldnames is None or set(reader.fieldnames) < {"code", "name", "severity"}:
            raise ValueError(f"{source}: the header must be code,name,severity")
        entries: dict[str, tuple[str, str]] = {}
        for line_no, row in enumerate(reader, start=2):
            code = (row["code"] or "").strip().upper()
            if len(code) != 4 or any(c not in "0123456789ABCDEF" for c in code):
                raise ValueError(f"{source} line {line_no}: code {code!r} is not 4 hex digits")
            name = (row["name"] or "").strip()
            if not name:
                raise ValueError(f"{source} line {line_no}: code {code} has no name")
            given = (row["severity"] or "").strip().lower()
            if given not in SEVERITIES and given not in FORMER_WORDS:
                raise ValueError(
                    f"{source} line {line_no}: severity {given!r} is not one of "
                    f"{', '.join(SEVERITIES)}"
                )
            severity = severity_word(given)
            entries[code] = (name, severity)
        return cls(entries)

    @classmethod
    def from_path(cls, path: Path) -> AlertCatalogue:
        """Load a catalogue CSV file (a lab's edited copy)."""
        return cls.from_text(path.read_text(encoding="utf-8"), source=str(path))

    @classmethod
    def load_default(cls) -> AlertCatalogue:
        """Load the catalogue shipped in ``resources/alert_codes.csv``."""
        text = resources.files("resources").joinpath("alert_codes.csv").read_text("utf-8")
        return cls.from_text(text, source="resources/alert_codes.csv")

    @staticmethod
    def _key(code: str | int) -> str:
        return f"{code:04X}" if isinstance(code, int) else code.strip().upper()

    def name(self, code: str | int) -> str:
        """The alert's name, or ``unknown``."""
        entry = self._entries.get(self._key(code))
        return entry[0] if entry else UNKNOWN

    def severity(self, code: str | int) -> str:
        """The alert's severity (``critical``, ``non-critical``, ``info``), or ``unknown``."""
        entry = self._entries.get(self._key(code))
        return entry[1] if entry else UNKNOWN

    def codes(self) -> list[str]:
        """All codes held, sorted."""
        return sorted(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, code: object) -> bool:
        return isinstance(code, str | int) and self._key(code) in self._entries


@lru_cache(maxsize=1)
def default_catalogue() -> AlertCatalogue:
    """The shipped catalogue, read once (the object is immutable, so sharing it is safe)."""
    return AlertCatalogue.load_default()
