"""Booking use cases against a real SQLite file."""

import json
import sqlite3
from datetime import date, datetime

import pytest

from app.domain.bookings import BookingStatus, Phase, TransitionRefused
from app.domain.errors import NotFoundError, ValidationError
from app.main import build_context


def local(ctx, y, m, d, h):
    return datetime(y, m, d, h, tzinfo=ctx.labs.resolve("Winchester").tz)


def request(ctx, start, end, spaces=5, phase=Phase.DEVICE, override="", **kw):
    svc = ctx.booking_service
    lab, req = svc.build_request("Winchester", kw.pop("org", "Acme Energy"), start, end, spaces, phase, **kw)
    return svc.request(lab, req, override=override)


def test_request_is_stored_with_audit_and_day_rows(lab_ctx) -> None:
    out = request(lab_ctx, local(lab_ctx, 2026, 11, 30, 9), local(lab_ctx, 2026, 12, 1, 12),
                  attendees=["ann@acme.example"], benches=["bench 2"])
    assert out.status == "requested" and out.reasons == []
    b = out.booking
    assert b.benches == ("Bench 2",) and b.attendees == ("ann@acme.example",)
    assert b.start.isoformat() == "2026-11-30T09:00:00+00:00"
    days = list(lab_ctx.db.query("SELECT day, start_utc, end_utc FROM booking_days ORDER BY day"))
    assert [d["day"] for d in days] == ["2026-11-30", "2026-12-01"]
    assert days[0]["end_utc"].startswith("2026-11-30T18:00")
    assert lab_ctx.bookings_repo.audit_for(b.id)[0]["action"] == "requested"
    assert lab_ctx.bookings_repo.audit_for(b.id)[0]["actor"] == "tester"


def test_refused_request_is_not_a_booking_but_is_audited(lab_ctx) -> None:
    out = request(lab_ctx, local(lab_ctx, 2026, 11, 26, 9), local(lab_ctx, 2026, 11, 26, 12),
                  attendees=["bob@acme.example"])
    assert out.status == "refused" and out.booking is None
    assert {r.code for r in out.reasons} == {"notice", "induction"}
    assert lab_ctx.bookings_repo.count() == 0
    refusal = lab_ctx.bookings_repo.refusals()[0]
    assert {r["code"] for r in refusal["reasons"]} == {"notice", "induction"}


def test_capacity_counts_stored_active_bookings_only(lab_ctx) -> None:
    s, e = local(lab_ctx, 2026, 11, 30, 9), local(lab_ctx, 2026, 11, 30, 17)
    first = request(lab_ctx, s, e, spaces=60).booking
    request(lab_ctx, s, e, spaces=40)
    assert [r.code for r in request(lab_ctx, s, e, spaces=1).reasons] == ["capacity"]
    lab_ctx.booking_service.transition(first.id, "cancel", "plans changed")
    assert request(lab_ctx, s, e, spaces=60).status == "requested"


def test_override_keeps_reasons_and_justification(lab_ctx) -> None:
    out = request(lab_ctx, local(lab_ctx, 2026, 11, 26, 9), local(lab_ctx, 2026, 11, 26, 12),
                  override="Urgent fix agreed with the lab manager")
    assert out.status == "overridden"
    b = lab_ctx.bookings_repo.get(out.booking.id)
    assert b.override == "Urgent fix agreed with the lab manager"
    assert [r.code for r in b.override_reasons] == ["notice"]
    audit = lab_ctx.bookings_repo.audit_for(b.id)[0]
    assert audit["action"] == "overridden" and audit["details"]["override"].startswith("Urgent")


def test_transitions_are_audited(lab_ctx) -> None:
    b = request(lab_ctx, local(lab_ctx, 2026, 11, 30, 9), local(lab_ctx, 2026, 11, 30, 17)).booking
    svc = lab_ctx.booking_service
    svc.transition(b.id, "approve", "ok")
    svc.transition(b.id, "checkin")
    assert svc.transition(b.id, "complete").status is BookingStatus.COMPLETED
    trail = [a["action"] for a in lab_ctx.bookings_repo.audit_for(b.id)]
    assert trail == ["requested", "approve", "checkin", "complete"]
    with pytest.raises(TransitionRefused, match="Cannot cancel a booking that is completed"):
        svc.transition(b.id, "cancel")
    with pytest.raises(ValidationError):
        svc.transition(b.id, "explode")
    assert len(lab_ctx.bookings_repo.audit_for(b.id)) == 4  # refusals leave the trail alone


def test_unknown_attendee_bench_lab_are_bad_input(lab_ctx) -> None:
    s, e = local(lab_ctx, 2026, 11, 30, 9), local(lab_ctx, 2026, 11, 30, 17)
    with pytest.raises(NotFoundError, match="nobody@x.example"):
        request(lab_ctx, s, e, attendees=["nobody@x.example"])
    with pytest.raises(ValidationError, match="no bench 'Bench 9'"):
        request(lab_ctx, s, e, benches=["Bench 9"])
    with pytest.raises(NotFoundError, match="Winchester"):
        lab_ctx.booking_service.build_request("Nowhere", "Acme Energy", s, e, 1, Phase.DEVICE)
    assert lab_ctx.bookings_repo.count() == 0


