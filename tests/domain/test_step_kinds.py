import pytest

from app.domain.errors import ValidationError
from app.domain.runs import MeasurementSpec, Validator
from app.domain.step_kinds import STEP_KINDS, resolve_step, restore_alert_code_for, step_kind


def test_restore_alert_code_turns_at_three_minutes():
    assert restore_alert_code_for(179) == "8F35"
    assert restore_alert_code_for(180) == "8F36"
    assert restore_alert_code_for(181) == "8F36"


def test_outage_measures_the_restore_alert_for_its_duration():
    r = resolve_step(step_kind("outage"), {"duration_s": 181}, (), "step 1 (cut)")
    alert = next(m for m in r.measurements if m.name == "restore_alert")
    assert alert.validator.judge("8F36").value == "PASS"
    assert alert.validator.judge("8F35").value == "FAIL"
    assert r.settings["channel"] == 1


def test_a_plan_relimits_a_measurement_of_the_kind():
    tighter = MeasurementSpec("restore_alert_latency_s", "s", Validator(range=(0, 4)))
    r = resolve_step(step_kind("outage"), {}, (tighter,), "step 1")
    latency = next(m for m in r.measurements if m.name == "restore_alert_latency_s")
    assert latency.validator.range == (0, 4)


def test_unknown_setting_and_measurement_are_named():
    with pytest.raises(ValidationError, match=r"step 2 \(x\): a relay step has no setting 'chanel'"):
        resolve_step(step_kind("relay"), {"state": "off", "chanel": 2}, (), "step 2 (x)")
    with pytest.raises(ValidationError, match="measures nothing, not 'volts'"):
        resolve_step(step_kind("wait"), {"seconds": 1}, (MeasurementSpec("volts"),), "step 1")
    with pytest.raises(ValidationError, match="needs 'state'"):
        resolve_step(step_kind("relay"), {}, (), "step 1")
    with pytest.raises(ValidationError, match="must be one of on, off"):
        resolve_step(step_kind("relay"), {"state": "half"}, (), "step 1")
    with pytest.raises(ValidationError, match="unknown step kind 'dance'"):
        step_kind("dance", "step 4")


def test_readout_is_open_to_obis_measurements():
    energy = MeasurementSpec("1.8.0", "kWh", Validator(range=(0, 1e6)))
    r = resolve_step(step_kind("readout"), {"clock_tolerance_s": 30}, (energy,), "step 1")
    assert [m.name for m in r.measurements] == ["clock_offset_s", "1.8.0"]


def test_every_kind_resolves_its_defaults():
    required = {"relay": {"state": "on"}, "prompt": {"question": "?"}, "wait": {"seconds": 1}}
    for name, kind in STEP_KINDS.items():
        resolve_step(kind, required.get(name, {}), (), f"step ({name})")


def test_time_limit_covers_what_the_settings_ask():
    kind = step_kind("outage")
    r = resolve_step(kind, {"duration_s": 3600}, (), "step 1")
    assert kind.time_limit_s(r.settings) >= 3600 + 60 + 60
    wait = step_kind("wait")
    assert wait.time_limit_s(resolve_step(wait, {"seconds": 5}, (), "s").settings) == 35
