"""File › Lab store…: the setting is checked before it is kept (a password refused, a server
that does not answer shown in the dialog), kept in the desktop's settings file, and used by the
next start unless --lab-store or MELAB_LAB_STORE is given; a saved lab store that does not
answer at start is a dialog offering to try again, to change it, or to quit."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from app.cli import EXIT_STORAGE, main, parse_lab_store_url
from tests.ui.test_database_dialog import _when_modal
from ui.database_dialog import SETTINGS_SOURCE, LabStoreDialog
from ui.launch import lab_store_choice
from ui.settings import save_lab_store, saved_lab_store, settings_path

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(autouse=True)
def own_settings(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("MELAB_LAB_STORE", raising=False)
    return tmp_path / "config"


def _dialog(qtbot, text: str, current: str = "") -> LabStoreDialog:
    dialog = LabStoreDialog(current)
    qtbot.addWidget(dialog)
    dialog.url_edit.setText(text)
    dialog.show()
    dialog.accept()
    return dialog


def test_a_password_is_refused_in_one_sentence_and_not_kept(qtbot, own_settings) -> None:
    dialog = _dialog(qtbot, "postgresql://meterlab:secret@dbhost/meterlab")
    assert dialog.isVisible() and dialog.saved is None
    assert dialog.error_label.text() == ("Leave the password out of the URL (process lists "
                                         "show it); put it in ~/.pgpass or PGPASSWORD.")
    assert saved_lab_store() == ""
    assert not settings_path().exists() or "secret" not in settings_path().read_text()


def test_a_server_that_does_not_answer_is_shown_in_the_dialog(qtbot, tmp_path) -> None:
    dialog = _dialog(qtbot, f"postgresql://meterlab@/lab?host={tmp_path}")
    assert dialog.isVisible() and dialog.saved is None
    assert dialog.error_label.text().startswith("lab store unreachable: ")
    assert saved_lab_store() == ""


def test_a_working_lab_store_is_kept_and_used_at_the_next_start(qtbot, pg_url) -> None:
    libpq = pg_url.replace("postgresql+psycopg://", "postgresql://")
    dialog = _dialog(qtbot, libpq)
    assert dialog.saved == libpq and not dialog.isVisible()
    assert saved_lab_store() == libpq
    assert settings_path().is_file()
    url, source = lab_store_choice(argparse.Namespace())
    assert (url, source) == (parse_lab_store_url(libpq), SETTINGS_SOURCE)
    # --lab-store (or MELAB_LAB_STORE), checked by the command line, wins over the setting.
    given = parse_lab_store_url("postgresql://meterlab@elsewhere/lab")
    assert lab_store_choice(argparse.Namespace(lab_store="x", lab_store_url=given)) == (
        given, "--lab-store")
    assert lab_store_choice(argparse.Namespace(lab_store=None, lab_store_url=given)) == (
        given, "MELAB_LAB_STORE")
    # Emptied again: the workstation's own file.
    assert _dialog(qtbot, "", libpq).saved == ""
    assert lab_store_choice(argparse.Namespace()) == (None, "")


def test_a_saved_lab_store_that_does_not_answer_at_start(qtbot, tmp_path, capsys) -> None:
    save_lab_store(f"postgresql://meterlab@/lab?host={tmp_path}")
    seen: list[dict] = []

    def quit_box(box) -> None:
        seen.append({"title": box.windowTitle(), "info": box.informativeText(),
                     "buttons": [b.text() for b in box.buttons()]})
        box.quit_button.click()

    _when_modal("labStoreUnusable", quit_box)
    assert main(["--db", str(tmp_path / "ws.db")]) == EXIT_STORAGE
    assert seen[0]["title"] == "MeterLab cannot use its lab store"
    assert seen[0]["info"].startswith("lab store unreachable: ")
    assert f"(from {SETTINGS_SOURCE})" in seen[0]["info"]
    assert sorted(seen[0]["buttons"]) == ["Lab store…", "Quit", "Try again"]
    assert "lab store unreachable" in capsys.readouterr().err
    assert not (tmp_path / "ws.db").exists()  # nothing opened locally instead


def test_saving_a_lab_store_in_the_window_opens_it_again_on_it(qtbot, window, pg_url) -> None:
    libpq = pg_url.replace("postgresql+psycopg://", "postgresql://")

    def save(dialog) -> None:
        dialog.url_edit.setText(libpq)
        dialog.buttons.button(dialog.buttons.StandardButton.Save).click()

    window.show()
    _when_modal("labStoreDialog", save)
    window.choose_lab_store()
    assert saved_lab_store() == libpq
    assert window.requested_database == window.ctx.db_path  # the launcher reopens the same file
    assert not window.isVisible()
