"""The lab store's transactions on both engines, and on SQLite the one shared connection."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.domain.bookings import Booking, BookingStatus, Phase, Reason, Segment
from app.domain.clock import FixedClock
from app.domain.lab import Bench, Lab
from app.domain.participants import Organisation
from app.storage.audit import audit_actors, audit_entities, list_audit
from app.storage.bookings import BookingRepo
from app.storage.db import DatabaseError, DbErrorKind
from app.storage.labs import LabRepo
from app.storage.labstore import PostgresLabStore, lab_store
from app.storage.people import OrgRepo
from app.storage.transactions import write_transaction
from tests.storage.engines import engine  # noqa: F401 (a fixture: every test on both engines)

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
CLOCK = FixedClock(NOW)


def test_a_service_transaction_spans_every_repository(engine) -> None:  # noqa: F811
    labs, orgs = LabRepo(engine.source, CLOCK), OrgRepo(engine.source, CLOCK)
    bookings = BookingRepo(engine.source, CLOCK)
    with pytest.raises(RuntimeError, match="after the writes"), bookings.write_transaction():
        lab = labs.add(Lab(name="Winchester", spaces=10, benches=(Bench(1, "Bench 1"),)))
        org = orgs.add(Organisation(name="Acme"))
        bookings.add(Booking(id=0, lab_id=lab.id, org_id=org.id, start=NOW, end=NOW,
                             spaces=1, phase=Phase.DEVICE, status=BookingStatus.REQUESTED),
                     [Segment(NOW.date(), NOW, NOW)], "ann")
        assert bookings.count() == 1  # read inside the transaction: its own writes
        raise RuntimeError("a failure after the writes")
    assert [engine.count(t) for t in ("labs", "benches", "organisations", "bookings",
                                      "booking_days", "audit")] == [0] * 6
    assert engine.idle()


def test_a_failed_nested_change_leaves_the_outer_one_standing(engine) -> None:  # noqa: F811
    labs, orgs = LabRepo(engine.source, CLOCK), OrgRepo(engine.source, CLOCK)
    engine.fail_insert("benches", "NEW.number = 2")
    with BookingRepo(engine.source, CLOCK).write_transaction():
        orgs.add(Organisation(name="Acme"))
        with pytest.raises(engine.integrity_error, match="injected failure"):
            labs.add(Lab(name="Winchester", spaces=10,
                         benches=(Bench(1, "Bench 1"), Bench(2, "Bench 2"))))
    assert [o.name for o in orgs.list()] == ["Acme"] and labs.count() == 0
    assert [tuple(r) for r in engine.sql("SELECT entity, action FROM audit")] == [
        ("organisation", "created")]


def test_the_audit_trail_lists_with_filters(engine) -> None:  # noqa: F811
    LabRepo(engine.source, FixedClock(NOW)).add(Lab(name="Winchester", spaces=10), actor="ann")
    later = FixedClock(datetime(2026, 11, 26, 9, 0, tzinfo=UTC))
    OrgRepo(engine.source, later).add(Organisation(name="Acme"), actor="bob")
    BookingRepo(engine.source, later).record_refusal("bob", {"lab": "Winchester"},
                                                     [Reason("capacity", "Full.")])
    rows = list_audit(engine.source)
    assert [(r.actor, r.action, r.entity) for r in rows] == [
        ("bob", "refused", "booking"), ("bob", "created", "organisation"),
        ("ann", "created", "lab")]
    assert rows[0].details["reasons"] == [{"code": "capacity", "message": "Full."}]
    assert [r.entity for r in list_audit(engine.source, actor="ann")] == ["lab"]
    assert [r.entity for r in list_audit(engine.source, entity="organisation")] == [
        "organisation"]
    assert len(list_audit(engine.source, since="2026-11-26T00:00:00.000000+00:00")) == 2
    assert len(list_audit(engine.source, limit=1)) == 1
    assert audit_entities(engine.source) == ["booking", "lab", "organisation"]
    assert audit_actors(engine.source) == ["ann", "bob"]


def test_on_sqlite_the_lab_store_shares_the_files_connection(tmp_path) -> None:
    from app.storage.db import open_database

    db = open_database(tmp_path / "a.db")
    try:
        assert lab_store(db) is lab_store(db)
        # One transaction over the lab store's repositories and a sqlite-utils write of the
        # bench store: both are undone together.
        with pytest.raises(RuntimeError), write_transaction(db):
            LabRepo(db, CLOCK).add(Lab(name="Winchester", spaces=10))
            db["capture_sessions"].insert({"device": "x", "started_at": "2026-11-25"})
            raise RuntimeError
        assert db["labs"].count == 0 and db["capture_sessions"].count == 0
        # Committed by the outer transaction, not by the repository.
        with write_transaction(db):
            LabRepo(db, CLOCK).add(Lab(name="Winchester", spaces=10))
            assert db.conn.in_transaction
        assert not db.conn.in_transaction and db["labs"].count == 1
    finally:
        db.conn.close()


def test_a_server_that_is_not_there_is_a_clear_state(tmp_path) -> None:
    store = PostgresLabStore(f"postgresql://meterlab@/meterlab?host={tmp_path}")
    try:
        with pytest.raises(DatabaseError, match="^lab store unreachable: ") as err:
            LabRepo(store, CLOCK).list()
        assert err.value.kind is DbErrorKind.UNREACHABLE
        with pytest.raises(DatabaseError, match="^lab store unreachable: "):
            OrgRepo(store, CLOCK).add(Organisation(name="Acme"))
    finally:
        store.close()


def test_a_booking_check_reads_in_three_statements_outside_any_transaction(pg_url) -> None:
    """On a server every statement is a round trip: a check's reads (the organisation, each
    attendee with their inductions, what the lab's days hold) are one statement each, in
    autocommit (no BEGIN before them, no ROLLBACK after)."""
    from datetime import timedelta

    from sqlalchemy import event

    from app.services.bookings import BookingService, LabService
    from app.storage.people import PersonRepo

    store = PostgresLabStore(pg_url)
    try:
        labs, orgs = LabRepo(store, CLOCK), OrgRepo(store, CLOCK)
        people, bookings = PersonRepo(store, CLOCK), BookingRepo(store, CLOCK)
        lab_service = LabService(labs, orgs, people, CLOCK, "t")
        service = BookingService(labs, orgs, people, bookings, CLOCK, "t")
        lab_service.add_lab("Northampton", 20, benches=2)
        lab_service.add_org("Acme", "IS", "IS")
        lab_service.add_person("Acme", "Pat", "pat@acme.example")
        start = datetime(2027, 3, 2, 9, 0, tzinfo=UTC)
        lab, req = service.build_request("Northampton", "Acme", start, start + timedelta(hours=2),
                                         2, Phase.DEVICE, attendees=["pat@acme.example"])
        statements: list[str] = []
        autocommit: list[bool] = []

        def executing(conn, cursor, statement, *rest) -> None:
            statements.append(statement)
            autocommit.append(conn.connection.dbapi_connection.autocommit)

        event.listen(store.engine, "before_cursor_execute", executing)
        reasons = service.check(lab, req)
        assert len(statements) == 3, statements
        assert all(autocommit)  # psycopg sends no BEGIN, and no ROLLBACK when it is given back
        # The check still sees what it read: Pat has had no induction.
        assert "induction" in " ".join(r.code for r in reasons)
    finally:
        store.close()
