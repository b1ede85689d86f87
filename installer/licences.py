"""The `licenses/` folder of a frozen MeterLab: every bundled library's licence texts and an index.

Called by installer/meterlab.spec after PyInstaller has collected the bundle:

    licenses/README.txt                 what is bundled, its version and licence, where its texts are
    licenses/<name>-<version>/...       the licence files from each Python distribution's metadata
                                        (LGPL-3.0 and GPL-3.0 texts for PySide6 and shiboken6)
    licenses/Python-<version>/LICENSE.txt
    licenses/system/<package>.copyright the Debian copyright file of each system library copied
                                        into the bundle from the build machine (Linux, with dpkg)
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app.about import (  # noqa: E402  (the checkout first, as the spec runs from anywhere)
    EXTRA_LICENCE_TEXTS,
    bundled_libraries,
    canonical,
    runtime_components,
)

OWN_TEXTS = ROOT / "resources" / "licenses"

QT_NOTE = """\
Qt and Qt for Python (PySide6, shiboken6) are used under the GNU Lesser General Public
License version 3 (LGPL-3.0; its text, and the GPL-3.0 text it builds on, are in the
PySide6_Essentials and shiboken6 folders here). They are shared libraries in this folder's
_internal/PySide6/ (Qt/lib/libQt6*.so.6 and Qt/plugins/ on Linux, Qt6*.dll and plugins\\ on
Windows, beside the PySide6 and shiboken6 modules) and can be replaced by your own build of
the same Qt and PySide6 version: see "Replacing the Qt libraries" in MeterLab's README.
"""


def _copy_texts(files: Iterable[Path], into: Path) -> list[str]:
    copied = []
    for src in files:
        if src.is_file():
            into.mkdir(parents=True, exist_ok=True)
            target = into / src.name
            n = 2
            while target.exists():  # two files of one name (numpy's vendored licences)
                target = into / f"{src.stem}-{n}{src.suffix}"
                n += 1
            shutil.copyfile(src, target)
            copied.append(target.name)
    return copied


def debian_packages_of(paths: Iterable[str]) -> list[str]:
    """The Debian packages owning any of `paths` (the shared libraries PyInstaller copied: those
    from wheels belong to none); empty where dpkg is not there."""
    if not shutil.which("dpkg-query"):
        return []
    candidates: set[str] = set()
    for path in paths:
        real = str(Path(path).resolve())
        candidates.update((path, real))
        if real.startswith("/usr/"):  # merged /usr: dpkg knows some files by their /lib name
            candidates.add(real[len("/usr"):])
    if not candidates:
        return []
    out = subprocess.run(["dpkg-query", "-S", *sorted(candidates)], capture_output=True,
                         text=True).stdout  # exits 1 when some path has no package: expected
    return sorted({line.split(":", 1)[0].strip() for line in out.splitlines() if ": /" in line})


def debian_versions(packages: list[str]) -> dict[str, str]:
    """Package -> installed version, for the packages dpkg knows."""
    if not packages:
        return {}
    out = subprocess.run(["dpkg-query", "-W", "-f", "${Package} ${Version}\\n", *packages],
                         capture_output=True, text=True).stdout
    return dict(line.split(" ", 1) for line in out.splitlines() if " " in line)


def write_licence_folder(dest: Path, binaries: Iterable[tuple[str, str, str]] = ()) -> Path:
    """Write the licence folder at `dest` (replacing it); `binaries` is PyInstaller's TOC of the
    shared libraries it collected (name, source path, kind). Returns the index file."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    rows: list[tuple[str, str, str, str]] = []
    for lib in bundled_libraries():
        folder = f"{lib.name}-{lib.version}"
        extra = [OWN_TEXTS / name for name in EXTRA_LICENCE_TEXTS.get(canonical(lib.name), ())]
        copied = _copy_texts([*lib.files, *extra], dest / folder)
        where = f"{folder}/" if copied else "-"
        rows.append((lib.name, lib.version, lib.licence, where))
    for name, version, licence in runtime_components():
        where = "-"
        if name == "Python":  # Linux builds keep it with the standard library, Windows' beside
            texts = [Path(sysconfig.get_paths()["stdlib"]) / "LICENSE.txt",
                     Path(sys.base_prefix) / "LICENSE.txt"]
            if _copy_texts([t for t in texts if t.is_file()][:1], dest / f"Python-{version}"):
                where = f"Python-{version}/"
        rows.append((name, version, licence, where))
    packages = debian_packages_of(src for _name, src, _kind in binaries if src)
    for package, version in debian_versions(packages).items():
        copyright_file = Path("/usr/share/doc") / package / "copyright"
        if copyright_file.is_file():
            (dest / "system").mkdir(exist_ok=True)
            shutil.copyfile(copyright_file, dest / "system" / f"{package}.copyright")
            rows.append((package, version, "see its Debian copyright file",
                         f"system/{package}.copyright"))
    head = ("name", "version", "licence", "texts")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(3)]
    table = [head, (*("-" * w for w in widths), "-----"), *rows]
    lines = ["MeterLab bundles these libraries; each keeps its own licence.", "", QT_NOTE,
             "System libraries (system/) were copied from the Debian machine that built this bundle.",
             ""]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r[:3], widths)) + "  " + r[3] for r in table]
    index = dest / "README.txt"
    index.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return index
