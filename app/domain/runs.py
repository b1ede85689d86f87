"""Test-run results: outcomes, validators, measurements, steps and the run's verdict.

A result is data: the value, its unit, the validator's text at the time and the outcome. The run's
verdict is the worst of its steps, in the order ABORTED > ERROR > FAIL > MARGINAL > PASS. ERROR is
the bench's fault (a port gone, a relay that did not acknowledge, no operator answer); FAIL is the
device under test out of its limits. The two are never mixed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from app.domain.errors import ValidationError


class MeasurementOutcome(StrEnum):
    PASS = "PASS"
    MARGINAL = "MARGINAL"
    FAIL = "FAIL"
    UNSET = "UNSET"  # the step ended without a value (a FAIL of its step)
    SKIPPED = "SKIPPED"  # the step did not run far enough to measure it


class StepOutcome(StrEnum):
    PASS = "PASS"
    MARGINAL = "MARGINAL"
    FAIL = "FAIL"
    ERROR = "ERROR"
    SKIPPED = "SKIPPED"
    ABORTED = "ABORTED"


class Verdict(StrEnum):
    PASS = "PASS"
    MARGINAL = "MARGINAL"
    FAIL = "FAIL"
    ERROR = "ERROR"
    ABORTED = "ABORTED"


#: Worst last.
VERDICT_ORDER: tuple[Verdict, ...] = (
    Verdict.PASS, Verdict.MARGINAL, Verdict.FAIL, Verdict.ERROR, Verdict.ABORTED)


def verdict_of(outcomes: Iterable[StepOutcome]) -> Verdict:
    """The worst of the steps' outcomes; SKIPPED steps do not count; no steps at all is ERROR."""
    worst: Verdict | None = None
    for outcome in outcomes:
        if outcome is StepOutcome.SKIPPED:
            continue
        v = Verdict(outcome.value)
        if worst is None or VERDICT_ORDER.index(v) > VERDICT_ORDER.index(worst):
            worst = v
    return Verdict.ERROR if worst is None else worst


def step_outcome_of(measurements: Iterable[MeasurementOutcome]) -> StepOutcome:
    """A step that ran to its end: FAIL if any measurement failed or was left unset, MARGINAL
    if any was marginal, else PASS."""
    outcomes = list(measurements)
    if any(m in (MeasurementOutcome.FAIL, MeasurementOutcome.UNSET) for m in outcomes):
        return StepOutcome.FAIL
    if MeasurementOutcome.MARGINAL in outcomes:
        return StepOutcome.MARGINAL
    return StepOutcome.PASS


