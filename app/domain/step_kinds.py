"""What each step kind of a plan accepts and measures.

A plan's step names a kind; the kind says which settings it takes (with types, defaults and
bounds) and which measurements it always makes, with default limits. A plan may give a
measurement of the same name to change its limits (``[[steps.measurements]]``), and a
``readout`` step measures whatever OBIS values the plan names. The executor's step classes read
their settings and limits from here, so a plan is checked and run against one definition.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from app.domain.errors import ValidationError
from app.domain.plans import MAX_STEP_TIME_LIMIT_S, ParameterSpec, ParamType
from app.domain.runs import MeasurementSpec, Validator

#: The restore alert a meter raises after an outage shorter than this is 8F35; at or over, 8F36.
LONG_OUTAGE_S = 180.0
#: The default target for an alert's latency (host receive time minus the event's time).
ALERT_LATENCY_TARGET_S = 8.0
#: The longest outage a plan may ask for: one day.
MAX_OUTAGE_S = 86_400.0


def restore_alert_code_for(duration_s: float) -> str:
    """The restore alert a meter must raise after an outage of `duration_s` seconds."""
    return "8F36" if duration_s >= LONG_OUTAGE_S else "8F35"


@dataclass(frozen=True)
class SettingSpec:
    """One setting of a step kind: like a plan parameter, and possibly required."""

    name: str
    type: ParamType
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    required: bool = False
    description: str = ""
    choices: tuple[str, ...] = ()

    def parse(self, raw: Any, where: str) -> Any:
        """The setting's value, or a ValidationError naming `where` (``step 3 (cut).channel``)."""
        spec = ParameterSpec(self.name, self.type, self.default, self.minimum, self.maximum)
        try:
            value = spec.parse(raw)
        except ValidationError as exc:
            message = exc.message.replace(f"Parameter {self.name}", f"{where}")
            raise ValidationError(where, message) from None
        if self.choices and value not in self.choices:
            raise ValidationError(where, f"{where} must be one of {', '.join(self.choices)}, "
                                         f"not {raw!r}.")
        return value


def _m(name: str, unit: str = "", description: str = "", **limits: Any) -> MeasurementSpec:
    return MeasurementSpec(name, unit, Validator.from_dict(limits, name), description)


@dataclass(frozen=True)
class StepKind:
    """A step kind's contract.

    Attributes:
        settings: what the step takes (a plan's ``[steps.settings]``, or keys of the step table).
        measurements: the measurements it always makes, given its resolved settings.
        open_measurements: whether a plan may add measurements of its own (``readout``: one per
            OBIS value; others only re-limit the kind's own).
    """

    name: str
    description: str
    settings: tuple[SettingSpec, ...] = ()
    measurements: Callable[[Mapping[str, Any]], tuple[MeasurementSpec, ...]] = (
        lambda _settings: ())
    open_measurements: bool = False
    default_time_limit_s: float = 60.0  # beyond what the settings ask for (see time_limit_s)

    def time_limit_s(self, settings: Mapping[str, Any]) -> float:
        """The step's time limit (bench clock) when the plan gives none: long enough for what
        its settings ask (an outage's duration, an alert's wait, a wait's seconds) plus room."""
        extra = 0.0
        if self.name == "outage":
            extra = (float(settings["duration_s"]) + float(settings["alert_wait_s"])
                     + float(settings["readable_within_s"]))
        elif self.name == "wait":
            extra = float(settings["seconds"])
        elif self.name == "expect_alert":
            extra = float(settings["within_s"])
        return extra + self.default_time_limit_s

    def setting(self, name: str) -> SettingSpec | None:
        return next((s for s in self.settings if s.name == name), None)

    def resolve(self, raw: Mapping[str, Any], where: str) -> dict[str, Any]:
        """Every setting's value: `raw` checked over the defaults; unknown or missing ones are a
        ValidationError naming `where`."""
        known = {s.name for s in self.settings}
        unknown = sorted(set(raw) - known)
        if unknown:
            expected = ", ".join(sorted(known)) or "none"
            raise ValidationError(f"{where}.{unknown[0]}",
                                  f"{where}: a {self.name} step has no setting {unknown[0]!r} "
                                  f"(its settings: {expected}).")
        values: dict[str, Any] = {}
        for spec in self.settings:
            if spec.name in raw:
                values[spec.name] = spec.parse(raw[spec.name], f"{where}.{spec.name}")
            elif spec.required:
                raise ValidationError(f"{where}.{spec.name}",
                                      f"{where}: a {self.name} step needs {spec.name!r}.")
            else:
                values[spec.name] = spec.default
        return values


