"""MeterLab's application icon (resources/icons): the SVG, with the PNG sizes as drawn."""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

from PySide6.QtCore import QSize
from PySide6.QtGui import QIcon

#: The PNG sizes rendered from the SVG by installer/render_icons.py.
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256)


def icon_folder() -> Path:
    return Path(str(resources.files("resources").joinpath("icons")))


@cache
def app_icon() -> QIcon:
    """The window icon: each PNG size as drawn, the SVG for any other size."""
    folder = icon_folder()
    icon = QIcon()
    for size in ICON_SIZES:
        icon.addFile(str(folder / f"meterlab-{size}.png"), QSize(size, size))
    icon.addFile(str(folder / "meterlab.svg"))
    return icon
