"""The audit trail: who changed what in the lab store, written in the change's own transaction."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select
from sqlite_utils import Database

from app.storage.labstore import LabStore, lab_store
from app.storage.tables import audit


def write_audit(
    db: Database | sqlite3.Connection | Connection,
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
        db: the lab store: the connection of the change's transaction (a repository of the lab
            store passes the one ``LabStore.transaction()`` gave it), or the SQLite file's
            Database or sqlite3 connection (repositories not yet on SQLAlchemy).
        at: when, as stored (ISO-8601 UTC text).
        actor: who (the workstation's user or a named actor).
        action: what was done, e.g. "created", "approve".
        entity: the kind of thing changed: "lab", "organisation", "person", "induction", "booking".
        entity_id: its id, or None (a refused request is not a booking).
        details: what a reader of the trail needs, as JSON.
    """
    if isinstance(db, Connection):
        db.execute(insert(audit).values(
            at=at, actor=actor, action=action, entity=entity, entity_id=entity_id,
            details_json=json.dumps(details, default=str)))
        return
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
    db: Database | LabStore,
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
    query = select(audit.c.id, audit.c.at, audit.c.actor, audit.c.action, audit.c.entity,
                   audit.c.entity_id, audit.c.details_json)
    if entity is not None:
        query = query.where(audit.c.entity == entity)
    if actor is not None:
        query = query.where(audit.c.actor == actor)
    if since is not None:
        query = query.where(audit.c.at >= since)
    query = query.order_by(audit.c.at.desc(), audit.c.id.desc())
    if limit is not None:
        query = query.limit(limit)
    with lab_store(db).reading() as conn:
        rows = conn.execute(query).all()
    return [AuditEntry(id=i, at=at, actor=who or "", action=action, entity=entity_,
                       entity_id=entity_id, details=_details(details))
            for i, at, who, action, entity_, entity_id, details in rows]


def audit_entities(db: Database | LabStore) -> list[str]:
    """The kinds of thing the trail holds rows for, sorted."""
    with lab_store(db).reading() as conn:
        return list(conn.execute(
            select(audit.c.entity).distinct().order_by(audit.c.entity)).scalars())


def audit_actors(db: Database | LabStore) -> list[str]:
    """Everyone the trail names as actor, sorted."""
    with lab_store(db).reading() as conn:
        return list(conn.execute(
            select(audit.c.actor).distinct().where(audit.c.actor.is_not(None))
            .order_by(audit.c.actor)).scalars())


def _details(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except ValueError:  # a row written by hand: show its text rather than fail the listing
        return {"text": text}
    return value if isinstance(value, dict) else {"value": value}
