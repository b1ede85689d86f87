"""Plan files: the built-in plans, every mistake named with its step, a lab's own plans."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.domain.errors import NotFoundError, ValidationError
from app.domain.plans import OnFail
from app.domain.runs import MeasurementOutcome
from app.domain.step_kinds import STEP_KINDS
from app.services.runs.plans import (
    MAX_PLAN_BYTES,
    builtin_plan_dir,
    check_run_values,
    find_plans,
    get_plan,
    load_plan,
    parse_plan,
    step_settings,
    step_time_limit_s,
)
from devices.codecs.iec62056_21_frames import parse_data_block
from devices.emulator.clock import ScaledClock
from devices.emulator.esme_optical import EsmeOpticalPort
from devices.emulator.power import BenchPower, MeterRegisters

BUILTIN = ("alert-smoke", "ihd-outage-message", "power-outage", "readout-sanity")

GOOD = """\
name = "cut"
version = "1.0"
description = "A cut."
device_kinds = ["ESME", "CHF", "relay board"]

[[parameters]]
name = "duration_s"
type = "int"
default = 120
min = 1
max = 86400

[[steps]]
name = "Cut"
kind = "outage"
[steps.settings]
duration_s = "$duration_s"

[[steps]]
name = "Read"
kind = "readout"
[[steps.measurements]]
name = "1.8.0"
unit = "kWh"
range = [0, 1000000]

[[teardown]]
name = "Supply on"
kind = "relay"
[teardown.settings]
state = "on"
"""


def builtin(name: str):
    return next(e for e in find_plans([]) if e.name == name)


def test_every_builtin_plan_loads_with_its_name_and_hash() -> None:
    entries = find_plans([])
    assert [e.name for e in entries] == list(BUILTIN)
    for entry in entries:
        assert entry.error == "", entry.error
        plan = entry.plan
        data = builtin_plan_dir().joinpath(f"{entry.name}.toml").read_bytes()
        assert plan.name == entry.name and plan.source == f"builtin:{entry.name}"
        assert plan.sha256 == hashlib.sha256(data).hexdigest()
        assert plan.steps and all(s.kind in STEP_KINDS for s in plan.steps + plan.teardown)


def test_power_outage_plan() -> None:
    plan = builtin("power-outage").plan
    assert set(plan.device_kinds) == {"ESME", "CHF", "relay board"}
    (duration,) = plan.parameters
    assert (duration.name, duration.default, duration.minimum, duration.maximum) == (
        "duration_s", 120, 1, 86400)
    outage, readout = plan.steps
    assert (outage.kind, outage.on_fail, outage.settings) == (
        "outage", OnFail.STOP, {"duration_s": "$duration_s"})
    assert readout.kind == "readout" and readout.settings["device"] == "ESME"
    energy = readout.measurements[0]
    assert (energy.name, energy.unit, energy.validator.range) == ("1.8.0", "kWh", (0, 999999999))
    (supply_on,) = plan.teardown
    assert supply_on.kind == "relay" and supply_on.settings == {"channel": 1, "state": "on"}
    # The plan's latency band: 6 s and under PASS, up to 8 s MARGINAL, beyond FAIL.
    latency = outage.measurements[0]
    assert latency.unit == "s"  # taken from the kind
    assert [latency.validator.judge(v) for v in (5, 7, 9)] == [
        MeasurementOutcome.PASS, MeasurementOutcome.MARGINAL, MeasurementOutcome.FAIL]


def test_a_run_resolves_its_own_parameter_values() -> None:
    plan = builtin("power-outage").plan
    outage = plan.steps[0]
    assert not outage.time_limit_given
    assert outage.time_limit_s == 120 + 60 + 60 + 120  # the default duration's limit
    for duration, code in ((179, "8F35"), (181, "8F36")):
        values = plan.resolve_parameters({"duration_s": str(duration)})
        resolved = step_settings(plan, outage, values)
        assert resolved.settings["duration_s"] == duration
        alert = next(m for m in resolved.measurements if m.name == "restore_alert")
        assert alert.validator.equals == code
        latency = next(m for m in resolved.measurements if m.name == "restore_alert_latency_s")
        assert latency.validator.marginal == (0, 6)
        assert step_time_limit_s(outage, resolved) == duration + 240
    with pytest.raises(ValidationError, match="from 1 to 86400"):
        plan.resolve_parameters({"duration_s": "86401"})


def test_ihd_and_alert_plans() -> None:
    ihd = builtin("ihd-outage-message").plan
    assert ihd.parameters[0].default == 60 and "IHD" in ihd.device_kinds
    assert [s.kind for s in ihd.steps] == ["outage", "prompt"]
    assert ihd.steps[1].settings["question"] == "Did the IHD show the supply interruption?"
    assert ihd.teardown[0].settings["state"] == "on"
    smoke = builtin("alert-smoke").plan
    step = smoke.steps[0]
    resolved = step_settings(smoke, step, smoke.resolve_parameters({}))
    assert resolved.settings == {"code": "", "device": "ESME", "within_s": 600.0, "action": "none"}
    code = next(m for m in resolved.measurements if m.name == "alert_code")
    assert code.validator.judge("8F3E") is MeasurementOutcome.PASS  # any routine alert


def test_readout_sanity_measures_what_the_emulated_meter_reports() -> None:
    """The real emulated ESME's data block, parsed by the real IEC codec, passes every limit."""
    plan = builtin("readout-sanity").plan
    step = plan.steps[0]
    resolved = step_settings(plan, step, plan.resolve_parameters({}))
    assert resolved.settings["clock_tolerance_s"] == 60
    clock = ScaledClock(datetime(2026, 11, 25, 10, 0, tzinfo=UTC), 1.0, lambda: 0.0, 0.0)
    power = BenchPower(clock)
    port = EsmeOpticalPort(power, MeterRegisters(power), clock)
    block = "\r\n".join(port.data_lines(30.0)).encode("ascii") + b"\r\n!\r\n"
    readings = {r.obis: r for r in parse_data_block(block)}
    obis = [m for m in resolved.measurements if m.name != "clock_offset_s"]
    assert {m.name for m in obis} >= {"1.8.0", "2.8.0", "0.9.1", "0.9.2"}
    for spec in obis:
        reading = readings[spec.name]
        assert spec.validator.judge(reading.value) is MeasurementOutcome.PASS, spec.name
        assert spec.unit == (reading.unit or ""), spec.name


