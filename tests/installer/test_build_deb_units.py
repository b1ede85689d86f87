"""installer/build_deb.py's pieces that need no bundle: versions, the C library, file modes."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from installer import build_deb


@pytest.mark.parametrize(("pep440", "debian"), [
    ("0.1.0", "0.1.0"),
    ("1.2", "1.2"),
    ("0.2.0rc1", "0.2.0~rc1"),
    ("0.2.0a2", "0.2.0~a2"),
    ("0.2.0b1", "0.2.0~b1"),
    ("0.2.0.dev3", "0.2.0~dev3"),
    ("0.2.0.post1", "0.2.0+post1"),
    ("0.2.0+lab1", "0.2.0+lab1"),
])
def test_a_python_version_becomes_a_debian_version_that_sorts_the_same(pep440, debian) -> None:
    assert build_deb.debian_version(pep440) == debian


def test_the_c_library_needed_is_the_newest_symbol_version_asked_for(tmp_path: Path) -> None:
    (tmp_path / "a.so").write_bytes(b"\x7fELF" + b"\0GLIBC_2.17\0GLIBC_2.34\0GLIBC_PRIVATE\0")
    (tmp_path / "b.so").write_bytes(b"\x7fELF" + b"\0GLIBC_2.4\0GLIBC_2.3.4\0")
    (tmp_path / "notes.txt").write_bytes(b"GLIBC_2.99\0")  # not a binary: not counted
    assert build_deb.glibc_needed(tmp_path) == "2.34"


def test_modes_are_normalised_shared_libraries_lose_the_execute_bit(tmp_path: Path) -> None:
    (tmp_path / "lib").mkdir(mode=0o700)
    for name, mode in (("prog", 0o700), ("lib/libx.so.1", 0o775), ("data.txt", 0o600)):
        (tmp_path / name).write_bytes(b"x")
        (tmp_path / name).chmod(mode)
    build_deb.normalise_modes(tmp_path)
    modes = {n: stat.S_IMODE((tmp_path / n).stat().st_mode)
             for n in ("lib", "prog", "lib/libx.so.1", "data.txt")}
    assert modes == {"lib": 0o755, "prog": 0o755, "lib/libx.so.1": 0o644, "data.txt": 0o644}


def test_the_bundle_version_comes_from_the_package_metadata_it_carries(tmp_path: Path) -> None:
    meta = tmp_path / "_internal" / "meterlab-1.4.0rc2.dist-info"
    meta.mkdir(parents=True)
    (meta / "METADATA").write_text("Metadata-Version: 2.1\nName: meterlab\nVersion: 1.4.0rc2\n")
    assert build_deb.bundle_version(tmp_path) == "1.4.0rc2"
    with pytest.raises(SystemExit, match="no meterlab metadata"):
        build_deb.bundle_version(tmp_path / "elsewhere")
