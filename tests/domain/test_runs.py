"""Outcomes, validators and parameters of test runs."""

from __future__ import annotations

import math

import pytest

from app.domain.errors import ValidationError
from app.domain.plans import ParameterSpec, ParamType, Plan, StepSpec
from app.domain.runs import (
    MeasurementOutcome as M,
)
from app.domain.runs import (
    MeasurementResult,
    MeasurementSpec,
    StepOutcome,
    Validator,
    Verdict,
    step_outcome_of,
    verdict_of,
)


def test_verdict_is_the_worst_step_and_skipped_steps_do_not_count() -> None:
    S = StepOutcome
    assert verdict_of([S.PASS, S.PASS]) is Verdict.PASS
    assert verdict_of([S.PASS, S.MARGINAL, S.SKIPPED]) is Verdict.MARGINAL
    assert verdict_of([S.MARGINAL, S.FAIL]) is Verdict.FAIL
    assert verdict_of([S.FAIL, S.ERROR, S.PASS]) is Verdict.ERROR
    assert verdict_of([S.ERROR, S.ABORTED]) is Verdict.ABORTED
    assert verdict_of([S.SKIPPED]) is Verdict.ERROR  # nothing ran: not a pass
    assert verdict_of([]) is Verdict.ERROR


def test_a_step_fails_on_a_failed_or_unset_measurement() -> None:
    assert step_outcome_of([]) is StepOutcome.PASS
    assert step_outcome_of([M.PASS, M.MARGINAL]) is StepOutcome.MARGINAL
    assert step_outcome_of([M.PASS, M.UNSET]) is StepOutcome.FAIL
    assert step_outcome_of([M.MARGINAL, M.FAIL]) is StepOutcome.FAIL


def test_range_with_a_marginal_band() -> None:
    v = Validator.from_dict({"range": [0, 8], "marginal": [0, 6]})
    assert [v.judge(x) for x in (0, 5.9, 6, 7, 8, 8.01, -1, None)] == [
        M.PASS, M.PASS, M.PASS, M.MARGINAL, M.MARGINAL, M.FAIL, M.FAIL, M.UNSET]
    assert v.judge(math.nan) is M.FAIL and v.judge("7") is M.FAIL and v.judge(True) is M.FAIL
    assert v.text() == "0 <= x <= 8; marginal outside 0..6"


def test_equals_regex_and_within_percent() -> None:
    assert Validator.from_dict({"equals": "8F35"}).judge("8F35") is M.PASS
    assert Validator.from_dict({"equals": "8F35"}).judge("8F36") is M.FAIL
    assert Validator.from_dict({"regex": "8F3[56]"}).judge("8F36") is M.PASS
    assert Validator.from_dict({"regex": "8F3[56]"}).judge("8F365") is M.FAIL
    w = Validator.from_dict({"within_percent": [230, 10]})
    assert w.judge(253) is M.PASS and w.judge(253.1) is M.FAIL and w.judge(207) is M.PASS
    assert w.text() == "x within 10% of 230"
    assert Validator().judge(42) is M.PASS and Validator().text() == "any value"


@pytest.mark.parametrize("raw, words", [
    ({"range": [8, 0]}, "minimum above"),
    ({"range": [0]}, "[min, max]"),
    ({"range": [0, math.inf]}, "finite"),
    ({"marginal": [0, 1]}, "needs a range"),
    ({"range": [0, 8], "marginal": [-1, 6]}, "inside the range"),
    ({"regex": "("}, "not a regular expression"),
    ({"within_percent": [230, -1]}, "percent >= 0"),
    ({"rnage": [0, 1]}, "unknown limit 'rnage'"),
])
def test_bad_limits_are_one_sentence(raw, words) -> None:
    with pytest.raises(ValidationError, match=words):
        Validator.from_dict(raw, "steps[1].measurements.latency_s")


def test_result_keeps_the_limits_text() -> None:
    spec = MeasurementSpec("latency_s", "s", Validator.from_dict({"range": [0, 8]}))
    r = MeasurementResult.judged(spec, 9.5)
    assert r.to_dict() == {"name": "latency_s", "value": 9.5, "unit": "s",
                           "limits": "0 <= x <= 8", "outcome": "FAIL"}
    assert MeasurementResult.skipped(spec).outcome is M.SKIPPED


def plan() -> Plan:
    return Plan(
        name="p", version="1", description="", device_kinds=("ESME",),
        parameters=(ParameterSpec("duration_s", ParamType.FLOAT, 120.0, 1, 3600, "s"),
                    ParameterSpec("lines", ParamType.INT, 10, 1, None),
                    ParameterSpec("strict", ParamType.BOOL, False)),
        steps=(StepSpec("cut", "outage", {"duration_s": "$duration_s", "note": "$nothing",
                                          "list": ["$lines", 2]}),))


def test_parameters_are_checked_and_substituted() -> None:
    p = plan()
    values = p.resolve_parameters({"duration_s": "179", "strict": "yes"})
    assert values == {"duration_s": 179.0, "lines": 10, "strict": True}
    assert p.settings_for(p.steps[0], values) == {"duration_s": 179.0, "note": "$nothing",
                                                  "list": [10, 2]}


@pytest.mark.parametrize("given, words", [
    ({"duration_s": "0.5"}, "from 1 to 3600 s"),
    ({"duration_s": "1e400"}, "finite number"),
    ({"duration_s": "nan"}, "finite number"),
    ({"lines": "2.5"}, "whole number"),
    ({"lines": "0"}, "at least 1"),
    ({"strict": "maybe"}, "true or false"),
    ({"durationn_s": "5"}, "no parameter 'durationn_s'"),
])
def test_bad_parameters_name_the_parameter(given, words) -> None:
    with pytest.raises(ValidationError, match=words) as info:
        plan().resolve_parameters(given)
    assert info.value.field == "param"
