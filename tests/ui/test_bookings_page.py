"""Acting on bookings from the detail panel, the list, participants and export."""

from __future__ import annotations

import csv
import io
from datetime import date

from PySide6.QtCore import QDate, Qt

from app.domain.bookings import BookingStatus


def _requested_id(ctx) -> int:
    return next(b.id for b in ctx.booking_service.list("Demo Lab")
                if b.status is BookingStatus.REQUESTED and b.org_name == "Brightside Power")


def test_approve_from_detail_panel(qtbot, ctx, page) -> None:
    booking_id = _requested_id(ctx)
    asked: list[str] = []
    page.ask_reason = lambda title, prompt: asked.append(title) or "Paperwork checked"
    page.select_booking(booking_id)
    buttons = page.detail.buttons
    visible = {a for a, b in buttons.items() if b.isVisibleTo(page.detail)}
    assert visible == {"approve", "reject", "cancel"}
    qtbot.mouseClick(buttons["approve"], Qt.MouseButton.LeftButton)
    assert asked == [f"Approve booking #{booking_id}"]
    assert ctx.bookings_repo.get(booking_id).status is BookingStatus.SCHEDULED
    assert page.detail.booking().status is BookingStatus.SCHEDULED
    assert page.detail.status_chip.text().strip() == "Scheduled"
    visible = {a for a, b in buttons.items() if b.isVisibleTo(page.detail)}
    assert visible == {"cancel", "checkin", "no_show"}
    last = page.detail.audit.item(page.detail.audit.count() - 1).text()
    assert "approve: requested → scheduled — Paperwork checked" in last
    assert page.window().statusBar().currentMessage() == f"Booking #{booking_id} is now scheduled."


def test_backing_out_of_the_reason_changes_nothing(qtbot, ctx, page) -> None:
    booking_id = _requested_id(ctx)
    page.ask_reason = lambda title, prompt: None
    page.select_booking(booking_id)
    qtbot.mouseClick(page.detail.buttons["reject"], Qt.MouseButton.LeftButton)
    assert ctx.bookings_repo.get(booking_id).status is BookingStatus.REQUESTED


def test_refused_transition_becomes_one_sentence(qtbot, ctx, window, page) -> None:
    booking_id = _requested_id(ctx)
    ctx.booking_service.transition(booking_id, "cancel")  # someone else got there first
    page.ask_reason = lambda title, prompt: ""
    page.perform_action(booking_id, "approve")
    assert window.errors.last_message == (
        "Cannot approve a booking that is cancelled; it must be requested.")
    window.errors.dialog.accept()


def test_list_filters_and_sorting(qtbot, ctx, page) -> None:
    panel = page.list_panel
    assert panel.model.rowCount() == 7
    panel.status_combo.setCurrentIndex(panel.status_combo.findData("requested"))
    assert panel.model.rowCount() == 3
    panel.org_combo.setCurrentIndex(panel.org_combo.findData("Southern Gas Transport"))
    assert panel.model.rowCount() == 1
    panel.status_combo.setCurrentIndex(0)
    panel.org_combo.setCurrentIndex(0)
    panel.from_check.setChecked(True)
    panel.from_edit.setDate(QDate(2026, 11, 26))
    panel.to_check.setChecked(True)
    panel.to_edit.setDate(QDate(2026, 11, 27))
    assert panel.model.rowCount() == 2
    panel.table.sortByColumn(6, Qt.SortOrder.DescendingOrder)  # spaces
    first = panel.proxy.index(0, 6).data()
    assert first == "10"


def test_export_csv_and_ics(tmp_path, ctx, page) -> None:
    assert page.export_to(tmp_path / "b.csv", "csv") == 7
    rows = list(csv.DictReader(io.StringIO((tmp_path / "b.csv").read_text())))
    assert len(rows) == 7 and rows[0]["org"] == "Northern Energy Supply"
    page.export_to(tmp_path / "b.ics", "ics")
    assert (tmp_path / "b.ics").read_bytes().count(b"BEGIN:VEVENT") == 7


def test_participants_add_org_person_and_induction(qtbot, ctx, page) -> None:
    panel = page.participants
    page.tabs.setCurrentIndex(page.TAB_PARTICIPANTS)
    panel.org_name.setText("Western Meters")
    panel.org_roles.boxes["IS"].setChecked(True)
    panel.org_roles.boxes["ES"].setChecked(True)
    panel.org_done.boxes["IS"].setChecked(True)
    qtbot.mouseClick(panel.add_org_button, Qt.MouseButton.LeftButton)
    org = ctx.orgs.resolve("Western Meters")
    assert (org.roles, org.completed_roles) == (("IS", "ES"), ("IS",))
    assert panel.selected_org().name == "Western Meters"
    panel.person_name.setText("Sam Lee")
    panel.person_email.setText("Sam.Lee@western.example")
    qtbot.mouseClick(panel.add_person_button, Qt.MouseButton.LeftButton)
    assert panel.selected_person().email == "sam.lee@western.example"
    assert panel.people_table.item(0, 2).text() == "none"
    panel.induction_date.setDate(QDate(2026, 11, 20))
    panel.delivered_by.setText("R. Patel")
    # Without a reason nothing is recorded and the field is named.
    qtbot.mouseClick(panel.induct_button, Qt.MouseButton.LeftButton)
    assert ctx.people.find_by_email("sam.lee@western.example").inductions == ()
    assert "reason" in panel.errors.last_message.lower()
    panel.induction_reason.setText("held at Western's own site")
    qtbot.mouseClick(panel.induct_button, Qt.MouseButton.LeftButton)
    person = ctx.people.find_by_email("sam.lee@western.example")
    [ind] = person.inductions
    assert (ind.date, ind.valid_until, ind.delivered_by) == (
        date(2026, 11, 20), date(2027, 11, 19), "R. Patel")
    assert panel.induction_table.item(0, 4).text() == "Valid"
    assert panel.people_table.item(0, 2).text() == "valid to 19 Nov 2027"
    # The organisation is now offered in the list filters and in new bookings.
    assert page.list_panel.org_combo.findData("Western Meters") >= 0


def test_participant_mistakes_are_reported_not_raised(qtbot, window, page) -> None:
    panel = page.participants
    panel.person_name.setText("No Address")
    panel.person_email.setText("not-an-email")
    qtbot.mouseClick(panel.add_person_button, Qt.MouseButton.LeftButton)
    assert "Email must be an address like name@example.com" in window.errors.last_message
    window.errors.dialog.accept()


def test_new_booking_from_page_selects_it(qtbot, ctx, page) -> None:
    dialog = page.new_booking()
    assert dialog is not None and dialog.isVisible()
    dialog.request()
    booking = dialog.outcome.booking
    assert page.detail.booking().id == booking.id
    assert page.week_monday() == date(2026, 11, 30)
    assert booking.id in {pb.booking_id for pb in page.calendar.placed_blocks()}
