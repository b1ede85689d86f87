"""Build MeterLab's Debian package from the frozen bundle (dist/meterlab, made by PyInstaller).

Usage: python3 installer/build_deb.py [--bundle dist/meterlab] [--out dist] [--version V]

The package installs:
    /opt/meterlab/                              the bundle (the `meterlab` executable and _internal/)
    /usr/bin/meterlab                           -> /opt/meterlab/meterlab
    /usr/share/applications/meterlab.desktop    so MeterLab is in the desktop's menu
    /usr/share/icons/hicolor/*/apps/meterlab.*  the icon: SVG and PNG sizes
    /usr/share/doc/meterlab/copyright           MeterLab's and the bundled libraries' licences
    /usr/share/doc/meterlab/changelog.gz
    /usr/share/man/man1/meterlab.1.gz
    /usr/share/lintian/overrides/meterlab       why the bundle is in /opt and carries its own libs

The desktop entry, manual page and lintian overrides are the files in installer/debian/.

`Depends` names the system libraries the bundle does not carry: those Qt's xcb platform plugin
needs (the start-up check in ui/launch.py names the same), OpenGL/EGL, Wayland, the C library at
the version the bundle's binaries ask for, and a font. Needs dpkg-deb; standard library only.
Prints the path of the .deb.
"""

from __future__ import annotations

import argparse
import email.parser
import gzip
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ICONS = ROOT / "resources" / "icons"
DEBIAN = ROOT / "installer" / "debian"  # the desktop entry, the manual page, lintian's overrides
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256)

PACKAGE = "meterlab"
MAINTAINER = os.environ.get("METERLAB_MAINTAINER", "MeterLab maintainers <meterlab@example.org>")
HOMEPAGE = os.environ.get("METERLAB_HOMEPAGE", "")

#: Qt's xcb platform plugin's libraries (the packages ui/launch.py's start-up check names).
XCB_DEPENDS = (
    "libxcb-cursor0", "libxcb-icccm4", "libxcb-image0", "libxcb-keysyms1", "libxcb-randr0",
    "libxcb-render-util0", "libxcb-shape0", "libxcb-xinerama0", "libxcb-xkb1",
    "libxkbcommon-x11-0", "libxcb-xinput0", "libegl1",
)
#: Libraries PyInstaller leaves to the system (it never bundles them: they belong to the display
#: and the graphics driver), Wayland's, and a font for Qt to draw text with.
SYSTEM_DEPENDS = (
    "libxcb1", "libgl1", "libglx0", "libglvnd0", "libdrm2",
    "libwayland-client0", "libwayland-cursor0", "libwayland-egl1", "libfontconfig1",
    "fonts-dejavu-core | fonts-liberation2 | fonts-noto-core",
)

DESCRIPTION = """\
Workstation application for GB smart-metering device test labs
 MeterLab runs a smart-metering device test lab: bookings with the lab's rules
 (notice, capacity, benches, inductions), the registry of the meters, In-Home
 Displays, Comms Hubs and relay boards on the benches, live alerts and power
 outages as they happen, test runs of plans with their verdicts, and sealed
 reports (PDF, HTML, JSON, CSV) for the Testing Participants.
 .
 The package carries its own Python and Qt (a PyInstaller bundle in
 /opt/meterlab); `meterlab` is both the desktop application and the command
 line."""




def bundle_version(bundle: Path) -> str:
    """MeterLab's version from the package metadata PyInstaller copied into the bundle."""
    found = sorted(bundle.glob("_internal/meterlab-*.dist-info/METADATA"))
    found += sorted(bundle.glob("_internal/meterlab*.egg-info/PKG-INFO"))  # an editable install
    if not found:
        raise SystemExit(f"build_deb: no meterlab metadata in {bundle}/_internal: was it "
                         "built from installer/meterlab.spec?")
    meta = email.parser.Parser().parsestr(found[0].read_text("utf-8"), headersonly=True)
    return meta["Version"]


