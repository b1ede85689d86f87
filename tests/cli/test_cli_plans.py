"""`meterlab plan list` and `meterlab plan check`: output, exit codes and bad files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli import main
from app.services.runs.plans import builtin_plan_dir

BUILTIN = ["alert-smoke", "ihd-outage-message", "power-outage", "readout-sanity"]


@pytest.fixture(autouse=True)
def lab_plan_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The data directory's plans folder, kept inside the test's own folder."""
    folder = tmp_path / "data-plans"
    folder.mkdir()
    monkeypatch.setattr("app.cli.plan_cmds.default_plan_dir", lambda: folder)
    return folder


def run(capsys, *args: str) -> tuple[int, list, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines() if line.strip()], err


def builtin_text(name: str) -> str:
    return builtin_plan_dir().joinpath(f"{name}.toml").read_text("utf-8")


def test_plan_list_prints_the_builtin_plans(capsys) -> None:
    code, out, err = run(capsys, "plan", "list")
    assert code == 0 and err == ""
    (plans,) = out
    assert [p["name"] for p in plans] == BUILTIN
    outage = plans[2]
    assert set(outage) == {"name", "version", "description", "device_kinds", "parameters",
                           "source", "sha256"}
    assert outage["source"] == "builtin:power-outage" and len(outage["sha256"]) == 64
    assert outage["device_kinds"] == ["ESME", "CHF", "relay board"]
    assert outage["parameters"] == [{"name": "duration_s", "type": "int", "default": 120,
                                     "minimum": 1, "maximum": 86400, "unit": "s",
                                     "description": "How long the supply is cut (bench clock)."}]


def test_plan_list_with_the_labs_own_plans(capsys, lab_plan_dir: Path, tmp_path: Path) -> None:
    (lab_plan_dir / "power-outage.toml").write_text(
        builtin_text("power-outage").replace('version = "1.0"', 'version = "2.0"'), "utf-8")
    (lab_plan_dir / "broken.toml").write_text("name = \"broken\"\nversion = ", "utf-8")
    extra = tmp_path / "more"
    extra.mkdir()
    (extra / "power-outage.toml").write_text(
        builtin_text("power-outage").replace('version = "1.0"', 'version = "3.0"'), "utf-8")
    code, out, _ = run(capsys, "plan", "list")
    plans = {p["name"]: p for p in out[0]}
    assert code == 0 and plans["power-outage"]["version"] == "2.0"
    assert plans["power-outage"]["source"] == str(lab_plan_dir / "power-outage.toml")
    assert plans["broken"]["error"] == (f"{lab_plan_dir / 'broken.toml'}: end of file: not "
                                        f"valid TOML (invalid value).")
    assert plans["broken"]["version"] == "" and "error" not in plans["alert-smoke"]
    code, out, _ = run(capsys, "plan", "list", "--plan-dir", str(extra))
    assert code == 0 and {p["name"]: p for p in out[0]}["power-outage"]["version"] == "3.0"
    code, out, err = run(capsys, "plan", "list", "--plan-dir", str(tmp_path / "absent"))
    assert code == 2 and out == []
    assert err == f"meterlab: --plan-dir: Folder {tmp_path / 'absent'} does not exist or is not " \
                  f"a folder.\n"


@pytest.mark.parametrize("name", BUILTIN)
def test_plan_check_passes_each_builtin_plan(capsys, name) -> None:
    path = Path(str(builtin_plan_dir().joinpath(f"{name}.toml")))
    code, out, err = run(capsys, "plan", "check", str(path))
    assert code == 0 and err == ""
    assert out[0]["ok"] is True and out[0]["name"] == name and out[0]["steps"] >= 1


def _plan_with(tmp_path: Path, old: str, new: str) -> Path:
    text = builtin_text("power-outage")
    assert text.count(old) == 1
    path = tmp_path / "mine.toml"
    path.write_text(text.replace(old, new), "utf-8")
    return path


@pytest.mark.parametrize("old, new, expected", [
    ('kind = "outage"', 'kindd = "outage"', "step 1 (Cut and restore the supply): unknown key "
                                            "'kindd' (expected one of name, kind"),
    ('state = "on"', 'state = "up"', "teardown step 1 (Supply on).state must be one of on, off, "
                                     "not 'up'."),
    ("max = 86400", "max = 90000", "step 1 (Cut and restore the supply).duration_s must be from "
                                   "1 to 86400, not 90000, with parameter duration_s at its "
                                   "maximum 90000."),
    ("max = 86400", "max = 1e999", "parameter 1 (duration_s): max must be a finite number, not "
                                   "inf."),
    ("max = 86400", "max = 123456789012345678901234567890",
     "parameter 1 (duration_s): max is too large a number (at most 9223372036854775807)."),
    ("max = 86400", "max = 9999-12-31", "parameter 1 (duration_s): max must not be a date or "
                                        "time (found 9999-12-31); give a number or text."),
])
def test_plan_check_names_the_file_step_and_mistake(capsys, tmp_path, old, new, expected) -> None:
    path = _plan_with(tmp_path, old, new)
    code, out, err = run(capsys, "plan", "check", str(path))
    assert code == 2 and out == []
    assert err.startswith(f"meterlab: {path}: {expected}") and err.count("\n") == 1, err


def test_plan_check_refuses_what_is_not_a_plan_file(capsys, tmp_path: Path) -> None:
    junk = tmp_path / "junk.toml"
    junk.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe" * 100)
    big = tmp_path / "big.toml"
    with big.open("wb") as f:
        f.truncate(10 * 1024 * 1024)
    control = tmp_path / "control.toml"
    control.write_text(builtin_text("power-outage").replace(
        "How long the supply is cut", "How long\\u0000 the supply"), "utf-8")
    raw_control = tmp_path / "raw-control.toml"
    raw_control.write_bytes(b'name = "a\x1b[31mb"\n')
    cases = {
        tmp_path / "missing.toml": "there is no such file.",
        tmp_path: "is a folder; give a plan file (.toml).",
        junk: "is not UTF-8 text (byte 1 is 0x89); a plan is a TOML text file.",
        big: "is 10485760 bytes; a plan file may be at most 262144 bytes.",
        control: "parameter 1 (duration_s): description must not contain control characters "
                 "(found U+0000).",
        raw_control: "line 1, column 10: not valid TOML (illegal character '\\x1b').",
    }
    for path, expected in cases.items():
        code, out, err = run(capsys, "plan", "check", str(path))
        assert (code, out, err) == (2, [], f"meterlab: {path}: {expected}\n")
    code, out, err = run(capsys, "plan", "check")
    assert code == 2 and "FILE" in err and err.count("\n") == 1


_MAIN = "import sys; from app.cli import main; sys.exit(main())"


def test_plan_check_as_a_program_exits_2_without_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "x.toml"
    path.write_bytes(b"\xff\xfe\x00garbage")
    res = subprocess.run([sys.executable, "-c", _MAIN, "plan", "check", str(path)],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and res.stdout == ""
    assert res.stderr == f"meterlab: {path}: is not UTF-8 text (byte 1 is 0xFF); a plan is a " \
                         f"TOML text file.\n"
