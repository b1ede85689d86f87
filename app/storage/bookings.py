"""Bookings, their per-day occupancy rows and the audit trail in the database."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

from sqlite_utils import Database

from app.domain.bookings import (
    ACTIVE_STATUSES,
    Booking,
    BookingStatus,
    Occupancy,
    Phase,
    Reason,
    Segment,
    TransitionRefused,
)
from app.domain.clock import Clock
from app.domain.errors import NotFoundError
from app.storage.audit import write_audit
from app.storage.timefmt import from_db, to_db
from app.storage.transactions import write_transaction

_ACTIVE = tuple(s.value for s in ACTIVE_STATUSES)
#: Life-cycle actions as past participles, for refusal sentences.
_PAST = {
    "approve": "approved", "reject": "rejected", "cancel": "cancelled", "checkin": "checked in",
    "complete": "completed", "no_show": "marked a no-show",
}
_SELECT = """
SELECT b.*, l.name AS lab_name, o.name AS org_name
FROM bookings b JOIN labs l ON l.id = b.lab_id JOIN organisations o ON o.id = b.org_id
"""


class BookingRepo:
    """Stores and loads :class:`Booking` values; answers occupancy questions quickly."""

    def __init__(self, db: Database, clock: Clock, scope: int | None = None) -> None:
        self.db = db
        self.clock = clock
        self.scope = scope  # a participant's organisation: get and list see only its bookings

    @contextmanager
    def write_transaction(self) -> Iterator[None]:
        """One write transaction holding the lab store's write lock (see `write_transaction`).

        Services run a rule check and the writes it allows inside one such block, so no other
        workstation can change what the check read before the writes are committed.
        """
        with write_transaction(self.db):
            yield

    def add(
        self, booking: Booking, segments: list[Segment], actor: str, action: str = "requested"
    ) -> Booking:
        """Insert a booking, its day rows and an audit entry in one transaction."""
        now = to_db(self.clock.now())
        with write_transaction(self.db):
            cur = self.db.conn.execute(
                "INSERT INTO bookings (lab_id, org_id, start_utc, end_utc, spaces, phase, status, "
                "roles, attendees_json, benches_json, devices, notes, override, "
                "override_reasons_json, created_at, updated_at) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    booking.lab_id, booking.org_id, to_db(booking.start), to_db(booking.end),
                    booking.spaces, booking.phase.value, booking.status.value,
                    ",".join(booking.roles), json.dumps(list(booking.attendees)),
                    json.dumps(list(booking.benches)), booking.devices, booking.notes,
                    booking.override,
                    json.dumps([r.to_dict() for r in booking.override_reasons]), now, now,
                ),
            )
            booking_id = int(cur.lastrowid)
            self.db.conn.executemany(
                "INSERT INTO booking_days (booking_id, lab_id, day, start_utc, end_utc) "
                "VALUES (?,?,?,?,?)",
                [
                    (booking_id, booking.lab_id, s.day.isoformat(), to_db(s.start), to_db(s.end))
                    for s in segments
                ],
            )
            details: dict[str, Any] = {"status": booking.status.value}
            if booking.override:
                details["override"] = booking.override
                details["reasons"] = [r.to_dict() for r in booking.override_reasons]
            self._audit(actor, action, "booking", booking_id, details, now)
        return self.get(booking_id)

    def set_status(
        self,
        booking_id: int,
        expected: BookingStatus,
        status: BookingStatus,
        actor: str,
        action: str,
        why: str,
    ) -> Booking:
        """Move a booking from `expected` to `status`, with its audit entry, or refuse.

        Compare-and-set: the row changes only if its status is still `expected`, so of two
        workstations moving the same booking from the same status, exactly one succeeds.

        Raises:
            NotFoundError: there is no such booking.
            TransitionRefused: the booking is no longer `expected` (someone else moved it).
        """
        now = to_db(self.clock.now())
        with write_transaction(self.db):
            cur = self.db.conn.execute(
                "UPDATE bookings SET status = ?, updated_at = ? WHERE id = ? AND status = ?",
                (status.value, now, booking_id, expected.value),
            )
            if cur.rowcount != 1:
                current = self.get(booking_id).status
                raise TransitionRefused(
                    action, current,
                    f"Booking #{booking_id} was {expected.value} but is now {current.value} "
                    f"(moved from another workstation), so it cannot be "
                    f"{_PAST.get(action, action)} any more.",
                )
            self._audit(
                actor, action, "booking", booking_id,
                {"from": expected.value, "to": status.value, "reason": why}, now,
            )
        return self.get(booking_id)

    def record_refusal(self, actor: str, request: dict[str, Any], reasons: list[Reason]) -> None:
        """Keep a refused request in the audit trail (it is not a booking)."""
        with write_transaction(self.db):
            self._audit(
                actor, "refused", "booking", None,
                {"request": request, "reasons": [r.to_dict() for r in reasons]},
                to_db(self.clock.now()),
            )

    def _audit(self, actor: str, action: str, entity: str, entity_id: int | None,
               details: dict[str, Any], at: str) -> None:
        write_audit(self.db, at, actor, action, entity, entity_id, details)

    @staticmethod
    def _from_row(row: dict) -> Booking:
        return Booking(
            id=row["id"], lab_id=row["lab_id"], org_id=row["org_id"],
            start=from_db(row["start_utc"]), end=from_db(row["end_utc"]),  # type: ignore[arg-type]
            spaces=row["spaces"], phase=Phase(row["phase"]), status=BookingStatus(row["status"]),
            roles=tuple(r for r in (row["roles"] or "").split(",") if r),
            attendees=tuple(json.loads(row["attendees_json"] or "[]")),
            benches=tuple(json.loads(row["benches_json"] or "[]")),
            devices=row["devices"] or "", notes=row["notes"] or "",
            created_at=from_db(row["created_at"]), override=row["override"] or "",
            override_reasons=tuple(Reason(**r) for r in json.loads(row["override_reasons_json"] or "[]")),
            lab_name=row.get("lab_name", ""), org_name=row.get("org_name", ""),
        )

    def _query(self, where: str, args: list[Any], order: str = "b.start_utc, b.id") -> list[Booking]:
        sql = f"{_SELECT} WHERE {where} ORDER BY {order}"
        cur = self.db.conn.execute(sql, args)
        cols = [c[0] for c in cur.description]
        return [self._from_row(dict(zip(cols, r))) for r in cur.fetchall()]

    def get(self, booking_id: int, org_scope: int | None = None) -> Booking:
        """Booking `booking_id`; with `org_scope`, another organisation's is "no such booking"."""
        org_scope = self.scope if org_scope is None else org_scope
        rows = self._query("b.id = ?", [booking_id])
        if not rows or (org_scope is not None and rows[0].org_id != org_scope):
            raise NotFoundError("id", f"There is no booking with id {booking_id}.")
        return rows[0]

    def list(
        self,
        lab_id: int | None = None,
        org_id: int | None = None,
        statuses: tuple[BookingStatus, ...] | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        org_scope: int | None = None,
    ) -> list[Booking]:
        """Bookings matching every filter given; [start, end) selects those overlapping it.

        Args:
            org_scope: the organisation a participant may see (None: every organisation).
        """
        org_scope = self.scope if org_scope is None else org_scope
        where, args = ["1 = 1"], []  # type: list[str], list[Any]
        if org_scope is not None:
            where.append("b.org_id = ?")
            args.append(org_scope)
        if lab_id is not None:
            where.append("b.lab_id = ?")
            args.append(lab_id)
        if org_id is not None:
            where.append("b.org_id = ?")
            args.append(org_id)
        if statuses:
            where.append(f"b.status IN ({','.join('?' * len(statuses))})")
            args.extend(s.value for s in statuses)
        if start is not None:
            where.append("b.end_utc > ?")
            args.append(to_db(start))
        if end is not None:
            where.append("b.start_utc < ?")
            args.append(to_db(end))
        return self._query(" AND ".join(where), args)

    def occupancy(self, lab_id: int, first_day: date, last_day: date,
                  exclude_id: int | None = None) -> list[Occupancy]:
        """What active bookings hold on the lab's days from `first_day` to `last_day` inclusive."""
        cur = self.db.conn.execute(
            "SELECT d.booking_id, d.start_utc, d.end_utc, b.spaces, b.benches_json "
            "FROM booking_days d JOIN bookings b ON b.id = d.booking_id "
            f"WHERE d.lab_id = ? AND d.day BETWEEN ? AND ? AND b.status IN ({','.join('?' * len(_ACTIVE))})",
            [lab_id, first_day.isoformat(), last_day.isoformat(), *_ACTIVE],
        )
        out = []
        for booking_id, s, e, spaces, benches in cur.fetchall():
            if booking_id == exclude_id:
                continue
            out.append(Occupancy(
                booking_id=booking_id, start=from_db(s), end=from_db(e), spaces=spaces,  # type: ignore[arg-type]
                benches=tuple(json.loads(benches)) if benches and benches != "[]" else (),
            ))
        return out

    def audit_for(self, booking_id: int) -> list[dict[str, Any]]:
        """The audit trail of one booking, oldest first."""
        rows = self.db.conn.execute(
            "SELECT at, actor, action, details_json FROM audit WHERE entity = 'booking' AND entity_id = ? ORDER BY id",
            [booking_id],
        ).fetchall()
        return [
            {"at": at, "actor": actor, "action": action, "details": json.loads(details or "{}")}
            for at, actor, action, details in rows
        ]

    def refusals(self) -> list[dict[str, Any]]:
        rows = self.db.conn.execute(
            "SELECT at, actor, details_json FROM audit WHERE entity = 'booking' AND action = 'refused' ORDER BY id"
        ).fetchall()
        return [{"at": at, "actor": actor, **json.loads(d)} for at, actor, d in rows]

    def count(self) -> int:
        return self.db["bookings"].count

