"""Composition root: builds storage and services from a database path and a clock.

The bench store is always the workstation's SQLite file. The lab store is the same file, or a
PostgreSQL server shared by the lab's workstations when a lab store URL is given: then the parts
of the lab store already shared (labs, organisations, people, inductions, bookings, the devices
registry, test runs, the audit trail) are read and written there only.
"""

from __future__ import annotations

import getpass
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from sqlalchemy.engine import URL
from sqlite_utils import Database

from app.domain.clock import Clock
from app.domain.devices import Device
from app.domain.principals import WORKSTATION_ADMIN, Principal
from app.services.bookings import BookingService, LabService
from app.services.recovery import close_interrupted_sessions
from app.services.runs.recovery import close_interrupted_runs
from app.storage.bookings import BookingRepo
from app.storage.db import open_database
from app.storage.labs import LabRepo
from app.storage.labstore import LabStore, lab_store, lab_store_key, open_lab_store
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
    #: Who the services act for (scoping what they return, refusing what it may not do).
    principal: Principal = WORKSTATION_ADMIN
    #: The lab store the repositories above use: the file's (on `db`'s connection) or a server's.
    store: LabStore | None = None
    #: The server's URL when the lab store is shared (what a second context opens), else None.
    lab_store_url: str | URL | None = None

    @property
    def shared(self) -> bool:
        """The lab store is on a server shared by the lab's workstations."""
        return self.store is not None and self.store.dialect == "postgresql"

    @property
    def lab_source(self) -> LabStore | Database:
        """Where the lab store's repositories read and write (the server's, or the file's)."""
        return self.store if self.store is not None else self.db

    def device_refs(self) -> Callable[[Device], int] | None:
        """For the device manager: a lab store's device's id in the bench store (its
        stand-in's, made or brought up to date as it connects); None: the file's registry's
        ids serve as they are."""
        if not self.shared or self.store is None or self.lab_store_url is None:
            return None
        from app.services.lab_store_devices import StandIns

        return StandIns(self.db_path, self.store, lab_store_key(self.lab_store_url), self.clock)

    def as_bench_store_knows(self, devices: list[Device]) -> list[Device]:
        """`devices` of the registry under the ids the bench store's rows carry: on a shared
        lab store each device's stand-in's (None for a device never captured here, whose rows
        are then found by label); the file's registry's as they are."""
        if not self.shared or self.lab_store_url is None:
            return devices
        from app.storage.lab_devices import LabDeviceMap

        stand_ins = LabDeviceMap(self.db.conn, lab_store_key(self.lab_store_url))
        return [replace(d, id=None if d.id is None else stand_ins.stand_in(d.id))
                for d in devices]

    def act_as(self, principal: Principal) -> None:
        """Make the context's services act for `principal` from now on."""
        self.principal = principal
        self.lab_service.principal = principal
        self.booking_service.principal = principal
        if not principal.implicit:
            self.actor = self.lab_service.actor = self.booking_service.actor = principal.name
        scope = principal.org_scope()
        self.orgs.scope = self.people.scope = self.bookings_repo.scope = scope

    def close(self) -> None:
        if self.shared and self.store is not None:
            self.store.close()
        self.db.conn.close()


def default_actor() -> str:
    """Who is at the workstation, for the audit trail."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


logger = logging.getLogger(__name__)


def open_bench_database(db_path: Path, clock: Clock, store: LabStore | None = None) -> Database:
    """Open (create, upgrade) the database and close capture sessions and test runs left open
    by a process that ended without closing them (``kill -9``, a power cut). Every entry point
    that works with capture sessions or runs opens the database through this, once at its start.

    With `store` (the lab store on a server), the runs this workstation's dead processes left
    open there are closed too (those of other workstations are theirs to close).

    Raises:
        DatabaseError: the file cannot be opened or upgraded.
    """
    db = open_database(db_path)
    for recovered in close_interrupted_sessions(db.conn, clock):
        logger.info("recovered capture session %d: %d bytes in its file",
                    recovered.session_id, recovered.bytes_in_file)
    closed = close_interrupted_runs(db.conn, clock.now())
    if store is not None and store.dialect != "sqlite":
        closed += close_interrupted_runs(db.conn, clock.now(), store=store)
    if closed:
        logger.info("closed %d run(s) left unfinished as ERROR", closed)
    return db


def build_context(db_path: Path, clock: Clock, actor: str | None = None,
                  principal: Principal | None = None,
                  lab_store_url: str | URL | None = None) -> AppContext:
    """Open the database at `db_path` (created and upgraded as needed, capture sessions and
    runs left open by a dead process closed) and wire the services, acting for `principal`
    (default: the workstation admin).

    With `lab_store_url`, labs, organisations, people, inductions, bookings and the audit trail
    are on that PostgreSQL server (checked first: when it does not answer, nothing is opened
    or written locally); the file at `db_path` stays the bench store.

    Raises:
        DatabaseError: the file cannot be opened or upgraded.
        LabStoreError: the server does not answer or its schema is not this MeterLab's.
    """
    shared = open_lab_store(lab_store_url) if lab_store_url is not None else None
    try:
        db = open_bench_database(db_path, clock, shared)
    except BaseException:
        if shared is not None:
            shared.close()
        raise
    store = shared if shared is not None else lab_store(db)
    who = actor or default_actor()
    acting = principal or WORKSTATION_ADMIN
    # A participant's context reads only its organisation's data, whatever a page asks for.
    scope = acting.org_scope()
    labs = LabRepo(store, clock)
    orgs, people = OrgRepo(store, clock, scope), PersonRepo(store, clock, scope)
    bookings = BookingRepo(store, clock, scope)
    return AppContext(
        db_path=Path(db_path), db=db, clock=clock, actor=who, labs=labs, orgs=orgs, people=people,
        bookings_repo=bookings,
        lab_service=LabService(labs, orgs, people, clock, who, acting),
        booking_service=BookingService(labs, orgs, people, bookings, clock, who, acting),
        principal=acting, store=store, lab_store_url=lab_store_url,
    )