# A broken plan: (what to change in GOOD, the message expected after the file name).
BROKEN = [
    (("kind = \"outage\"", "kindd = \"outage\""),
     r"step 1 \(Cut\): unknown key 'kindd' \(expected one of name, kind"),
    (("kind = \"outage\"\n", ""), r"step 1 \(Cut\): kind is missing \(one of relay, outage"),
    (("[steps.settings]\nduration_s", "kindd = 1\n[steps.settings]\nduration_s"),
     r"step 1 \(Cut\): unknown key 'kindd' \(expected one of name, kind"),
    (("[steps.settings]\nduration_s", "duration_x = 1\n[steps.settings]\nduration_s"),
     r"step 1 \(Cut\): unknown key 'duration_x'"),
    (("kind = \"readout\"", "kind = \"readout\"\nchannel = 2"),
     r"step 2 \(Read\): unknown key 'channel'"),
    (("kind = \"outage\"", "kind = \"outage\"\nduration_s = 5"),
     r"step 1 \(Cut\): unknown key 'duration_s' .*settings go under \[steps.settings\]"),
    (("kind = \"outage\"", "kind = \"dance\""),
     r"step 1 \(Cut\): unknown step kind 'dance'"),
    (("kind = \"outage\"", "kind = 3"), r"step 1 \(Cut\): kind must be text"),
    (("\"$duration_s\"", "\"$duration\""),
     r"step 1 \(Cut\): settings.duration_s names '\$duration', but the plan has no parameter "
     r"'duration' \(its parameters: duration_s\)"),
    (("max = 86400", "max = 100000"),
     r"step 1 \(Cut\).duration_s must be from 1 to 86400, not 100000, with parameter "
     r"duration_s at its maximum 100000"),
    (("min = 1\n", "min = 0\n"),
     r"step 1 \(Cut\).duration_s must be from 1 to 86400, not 0, with parameter duration_s at "
     r"its minimum 0"),
    (("max = 86400\n", ""),
     r"step 1 \(Cut\): settings.duration_s takes at most 86400, so parameter duration_s needs "
     r"a max"),
    (("type = \"int\"\ndefault = 120\nmin = 1\nmax = 86400", "type = \"str\"\ndefault = \"120\""),
     r"step 1 \(Cut\): settings.duration_s takes a number, but parameter duration_s is str"),
    (("state = \"on\"", "state = \"half\""),
     r"teardown step 1 \(Supply on\).state must be one of on, off, not 'half'"),
    (("state = \"on\"", "channel = 1"),
     r"teardown step 1 \(Supply on\): a relay step needs 'state'"),
    (("range = [0, 1000000]", "range = [0, 1000000]\nmarginal = [0, 2000000]"),
     r"step 2 \(Read\): measurement '1.8.0': the marginal band must lie inside the range"),
    (("range = [0, 1000000]", "range = [5]"),
     r"step 2 \(Read\): measurement '1.8.0' range must be \[min, max\]"),
    (("range = [0, 1000000]", "range = [0, 1000000]\nregex = \"(\""),
     r"step 2 \(Read\): measurement '1.8.0' regex is not a regular expression"),
    (("range = [0, 1000000]", "rang = [0, 1]"),
     r"step 2 \(Read\): measurement '1.8.0': unknown key 'rang'"),
    (("name = \"1.8.0\"", "name = \"1.8.0\"\nunit = \"kWh\"\n[[steps.measurements]]\n"
                          "name = \"1.8.0\""),
     r"step 2 \(Read\): measurement '1.8.0': the step names this measurement twice"),
    (("name = \"Cut\"\nkind = \"outage\"",
      "name = \"Cut\"\nkind = \"outage\"\n[[steps.measurements]]\nname = \"volts\""),
     r"step 1 \(Cut\): an outage step measures ch_outage_logged, .*not 'volts'"),
    (("name = \"Cut\"\nkind = \"outage\"",
      "name = \"Cut\"\nkind = \"outage\"\n[[steps.measurements]]\n"
      "name = \"restore_alert_latency_s\"\nunit = \"ms\""),
     r"step 1 \(Cut\): measurement 'restore_alert_latency_s': is measured in s, not 'ms'"),
    (("name = \"Read\"", "name = \"cut\""),
     r"step 2 \(cut\): the name is already used by step 1; step names must differ"),
    (("name = \"Supply on\"", "name = \"Read\""),
     r"teardown step 1 \(Read\): the name is already used by step 2"),
    (("name = \"Read\"", "name = \"\""), r"step 2: name must not be empty"),
    (("name = \"Read\"", "name = \"a=b\""), r"step 2 \(a=b\): name must not contain '='"),
    (("name = \"Read\"\n", ""), r"step 2: name is missing"),
    (("name = \"Cut\"\nkind = \"outage\"", "name = \"Cut\"\nkind = \"outage\"\n"
                                         "time_limit_s = 600"),
     r"step 1 \(Cut\): time_limit_s 600 is shorter than the 86520 s its settings ask for with "
     r"parameter duration_s at its maximum 86400"),
    (("name = \"Cut\"\nkind = \"outage\"", "name = \"Cut\"\nkind = \"outage\"\n"
                                         "time_limit_s = \"long\""),
     r"step 1 \(Cut\): time_limit_s must be a number of seconds above 0"),
    (("name = \"Cut\"\nkind = \"outage\"", "name = \"Cut\"\nkind = \"outage\"\nrepeat_limit = 11"),
     r"step 1 \(Cut\): repeat_limit must be a whole number from 1 to 10, not 11"),
    (("name = \"Cut\"\nkind = \"outage\"", "name = \"Cut\"\nkind = \"outage\"\non_fail = \"halt\""),
     r"step 1 \(Cut\): on_fail must be \"continue\" or \"stop\", not 'halt'"),
    (("\"ESME\", \"CHF\", \"relay board\"", "\"ESME\", \"relay board\""),
     r"step 1 \(Cut\): an outage step needs the bench's CHF; add 'CHF' to the plan's "
     r"device_kinds"),
    (("\"ESME\", \"CHF\", \"relay board\"", "\"ESME\", \"CHF\", \"relay\""),
     r"device_kinds: 'relay' is not a device kind"),
    (("name = \"cut\"", "name = \"Cut It\""),
     r"name 'Cut It' must be lower-case letters, digits and hyphens"),
    (("version = \"1.0\"", "version = 1.0"), r"version must be text in quotes, not 1.0"),
    (("version = \"1.0\"\n", ""), r"version is missing"),
    (("description = \"A cut.\"", "descriptio = \"A cut.\""),
     r"unknown key 'descriptio' in the plan"),
    (("type = \"int\"", "type = \"integer\""),
     r"parameter 1 \(duration_s\): type must be one of int, float, str, bool, not 'integer'"),
    (("default = 120", "default = 0"),
     r"parameter 1 \(duration_s\): default must be from 1 to 86400, not 0"),
    (("default = 120", "default = 1.5"),
     r"parameter 1 \(duration_s\): default must be a whole number, not 1.5"),
    (("default = 120\n", ""), r"parameter 1 \(duration_s\): default is missing"),
    (("min = 1\n", "min = 90000\n"),
     r"parameter 1 \(duration_s\): min 90000 is above max 86400"),
    (("max = 86400", "max = 86400\nstep = 5"), r"parameter 1 \(duration_s\): unknown key 'step'"),
    (("name = \"duration_s\"", "name = \"Duration\""),
     r"parameter 1 \(Duration\): name 'Duration' must be lower-case letters"),
    (("max = 86400", "max = 99999999999999999999999"),
     r"parameter 1 \(duration_s\): max is too large a number"),
    (("max = 86400", "max = 9999-12-31T00:00:00Z"),
     r"parameter 1 \(duration_s\): max must not be a date or time"),
    (("max = 86400", "max = inf"), r"parameter 1 \(duration_s\): max must be a finite number"),
    (("range = [0, 1000000]", "range = [0, 99999999999999999999999999]"),
     r"step 2 \(Read\): measurements\[0\].range\[1\] is too large a number"),
    (("range = [0, 1000000]", "range = [0, 1e999]"),
     r"step 2 \(Read\): measurements\[0\].range\[1\] must be a finite number"),
    (("range = [0, 1000000]", "equals = 2026-01-01"),
     r"step 2 \(Read\): measurements\[0\].equals must not be a date or time"),
    (("description = \"A cut.\"", "description = \"A \\u0007 cut.\""),
     r"description must not contain control characters \(found U\+0007\)"),
    (("state = \"on\"", "state = \"o\\u001bn\""),
     r"teardown step 1 \(Supply on\): settings.state must not contain control characters"),
    (("duration_s = \"$duration_s\"", "duration_s = [\"$duration_s\"]"),
     r"step 1 \(Cut\): settings.duration_s must be a single value, not a list"),
    (("kind = \"readout\"\n", "kind = \"readout\"\nsettings = 5\n"),
     r"step 2 \(Read\): settings must be a table"),
]