def _outage_measurements(s: Mapping[str, Any]) -> tuple[MeasurementSpec, ...]:
    tol = float(s.get("tolerance_s", 10.0))
    target = float(s.get("latency_target_s", ALERT_LATENCY_TARGET_S))
    readable = float(s.get("readable_within_s", 60.0))
    return (
        _m("ch_outage_logged", "", "The Comms Hub logged the outage", equals=True),
        _m("ch_outage_start_error_s", "s", "|hub's outage start - relay cut|", range=[0, tol]),
        _m("ch_outage_end_error_s", "s", "|hub's outage end - relay restore|", range=[0, tol]),
        _m("restore_alert", "", "The meter's restore alert",
           equals=restore_alert_code_for(float(s.get("duration_s", 120.0)))),
        _m("restore_alert_latency_s", "s", "Host receipt of the restore alert - its event time",
           range=[0, target]),
        _m("readable_after_restore_s", "s", "From restore to a good IEC readout",
           range=[0, readable]),
        _m("power_fail_count_delta", "", "C.7.0 after the outage - before", equals=1),
    )


def _expect_alert_measurements(s: Mapping[str, Any]) -> tuple[MeasurementSpec, ...]:
    code = s.get("code") or ""
    within = float(s.get("within_s", 60.0))
    alert = (_m("alert_code", "", "The alert code seen", equals=code.upper()) if code else
             _m("alert_code", "", "The alert code seen", regex="[0-9A-F]{4}"))
    return (alert, _m("alert_delay_s", "s", "From the step's start to the alert",
                      range=[0, within]))


def _readout_measurements(s: Mapping[str, Any]) -> tuple[MeasurementSpec, ...]:
    tol = s.get("clock_tolerance_s")
    if tol is None:
        return ()
    return (_m("clock_offset_s", "s", "|meter clock - host clock|", range=[0, float(tol)]),)


def _prompt_measurements(_s: Mapping[str, Any]) -> tuple[MeasurementSpec, ...]:
    return (_m("operator_answer", "", "The operator's answer", equals="pass"),)


def _log_capture_measurements(s: Mapping[str, Any]) -> tuple[MeasurementSpec, ...]:
    return (_m("log_lines", "lines", "Comms Hub log lines captured during the run",
               range=[int(s.get("min_lines", 1)), 1e15]),
            _m("log_sha256", "", "SHA-256 of the capture file", regex="[0-9a-f]{64}"))


_DEVICE_KINDS = ("ESME", "GSME", "CHF", "GPF", "IHD", "PPMID")