def debian_version(version: str) -> str:
    """A PEP 440 version as Debian orders it: pre-releases and dev builds sort before the
    release (0.2.0rc1 -> 0.2.0~rc1), a local part after it (0.2.0+lab1)."""
    v = re.sub(r"^(\d+(?:\.\d+)*)[-_.]?(a|b|rc|alpha|beta|c)(\d*)", r"\1~\2\3", version)
    v = re.sub(r"[-_.]?dev(\d*)", r"~dev\1", v)
    v = re.sub(r"\.post(\d+)", r"+post\1", v)
    return re.sub(r"[^0-9A-Za-z.+~]", ".", v)


def architecture() -> str:
    try:
        return subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return {"x86_64": "amd64", "aarch64": "arm64"}.get(os.uname().machine, os.uname().machine)


def is_elf(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(4) == b"\x7fELF"


def glibc_needed(bundle: Path) -> str:
    """The newest GLIBC_x.y symbol version any binary in the bundle asks for."""
    newest = (2, 17)
    pattern = re.compile(rb"GLIBC_(\d+)\.(\d+)(?:\.\d+)?\x00")
    for path in bundle.rglob("*"):
        if path.is_file() and not path.is_symlink() and is_elf(path):
            for m in pattern.finditer(path.read_bytes()):
                newest = max(newest, (int(m.group(1)), int(m.group(2))))
    return f"{newest[0]}.{newest[1]}"


def depends(bundle: Path) -> list[str]:
    return [f"libc6 (>= {glibc_needed(bundle)})", *XCB_DEPENDS, *SYSTEM_DEPENDS]


def installed_size_kib(root: Path) -> int:
    total = sum(p.lstat().st_size for p in root.rglob("*") if p.is_file() or p.is_symlink())
    return (total + 1023) // 1024


def normalise_modes(tree: Path) -> None:
    """Directories 0755; files 0644 but executables (ELF programs, scripts) 0755: shared
    libraries do not need the execute bit PyInstaller leaves on some of them."""
    for path in [tree, *tree.rglob("*")]:
        if path.is_symlink():
            continue
        if path.is_dir():
            path.chmod(0o755)
            continue
        mode = path.stat().st_mode
        executable = bool(mode & stat.S_IXUSR) and not re.search(r"\.so(\.|$)", path.name)
        path.chmod(0o755 if executable else 0o644)


def copyright_text(bundle: Path, year: int) -> str:
    """Debian's machine-readable copyright file: MeterLab, then what the bundle carries."""
    index = bundle / "licenses" / "README.txt"
    listing = index.read_text("utf-8") if index.is_file() else ""
    listed = "\n".join(" " + (line if line.strip() else ".") for line in listing.splitlines())
    return f"""\
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: MeterLab
Comment: MeterLab is a PyInstaller bundle in /opt/meterlab that carries Python, Qt for Python
 (PySide6) with the Qt libraries, and the Python libraries MeterLab uses. Each keeps its own
 licence; their texts are in /opt/meterlab/licenses/, indexed by its README.txt (below).
 Qt and Qt for Python are used under the GNU Lesser General Public License version 3 (on Debian
 systems its text is in /usr/share/common-licenses/LGPL-3, and the GPL's, which it builds on,
 in /usr/share/common-licenses/GPL-3). They are shared libraries in
 /opt/meterlab/_internal/PySide6/ and can be replaced by a build of the same version: see
 "Replacing the Qt libraries" in MeterLab's README.

Files: *
Copyright: {year} MeterLab
License: proprietary

Files: opt/meterlab/_internal/PySide6/* opt/meterlab/_internal/shiboken6/*
 opt/meterlab/_internal/libpyside6* opt/meterlab/_internal/libshiboken6*
Copyright: The Qt Company Ltd. and other contributors
License: LGPL-3
 On Debian systems, the complete text of the GNU Lesser General Public License version 3 can be
 found in /usr/share/common-licenses/LGPL-3.

License: proprietary
 MeterLab is proprietary software; its use is governed by the agreement under which it was
 supplied. The libraries it bundles are licensed as listed in /opt/meterlab/licenses/README.txt:
 .
{listed}
"""


def changelog_text(version: str, when: datetime) -> str:
    stamp = when.strftime("%a, %d %b %Y %H:%M:%S +0000")
    return (f"{PACKAGE} ({version}) unstable; urgency=medium\n\n"
            f"  * MeterLab {version}, built from its PyInstaller bundle.\n\n"
            f" -- {MAINTAINER}  {stamp}\n")


def build(bundle: Path, out: Path, version: str | None = None) -> Path:
    bundle = bundle.resolve()
    if not (bundle / "meterlab").is_file():
        raise SystemExit(f"build_deb: {bundle} has no `meterlab` executable: build the bundle "
                         "first (installer/build.sh)")
    if not shutil.which("dpkg-deb"):
        raise SystemExit("build_deb: dpkg-deb is not installed (Debian/Ubuntu: apt install dpkg)")
    deb_version = debian_version(version or bundle_version(bundle))
    arch = architecture()
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", "0")) or int(datetime.now(UTC).timestamp())
    when = datetime.fromtimestamp(epoch, UTC)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="meterlab-deb-") as tmp:
        root = Path(tmp) / "root"
        opt = root / "opt" / PACKAGE
        shutil.copytree(bundle, opt, symlinks=True)
        (root / "usr" / "bin").mkdir(parents=True)
        (root / "usr" / "bin" / PACKAGE).symlink_to(f"/opt/{PACKAGE}/{PACKAGE}")
        share = root / "usr" / "share"
        (share / "applications").mkdir(parents=True)
        shutil.copyfile(DEBIAN / f"{PACKAGE}.desktop", share / "applications" / f"{PACKAGE}.desktop")
        hicolor = share / "icons" / "hicolor"
        (hicolor / "scalable" / "apps").mkdir(parents=True)
        shutil.copyfile(ICONS / "meterlab.svg", hicolor / "scalable" / "apps" / "meterlab.svg")
        for size in ICON_SIZES:
            apps = hicolor / f"{size}x{size}" / "apps"
            apps.mkdir(parents=True)
            shutil.copyfile(ICONS / f"meterlab-{size}.png", apps / "meterlab.png")
        doc = share / "doc" / PACKAGE
        doc.mkdir(parents=True)
        (doc / "copyright").write_text(copyright_text(bundle, when.year), "utf-8")
        with gzip.GzipFile(doc / "changelog.gz", "wb", compresslevel=9, mtime=epoch) as f:
            f.write(changelog_text(deb_version, when).encode())
        man = share / "man" / "man1"
        man.mkdir(parents=True)
        with gzip.GzipFile(man / f"{PACKAGE}.1.gz", "wb", compresslevel=9, mtime=epoch) as f:
            f.write((DEBIAN / f"{PACKAGE}.1").read_bytes())
        overrides = share / "lintian" / "overrides"
        overrides.mkdir(parents=True)
        shutil.copyfile(DEBIAN / "lintian-overrides", overrides / PACKAGE)
        normalise_modes(root)
        control = root / "DEBIAN"
        control.mkdir(mode=0o755)
        fields = {
            "Package": PACKAGE,
            "Version": deb_version,
            "Architecture": arch,
            "Maintainer": MAINTAINER,
            "Installed-Size": str(installed_size_kib(root)),
            "Depends": ", ".join(depends(bundle)),
            "Section": "science",
            "Priority": "optional",
            **({"Homepage": HOMEPAGE} if HOMEPAGE else {}),
            "Description": DESCRIPTION,
        }
        (control / "control").write_text(
            "".join(f"{k}: {v}\n" for k, v in fields.items()), "utf-8")
        (control / "control").chmod(0o644)
        deb = out / f"{PACKAGE}_{deb_version}_{arch}.deb"
        # xz at its fastest level: 13 s for the 250 MB bundle here, 84 MB (xz's default level
        # takes minutes; zstd is faster still, but Debian's lintian does not accept it).
        subprocess.run(["dpkg-deb", "--root-owner-group", "-Zxz", "-z1", "--build", str(root),
                        str(deb)], check=True, stdout=subprocess.DEVNULL,
                       env={**os.environ, "SOURCE_DATE_EPOCH": str(epoch)})
    return deb


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=ROOT / "dist" / PACKAGE,
                        help="the PyInstaller folder (default: dist/meterlab)")
    parser.add_argument("--out", type=Path, default=ROOT / "dist",
                        help="where the .deb goes (default: dist)")
    parser.add_argument("--version", help="the version (default: the bundle's package metadata)")
    args = parser.parse_args(argv)
    print(build(args.bundle, args.out, args.version))
    return 0


if __name__ == "__main__":
    sys.exit(main())