@pytest.mark.parametrize("change, expected", BROKEN, ids=[b[1][:40] for b in BROKEN])
def test_a_broken_plan_names_the_step_and_the_mistake(change, expected) -> None:
    old, new = change
    assert GOOD.count(old) == 1, old
    text = GOOD.replace(old, new)
    with pytest.raises(ValidationError) as info:
        parse_plan(text, "lab/cut.toml")
    message = info.value.message
    assert re.match(r"lab/cut\.toml: " + expected, message), message
    assert message.endswith(".") and "\n" not in message


def test_the_good_plan_is_good() -> None:
    plan = parse_plan(GOOD, "lab/cut.toml")
    assert [s.name for s in plan.steps] == ["Cut", "Read"] and plan.source == "lab/cut.toml"
    assert plan.sha256 == hashlib.sha256(GOOD.encode()).hexdigest()


@pytest.mark.parametrize("text, expected", [
    ("name = \"x\"\nversion = \"1\"\n", r"a plan needs at least one step"),
    ("name = \"x\"\nversion = \"1\"\nsteps = []\n", r"a plan needs at least one step"),
    ("name = \"x\"\nversion = \"1\"\nsteps = 3\n", r"steps must be a list of tables"),
    ("name = \"x\"\nversion = [1,\n", r"end of file: not valid TOML \(invalid value\)"),
    ("name = \"x\"\nversion = [1,,\n", r"line 2, column 14: not valid TOML \(invalid value\)"),
    ("name = \"x\"\nversion = \"1\n", r"line 2, column 13: not valid TOML \(illegal character"),
    ("name = \"x\"\n\x00", r"line 2, column 1: not valid TOML"),
    ("name = \"x\"\nname = \"y\"\n", r"line 2, column \d+: not valid TOML"),
    ("", r"name is missing"),
    ("x = " + "[" * 100_000 + "]" * 100_000, r"values are nested too deeply for a plan"),
    ("x = " + "{a=" * 3000 + "1" + "}" * 3000, r"values are nested too deeply for a plan"),
])
def test_a_file_that_is_no_plan_at_all(text, expected) -> None:
    with pytest.raises(ValidationError) as info:
        parse_plan(text, "p.toml")
    assert re.match(r"p\.toml: " + expected, info.value.message), info.value.message


