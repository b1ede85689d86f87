"""Induction content, answers, signatures, countersigning and the stored record."""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from pathlib import Path

import pytest

from app.domain.bookings import Phase
from app.domain.errors import NotFoundError, RuleRefusal, ValidationError
from app.domain.induction import check_answer, check_signature
from app.domain.principals import Principal, Role, participant
from app.services.inductions import (
    NO_ACCOUNTS_NOTE,
    InductionService,
    builtin_induction_dir,
    countersign,
    load_content,
)


def accounts_of(ctx, with_sam: bool = True):
    """The real staff account service on `ctx`'s database (argon2 with small parameters), with
    an admin and the staff member Sam Staff (password s3cret) unless `with_sam` is False."""
    from argon2 import PasswordHasher

    from app.domain.principals import WORKSTATION_ADMIN
    from app.services.accounts import AccountService

    service = AccountService(ctx.db, ctx.clock,
                             hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    if with_sam:
        service.add(WORKSTATION_ADMIN, "Ada Admin", Role.ADMIN, "admin pw")
        admin = service.verify("Ada Admin", "admin pw")
        service.add(admin, "Sam Staff", Role.STAFF, "s3cret")
    return service


class ParticipantVerifier:
    """Mock verifier (no real account service signs a participant in): answers every login with
    a participant principal, to show countersigning checks the role it gets back."""

    def any_accounts(self) -> bool:
        return True

    def verify(self, name: str, password: str) -> Principal | None:
        return participant("ann@acme.example", 1)


@pytest.fixture
def visit(lab_ctx, tmp_path: Path):
    """Bob (not inducted) with a booking checked in today at Winchester, Bench 2."""
    svc = lab_ctx.booking_service
    lab, req = svc.build_request("Winchester", "Acme Energy", datetime(2026, 11, 25, 9, 0),
                                 datetime(2026, 11, 25, 17, 0), 2, Phase.DEVICE,
                                 attendees=["bob@acme.example"], benches=["Bench 2"],
                                 devices="Own ESME")
    booking = svc.request(lab, req, override="Walk-in visit").booking
    svc.transition(booking.id, "approve", "ok")
    svc.transition(booking.id, "checkin", "arrived")
    return InductionService.of(lab_ctx, content_dir=tmp_path / "induction"), lab, booking


def test_shipped_content_has_the_four_sections_with_questions() -> None:
    content = load_content("Winchester", Path("/nonexistent"))
    assert [s.key for s in content.sections] == ["rules", "safety", "confidentiality", "visit"]
    raw = builtin_induction_dir().joinpath("default.toml").read_bytes()
    assert content.sha256 == hashlib.sha256(raw).hexdigest()
    assert content.source == "builtin:default"
    rules = content.section("rules")
    assert "08:00-18:00" in rules.text and "48 hours" in rules.text
    assert check_answer(rules, rules.question.answer).correct
    wrong = check_answer(rules, (rules.question.answer + 1) % len(rules.question.choices))
    assert not wrong.correct and "48 hours" in wrong.message
    assert not check_answer(rules, None).correct


def test_a_labs_own_content_overrides_the_shipped_one(tmp_path: Path) -> None:
    folder = tmp_path / "induction"
    folder.mkdir()
    text = ('version = "lab-7"\n[[sections]]\nkey = "x"\ntitle = "X"\ntext = "T"\n'
            'question = "Q?"\nchoices = ["a", "b"]\nanswer = 1\nwhy = "because"\n')
    (folder / "winchester.toml").write_text(text)
    assert load_content("Winchester", folder).version == "lab-7"
    assert load_content("Other Lab", folder).source == "builtin:default"
    (folder / "default.toml").write_text(text.replace("lab-7", "all-labs"))
    assert load_content("Other Lab", folder).version == "all-labs"


def test_a_bad_content_file_is_one_sentence_naming_the_section(tmp_path: Path) -> None:
    folder = tmp_path / "induction"
    folder.mkdir()
    (folder / "default.toml").write_text(
        'version = "1"\n[[sections]]\nkey = "x"\ntitle = "X"\ntext = "T"\nquestion = "Q?"\n'
        'choices = ["a", "b"]\nanswer = 3\nwhy = "w"\n')
    with pytest.raises(ValidationError) as exc:
        load_content(None, folder)
    assert "section 1 (X): answer must be the number (1 to 2)" in exc.value.message


def test_signature_must_be_the_persons_name_ignoring_case() -> None:
    assert check_signature("  bob   BAKER ", "Bob Baker") == "bob BAKER"
    with pytest.raises(ValidationError, match="Bob Baker"):
        check_signature("Robert Baker", "Bob Baker")
    with pytest.raises(ValidationError):
        check_signature("   ", "Bob Baker")


def test_checked_in_people_and_the_visit_section_from_the_booking(visit) -> None:
    service, lab, booking = visit
    people = service.checked_in_today(lab)
    assert [v.person.email for v in people] == ["bob@acme.example"]
    content = service.visit_content(lab, people[0])
    text = content.section("visit").text
    assert "Bench 2" in text and "Own ESME" in text and f"Booking: {booking.id}," in text
    assert "{benches}" not in text
    everyone = {v.person.email: v for v in service.everyone(lab)}
    assert set(everyone) == {"ann@acme.example", "bob@acme.example", "cat@gasco.example"}
    assert everyone["bob@acme.example"].booking is not None


def test_countersign_with_password_and_without_accounts(lab_ctx) -> None:
    none = countersign(accounts_of(lab_ctx, with_sam=False), "", "")
    assert none.name == "workstation" and none.note == NO_ACCOUNTS_NOTE
    accounts = accounts_of(lab_ctx)
    signed = countersign(accounts, "Sam Staff", "s3cret")
    assert signed.name == "Sam Staff" and signed.note == "password"
    with pytest.raises(ValidationError) as exc:
        countersign(accounts, "Sam Staff", "wrong")
    assert exc.value.field == "password"
    with pytest.raises(ValidationError):
        countersign(accounts, "", "")  # once accounts exist, a countersignature needs one


def test_recorded_induction_keeps_content_names_and_expiry_and_satisfies_the_rule(
        visit, lab_ctx) -> None:
    service, lab, booking = visit
    bob = service.checked_in_today(lab)[0]
    content = service.visit_content(lab, bob)
    signed = countersign(accounts_of(lab_ctx), "Sam Staff", "s3cret")
    with pytest.raises(ValidationError):
        service.record(lab, bob.person, content, "Ann Able", signed, booking.id)
    ind = service.record(lab, bob.person, content, "bob baker", signed, booking.id)
    assert ind.date == date(2026, 11, 25) and ind.valid_until == date(2027, 11, 24)
    assert (ind.content_version, ind.content_sha256) == (content.version, content.sha256)
    assert (ind.participant_signature, ind.countersigned_by) == ("bob baker", "Sam Staff")
    assert ind.booking_id == booking.id
    # the booking rule reads the record: Bob may now be booked for next week without override
    svc = lab_ctx.booking_service
    lab2, req = svc.build_request("Winchester", "Acme Energy", datetime(2026, 12, 3, 9, 0),
                                  datetime(2026, 12, 3, 12, 0), 1, Phase.DEVICE,
                                  attendees=["bob@acme.example"])
    assert "induction" not in [r.code for r in svc.request(lab2, req).reasons]
    audit = [dict(r) for r in lab_ctx.db["audit"].rows_where("entity = 'induction'")]
    assert audit[-1]["actor"] == "Sam Staff"
    assert content.sha256 in audit[-1]["details_json"]
    shown = service.show("bob@acme.example")
    assert shown["inductions"][0]["content_sha256"] == content.sha256
    assert shown["inductions"][0]["valid_today"] is True


def test_expiry_follows_the_labs_validity(lab_ctx, tmp_path: Path) -> None:
    lab_ctx.db["labs"].update(lab_ctx.labs.resolve("Winchester").id,
                              {"induction_validity_months": 6})
    lab = lab_ctx.labs.resolve("Winchester")
    service = InductionService.of(lab_ctx, content_dir=tmp_path)
    bob = lab_ctx.people.find_by_email("bob@acme.example")
    signed = countersign(accounts_of(lab_ctx, with_sam=False), "", "")
    ind = service.record(lab, bob, service.content(lab), "Bob Baker", signed)
    assert ind.valid_until == date(2027, 5, 24)
    assert ind.countersign_note == NO_ACCOUNTS_NOTE


def test_a_participant_may_not_countersign_nor_see_another_organisations_person(visit) -> None:
    service = visit[0]
    with pytest.raises(RuleRefusal):
        countersign(ParticipantVerifier(), "ann", "x")
    acme = service.orgs.resolve("Acme Energy")
    with pytest.raises(NotFoundError):
        service.show("cat@gasco.example", participant("ann@acme.example", acme.id))
    assert service.show("bob@acme.example", participant("ann@acme.example", acme.id))
