"""Labs and their benches in the lab store (SQLAlchemy Core: a SQLite file or PostgreSQL)."""

from __future__ import annotations

import json
from datetime import date, time

from sqlalchemy import func, insert, select
from sqlite_utils import Database

from app.domain.clock import Clock
from app.domain.errors import NotFoundError, ValidationError
from app.domain.lab import Bench, HolidayCalendar, Lab, OpeningHours
from app.storage.audit import write_audit
from app.storage.labstore import LabStore, lab_store
from app.storage.tables import benches, labs
from app.storage.timefmt import to_db


def _hours_to_json(hours: dict[int, OpeningHours]) -> str:
    return json.dumps({str(wd): [f"{h.opens:%H:%M}", f"{h.closes:%H:%M}"] for wd, h in hours.items()})


def _hours_from_json(text: str) -> dict[int, OpeningHours]:
    raw = json.loads(text)
    return {
        int(wd): OpeningHours(time.fromisoformat(o), time.fromisoformat(c)) for wd, (o, c) in raw.items()
    }


def _as_id(text: str) -> int | None:
    """A reference of digits as an id the lab store can hold (64-bit), else None."""
    value = int(text)
    return value if value < 2**63 else None


class LabRepo:
    """Stores and loads :class:`Lab` values."""

    def __init__(self, db: Database | LabStore, clock: Clock) -> None:
        self.store = lab_store(db)
        self.clock = clock

    def add(self, lab: Lab, actor: str = "unknown") -> Lab:
        """Insert a lab, its benches and an audit entry in one transaction.

        Either everything is stored or nothing is: a failure half-way (a bench the database
        refuses, a full disk, a killed process) leaves no lab behind.

        Raises:
            ValidationError: a lab of that name (ignoring case) already exists.
        """
        now = to_db(self.clock.now())
        with self.store.transaction() as conn:
            # Checked inside the transaction, so two workstations cannot both add the name.
            if self.find(lab.name) is not None:
                raise ValidationError("name", f"A lab named {lab.name!r} already exists.")
            lab_id = int(conn.execute(insert(labs).values(
                name=lab.name.strip(), site=lab.site, spaces=lab.spaces,
                timezone=lab.timezone, hours_json=_hours_to_json(lab.hours),
                holiday_country=lab.calendar.country, holiday_subdiv=lab.calendar.subdiv,
                extra_closed_json=json.dumps(
                    sorted(d.isoformat() for d in lab.calendar.extra_closed)
                ),
                attendance_notice_h=lab.attendance_notice_h,
                e2e_notice_working_days=lab.e2e_notice_working_days,
                induction_validity_months=lab.induction_validity_months,
                comms_hub_types_json=json.dumps(list(lab.comms_hub_types)),
                phantom_load=int(lab.phantom_load), log_capture=int(lab.log_capture),
                created_at=now,
            )).inserted_primary_key[0])
            if lab.benches:
                conn.execute(insert(benches), [
                    {"lab_id": lab_id, "number": b.number, "name": b.name,
                     "equipment": b.equipment} for b in lab.benches])
            write_audit(conn, now, actor, "created", "lab", lab_id,
                        {"name": lab.name.strip(), "spaces": lab.spaces,
                         "benches": len(lab.benches)})
        return self.get(lab_id)

    def _from_row(self, row) -> Lab:
        with self.store.reading() as conn:
            bench_rows = conn.execute(select(benches).where(benches.c.lab_id == row["id"])
                                      .order_by(benches.c.number)).mappings().all()
        bench_values = tuple(
            Bench(number=b["number"], name=b["name"], equipment=b["equipment"] or "", id=b["id"])
            for b in bench_rows
        )
        return Lab(
            id=row["id"], name=row["name"], site=row["site"] or "", spaces=row["spaces"],
            benches=bench_values, hours=_hours_from_json(row["hours_json"]),
            calendar=HolidayCalendar(
                country=row["holiday_country"] or "GB", subdiv=row["holiday_subdiv"],
                extra_closed=frozenset(date.fromisoformat(d) for d in json.loads(row["extra_closed_json"] or "[]")),
            ),
            timezone=row["timezone"], attendance_notice_h=row["attendance_notice_h"],
            e2e_notice_working_days=row["e2e_notice_working_days"],
            induction_validity_months=row["induction_validity_months"],
            comms_hub_types=tuple(json.loads(row["comms_hub_types_json"] or "[]")),
            phantom_load=bool(row["phantom_load"]), log_capture=bool(row["log_capture"]),
        )

    def _rows(self, *where, order=None) -> list:
        query = select(labs).where(*where)
        if order is not None:
            query = query.order_by(order)
        with self.store.reading() as conn:
            return list(conn.execute(query).mappings().all())

    def get(self, lab_id: int) -> Lab:
        rows = self._rows(labs.c.id == lab_id) if lab_id < 2**63 else []
        if not rows:
            raise NotFoundError("lab", f"There is no lab with id {lab_id}.")
        return self._from_row(rows[0])

    def find(self, ref: str | int) -> Lab | None:
        """A lab by id or by name (case-insensitive), or None."""
        text = str(ref).strip()
        if text.isdigit() and (lab_id := _as_id(text)) is not None:
            rows = self._rows(labs.c.id == lab_id)
            if rows:
                return self._from_row(rows[0])
        rows = self._rows(func.lower(labs.c.name) == func.lower(text))
        return self._from_row(rows[0]) if rows else None

    def resolve(self, ref: str | int, field: str = "lab") -> Lab:
        """Like :meth:`find` but refuses an unknown lab with a sentence listing the known ones."""
        lab = self.find(ref)
        if lab is None:
            names = ", ".join(r["name"] for r in self._rows(order=labs.c.id)) or "none yet"
            raise NotFoundError(field, f"There is no lab {ref!r} (labs: {names}).")
        return lab

    def list(self) -> list[Lab]:
        return [self._from_row(r) for r in self._rows(order=labs.c.name)]

    def count(self) -> int:
        with self.store.reading() as conn:
            return int(conn.execute(select(func.count()).select_from(labs)).scalar_one())
