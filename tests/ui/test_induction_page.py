"""The induction wizard end to end: choose, answer, sign, countersign, recorded."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from PySide6.QtWidgets import QWidget

from app.domain.bookings import Phase
from app.services.inductions import NO_ACCOUNTS_NOTE, load_content
from ui.errors import ErrorReporter
from ui.pages.induction import InductionPage
from ui.pages.registry import LabSelection, PageEnv

EMAIL = "jo.walker@brightside.example"  # the demo's person without an induction


@pytest.fixture
def checked_in(ctx):
    """Jo Walker's booking today at the demo lab, approved and checked in."""
    svc = ctx.booking_service
    lab, req = svc.build_request("Demo Lab", "Brightside Power", datetime(2026, 11, 25, 11, 0),
                                 datetime(2026, 11, 25, 16, 0), 2, Phase.DEVICE,
                                 attendees=[EMAIL], benches=["Bench 7"], devices="Own ESME")
    booking = svc.request(lab, req, override="Walk-in for the induction").booking
    svc.transition(booking.id, "approve", "ok")
    svc.transition(booking.id, "checkin", "arrived")
    return booking


def make_page(qtbot, ctx, accounts) -> tuple[InductionPage, list[str]]:
    host = QWidget()
    qtbot.addWidget(host)
    said: list[str] = []
    selection = LabSelection()
    selection.set_name("Demo Lab")
    env = PageEnv(ctx, ErrorReporter(host), selection, said.append)
    page = InductionPage(env, host, accounts=accounts)
    page.resize(1100, 800)
    page.show()
    return page, said


def answer_all(page: InductionPage, qtbot) -> None:
    for _ in page.content.sections:
        section = page.section
        wrong = (section.question.answer + 1) % len(section.question.choices)
        page.choice_buttons()[wrong].click()
        assert not page.next_button.isEnabled()
        assert page.feedback.text().startswith("Not quite.")
        page.choice_buttons()[section.question.answer].click()
        assert page.next_button.isEnabled()
        page.next_button.click()


def test_wizard_records_the_induction_with_expiry_hash_and_both_names(qtbot, ctx, accounts,
                                                                      checked_in) -> None:
    page, said = make_page(qtbot, ctx, accounts)
    assert [page.person_box.itemData(i).person.email
            for i in range(page.person_box.count())] == [EMAIL]
    page.start_button.click()
    assert page.stack.currentIndex() == page.PAGE_SECTION
    assert page.section_title.text() == "Lab rules"
    assert not page.next_button.isEnabled()
    # a wrong answer blocks and says why
    rules = page.section
    page.choice_buttons()[0].click()
    assert not page.next_button.isEnabled()
    assert "48 hours" in page.feedback.text()
    page.next_button.click()  # disabled: nothing happens
    assert page.section_title.text() == "Lab rules"
    page.choice_buttons()[rules.question.answer].click()
    page.next_button.click()
    assert page.section_title.text() == "Safety"
    page.back_button.click()
    assert page.section_title.text() == "Lab rules"
    page.choice_buttons()[rules.question.answer].click()
    page.next_button.click()
    answer_all_from_here = len(page.content.sections) - 1
    for _ in range(answer_all_from_here):
        if page.section.kind == "visit":
            assert "Bench 7" in page.section_text.text()
            assert "Own ESME" in page.section_text.text()
        page.choice_buttons()[page.section.question.answer].click()
        page.next_button.click()
    assert page.stack.currentIndex() == page.PAGE_SIGN
    assert not page.next_button.isEnabled()
    # the signature must be the participant's name
    page.signature.setText("J Walker")
    page.staff_name.setText("Sam Staff")
    page.password.setText("s3cret")
    page.next_button.click()
    assert "Jo Walker" in page.sign_feedback.text()
    # a wrong staff password is refused and nothing is recorded
    page.signature.setText("jo walker")
    page.password.setText("guess")
    page.next_button.click()
    assert "password is wrong" in page.sign_feedback.text() and page.password.text() == ""
    assert ctx.people.find_by_email(EMAIL).inductions == ()
    page.password.setText("s3cret")
    page.next_button.click()
    assert page.stack.currentIndex() == page.PAGE_DONE
    [ind] = ctx.people.find_by_email(EMAIL).inductions
    content = load_content("Demo Lab", page.service.content_dir or None)
    assert ind.date == date(2026, 11, 25) and ind.valid_until == date(2027, 11, 24)
    assert ind.content_sha256 == content.sha256 == page.content.sha256
    assert ind.content_version == content.version
    assert (ind.participant_signature, ind.countersigned_by) == ("jo walker", "Sam Staff")
    assert ind.booking_id == checked_in.id
    assert "valid until 24 Nov 2027" in page.done_label.text()
    assert said == ["Induction recorded for Jo Walker at Demo Lab."]


def test_without_staff_accounts_the_workstation_admin_countersigns(qtbot, ctx, no_accounts,
                                                                   checked_in) -> None:
    page, _ = make_page(qtbot, ctx, no_accounts)
    page.start_button.click()
    answer_all(page, qtbot)
    assert page.countersign_note.text() == NO_ACCOUNTS_NOTE
    assert not page.password.isEnabled()
    page.signature.setText("Jo Walker")
    page.next_button.click()
    [ind] = ctx.people.find_by_email(EMAIL).inductions
    assert ind.countersigned_by == "workstation" and ind.countersign_note == NO_ACCOUNTS_NOTE


def test_only_checked_in_people_unless_anyone_is_ticked(qtbot, ctx, accounts) -> None:
    page, _ = make_page(qtbot, ctx, accounts)
    assert page.person_box.count() == 0 and not page.start_button.isEnabled()
    assert "Nobody is checked in" in page.choose_note.text()
    page.anyone.setChecked(True)
    assert page.person_box.count() == 4
    page.choose("tom.evans@southern-gas.example")
    page.start_button.click()
    assert "none checked in today" in page.content.section("visit").text
    page.cancel_button.click()
    assert page.stack.currentIndex() == page.PAGE_INTRO


def test_the_main_window_offers_the_wizard(qtbot, window) -> None:
    window.show_page("induction")
    assert isinstance(window.stack.currentWidget(), InductionPage)
