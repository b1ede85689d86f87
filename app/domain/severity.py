"""The words for an alert's severity, the same everywhere: GUI, command line, JSON, reports.

``critical``, ``non-critical`` and ``info`` (the lab's policy for each alert code is in
``resources/alert_codes.csv``). Earlier versions wrote ``warning`` for non-critical, and alerts
stored then keep that word in the database: it is evidence that sealed reports were made from,
so it is read as ``non-critical`` rather than rewritten (see :func:`severity_word`).
"""

from __future__ import annotations

CRITICAL, NON_CRITICAL, INFO = "critical", "non-critical", "info"
#: The severities, worst first.
SEVERITIES = (CRITICAL, NON_CRITICAL, INFO)
#: A severity nobody gave (an alert code the catalogue does not hold).
UNKNOWN = "unknown"
#: Words of earlier versions (still in stored alerts and lab-edited catalogues) -> today's.
FORMER_WORDS = {"warning": NON_CRITICAL}


def severity_word(value: object) -> str:
    """Today's word for a severity as stored or written anywhere ("warning" -> "non-critical";
    empty -> "unknown")."""
    word = str(value or "").strip().lower()
    if not word:
        return UNKNOWN
    return FORMER_WORDS.get(word, word)


def stored_words(severity: str) -> list[str]:
    """Every word a stored alert of `severity` may carry (today's and any former one)."""
    word = severity_word(severity)
    return [word, *sorted(old for old, new in FORMER_WORDS.items() if new == word)]