def test_a_parameter_can_stand_only_for_a_setting_it_fits() -> None:
    # An int parameter may stand for a float setting; a bounded one fits inside the setting's.
    text = GOOD.replace("max = 86400", "max = 3600")
    assert parse_plan(text, "p.toml").parameters[0].maximum == 3600
    # A float parameter cannot stand for a whole-number setting.
    relay = GOOD.replace("state = \"on\"", "state = \"on\"\nchannel = \"$chan\"") + (
        "\n[[parameters]]\nname = \"chan\"\ntype = \"float\"\ndefault = 1\nmin = 1\nmax = 16\n")
    with pytest.raises(ValidationError, match=r"teardown step 1 \(Supply on\): settings.channel "
                                              r"takes a whole number, but parameter chan is "
                                              r"float"):
        parse_plan(relay, "p.toml")
    assert parse_plan(relay.replace("type = \"float\"\ndefault = 1\n",
                                    "type = \"int\"\ndefault = 1\n"), "p.toml")


def test_an_explicit_time_limit_is_kept() -> None:
    text = GOOD.replace("max = 86400", "max = 600").replace(
        "kind = \"outage\"", "kind = \"outage\"\ntime_limit_s = 900")
    step = parse_plan(text, "p.toml").steps[0]
    assert step.time_limit_s == 900 and step.time_limit_given
    plan = parse_plan(text, "p.toml")
    resolved = step_settings(plan, step, plan.resolve_parameters({"duration_s": 5}))
    assert step_time_limit_s(step, resolved) == 900


