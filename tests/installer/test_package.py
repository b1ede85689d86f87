"""The Debian package, built from this checkout as a user builds it (installer/build.sh), then
unpacked into a scratch root (`dpkg-deb -x`) where the frozen smoke test runs against it.

PyInstaller comes from the project's own `test` extra; the build takes about a minute and the
smoke test half of one on the reference machine. Lintian runs when it is installed.
"""

from __future__ import annotations

import configparser
import os
import re
import shutil
import subprocess
import sys
from functools import cache
from importlib.metadata import version
from pathlib import Path

import pytest

from installer import build_deb, smoke_test
from ui.launch import _XCB_PACKAGES

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.skipif(shutil.which("dpkg-deb") is None,
                       reason="dpkg-deb is not installed: the Debian package cannot be built here"),
    pytest.mark.timeout(900),  # the first test builds the bundle and the package
]

#: Libraries some Qt plugin in the bundle links to that MeterLab does without: Qt's GTK 3 theme
#: plugin, loaded only on a GTK desktop (which has GTK).
OPTIONAL_LIBRARIES = {"libgtk-3.so.0": "libgtk-3-0", "libgdk-3.so.0": "libgtk-3-0"}
#: Libraries the system provides as part of the C library.
LIBC = "libc6"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """dist/ of installer/build.sh: the bundle, the tarball and the .deb."""
    work = tmp_path_factory.mktemp("build")
    dist = work / "dist"
    res = subprocess.run(["bash", str(ROOT / "installer" / "build.sh"), "--python", sys.executable,
                          "--dist", str(dist), "--work", str(work / "pyinstaller"), "--no-smoke"],
                         capture_output=True, text=True, cwd=ROOT, timeout=840,
                         stdin=subprocess.DEVNULL)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    shutil.rmtree(work / "pyinstaller", ignore_errors=True)
    return dist


@pytest.fixture(scope="module")
def deb(built: Path) -> Path:
    version_ = build_deb.debian_version(version("meterlab"))
    found = list(built.glob(f"meterlab_{version_}_*.deb"))
    assert len(found) == 1, sorted(p.name for p in built.iterdir())
    return found[0]