def _number(value: Any, field_name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValidationError(field_name, f"{field_name} must be a finite number, not {value!r}.")
    return float(value)


def _pair(value: Any, field_name: str) -> tuple[float, float]:
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise ValidationError(field_name, f"{field_name} must be [min, max], not {value!r}.")
    low, high = (_number(v, field_name) for v in value)
    if low > high:
        raise ValidationError(field_name, f"{field_name} has its minimum above its maximum.")
    return low, high


@dataclass(frozen=True)
class Validator:
    """The limits of one measurement. Any combination may be given; all must hold.

    Attributes:
        range: [min, max] inclusive: outside is FAIL.
        marginal: [min, max] inside `range`: inside `range` but outside this band is MARGINAL.
        equals: the value must equal this (numbers compared exactly, text as text).
        regex: the value's text must match this whole.
        within_percent: (target, percent): |value - target| <= percent of |target|.
    """

    range: tuple[float, float] | None = None
    marginal: tuple[float, float] | None = None
    equals: Any = None
    regex: str | None = None
    within_percent: tuple[float, float] | None = None

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], where: str = "measurement") -> Validator:
        """A validator from a plan's table; unknown keys and bad limits are a ValidationError."""
        known = {"range", "marginal", "equals", "regex", "within_percent"}
        unknown = sorted(set(raw) - known - {"name", "unit", "description"})
        if unknown:
            raise ValidationError(where, f"{where}: unknown limit {unknown[0]!r} (expected one "
                                         f"of {', '.join(sorted(known))}).")
        rng = _pair(raw["range"], f"{where}.range") if "range" in raw else None
        marginal = _pair(raw["marginal"], f"{where}.marginal") if "marginal" in raw else None
        if marginal is not None:
            if rng is None:
                raise ValidationError(where, f"{where}: a marginal band needs a range around it.")
            if marginal[0] < rng[0] or marginal[1] > rng[1]:
                raise ValidationError(where, f"{where}: the marginal band must lie inside the "
                                             f"range.")
        regex = raw.get("regex")
        if regex is not None:
            if not isinstance(regex, str):
                raise ValidationError(where, f"{where}.regex must be text.")
            try:
                re.compile(regex)
            except re.error as exc:
                raise ValidationError(where, f"{where}.regex is not a regular expression: "
                                             f"{exc}.") from None
        within = None
        if "within_percent" in raw:
            target, percent = _pair_any(raw["within_percent"], f"{where}.within_percent")
            if percent < 0:
                raise ValidationError(where, f"{where}.within_percent needs a percent >= 0.")
            within = (target, percent)
        return cls(range=rng, marginal=marginal, equals=raw.get("equals"), regex=regex,
                   within_percent=within)

    def text(self) -> str:
        """The limits as a person reads them, stored with every result."""
        parts = []
        if self.range is not None:
            parts.append(f"{_fmt(self.range[0])} <= x <= {_fmt(self.range[1])}")
        if self.marginal is not None:
            parts.append(f"marginal outside {_fmt(self.marginal[0])}..{_fmt(self.marginal[1])}")
        if self.equals is not None:
            shown = ("true" if self.equals else "false") if isinstance(self.equals, bool) \
                else repr(self.equals)
            parts.append(f"x == {shown}")
        if self.regex is not None:
            parts.append(f"x matches /{self.regex}/")
        if self.within_percent is not None:
            target, percent = self.within_percent
            parts.append(f"x within {_fmt(percent)}% of {_fmt(target)}")
        return "; ".join(parts) or "any value"

    def judge(self, value: Any) -> MeasurementOutcome:
        """PASS, MARGINAL or FAIL for `value`; UNSET when there is no value."""
        if value is None:
            return MeasurementOutcome.UNSET
        if self.equals is not None and value != self.equals:
            return MeasurementOutcome.FAIL
        if self.regex is not None and re.fullmatch(self.regex, str(value)) is None:
            return MeasurementOutcome.FAIL
        numeric = self.range is not None or self.within_percent is not None
        if numeric:
            if isinstance(value, bool) or not isinstance(value, int | float):
                return MeasurementOutcome.FAIL
            if not math.isfinite(value):
                return MeasurementOutcome.FAIL
        if self.range is not None and not self.range[0] <= value <= self.range[1]:
            return MeasurementOutcome.FAIL
        if self.within_percent is not None:
            target, percent = self.within_percent
            if abs(value - target) > abs(target) * percent / 100:
                return MeasurementOutcome.FAIL
        if self.marginal is not None and not self.marginal[0] <= value <= self.marginal[1]:
            return MeasurementOutcome.MARGINAL
        return MeasurementOutcome.PASS


def _pair_any(value: Any, field_name: str) -> tuple[float, float]:
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise ValidationError(field_name, f"{field_name} must be [target, percent], not {value!r}.")
    return _number(value[0], field_name), _number(value[1], field_name)


def _fmt(x: float) -> str:
    return f"{int(x)}" if float(x).is_integer() and abs(x) < 1e15 else f"{x:g}"


@dataclass(frozen=True)
class MeasurementSpec:
    """What a step measures: a name, a unit and the limits."""

    name: str
    unit: str = ""
    validator: Validator = field(default_factory=Validator)
    description: str = ""


@dataclass(frozen=True)
class MeasurementResult:
    """One measured value with the limits it was judged against, as stored."""

    name: str
    value: Any
    unit: str
    limits: str
    outcome: MeasurementOutcome
    note: str = ""

    @classmethod
    def judged(cls, spec: MeasurementSpec, value: Any, note: str = "") -> MeasurementResult:
        return cls(spec.name, value, spec.unit, spec.validator.text(), spec.validator.judge(value),
                   note)

    @classmethod
    def skipped(cls, spec: MeasurementSpec) -> MeasurementResult:
        return cls(spec.name, None, spec.unit, spec.validator.text(), MeasurementOutcome.SKIPPED)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value, "unit": self.unit, "limits": self.limits,
                "outcome": self.outcome.value, **({"note": self.note} if self.note else {})}


@dataclass(frozen=True)
class StepResult:
    """How one step (or teardown step) ended.

    Attributes:
        index: the step's position in the plan (teardown steps follow the steps).
        message: why, for ERROR, FAIL, SKIPPED and ABORTED (one sentence); "" on PASS.
        attempts: how many times it ran (1 unless it was repeated after a failure).
        teardown: whether it is a teardown step.
        answer: the operator's answer and note for a prompt step.
    """

    index: int
    name: str
    kind: str
    outcome: StepOutcome
    started: datetime | None
    ended: datetime | None
    measurements: tuple[MeasurementResult, ...] = ()
    message: str = ""
    attempts: int = 1
    teardown: bool = False
    answer: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index, "name": self.name, "kind": self.kind,
            "outcome": self.outcome.value, "started": self.started, "ended": self.ended,
            "measurements": [m.to_dict() for m in self.measurements], "message": self.message,
            "attempts": self.attempts, "teardown": self.teardown,
            **({"answer": self.answer} if self.answer else {}),
        }