def test_load_plan_reads_files(tmp_path: Path) -> None:
    good = tmp_path / "cut.toml"
    good.write_bytes(b"\xef\xbb\xbf" + GOOD.replace("\n", "\r\n").encode())
    plan = load_plan(good)
    assert plan.source == str(good)
    assert plan.sha256 == hashlib.sha256(good.read_bytes()).hexdigest()
    cases = {
        tmp_path / "missing.toml": "there is no such file",
        tmp_path: "is a folder",
        Path("/dev/null"): "is not a regular file",
    }
    junk = tmp_path / "junk.toml"
    junk.write_bytes(bytes(range(256)))
    cases[junk] = r"is not UTF-8 text \(byte 129 is 0x80\)"
    big = tmp_path / "big.toml"
    big.write_bytes(b"# " + b"x" * (10 * 1024 * 1024))
    cases[big] = rf"is 10485762 bytes; a plan file may be at most {MAX_PLAN_BYTES} bytes"
    for path, expected in cases.items():
        with pytest.raises(ValidationError) as info:
            load_plan(path)
        assert re.fullmatch(re.escape(str(path)) + ": " + expected + r".*\.",
                            info.value.message), info.value.message


def test_a_lab_plan_overrides_a_builtin_one_and_a_broken_one_is_listed(tmp_path: Path) -> None:
    lab = tmp_path / "plans"
    lab.mkdir()
    own = builtin_plan_dir().joinpath("power-outage.toml").read_text("utf-8").replace(
        'version = "1.0"', 'version = "1.1-lab"')
    (lab / "power-outage.toml").write_text(own, "utf-8")
    (lab / "cut.toml").write_text(GOOD, "utf-8")
    (lab / "broken.toml").write_text(GOOD.replace('kind = "outage"', 'kind = "dance"'), "utf-8")
    (lab / "misnamed.toml").write_text(GOOD, "utf-8")
    (lab / "notes.txt").write_text("not a plan", "utf-8")
    entries = {e.name: e for e in find_plans([tmp_path / "absent", lab])}
    assert sorted(entries) == sorted([*BUILTIN, "broken", "cut", "misnamed"])
    outage = entries["power-outage"]
    assert outage.plan.version == "1.1-lab" and outage.source == str(lab / "power-outage.toml")
    assert entries["readout-sanity"].source == "builtin:readout-sanity"
    assert entries["broken"].plan is None
    assert entries["broken"].error.startswith(f"{lab / 'broken.toml'}: step 1 (Cut): unknown "
                                              f"step kind 'dance'")
    assert entries["broken"].to_dict()["error"] == entries["broken"].error
    assert "named 'cut' but its file is misnamed.toml" in entries["misnamed"].error
    assert "error" not in entries["cut"].to_dict()
    assert get_plan("power-outage", [lab]).version == "1.1-lab"
    assert get_plan("power-outage", []).version == "1.0"
    with pytest.raises(ValidationError, match="unknown step kind 'dance'"):
        get_plan("broken", [lab])
    with pytest.raises(NotFoundError, match=r"no plan named 'nope'; plans: alert-smoke, "
                                            r"ihd-outage-message, power-outage, readout-sanity\."):
        get_plan("nope", [])


