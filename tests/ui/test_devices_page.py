"""The Devices page against the real device runtime and the emulated bench on real ptys."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

from app.domain.devices import ConnectionSettings, Device, DeviceKind
from app.services.device_manager import RawChunk
from app.services.runtime import DEMO_DEVICES, register_demo_devices
from app.storage.db import capture_dir_for
from app.storage.devices import DeviceRepo
from ui.device_runtime import DeviceRuntimeHandle, start_device_runtime
from ui.dialogs.device_form import DeviceForm, check
from ui.widgets.device_table import STATE_COLUMN, STATE_STYLE
from ui.widgets.raw_console import MAX_LINES, RawConsole, as_hex, as_text, text_lines

HUB, RELAY_BOARD = "Bench 1 Comms Hub", "Bench 1 relay"
RED = QColor(STATE_STYLE["failed"][0])
GREEN = QColor(STATE_STYLE["connected"][0])


@pytest.fixture
def devices_page(qtbot, ctx, window):
    register_demo_devices(DeviceRepo(ctx.db, ctx.clock))
    page = window.pages["devices"]
    page.reload()
    window.show_page("devices")
    window.show()
    return page


@pytest.fixture
def live(devices_page, ctx, window, monkeypatch) -> Iterator[DeviceRuntimeHandle]:
    # No D-Bus system bus, whatever the machine has: the Bluetooth answer is deterministic.
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/meterlab-test-bus")
    handle = start_device_runtime(ctx, window.pages, window.errors, db_given=True)
    assert handle is not None
    yield handle
    handle.stop()


def state_cell(page, label: str):
    model = page.model
    return model.index(model.row_of(label), STATE_COLUMN)


def state_of(page, label: str) -> str:
    return page.model.state_of(label).state


# --- registry ----------------------------------------------------------------------------------
def test_page_lists_the_demo_devices_without_a_runtime(devices_page) -> None:
    labels = [d.label for d in devices_page.model.devices]
    assert sorted(labels) == sorted(d.label for d in DEMO_DEVICES)
    hub = devices_page.model.index(devices_page.model.row_of(HUB), 2)
    assert devices_page.model.data(hub) == "00-DB-12-34-56-78-90-A2"
    devices_page.select(HUB)
    assert not devices_page.connect_button.isEnabled()
    assert devices_page.edit_button.isEnabled()
    assert devices_page.runtime_note.isVisible()
    gsme = state_cell(devices_page, "Bench 1 GSME")
    assert devices_page.model.data(gsme) == "via hub: disconnected"


def test_add_dialog_rejects_bad_ids_and_stores_good_ones(qtbot, devices_page, ctx) -> None:
    dialog = devices_page.open_add_dialog()
    qtbot.waitExposed(dialog)
    assert dialog.shown_errors() == {}  # nothing typed yet: nothing said
    qtbot.keyClicks(dialog.label_edit, "Bench 2 ESME")
    dialog.transport_combo.setCurrentIndex(dialog.transport_combo.findData("serial"))
    dialog.where_combo.setEditText("/dev/ttyUSB0")
    qtbot.keyClicks(dialog.device_id_edit, "00-DB-12-34-56-78-90")  # seven octets
    dialog.leave("device_id")
    error = dialog.error_labels["device_id"]
    assert error.toolTip().startswith("Device ID must be an EUI-64")
    assert error.text().startswith("Device ID must be an EUI-64")
    qtbot.keyClicks(dialog.device_id_edit, "-b0")
    assert error.text() == ""
    qtbot.keyClicks(dialog.mpxn_edit, "1312345678900")
    dialog.leave("mpxn")
    assert dialog.shown_errors()["mpxn"] == ("MPAN 1312345678900 fails its check digit: the "
                                             "last digit should be 7.")
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)  # refused: still open
    assert dialog.isVisible() and devices_page.device_dialog is dialog
    dialog.mpxn_edit.setText("1312345678907")
    assert dialog.shown_errors() == {}
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: devices_page.device_dialog is None)
    stored = DeviceRepo(ctx.db, ctx.clock).find("Bench 2 ESME")
    assert stored is not None
    assert stored.device_id == "00-DB-12-34-56-78-90-B0" and stored.mpxn == "1312345678907"
    assert stored.connection == ConnectionSettings(transport="serial", port="/dev/ttyUSB0",
                                                   protocol="iec62056-21", baud=300)
    assert devices_page.selected_label() == "Bench 2 ESME"


def test_dialog_speaks_when_a_field_is_left_or_on_ok_and_nothing_moves(qtbot) -> None:
    """No sentence before the user has been in a field; one when it is left (Tab) and on OK;
    it goes as the value is put right; fields never move and the dialog keeps its size."""
    from ui.dialogs.device_dialog import DeviceDialog

    saved: list[Device] = []

    def save(device: Device) -> Device:
        saved.append(device)
        return device

    dialog = DeviceDialog(lambda _label: None, save, ports=["/dev/ttyS0"])
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    dialog.activateWindow()
    qtbot.waitUntil(dialog.isActiveWindow)
    size = dialog.size()
    places = {name: field.mapTo(dialog, field.rect().topLeft())
              for name, field in dialog.fields.items()}

    def nothing_moved() -> None:
        assert dialog.size() == size
        assert {n: f.mapTo(dialog, f.rect().topLeft()) for n, f in dialog.fields.items()} == places

    assert dialog.shown_errors() == {}
    assert dialog.ok_button.isEnabled()
    dialog.label_edit.setFocus()
    qtbot.waitUntil(dialog.label_edit.hasFocus)
    qtbot.keyClicks(dialog.device_id_edit, "00-DB")  # typing elsewhere says nothing yet
    assert dialog.shown_errors() == {}
    qtbot.keyClick(dialog.label_edit, Qt.Key.Key_Tab)  # left empty
    assert set(dialog.shown_errors()) == {"label"}
    assert dialog.label_edit.accessibleDescription().startswith("Label must not be empty")
    nothing_moved()

    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)  # everything is checked
    assert set(dialog.shown_errors()) == {"label", "device_id", "where"}
    assert dialog.label_edit.hasFocus()  # the first field to put right
    assert saved == [] and dialog.isVisible()
    nothing_moved()

    qtbot.keyClicks(dialog.label_edit, "Bench 3 ESME")  # a shown sentence follows the typing
    assert "label" not in dialog.shown_errors()
    dialog.device_id_edit.setText("00-db-12-34-56-78-90-c0")
    dialog.where_combo.setEditText("/dev/ttyS0")
    assert dialog.shown_errors() == {}
    nothing_moved()
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    assert [d.label for d in saved] == ["Bench 3 ESME"] and not dialog.isVisible()


def test_a_refusal_on_save_is_shown_at_its_field_and_the_dialog_shrinks_back(qtbot) -> None:
    from app.domain.errors import ValidationError
    from ui.dialogs.device_dialog import DeviceDialog

    refusals = [ValidationError("owner", "Owner must be the lab or an organisation.")]

    def save(device: Device) -> Device:
        if refusals:
            raise refusals.pop()
        return device

    dialog = DeviceDialog(lambda _label: None, save)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    height = dialog.height()
    dialog.label_edit.setText("Spare IHD")
    dialog.transport_combo.setCurrentIndex(dialog.transport_combo.findData(""))
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    assert dialog.shown_errors() == {"owner": "Owner must be the lab or an organisation."}
    assert dialog.owner_edit.hasFocus() or not dialog.isActiveWindow()
    qtbot.waitUntil(lambda: dialog.height() > height)  # its line appears with the sentence
    dialog.owner_edit.setText("lab")
    dialog.revalidate()
    assert dialog.shown_errors() == {}
    qtbot.waitUntil(lambda: dialog.height() == height)  # and goes with it


def test_form_checks_each_field() -> None:
    def find(label: str) -> Device | None:
        hub = Device(label=HUB, kind=DeviceKind.CHF, id=1)
        return hub if label.casefold() == HUB.casefold() else None

    form = DeviceForm(label=HUB.upper(), transport="ble", where="not-an-address", baud="x")
    errors = check(form, find)
    assert errors["label"] == f"A device labelled {HUB.upper()!r} already exists."
    assert errors["where"].startswith("Address must be a Bluetooth address")
    assert "baud" not in errors  # BLE has no line speed
    serial = DeviceForm(label="Relay 2", transport="serial", where="COM3", baud="96OO")
    assert check(serial, find)["baud"].startswith("Baud must be a whole number")
    gas = DeviceForm(label="G", kind=DeviceKind.GSME, mpxn="12345678901", transport="")
    assert check(gas, find)["mpxn"].startswith("MPRN must be 1 to 10 digits")
    same = DeviceForm(label=HUB, transport="emulator", where="ch_debug",
                      protocol="profile:emulator", baud="115200", id=1)
    assert check(same, find) == {}


# --- live devices ------------------------------------------------------------------------------
def test_comms_hub_connects_and_its_console_fills(qtbot, devices_page, live) -> None:
    page = devices_page
    qtbot.waitUntil(lambda: state_of(page, HUB) == "connected", timeout=5000)
    cell = state_cell(page, HUB)
    assert page.model.data(cell) == "connected"
    assert page.model.data(cell, Qt.ItemDataRole.ForegroundRole).color() == GREEN
    page.select(HUB)
    assert page.selected_state.text() == "connected"
    qtbot.waitUntil(lambda: "◀ rx" in page.console.text(), timeout=5000)
    qtbot.waitUntil(lambda: page.health.values["bytes_in"].text() not in ("—", "0"), timeout=3000)
    assert page.health.values["frames"].text() != "—"
    assert page.health.values["last_seen"].text() != "never"
    assert "[INF]" in page.console.text() or "[DBG]" in page.console.text()
    page.console.hex_box.setChecked(True)
    assert "0D 0A" in page.console.text()  # every hub log line ends in CR LF
    assert page.disconnect_button.isEnabled() and not page.connect_button.isEnabled()
    # The Comms Hub is emulated on a pty: captures go beside the database given with --db.
    assert capture_dir_for(page.ctx.db_path, True).is_dir()


def test_bytes_missing_from_the_capture_are_shown_beside_the_device(qtbot, devices_page,
                                                                    live) -> None:
    page = devices_page
    # The relay board speaks only when spoken to, so nothing read overwrites the counter below.
    qtbot.waitUntil(lambda: state_of(page, RELAY_BOARD) == "connected", timeout=5000)
    page.select(RELAY_BOARD)
    missing = page.health.values["not_captured_bytes"]
    qtbot.waitUntil(lambda: missing.text() == "0 B", timeout=5000)
    assert page.health.values["rx_dropped_bytes"].text() == "0 B"
    assert page.model.data(state_cell(page, RELAY_BOARD)) == "connected"
    # The port's receive buffer overflows: the session counts it in its health (a plain int the
    # session writes; written here as an overflow would).
    live.runtime.manager.health(RELAY_BOARD).rx_dropped_bytes = 136
    qtbot.waitUntil(lambda: missing.text() == "136 B", timeout=3000)
    assert page.health.values["rx_dropped_bytes"].text() == "136 B"
    assert "c62828" in missing.styleSheet()
    assert "136 bytes dropped by the port's receive buffer" in missing.toolTip()
    cell = state_cell(page, RELAY_BOARD)
    qtbot.waitUntil(lambda: page.model.data(cell) == "connected · 136 B not captured",
                    timeout=3000)
    tip = page.model.data(cell, Qt.ItemDataRole.ToolTipRole)
    assert "136 bytes dropped by the port's receive buffer" in tip


def test_relay_send_line_goes_out_with_crlf(qtbot, devices_page, live) -> None:
    page = devices_page
    qtbot.waitUntil(lambda: state_of(page, RELAY_BOARD) == "connected", timeout=5000)
    page.select(RELAY_BOARD)
    assert page.send_button.isEnabled()
    qtbot.keyClicks(page.send_edit, "RELAY 1 OFF")
    qtbot.keyClick(page.send_edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "▶ tx  RELAY 1 OFF" in page.console.text(), timeout=3000)
    chunks = live.runtime.manager.raw(RELAY_BOARD).since(0)
    assert any(c.direction == "tx" and c.data == b"RELAY 1 OFF\r\n" for c in chunks)
    qtbot.waitUntil(lambda: page.health.values["bytes_out"].text() == "13", timeout=3000)


def test_disconnect_shows_disconnected_then_connect_again(qtbot, devices_page, live) -> None:
    page = devices_page
    qtbot.waitUntil(lambda: state_of(page, HUB) == "connected", timeout=5000)
    page.select(HUB)
    qtbot.waitUntil(lambda: page.health.values["bytes_in"].text() not in ("—", "0"), timeout=3000)
    page.table.setFocus()
    qtbot.keyClick(page, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier
                   | Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: state_of(page, HUB) == "disconnected", timeout=5000)
    cell = state_cell(page, HUB)
    assert page.model.data(cell) == "disconnected"
    assert page.selected_state.text() == "disconnected"
    assert page.connect_button.isEnabled() and not page.disconnect_button.isEnabled()
    assert page.health.values["bytes_in"].text() not in ("—", "0")  # the last session's counters
    qtbot.mouseClick(page.connect_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: state_of(page, HUB) == "connected", timeout=5000)


def test_missing_port_fails_in_red_and_the_app_keeps_running(qtbot, devices_page, live,
                                                            window, ctx) -> None:
    page = devices_page
    missing = "/dev/meterlab-test-no-such-port"
    DeviceRepo(ctx.db, ctx.clock).add(Device.create(
        "Bench 3 probe", "ESME", connection={"transport": "serial", "port": missing,
                                             "protocol": "iec62056-21", "baud": 300}))
    page.reload()
    page.select("Bench 3 probe")
    qtbot.mouseClick(page.connect_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: state_of(page, "Bench 3 probe") == "failed", timeout=5000)
    cell = state_cell(page, "Bench 3 probe")
    assert page.model.data(cell) == f"failed: port {missing} does not exist (is it plugged in?)"
    assert page.model.data(cell, Qt.ItemDataRole.ForegroundRole).color() == RED
    assert page.selected_state.text().startswith("failed: port")
    assert "#c62828" in page.selected_state.styleSheet()
    assert window.errors.dialog is None  # a device fault is a state, not a dialog
    qtbot.waitUntil(lambda: state_of(page, HUB) == "connected", timeout=5000)
    qtbot.mouseClick(page.disconnect_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: state_of(page, "Bench 3 probe") == "disconnected", timeout=5000)


def test_bluetooth_unavailable_disables_scan_and_ports_are_listed(qtbot, devices_page,
                                                                  live) -> None:
    panel = devices_page.discovered
    qtbot.waitUntil(lambda: panel.ble_status.text().startswith("Bluetooth unavailable: "),
                    timeout=5000)
    assert "D-Bus" in panel.ble_status.text()
    assert not panel.scan_button.isEnabled()
    # The port list has been reported once (real adapters only; ptys are never listed).
    qtbot.waitUntil(lambda: panel.ports_list.count() >= 1, timeout=5000)
    with qtbot.waitSignal(live.bridge.sig_ble_scan_finished, timeout=5000) as blocker:
        live.bridge.scan_ble(live.runtime.io, timeout_s=0.5)
    found, error = blocker.args
    assert found == [] and error.startswith("Bluetooth unavailable: ")


# --- raw console -------------------------------------------------------------------------------
def _chunk(seq: int, direction: str, data: bytes) -> RawChunk:
    at = datetime(2026, 11, 25, 10, 0, tzinfo=UTC) + timedelta(milliseconds=seq)
    return RawChunk(seq, at, direction, data)


def test_raw_console_text_hex_search_pause_and_bound(qtbot) -> None:
    console = RawConsole()
    qtbot.addWidget(console)
    console.append_chunks([_chunk(1, "tx", b"/?!\r\n"), _chunk(2, "rx", b"/EML5\x02X\r\n"),
                           _chunk(3, "rx", b"alpha\r\n"), _chunk(4, "rx", b"beta alpha\r\n")])
    lines = console.text().splitlines()
    assert lines[0] == "10:00:00.001 ▶ tx  /?!"
    assert lines[1].endswith("◀ rx  /EML5\\x02X")
    console.append_chunks([_chunk(2, "rx", b"again")])  # already shown: ignored
    assert len(console.text().splitlines()) == 4
    console.search_edit.setText("alpha")
    assert console.find_next()
    first = console.view.textCursor().blockNumber()
    assert console.find_next() and console.view.textCursor().blockNumber() == 3
    assert console.find_next() and console.view.textCursor().blockNumber() == first  # wrapped
    assert console.find_previous() and console.view.textCursor().blockNumber() == 3
    console.search_edit.setText("gamma")
    assert not console.find_next() and console.search_status.text() == "not found"
    console.hex_box.setChecked(True)
    assert console.text().splitlines()[0].endswith("2F 3F 21 0D 0A")
    console.pause_box.setChecked(True)
    console.append_chunks([_chunk(5, "rx", b"while paused")])
    assert "77 68" not in console.text()
    console.pause_box.setChecked(False)
    assert console.text().splitlines()[-1].endswith(as_hex(b"while paused"))
    console.append_chunks(_chunk(10 + i, "rx", b"x") for i in range(MAX_LINES + 500))
    assert console.view.document().blockCount() <= MAX_LINES
    assert as_text(b"a\tb\r\n") == "a\\x09b"
    assert text_lines(b"one\r\ntwo\r\nthr") == ["one", "two", "thr"]


def test_editing_a_connected_device_moves_its_session(qtbot, devices_page, live) -> None:
    page = devices_page
    qtbot.waitUntil(lambda: state_of(page, RELAY_BOARD) == "connected", timeout=5000)
    page.select(RELAY_BOARD)
    dialog = page.open_edit_dialog()
    assert dialog is not None and dialog.shown_errors() == {}
    dialog.label_edit.setText("Bench 1 relay board")
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: state_of(page, "Bench 1 relay board") == "connected", timeout=5000)
    manager = live.runtime.manager
    assert "Bench 1 relay board" in manager.connected_labels()
    assert RELAY_BOARD not in manager.connected_labels()
    assert page.selected_label() == "Bench 1 relay board"


def test_repeated_write_errors_make_one_dialog(qtbot, devices_page, live, window) -> None:
    for _ in range(10):  # the writer retries every second while the disk is full
        live.bridge.on_write_error("Events could not be written: disk full.")
    qtbot.waitUntil(lambda: window.errors.dialog is not None)
    dialog = window.errors.dialog
    live.bridge.on_write_error("")  # recovered: nothing more to say
    qtbot.wait(50)
    assert window.errors.dialog is dialog and dialog.informativeText() == ""


def test_a_sentence_longer_than_its_line_is_read_whole_on_two_lines(qtbot) -> None:
    from ui.dialogs.device_dialog import DeviceDialog

    dialog = DeviceDialog(lambda _label: None, lambda device: device, ports=["/dev/ttyS0"])
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    height = dialog.height()
    dialog.label_edit.setText("Bench 3 ESME")
    dialog.device_id_edit.setText("00-DB-12-34-56-78-90-ZZ")
    dialog.leave("device_id")
    sentence = dialog.shown_errors()["device_id"]
    assert sentence.endswith("not '00-DB-12-34-56-78-90-ZZ'.")
    line = dialog.error_labels["device_id"]
    assert line.text() == sentence  # not cut off: the whole sentence is on screen
    assert line.height() >= 2 * line.fontMetrics().lineSpacing()
    qtbot.waitUntil(lambda: dialog.height() > height)
    dialog.device_id_edit.setText("00-DB-12-34-56-78-90-A0")  # put right: back to one line
    assert line.height() == line.fontMetrics().lineSpacing()
