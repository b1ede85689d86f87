"""The booking dialog checks the rules as the user types and lists every failing reason."""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import Qt

from app.domain.bookings import Phase
from ui.dialogs.booking_dialog import BookingDialog, to_qdatetime
from ui.dialogs.booking_form import BookingForm, evaluate, submit

BAD_CODES = {"hours", "notice", "e2e_notice", "role", "capacity", "bench_conflict", "induction"}


def _bad_form(**changes) -> BookingForm:
    values = {
        "lab": "Demo Lab", "org": "Brightside Power", "start": datetime(2026, 11, 26, 7, 0),
        "end": datetime(2026, 11, 26, 19, 0), "spaces": 20, "phase": Phase.E2E, "roles": ("IS",),
        "attendees": ("jo.walker@brightside.example",), "benches": ("Bench 1",),
    }
    values.update(changes)
    return BookingForm(**values)


# --- the view-model, without widgets -------------------------------------------------------------
def test_form_model_lists_every_reason(ctx) -> None:
    check = evaluate(ctx.booking_service, _bad_form())
    codes = [code for code, _ in check.lines()]
    assert set(codes) == BAD_CODES
    assert codes.count("hours") == 2  # starts before opening and ends after closing
    assert not check.ok and not check.can_request(False, "")
    assert not check.can_request(True, "   ")
    assert check.can_request(True, "Lab manager agreed an early start")


def test_form_model_bad_input_is_one_sentence(ctx) -> None:
    check = evaluate(ctx.booking_service, _bad_form(end=datetime(2026, 11, 26, 6, 0)))
    assert check.request is None
    [(code, sentence)] = check.lines()
    assert code == "input: end" and "must be after start" in sentence
    assert not check.can_request(True, "anything")
    check = evaluate(ctx.booking_service, _bad_form(org="Nobody Ltd"))
    assert "There is no organisation 'Nobody Ltd'" in check.error


def test_form_model_submit_good_request(ctx) -> None:
    form = BookingForm(lab="Demo Lab", org="Southern Gas Transport",
                       start=datetime(2026, 12, 1, 9), end=datetime(2026, 12, 1, 17), spaces=2)
    check, outcome = submit(ctx.booking_service, form)
    assert check.ok and outcome is not None and outcome.status == "requested"
    _, refused = submit(ctx.booking_service, _bad_form())
    assert refused is None  # never reaches the service without an override


# --- the dialog ------------------------------------------------------------------------------------
def _dialog(qtbot, ctx, errors) -> BookingDialog:
    dialog = BookingDialog(ctx, ctx.labs.resolve("Demo Lab"), errors)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def _check_item(widget, text: str) -> None:
    for i in range(widget.count()):
        item = widget.item(i)
        if text in item.text():
            item.setCheckState(Qt.CheckState.Checked)
            return
    raise AssertionError(f"{text} not in list")


def test_defaults_make_a_good_request(qtbot, ctx, window) -> None:
    dialog = _dialog(qtbot, ctx, window.errors)
    form = dialog.form()
    assert (form.start, form.end) == (datetime(2026, 11, 30, 9), datetime(2026, 11, 30, 17))
    assert (form.spaces, form.phase) == (1, Phase.DEVICE)
    assert dialog.reason_codes() == []
    assert dialog.request_button.isEnabled()
    assert not dialog.roles.isEnabled()
    qtbot.mouseClick(dialog.request_button, Qt.MouseButton.LeftButton)
    assert dialog.result() == BookingDialog.DialogCode.Accepted
    assert dialog.outcome is not None and dialog.outcome.status == "requested"
    assert ctx.bookings_repo.get(dialog.outcome.booking.id).status.value == "requested"


def test_bad_request_lists_several_reasons_as_user_types(qtbot, ctx, window) -> None:
    dialog = _dialog(qtbot, ctx, window.errors)
    dialog.org.setCurrentText("Brightside Power")
    dialog.start.setDateTime(to_qdatetime(datetime(2026, 11, 26, 7, 0)))
    dialog.end.setDateTime(to_qdatetime(datetime(2026, 11, 26, 19, 0)))
    dialog.phase.setCurrentIndex(dialog.phase.findData(Phase.E2E.value))
    assert dialog.roles.isEnabled()
    dialog.roles.boxes["IS"].setChecked(True)
    _check_item(dialog.attendees, "jo.walker@brightside.example")
    _check_item(dialog.benches, "Bench 1")
    qtbot.keyClicks(dialog.spaces.lineEdit(), "0")  # 1 -> 10
    dialog.spaces.setValue(20)
    qtbot.waitUntil(lambda: set(dialog.reason_codes()) == BAD_CODES, timeout=2000)
    assert dialog.reasons.count() == 8
    assert "7 rules" not in dialog.summary.text() and "8 rules not met" in dialog.summary.text()
    assert not dialog.request_button.isEnabled()

    dialog.override.setChecked(True)
    assert dialog.justification.isEnabled()
    assert not dialog.request_button.isEnabled()  # no justification written yet
    qtbot.keyClicks(dialog.justification, "Lab manager agreed an early start")
    qtbot.waitUntil(dialog.request_button.isEnabled, timeout=1000)
    dialog.request()
    assert dialog.outcome is not None and dialog.outcome.status == "overridden"
    booking = dialog.outcome.booking
    assert booking.override == "Lab manager agreed an early start"
    assert {r.code for r in booking.override_reasons} == BAD_CODES


def test_bad_input_shows_the_sentence(qtbot, ctx, window) -> None:
    dialog = _dialog(qtbot, ctx, window.errors)
    dialog.end.setDateTime(to_qdatetime(datetime(2026, 11, 30, 8, 0)))
    qtbot.waitUntil(lambda: dialog.reason_codes() == ["input: end"], timeout=1000)
    assert "must be after start" in dialog.reasons.item(0).text()
    assert not dialog.request_button.isEnabled()
    assert window.errors.dialog is None  # input mistakes are shown in place, not as errors


def test_moving_start_keeps_length_and_find_slot_fills_in(qtbot, ctx, window) -> None:
    dialog = _dialog(qtbot, ctx, window.errors)
    dialog.start.setDateTime(to_qdatetime(datetime(2026, 12, 2, 10, 0)))
    assert dialog.form().end == datetime(2026, 12, 2, 18, 0)
    dialog.start.setDateTime(to_qdatetime(datetime(2026, 11, 25, 9, 0)))  # inside the notice
    dialog.spaces.setValue(20)
    dialog.recheck()
    assert "notice" in dialog.reason_codes()
    dialog.find_slot()
    form = dialog.form()
    # Mon 30 Nov holds 12 spaces 09:00-17:00, so 20 spaces for 8 hours first fit in one day
    # on Tue 1 Dec (an 8-hour booking is not split across an evening).
    assert (form.start, form.end) == (datetime(2026, 12, 1, 8, 0), datetime(2026, 12, 1, 16, 0))
    assert dialog.reason_codes() == [] and dialog.request_button.isEnabled()