STEP_KINDS: dict[str, StepKind] = {k.name: k for k in (
    StepKind(
        "relay", "Switch a bench relay channel and wait for the board's acknowledgement.",
        (SettingSpec("channel", ParamType.INT, 1, 1, 16),
         SettingSpec("state", ParamType.STR, required=True, choices=("on", "off"),
                     description="on: supply connected; off: supply cut"),
         SettingSpec("ack_timeout_s", ParamType.FLOAT, 3.0, 0.1, 60.0)),
        default_time_limit_s=10.0),
    StepKind(
        "outage",
        "Cut the bench's supply for duration_s, restore it, and measure what the devices "
        "reported: the hub's outage record, the meter's restore alert and its latency, the meter "
        "readable again, the power-failure counter.",
        (SettingSpec("duration_s", ParamType.FLOAT, 120.0, 1.0, MAX_OUTAGE_S),
         SettingSpec("channel", ParamType.INT, 1, 1, 16),
         SettingSpec("tolerance_s", ParamType.FLOAT, 10.0, 0.0, 3600.0,
                     description="how far the hub's outage record may be from the relay's"),
         SettingSpec("latency_target_s", ParamType.FLOAT, ALERT_LATENCY_TARGET_S, 0.0, 3600.0),
         SettingSpec("alert_wait_s", ParamType.FLOAT, 60.0, 1.0, 3600.0,
                     description="how long after restore to wait for the restore alert"),
         SettingSpec("readable_within_s", ParamType.FLOAT, 60.0, 1.0, 3600.0)),
        _outage_measurements, default_time_limit_s=120.0),
    StepKind(
        "expect_alert", "An alert from a device within a time limit, optionally after an action.",
        (SettingSpec("code", ParamType.STR, "", description="the alert code; empty: any"),
         SettingSpec("device", ParamType.STR, "ESME", choices=_DEVICE_KINDS),
         SettingSpec("within_s", ParamType.FLOAT, 60.0, 0.1, MAX_STEP_TIME_LIMIT_S),
         SettingSpec("action", ParamType.STR, "none", choices=("none", "relay_off", "relay_on"))),
        _expect_alert_measurements, default_time_limit_s=30.0),
    StepKind(
        "readout", "An IEC 62056-21 readout of the meter, with measurements on OBIS values.",
        (SettingSpec("device", ParamType.STR, "ESME", choices=("ESME", "GSME")),
         SettingSpec("clock_tolerance_s", ParamType.FLOAT, None, 0.0, 86_400.0,
                     description="measure |meter clock - host clock| against this")),
        _readout_measurements, open_measurements=True, default_time_limit_s=60.0),
    StepKind(
        "prompt", "A question to the operator: Pass or Fail, with a note.",
        (SettingSpec("question", ParamType.STR, required=True),
         SettingSpec("picture", ParamType.STR, "", description="an image file beside the plan")),
        _prompt_measurements, default_time_limit_s=600.0),
    StepKind(
        "log_capture", "The Comms Hub's log was captured during the run.",
        (SettingSpec("min_lines", ParamType.INT, 1, 0, 10**9),),
        _log_capture_measurements, default_time_limit_s=30.0),
    StepKind(
        "wait", "Wait, on the bench's clock.",
        (SettingSpec("seconds", ParamType.FLOAT, required=True, minimum=0.0,
                     maximum=MAX_STEP_TIME_LIMIT_S),),
        default_time_limit_s=30.0),
)}


def step_kind(name: str, where: str = "kind") -> StepKind:
    """The kind called `name`, or a ValidationError listing the kinds there are."""
    try:
        return STEP_KINDS[name]
    except (KeyError, TypeError):
        raise ValidationError(where, f"{where}: unknown step kind {name!r} (expected one of "
                                     f"{', '.join(STEP_KINDS)}).") from None


@dataclass(frozen=True)
class ResolvedStep:
    """A plan step ready to run: its kind's settings resolved and its measurements' limits."""

    settings: Mapping[str, Any]
    measurements: tuple[MeasurementSpec, ...] = field(default_factory=tuple)


def resolve_step(kind: StepKind, settings: Mapping[str, Any],
                 overrides: tuple[MeasurementSpec, ...], where: str) -> ResolvedStep:
    """Settings checked against `kind`, and the kind's measurements with the plan's overrides
    (same name: the plan's limits; a new name only where the kind is open to it)."""
    values = kind.resolve(settings, where)
    own = list(kind.measurements(values))
    names = [m.name for m in own]
    for spec in overrides:
        if spec.name in names:
            own[names.index(spec.name)] = spec
        elif kind.open_measurements:
            own.append(spec)
            names.append(spec.name)
        else:
            raise ValidationError(f"{where}.measurements",
                                  f"{where}: a {kind.name} step measures "
                                  f"{', '.join(names) or 'nothing'}, not {spec.name!r}.")
    return ResolvedStep(values, tuple(own))
