"""Versions of MeterLab and what it runs on."""

from __future__ import annotations

import platform
import sqlite3
import sys
from importlib import metadata


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def versions() -> dict[str, str]:
    """Name -> version for MeterLab and the libraries it relies on."""
    return {
        "meterlab": _version("meterlab"),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "sqlite": sqlite3.sqlite_version,
        "PySide6": _version("PySide6-Essentials"),
        "pyqtgraph": _version("pyqtgraph"),
        "pyserial": _version("pyserial"),
        "bleak": _version("bleak"),
        "sqlite-utils": _version("sqlite-utils"),
        "holidays": _version("holidays"),
        "icalendar": _version("icalendar"),
    }
