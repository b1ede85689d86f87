"""Test plans as data: parameters with bounds, steps with limits, teardown.

A plan is loaded from a TOML file (see ``app/services/runs/plans.py``) into these frozen values.
A step's settings may name a parameter of the plan as ``"$name"``; :meth:`Plan.settings_for`
puts the run's value in its place.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from app.domain.errors import ValidationError
from app.domain.runs import MeasurementSpec


class OnFail(StrEnum):
    CONTINUE = "continue"  # the next steps run
    STOP = "stop"  # the remaining steps are SKIPPED; teardown still runs


class ParamType(StrEnum):
    INT = "int"
    FLOAT = "float"
    STR = "str"
    BOOL = "bool"


@dataclass(frozen=True)
class ParameterSpec:
    """A plan parameter: a typed value with a default and, for numbers, bounds."""

    name: str
    type: ParamType
    default: Any
    minimum: float | None = None
    maximum: float | None = None
    unit: str = ""
    description: str = ""

    def parse(self, raw: Any) -> Any:
        """The value of `raw` (text from the command line, or a TOML value) for this parameter.

        Raises:
            ValidationError: not of the type, or outside the bounds (field ``param.NAME``).
        """
        where = "param"
        try:
            if self.type is ParamType.BOOL:
                if isinstance(raw, bool):
                    value: Any = raw
                elif str(raw).strip().lower() in ("true", "yes", "1", "on"):
                    value = True
                elif str(raw).strip().lower() in ("false", "no", "0", "off"):
                    value = False
                else:
                    raise ValueError
            elif self.type is ParamType.INT:
                if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
                    raise ValueError
                value = int(str(raw).strip()) if not isinstance(raw, int | float) else int(raw)
            elif self.type is ParamType.FLOAT:
                if isinstance(raw, bool):
                    raise ValueError
                value = float(str(raw).strip()) if not isinstance(raw, int | float) else float(raw)
                if not math.isfinite(value):
                    raise ValueError
            else:
                value = str(raw)
        except (ValueError, OverflowError):
            raise ValidationError(where, f"Parameter {self.name} must be {_a(self.type)}, not "
                                         f"{raw!r}.") from None
        if self.type in (ParamType.INT, ParamType.FLOAT):
            low, high = self.minimum, self.maximum
            if (low is not None and value < low) or (high is not None and value > high):
                raise ValidationError(
                    where, f"Parameter {self.name} must be {_bounds(low, high)}{_unit(self.unit)}, "
                           f"not {raw!r}.")
        return value

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type.value, "default": self.default,
                "minimum": self.minimum, "maximum": self.maximum, "unit": self.unit,
                "description": self.description}


def _a(t: ParamType) -> str:
    return {ParamType.INT: "a whole number", ParamType.FLOAT: "a finite number",
            ParamType.BOOL: "true or false", ParamType.STR: "text"}[t]


def _bounds(low: float | None, high: float | None) -> str:
    def f(x: float) -> str:
        return f"{int(x)}" if float(x).is_integer() else f"{x:g}"
    if low is not None and high is not None:
        return f"from {f(low)} to {f(high)}"
    return f"at least {f(low)}" if low is not None else f"at most {f(high)}"  # type: ignore[arg-type]


def _unit(unit: str) -> str:
    return f" {unit}" if unit else ""


#: Limits every step has (seconds); a plan may lower them per step.
DEFAULT_STEP_TIME_LIMIT_S = 600.0
MAX_STEP_TIME_LIMIT_S = 24 * 3600.0
MAX_REPEAT = 10


@dataclass(frozen=True)
class StepSpec:
    """One step of a plan.

    Attributes:
        kind: the step kind's name (``relay``, ``outage``, ``expect_alert``, ``readout``,
            ``prompt``, ``log_capture``, ``wait``).
        settings: the kind's own settings, as written in the plan (values may be ``"$param"``).
        measurements: what the step measures and the limits of each.
        time_limit_s: the step ends ERROR when it takes longer (on the bench's clock).
        repeat_limit: how many times it runs at most while it does not PASS (1: no repeat).
        on_fail: what happens to the rest of the plan when it does not PASS or MARGINAL.
        time_limit_given: whether the plan gave `time_limit_s`; when not, it is what the kind
            needs for the parameters' defaults, and a run works it out again from its own values.
    """

    name: str
    kind: str
    settings: Mapping[str, Any] = field(default_factory=dict)
    measurements: tuple[MeasurementSpec, ...] = ()
    time_limit_s: float = DEFAULT_STEP_TIME_LIMIT_S
    repeat_limit: int = 1
    on_fail: OnFail = OnFail.CONTINUE
    time_limit_given: bool = False


@dataclass(frozen=True)
class Plan:
    """A test plan, as loaded and checked.

    Attributes:
        device_kinds: the device kinds the bench must have (``ESME``, ``CHF``, ``IHD``, ...).
        sha256: SHA-256 of the plan file's bytes (recorded with every run).
        source: where it was loaded from (a path, or ``builtin:NAME``).
    """

    name: str
    version: str
    description: str
    device_kinds: tuple[str, ...]
    parameters: tuple[ParameterSpec, ...]
    steps: tuple[StepSpec, ...]
    teardown: tuple[StepSpec, ...] = ()
    sha256: str = ""
    source: str = ""

    def parameter(self, name: str) -> ParameterSpec:
        for p in self.parameters:
            if p.name == name:
                return p
        known = ", ".join(p.name for p in self.parameters) or "none"
        raise ValidationError("param", f"Plan {self.name} has no parameter {name!r} "
                                               f"(its parameters: {known}).")

    def resolve_parameters(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """Every parameter's value for a run: `given` (checked) over the defaults."""
        values = {p.name: p.default for p in self.parameters}
        for name, raw in given.items():
            values[name] = self.parameter(name).parse(raw)
        return values

    def settings_for(self, step: StepSpec, values: Mapping[str, Any]) -> dict[str, Any]:
        """The step's settings with each ``"$param"`` replaced by the run's value."""
        return {key: _substitute(v, values) for key, v in step.settings.items()}

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "description": self.description,
                "device_kinds": list(self.device_kinds),
                "parameters": [p.to_dict() for p in self.parameters],
                "steps": [s.name for s in self.steps], "teardown": [s.name for s in self.teardown],
                "sha256": self.sha256, "source": self.source}


def _substitute(value: Any, values: Mapping[str, Any]) -> Any:
    if isinstance(value, str) and value.startswith("$") and value[1:] in values:
        return values[value[1:]]
    if isinstance(value, list):
        return [_substitute(v, values) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v, values) for k, v in value.items()}
    return value
