"""The seal stored with a run: set at the first export, and every later export checked against it.

The seal is the SHA-256 of the report's canonical JSON (:meth:`app.domain.reports.RunReport.
canonical`). The first export stores it in ``runs.seal`` together with the canonical JSON it was
computed over, so that when a later export (or ``report verify``) finds another seal, it can say
what changed: ``run.steps[0].measurements[3].value: 1 -> 0``.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from app.domain.clock import Clock
from app.domain.reports import RunReport, canonical_json
from app.storage.labstore import LabStore
from app.storage.runs import RunRepo

#: At most this many differences are listed; the rest are counted.
MAX_DIFFERENCES = 20


class SealMismatchError(Exception):
    """A run's report no longer has the seal stored with the run: its stored data changed.

    Attributes:
        run_id: the run.
        stored: the seal stored with the run.
        now: the seal of the report made now.
        differences: what differs, one line each ("path: before -> now"), as far as known.
    """

    def __init__(self, run_id: int, stored: str, now: str, differences: list[str]) -> None:
        self.run_id, self.stored, self.now, self.differences = run_id, stored, now, differences
        what = "; ".join(differences) if differences else "the stored content is not available"
        super().__init__(f"run {run_id} has changed since its report was sealed "
                         f"(seal {stored[:12]}..., now {now[:12]}...): {what}")


def seal_run(conn: sqlite3.Connection, report: RunReport, clock: Clock,
             store: LabStore | None = None) -> str:
    """Store the report's seal with its run at the first export; later, check it is the same.

    The run is in `store` (the lab store on a server), else in the file `conn`.

    Returns:
        The seal (64 hex digits).

    Raises:
        SealMismatchError: the run has a seal already and the report's is another one.
    """
    canonical = report.canonical()
    seal = report.seal()
    repo = RunRepo(store if store is not None else conn)
    stored = repo.set_seal(report.record.id, seal, canonical_json(canonical).decode("utf-8"),
                           clock.now())
    if stored is None or stored == seal:
        return seal
    raise SealMismatchError(report.record.id, stored, seal,
                            changes_since_sealed(conn, report.record.id, canonical, store))


def changes_since_sealed(conn: sqlite3.Connection, run_id: int,
                         canonical: dict[str, Any], store: LabStore | None = None) -> list[str]:
    """What differs between the canonical JSON stored at sealing and `canonical` (empty if the
    stored one is not available). The run is in `store`, else in the file `conn`."""
    sealed = RunRepo(store if store is not None else conn).sealed(run_id)
    if sealed is None:
        return []
    try:
        before = json.loads(sealed[1])
    except ValueError:
        return ["the canonical JSON stored at sealing is damaged"]
    return differences(before, canonical)


def differences(before: Any, now: Any, limit: int = MAX_DIFFERENCES) -> list[str]:
    """Where two JSON values differ, one line each: ``path: before -> now``.

    Lists are compared position by position (an item added or removed is said as such).
    """
    out: list[str] = []
    _diff(before, now, "", out)
    if len(out) > limit:
        return [*out[:limit], f"and {len(out) - limit} more differences"]
    return out


def _diff(a: Any, b: Any, path: str, out: list[str]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            sub = f"{path}.{key}" if path else str(key)
            if key not in a:
                out.append(f"{sub}: added {_show(b[key])}")
            elif key not in b:
                out.append(f"{sub}: removed (was {_show(a[key])})")
            else:
                _diff(a[key], b[key], sub, out)
        return
    if isinstance(a, list) and isinstance(b, list):
        for i in range(max(len(a), len(b))):
            sub = f"{path}[{i}]"
            if i >= len(a):
                out.append(f"{sub}: added {_show(b[i])}")
            elif i >= len(b):
                out.append(f"{sub}: removed (was {_show(a[i])})")
            else:
                _diff(a[i], b[i], sub, out)
        return
    if a != b or type(a) is not type(b):
        out.append(f"{path or '(the whole content)'}: {_show(a)} -> {_show(b)}")


def _show(value: Any, width: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= width else text[:width - 3] + "..."
