"""Composition root: builds storage and services from a database path and a clock."""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from pathlib import Path

from sqlite_utils import Database

from app.domain.clock import Clock
from app.services.bookings import BookingService, LabService
from app.storage.bookings import BookingRepo
from app.storage.db import open_database
from app.storage.labs import LabRepo
from app.storage.people import OrgRepo, PersonRepo


@dataclass
class AppContext:
    """Everything a front end (CLI or GUI) works with."""

    db_path: Path
    db: Database
    clock: Clock
    actor: str
    labs: LabRepo
    orgs: OrgRepo
    people: PersonRepo
    bookings_repo: BookingRepo
    lab_service: LabService
    booking_service: BookingService

    def close(self) -> None:
        self.db.conn.close()


def default_actor() -> str:
    """Who is at the workstation, for the audit trail."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def build_context(db_path: Path, clock: Clock, actor: str | None = None) -> AppContext:
    """Open the database at `db_path` (created and upgraded as needed) and wire the services."""
    db = open_database(db_path)
    labs, orgs, people = LabRepo(db, clock), OrgRepo(db, clock), PersonRepo(db, clock)
    bookings = BookingRepo(db, clock)
    who = actor or default_actor()
    return AppContext(
        db_path=Path(db_path), db=db, clock=clock, actor=who, labs=labs, orgs=orgs, people=people,
        bookings_repo=bookings,
        lab_service=LabService(labs, orgs, people, clock, who),
        booking_service=BookingService(labs, orgs, people, bookings, clock, who),
    )