@pytest.fixture(scope="module")
def lintian_run(deb: Path) -> subprocess.Popen[str] | None:
    """lintian on the package, started as soon as the package is built: it takes a minute or
    two over the bundle's libraries, while the other tests of the package go on (None: lintian
    is not installed)."""
    if shutil.which("lintian") is None:
        return None
    return subprocess.Popen(["lintian", "--tag-display-limit", "0", str(deb)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture(scope="module")
def unpacked(deb: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("root")
    subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    return root


def field(deb: Path, name: str) -> str:
    return subprocess.run(["dpkg-deb", "-f", str(deb), name], capture_output=True, text=True,
                          check=True).stdout.strip()


def depends_names(deb: Path) -> set[str]:
    """Every package `Depends` names, alternatives included, without versions."""
    return {re.sub(r"\s*\(.*\)", "", alt).strip()
            for dep in field(deb, "Depends").split(",") for alt in dep.split("|")}


def test_build_makes_the_bundle_its_tarball_and_the_package(built: Path, deb: Path,
                                                            lintian_run: object) -> None:
    assert (built / "meterlab" / "meterlab").is_file()
    arch = os.uname().machine
    assert (built / f"meterlab-{version('meterlab')}-linux-{arch}.tar.gz").stat().st_size > 10**7
    assert field(deb, "Package") == "meterlab"
    assert field(deb, "Version") == build_deb.debian_version(version("meterlab"))
    assert field(deb, "Architecture") == build_deb.architecture()
    assert "<" in field(deb, "Maintainer") and field(deb, "Description").startswith(
        "Workstation application for GB smart-metering device test labs")


def test_the_package_installs_the_bundle_the_command_the_menu_entry_and_the_icon(
        deb: Path, unpacked: Path) -> None:
    listing = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True, text=True,
                             check=True).stdout.splitlines()
    assert all(" root/root " in line for line in listing), "files must belong to root"
    link = unpacked / "usr" / "bin" / "meterlab"
    assert link.is_symlink() and os.readlink(link) == "/opt/meterlab/meterlab"
    exe = unpacked / "opt" / "meterlab" / "meterlab"
    assert exe.is_file() and os.access(exe, os.X_OK)
    icons = unpacked / "usr" / "share" / "icons" / "hicolor"
    assert (icons / "scalable" / "apps" / "meterlab.svg").is_file()
    for size in (16, 24, 32, 48, 64, 128, 256):
        png = icons / f"{size}x{size}" / "apps" / "meterlab.png"
        assert smoke_test.png_size(png) == (size, size)
    doc = unpacked / "usr" / "share" / "doc" / "meterlab"
    copyright_text = (doc / "copyright").read_text("utf-8")
    assert copyright_text.startswith("Format: https://www.debian.org/doc/packaging-manuals/")
    assert "LGPL-3" in copyright_text and "PySide6_Essentials" in copyright_text
    assert (doc / "changelog.gz").is_file()
    assert (unpacked / "usr" / "share" / "man" / "man1" / "meterlab.1.gz").is_file()


def test_the_desktop_entry_starts_meterlab_with_its_icon(unpacked: Path) -> None:
    path = unpacked / "usr" / "share" / "applications" / "meterlab.desktop"
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # keys are case-sensitive
    entry.read(path, encoding="utf-8")
    desktop = entry["Desktop Entry"]
    assert desktop["Type"] == "Application" and desktop["Name"] == "MeterLab"
    assert desktop["Exec"] == "meterlab" and (unpacked / "usr" / "bin" / "meterlab").is_symlink()
    assert desktop["Icon"] == "meterlab" and desktop["Terminal"] == "false"
    if shutil.which("desktop-file-validate"):
        res = subprocess.run(["desktop-file-validate", str(path)], capture_output=True, text=True)
        assert res.returncode == 0, res.stdout + res.stderr


def test_depends_names_the_libraries_the_start_up_check_names(deb: Path) -> None:
    assert set(_XCB_PACKAGES.values()) <= depends_names(deb)
    libc = [d for d in field(deb, "Depends").split(", ") if d.startswith("libc6 ")]
    assert libc and re.fullmatch(r"libc6 \(>= 2\.\d+\)", libc[0]), libc


@cache
def debian_package_of(path: str) -> str | None:
    real = os.path.realpath(path)
    for candidate in dict.fromkeys((real, path, real.removeprefix("/usr"))):
        res = subprocess.run(["dpkg-query", "-S", candidate], capture_output=True, text=True)
        if res.returncode == 0:
            return res.stdout.split(":", 1)[0].split(",")[0].strip()
    return None


@pytest.mark.skipif(shutil.which("ldd") is None or shutil.which("dpkg-query") is None,
                    reason="needs ldd and dpkg-query to see which system libraries load")
def test_depends_covers_every_library_the_bundle_takes_from_the_system(
        deb: Path, unpacked: Path) -> None:
    bundle = unpacked / "opt" / "meterlab"
    internal = bundle / "_internal"
    env = {**os.environ, "LD_LIBRARY_PATH": f"{internal}:{internal / 'PySide6' / 'Qt' / 'lib'}"}
    known = {**_XCB_PACKAGES, "libwayland-cursor.so.0": "libwayland-cursor0",
             "libwayland-egl.so.1": "libwayland-egl1"}
    depends = depends_names(deb) | {LIBC}
    missing: dict[str, set[str]] = {}
    for path in bundle.rglob("*"):
        if not path.is_file() or path.is_symlink() or not build_deb.is_elf(path):
            continue
        out = subprocess.run(["ldd", str(path)], capture_output=True, text=True, env=env).stdout
        for lib, _, target in (line.strip().partition(" => ") for line in out.splitlines()):
            target = target.split(" (")[0].strip()
            if not target or target.startswith(str(bundle)):
                continue
            if target == "not found":
                if lib in OPTIONAL_LIBRARIES:
                    continue
                package = known.get(lib)
            else:
                package = debian_package_of(target)
            if package is None or package not in depends:
                missing.setdefault(f"{lib} ({package or 'no package known'})", set()).add(
                    str(path.relative_to(bundle)))
    assert not missing, {k: sorted(v)[:3] for k, v in missing.items()}


def test_the_unpacked_package_passes_the_frozen_smoke_test(unpacked: Path, tmp_path: Path) -> None:
    exe = unpacked / "opt" / "meterlab" / "meterlab"
    shots = tmp_path / "shots"
    shots.mkdir()
    done = smoke_test.smoke(exe, tmp_path, shots)
    assert any("PASS" in line for line in done) and any("report --pdf" in line for line in done)
    assert len(list(shots.glob("*.png"))) >= 6


@pytest.mark.skipif(shutil.which("lintian") is None, reason="lintian is not installed")
def test_lintian_finds_no_errors(lintian_run: subprocess.Popen[str] | None) -> None:
    assert lintian_run is not None
    try:
        out, _ = lintian_run.communicate(timeout=600)
    finally:
        if lintian_run.poll() is None:
            lintian_run.kill()
    errors = [line for line in out.splitlines() if line.startswith("E:")]
    assert not errors, "\n".join(errors[:20])
