"""The application icon and the About box's libraries and licences."""

from __future__ import annotations

from importlib.metadata import distribution

import pytest
from PySide6.QtCore import QSize

from app.about import bundled_libraries, canonical, licence_folder, licence_of
from ui.about import AboutDialog, licence_rows
from ui.icon import ICON_SIZES, app_icon, icon_folder
from ui.main_window import MainWindow


def test_the_icon_has_every_png_size_as_drawn_and_the_svg(qapp) -> None:
    folder = icon_folder()
    assert (folder / "meterlab.svg").read_text("utf-8").lstrip().startswith("<?xml")
    icon = app_icon()
    assert not icon.isNull()
    for size in ICON_SIZES:
        assert (folder / f"meterlab-{size}.png").is_file()
        assert icon.pixmap(QSize(size, size)).size() == QSize(size, size)
    assert (folder / "meterlab.ico").read_bytes()[:4] == b"\0\0\1\0"  # Windows' icon format


def test_the_main_window_and_about_show_the_icon(qtbot, ctx) -> None:
    window = MainWindow(ctx)
    qtbot.addWidget(window)
    assert not window.windowIcon().isNull()
    window.show_about()
    dialog = window.findChild(AboutDialog)
    assert dialog is not None and dialog.isVisible()
    assert "Bundled libraries and their licences" in dialog.text.toPlainText()
    dialog.close()


def test_every_runtime_requirement_is_listed_with_its_licence() -> None:
    libraries = {canonical(lib.name): lib for lib in bundled_libraries()}
    for requirement in distribution("meterlab").requires or []:
        if "extra ==" in requirement:
            continue
        name = canonical(requirement.split(";")[0].split(">")[0].split("<")[0].split("=")[0])
        assert name in libraries, name
    assert all(lib.licence and lib.licence != "not stated" for lib in libraries.values())
    # Qt for Python ships no licence text of its own: MeterLab carries the LGPL's.
    assert libraries["pyside6-essentials"].licence.startswith("LGPL-3.0-only")


def test_about_names_qt_under_the_lgpl_and_python_and_sqlite() -> None:
    rows = {name: licence for name, _version, licence in licence_rows()}
    assert rows["PySide6_Essentials"] == "LGPL-3.0-only" and rows["shiboken6"] == "LGPL-3.0-only"
    assert rows["Python"] == "PSF-2.0" and "SQLite" in rows
    assert "meterlab" not in {canonical(n) for n in rows}
    assert licence_folder() is None  # not frozen: the texts are in each library's metadata


@pytest.mark.parametrize(("fields", "expected"), [
    ({"License-Expression": "MIT", "License": "whatever"}, "MIT"),
    ({"License": "BSD"}, "BSD"),
    ({"License": "Dual License", "Classifier": ["License :: OSI Approved :: BSD License"]},
     "BSD License"),
    ({"License": "BSD license (see license.txt for details), Copyright (c) 2000-2024 ...",
      "Classifier": ["License :: OSI Approved :: BSD License"]}, "BSD License"),
    ({}, "not stated"),
])
def test_a_licence_is_read_from_what_the_distribution_declares(fields, expected) -> None:
    from email.message import Message

    meta = Message()
    for key, value in fields.items():
        for v in value if isinstance(value, list) else [value]:
            meta[key] = v
    assert licence_of(meta) == expected
