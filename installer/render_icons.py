"""Render MeterLab's icon (resources/icons/meterlab.svg) to the PNG sizes desktops use and to the
Windows .ico; the results are committed beside the SVG.

Usage: QT_QPA_PLATFORM=offscreen python installer/render_icons.py
"""

from __future__ import annotations

import sys
from pathlib import Path

ICONS = Path(__file__).resolve().parent.parent / "resources" / "icons"
SIZES = (16, 24, 32, 48, 64, 128, 256)


def main() -> int:
    from PIL import Image
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    renderer = QSvgRenderer(str(ICONS / "meterlab.svg"))
    if not renderer.isValid():
        sys.stderr.write("render_icons: meterlab.svg does not parse\n")
        return 1
    for size in SIZES:
        image = QImage(size, size, QImage.Format.Format_ARGB32)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        renderer.render(painter)
        painter.end()
        image.save(str(ICONS / f"meterlab-{size}.png"))
    del app
    # Windows: one .ico holding each size as drawn, not one picture scaled down.
    images = [Image.open(ICONS / f"meterlab-{size}.png") for size in SIZES]
    images[-1].save(ICONS / "meterlab.ico", sizes=[(s, s) for s in SIZES],
                    append_images=images[:-1])
    print(f"rendered {len(SIZES)} PNGs and meterlab.ico in {ICONS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
