"""Versions of MeterLab and what it runs on."""

from __future__ import annotations

import platform
import re
import sqlite3
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any


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


# --- the libraries MeterLab ships with, and their licences ---------------------------------------

#: Licence texts MeterLab carries itself, for libraries whose distributions ship none:
#: PySide6 and shiboken6 (Qt for Python, LGPL-3.0 here, which builds on the GPL-3.0's terms)
#: and pyserial (BSD-3-Clause).
EXTRA_LICENCE_TEXTS: dict[str, tuple[str, ...]] = {
    "pyside6-essentials": ("LGPL-3.0.txt", "GPL-3.0.txt"),
    "shiboken6": ("LGPL-3.0.txt", "GPL-3.0.txt"),
    "pyserial": ("pyserial-LICENSE.txt",),
}

#: Names of files that hold a licence, a notice or the authors a licence refers to.
_LICENCE_FILE = re.compile(r"(^|/)(licen[cs]e|copying|notice|authors|contributors)[^/]*$",
                           re.IGNORECASE)
#: The distribution name at the start of a requirement such as "bleak>=0.22; extra == 'x'".
_REQUIREMENT_NAME = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


@dataclass(frozen=True)
class Library:
    """One distribution MeterLab runs on: what it is called, its version and its licence."""

    name: str
    version: str
    licence: str
    #: licence files in its installed metadata (absolute paths; empty when it ships none)
    files: tuple[Path, ...] = ()


def canonical(name: str) -> str:
    """A distribution name as PyPI compares them ("PySide6_Essentials" -> "pyside6-essentials")."""
    return re.sub(r"[-_.]+", "-", name).lower()


def licence_of(meta: Any) -> str:
    """The licence a distribution declares: its SPDX expression, else its License field when
    that is a name (not a whole text), else its licence classifiers."""
    expression = (meta.get("License-Expression") or "").strip()
    if expression:
        return expression
    text = (meta.get("License") or "").strip().splitlines()
    field = text[0].strip() if text else ""
    if field and len(field) <= 40 and field.lower() not in ("unknown", "dual license"):
        return field
    classifiers = [c.split(" :: ")[-1] for c in meta.get_all("Classifier") or []
                   if c.startswith("License :: ")]
    if classifiers:
        return ", ".join(dict.fromkeys(classifiers))
    return field[:80] or "not stated"


def _licence_files(dist: metadata.Distribution) -> tuple[Path, ...]:
    found = [f for f in dist.files or [] if _LICENCE_FILE.search(str(f))
             and (".dist-info/" in str(f) or ".egg-info/" in str(f))]
    return tuple(Path(str(dist.locate_file(f))) for f in found)


def bundled_libraries(root: str = "meterlab") -> list[Library]:
    """MeterLab and the distributions it needs at run time (recursively, as installed here; an
    optional extra's requirements and those for another platform are not), sorted by name."""
    seen: dict[str, Library] = {}
    todo = [root]
    while todo:
        name = todo.pop()
        key = canonical(name)
        if key in seen:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # another platform's requirement, or not installed in this build
        seen[key] = Library(dist.metadata["Name"] or name, dist.version, licence_of(dist.metadata),
                            _licence_files(dist))
        for requirement in dist.requires or []:
            if "extra" in requirement.partition(";")[2]:
                continue
            match = _REQUIREMENT_NAME.match(requirement)
            if match:
                todo.append(match.group(1))
    return sorted(seen.values(), key=lambda lib: canonical(lib.name))


def runtime_components() -> list[tuple[str, str, str]]:
    """(name, version, licence) of what MeterLab runs inside besides the Python distributions."""
    return [("Python", sys.version.split()[0], "PSF-2.0"),
            ("SQLite", sqlite3.sqlite_version, "public domain")]


def licence_folder() -> Path | None:
    """Where a frozen MeterLab keeps the licence texts of what it bundles (None when running
    from an installed Python, where each distribution's metadata holds its own)."""
    if getattr(sys, "frozen", False):
        return Path(sys.executable).resolve().parent / "licenses"
    return None