_LINES = st.sampled_from(GOOD.splitlines()) | st.text(max_size=40)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_LINES, max_size=40), st.integers(0, 60), st.text(max_size=30))
def test_any_text_is_a_plan_or_one_sentence(lines, where, extra) -> None:
    """Whatever the file holds, the answer is a plan or a ValidationError, never a crash."""
    base = GOOD.splitlines()
    text = "\n".join(base[:where] + lines + [extra] + base[where:])
    try:
        parse_plan(text, "f.toml")
    except ValidationError as exc:
        assert exc.message.startswith("f.toml: ") and exc.message.endswith(".")


def test_the_readme_example_plan_is_valid() -> None:
    readme = (Path(__file__).parents[3] / "README.md").read_text("utf-8")
    section = readme.split("### Test plans", 1)[1]
    example = section.split("```toml\n", 1)[1].split("```", 1)[0]
    plan = parse_plan(example, "README.md")
    assert plan.name == "short-outage" and [s.kind for s in plan.steps] == ["outage", "readout"]


def test_a_runs_values_are_checked_against_every_step_before_it_starts() -> None:
    text = GOOD.replace('kind = "readout"', 'kind = "readout"\n[steps.settings]\ndevice = "$meter"') + (
        '\n[[parameters]]\nname = "meter"\ntype = "str"\ndefault = "ESME"\n')
    plan = parse_plan(text, "p.toml")
    assert check_run_values(plan, {"duration_s": "181"}) == {"duration_s": 181, "meter": "ESME"}
    with pytest.raises(ValidationError) as info:
        check_run_values(plan, {"meter": "XYZ"})
    assert info.value.field == "param"
    assert info.value.message == ("Plan cut: step 2 (Read).device must be one of ESME, GSME, "
                                  "not 'XYZ'.")
    with pytest.raises(ValidationError) as info:
        check_run_values(plan, {"duration_s": "0"})
    assert info.value.field == "param"