def test_induction_validity_twelve_months(lab_ctx) -> None:
    # Cat was inducted on 2025-12-01: valid to 2026-11-30, so a booking on 1 Dec is refused.
    ok = request(lab_ctx, local(lab_ctx, 2026, 11, 30, 9), local(lab_ctx, 2026, 11, 30, 12),
                 org="Gasco", attendees=["cat@gasco.example"])
    assert ok.status == "requested"
    late = request(lab_ctx, local(lab_ctx, 2026, 12, 1, 9), local(lab_ctx, 2026, 12, 1, 12),
                   org="Gasco", attendees=["cat@gasco.example"])
    assert [r.code for r in late.reasons] == ["induction"]


def test_induction_in_the_future_is_refused(lab_ctx) -> None:
    with pytest.raises(ValidationError, match="future"):
        lab_ctx.lab_service.induct("bob@acme.example", "Winchester", date(2026, 12, 25),
                                    reason="held elsewhere")


def test_find_slot_uses_stored_bookings(lab_ctx) -> None:
    request(lab_ctx, local(lab_ctx, 2026, 11, 27, 10), local(lab_ctx, 2026, 11, 27, 18), spaces=100)
    start, end = lab_ctx.booking_service.find_slot("Winchester", 5, 3, Phase.DEVICE)
    # Now is Wed 10:00, notice 48 h: Fri from 10:00 is full, so Monday 08:00.
    assert start == local(lab_ctx, 2026, 11, 30, 8) and end == local(lab_ctx, 2026, 11, 30, 11)


def test_data_survives_reopening(lab_ctx, db_path, clock) -> None:
    b = request(lab_ctx, local(lab_ctx, 2026, 11, 30, 9), local(lab_ctx, 2026, 11, 30, 17)).booking
    lab_ctx.close()
    again = build_context(db_path, clock, actor="x")
    try:
        assert again.bookings_repo.get(b.id) == b
        lab = again.labs.resolve("winchester")
        assert [x.name for x in lab.benches] == ["Bench 1", "Bench 2", "Bench 3", "Bench 4"]
        assert again.people.find_by_email("ANN@acme.example").inductions[0].valid_until == date(2027, 11, 1)
    finally:
        again.close()


def test_demo_lab_is_created_whole_or_not_at_all(ctx) -> None:
    from app.services.demo import create_demo_lab

    # The fourth demo booking fails in the database, as a full disk would.
    ctx.db.execute("CREATE TRIGGER fail_fourth BEFORE INSERT ON bookings "
                   "WHEN (SELECT count(*) FROM bookings) = 3 "
                   "BEGIN SELECT RAISE(ABORT, 'injected failure'); END")
    with pytest.raises(sqlite3.IntegrityError, match="injected failure"):
        create_demo_lab(ctx.lab_service, ctx.booking_service)
    tables = ("labs", "benches", "organisations", "people", "inductions", "bookings", "audit")
    assert {t: ctx.db[t].count for t in tables} == dict.fromkeys(tables, 0)
    ctx.db.execute("DROP TRIGGER fail_fourth")
    assert create_demo_lab(ctx.lab_service, ctx.booking_service) == "Demo Lab"
    assert ctx.bookings_repo.count() > 3


def test_request_and_its_refusal_audit_share_the_check_transaction(lab_ctx) -> None:
    # A refusal is written inside the same transaction as the check, and nothing stays open.
    out = request(lab_ctx, local(lab_ctx, 2026, 12, 5, 7), local(lab_ctx, 2026, 12, 5, 19),
                  spaces=101)
    assert [r.code for r in out.reasons] == ["working_day", "hours", "hours", "capacity"]
    assert not lab_ctx.db.conn.in_transaction
    assert len(lab_ctx.bookings_repo.refusals()) == 1


@pytest.mark.parametrize("reason", ["", "   ", "held\x00there"])
def test_induction_held_elsewhere_needs_a_plain_reason(lab_ctx, reason) -> None:
    before = lab_ctx.people.find_by_email("bob@acme.example").inductions
    with pytest.raises(ValidationError) as err:
        lab_ctx.lab_service.induct("bob@acme.example", "Winchester", date(2026, 11, 20), reason=reason)
    assert err.value.field == "reason"
    assert lab_ctx.people.find_by_email("bob@acme.example").inductions == before


def test_induction_reason_is_kept_in_the_audit_trail(lab_ctx) -> None:
    lab_ctx.lab_service.induct("bob@acme.example", "Winchester", date(2026, 11, 20),
                               reason="held at Acme's own site")
    rows = [r for r in lab_ctx.db["audit"].rows_where("entity = 'induction'", order_by="id")]
    assert json.loads(rows[-1]["details_json"])["reason"] == "held at Acme's own site"
