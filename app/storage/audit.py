"""The audit trail: who changed what in the lab store, written in the change's own transaction."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database


def write_audit(
    db: Database | sqlite3.Connection,
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
    conn = db.conn if hasattr(db, "conn") else db  # a Database or a bare connection
    conn.execute(
        "INSERT INTO audit (at, actor, action, entity, entity_id, details_json) "
        "VALUES (?,?,?,?,?,?)",
        (at, actor, action, entity, entity_id, json.dumps(details, default=str)),
    )


@dataclass(frozen=True)
class AuditEntry:
    """One row of the audit trail as stored."""

    id: int
    at: str
    actor: str
    action: str
    entity: str
    entity_id: int | None
    details: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "at": self.at, "actor": self.actor, "action": self.action,
                "entity": self.entity, "entity_id": self.entity_id, "details": self.details}


def list_audit(
    db: Database,
    entity: str | None = None,
    actor: str | None = None,
    since: str | None = None,
    limit: int | None = None,
) -> list[AuditEntry]:
    """The audit trail, newest first, matching every filter given.

    Args:
        entity: only rows of this kind of thing ("booking", "device", ...), exactly.
        actor: only rows of this actor, exactly.
        since: only rows at or after this instant, as stored (ISO-8601 UTC text).
        limit: at most this many rows (None: all).
    """
    where, args = ["1 = 1"], []  # type: list[str], list[Any]
    if entity is not None:
        where.append("entity = ?")
        args.append(entity)
    if actor is not None:
        where.append("actor = ?")
        args.append(actor)
    if since is not None:
        where.append("at >= ?")
        args.append(since)
    sql = (f"SELECT id, at, actor, action, entity, entity_id, details_json FROM audit "
           f"WHERE {' AND '.join(where)} ORDER BY at DESC, id DESC")
    if limit is not None:
        sql += " LIMIT ?"
        args.append(limit)
    return [AuditEntry(id=i, at=at, actor=who or "", action=action, entity=entity_,
                       entity_id=entity_id, details=_details(details))
            for i, at, who, action, entity_, entity_id, details in db.conn.execute(sql, args)]


def audit_entities(db: Database) -> list[str]:
    """The kinds of thing the trail holds rows for, sorted."""
    return [r[0] for r in db.conn.execute("SELECT DISTINCT entity FROM audit ORDER BY entity")]


def audit_actors(db: Database) -> list[str]:
    """Everyone the trail names as actor, sorted."""
    return [r[0] for r in db.conn.execute(
        "SELECT DISTINCT actor FROM audit WHERE actor IS NOT NULL ORDER BY actor")]


def _details(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except ValueError:  # a row written by hand: show its text rather than fail the listing
        return {"text": text}
    return value if isinstance(value, dict) else {"value": value}
