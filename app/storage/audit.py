"""The audit trail: who changed what in the lab store, written in the change's own transaction."""

from __future__ import annotations

import json
from typing import Any

from sqlite_utils import Database


def write_audit(
    db: Database,
    at: str,
    actor: str,
    action: str,
    entity: str,
    entity_id: int | None,
    details: dict[str, Any],
) -> None:
    """Append one audit row.

    Call it inside the write transaction of the change it records, so that the change and its
    audit row are stored together or not at all.

    Args:
        db: the lab store.
        at: when, as stored (ISO-8601 UTC text).
        actor: who (the workstation's user or a named actor).
        action: what was done, e.g. "created", "approve".
        entity: the kind of thing changed: "lab", "organisation", "person", "induction", "booking".
        entity_id: its id, or None (a refused request is not a booking).
        details: what a reader of the trail needs, as JSON.
    """
    db.conn.execute(
        "INSERT INTO audit (at, actor, action, entity, entity_id, details_json) "
        "VALUES (?,?,?,?,?,?)",
        (at, actor, action, entity, entity_id, json.dumps(details, default=str)),
    )
