"""Bookings, their per-day occupancy rows and the audit trail in the lab store (SQLAlchemy Core)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import date, datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
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
from app.storage.labstore import LabStore, lab_store
from app.storage.tables import audit, booking_days, bookings, labs, organisations
from app.storage.timefmt import from_db, to_db

_ACTIVE = tuple(s.value for s in ACTIVE_STATUSES)
# What active bookings hold on a lab's days: read by every booking check, so built once.
_OCCUPANCY = (select(booking_days.c.booking_id, booking_days.c.start_utc, booking_days.c.end_utc,
                     bookings.c.spaces, bookings.c.benches_json)
              .join(bookings, bookings.c.id == booking_days.c.booking_id)
              .where(booking_days.c.lab_id == bindparam("lab_id"),
                     booking_days.c.day.between(bindparam("first_day"), bindparam("last_day")),
                     bookings.c.status.in_(_ACTIVE)))
#: Life-cycle actions as past participles, for refusal sentences.
_PAST = {
    "approve": "approved", "reject": "rejected", "cancel": "cancelled", "checkin": "checked in",
    "complete": "completed", "no_show": "marked a no-show",
}
_SELECT = (select(bookings, labs.c.name.label("lab_name"), organisations.c.name.label("org_name"))
           .join(labs, labs.c.id == bookings.c.lab_id)
           .join(organisations, organisations.c.id == bookings.c.org_id))


class BookingRepo:
    """Stores and loads :class:`Booking` values; answers occupancy questions quickly."""

    def __init__(self, db: Database | LabStore, clock: Clock, scope: int | None = None) -> None:
        self.store = lab_store(db)
        self.clock = clock
        self.scope = scope  # a participant's organisation: get and list see only its bookings

    @contextmanager
    def write_transaction(self, lab_id: int | None = None) -> Iterator[None]:
        """One write transaction in which a rule check and the writes it allows cannot interleave
        with another workstation's.

        Services run a rule check and the writes it allows inside one such block, so no other
        workstation can change what the check read before the writes are committed. On SQLite
        the transaction holds the file's write lock from its first statement (see
        `write_transaction`). On PostgreSQL, with `lab_id`, it locks the lab's row first
        (``SELECT ... FOR UPDATE``): another workstation's check for the same lab waits until
        this transaction ends, then reads what it committed; other labs are not held up.
        """
        with self.store.transaction() as conn:
            if lab_id is not None:
                # SQLite has no row locks (SQLAlchemy leaves FOR UPDATE out there): its
                # transaction already holds the whole file's write lock.
                conn.execute(select(labs.c.id).where(labs.c.id == lab_id).with_for_update())
            yield

    def add(
        self, booking: Booking, segments: list[Segment], actor: str, action: str = "requested"
    ) -> Booking:
        """Insert a booking, its day rows and an audit entry in one transaction."""
        now = to_db(self.clock.now())
        with self.store.transaction() as conn:
            booking_id = int(conn.execute(insert(bookings).values(
                lab_id=booking.lab_id, org_id=booking.org_id, start_utc=to_db(booking.start),
                end_utc=to_db(booking.end), spaces=booking.spaces, phase=booking.phase.value,
                status=booking.status.value, roles=",".join(booking.roles),
                attendees_json=json.dumps(list(booking.attendees)),
                benches_json=json.dumps(list(booking.benches)), devices=booking.devices,
                notes=booking.notes, override=booking.override,
                override_reasons_json=json.dumps([r.to_dict() for r in booking.override_reasons]),
                created_at=now, updated_at=now,
            )).inserted_primary_key[0])
            if segments:
                conn.execute(insert(booking_days), [
                    {"booking_id": booking_id, "lab_id": booking.lab_id,
                     "day": s.day.isoformat(), "start_utc": to_db(s.start),
                     "end_utc": to_db(s.end)}
                    for s in segments
                ])
            details: dict[str, Any] = {"status": booking.status.value}
            if booking.override:
                details["override"] = booking.override
                details["reasons"] = [r.to_dict() for r in booking.override_reasons]
            write_audit(conn, now, actor, action, "booking", booking_id, details)
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
        with self.store.transaction() as conn:
            cur = conn.execute(
                update(bookings)
                .where(bookings.c.id == booking_id, bookings.c.status == expected.value)
                .values(status=status.value, updated_at=now))
            if cur.rowcount != 1:
                current = self.get(booking_id).status
                raise TransitionRefused(
                    action, current,
                    f"Booking #{booking_id} was {expected.value} but is now {current.value} "
                    f"(moved from another workstation), so it cannot be "
                    f"{_PAST.get(action, action)} any more.",
                )
            write_audit(conn, now, actor, action, "booking", booking_id,
                        {"from": expected.value, "to": status.value, "reason": why})
        return self.get(booking_id)

    def record_refusal(self, actor: str, request: dict[str, Any], reasons: list[Reason]) -> None:
        """Keep a refused request in the audit trail (it is not a booking)."""
        with self.store.transaction() as conn:
            write_audit(conn, to_db(self.clock.now()), actor, "refused", "booking", None,
                        {"request": request, "reasons": [r.to_dict() for r in reasons]})

    @staticmethod
    def _from_row(row) -> Booking:
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

    def _query(self, *where: Any) -> list[Booking]:
        query = _SELECT.where(*where).order_by(bookings.c.start_utc, bookings.c.id)
        with self.store.reading() as conn:
            return [self._from_row(r) for r in conn.execute(query).mappings().all()]

    def get(self, booking_id: int, org_scope: int | None = None) -> Booking:
        """Booking `booking_id`; with `org_scope`, another organisation's is "no such booking"."""
        org_scope = self.scope if org_scope is None else org_scope
        rows = self._query(bookings.c.id == booking_id) if booking_id < 2**63 else []
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
        where: list[Any] = []
        if org_scope is not None:
            where.append(bookings.c.org_id == org_scope)
        if lab_id is not None:
            where.append(bookings.c.lab_id == lab_id)
        if org_id is not None:
            where.append(bookings.c.org_id == org_id)
        if statuses:
            where.append(bookings.c.status.in_([s.value for s in statuses]))
        if start is not None:
            where.append(bookings.c.end_utc > to_db(start))
        if end is not None:
            where.append(bookings.c.start_utc < to_db(end))
        return self._query(*where)

    def reads_together(self) -> AbstractContextManager[None]:
        """Let several reads (of bookings, people, organisations: one lab store) share one
        connection, for a use case that reads them together."""
        return self.store.reads_together()

    def occupancy(self, lab_id: int, first_day: date, last_day: date,
                  exclude_id: int | None = None) -> list[Occupancy]:
        """What active bookings hold on the lab's days from `first_day` to `last_day` inclusive."""
        with self.store.reading() as conn:
            rows = conn.execute(_OCCUPANCY, {"lab_id": lab_id, "first_day": first_day.isoformat(),
                                             "last_day": last_day.isoformat()}).all()
        out = []
        for booking_id, s, e, spaces, benches in rows:
            if booking_id == exclude_id:
                continue
            out.append(Occupancy(
                booking_id=booking_id, start=from_db(s), end=from_db(e), spaces=spaces,  # type: ignore[arg-type]
                benches=tuple(json.loads(benches)) if benches and benches != "[]" else (),
            ))
        return out

    def audit_for(self, booking_id: int) -> list[dict[str, Any]]:
        """The audit trail of one booking, oldest first."""
        with self.store.reading() as conn:
            rows = conn.execute(
                select(audit.c.at, audit.c.actor, audit.c.action, audit.c.details_json)
                .where(audit.c.entity == "booking", audit.c.entity_id == booking_id)
                .order_by(audit.c.id)).all()
        return [
            {"at": at, "actor": actor, "action": action, "details": json.loads(details or "{}")}
            for at, actor, action, details in rows
        ]

    def refusals(self) -> list[dict[str, Any]]:
        with self.store.reading() as conn:
            rows = conn.execute(
                select(audit.c.at, audit.c.actor, audit.c.details_json)
                .where(audit.c.entity == "booking", audit.c.action == "refused")
                .order_by(audit.c.id)).all()
        return [{"at": at, "actor": actor, **json.loads(d)} for at, actor, d in rows]

    def count(self) -> int:
        with self.store.reading() as conn:
            return int(conn.execute(select(func.count()).select_from(bookings)).scalar_one())

