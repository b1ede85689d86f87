"""Loading and checking test plans (TOML files) against the step kinds they name.

A plan file holds a name, a version, a description, the device kinds the bench needs, parameters
with defaults and bounds, steps and teardown steps (the format is in ``resources/plans/*.toml``
and the README). Built-in plans ship in ``resources/plans``; a lab's own go in the data
directory's ``plans`` folder, where a file of the same name overrides the built-in one.

A plan is checked completely when it is loaded, so a run never meets a mistake the file already
held: every key is known, every value of the right type, every step's settings accepted by its
kind (:mod:`app.domain.step_kinds`) with each ``"$param"`` at the parameter's default and at both
of its bounds, and every measurement's limits valid. The first mistake is reported as one sentence
naming the file, the step and what is wrong::

    lab/plans/cut.toml: step 2 (Cut the supply): unknown key 'kindd' (expected one of ...).
"""

from __future__ import annotations

import hashlib
import math
import re
import tomllib
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from app.domain.devices import DeviceKind
from app.domain.errors import NotFoundError, ValidationError
from app.domain.plans import (
    MAX_REPEAT,
    MAX_STEP_TIME_LIMIT_S,
    OnFail,
    ParameterSpec,
    ParamType,
    Plan,
    StepSpec,
)
from app.domain.runs import MeasurementSpec, Validator
from app.domain.step_kinds import (
    STEP_KINDS,
    ResolvedStep,
    SettingSpec,
    StepKind,
    resolve_step,
    step_kind,
)
from app.storage.db import default_plan_dir

#: A plan file larger than this is refused before it is read (the built-in ones are ~2 kB).
MAX_PLAN_BYTES = 256 * 1024
MAX_NAME_CHARS = 64
MAX_STEP_NAME_CHARS = 80
MAX_TEXT_CHARS = 2_000
MAX_STEPS = 100
MAX_PARAMETERS = 50
MAX_MEASUREMENTS = 100
#: TOML integers are 64-bit; a larger one is refused rather than carried as a Python int.
_MAX_INT = 2**63 - 1

PLAN_NAME_RE = re.compile(r"[a-z0-9-]+")
PARAM_NAME_RE = re.compile(r"[a-z_][a-z0-9_]*")

_PLAN_KEYS = ("name", "version", "description", "device_kinds", "parameters", "steps",
              "teardown")
_PARAM_KEYS = ("name", "type", "default", "min", "max", "unit", "description")
_STEP_KEYS = ("name", "kind", "time_limit_s", "repeat_limit", "on_fail", "settings",
              "measurements")
_MEASUREMENT_KEYS = ("name", "unit", "description", "range", "marginal", "equals", "regex",
                     "within_percent")
_DEVICE_KINDS = tuple(k.value for k in DeviceKind)
#: The parameter types that may stand for a setting of each type.
_FITS: dict[ParamType, tuple[ParamType, ...]] = {
    ParamType.INT: (ParamType.INT,),
    ParamType.FLOAT: (ParamType.INT, ParamType.FLOAT),
    ParamType.STR: (ParamType.STR,),
    ParamType.BOOL: (ParamType.BOOL,),
}
_TYPE_WORDS = {ParamType.INT: "a whole number", ParamType.FLOAT: "a number",
               ParamType.STR: "text", ParamType.BOOL: "true or false"}


@dataclass(frozen=True)
class PlanEntry:
    """A plan found in a plan folder: loaded, or the one sentence saying why it cannot be.

    Attributes:
        name: the plan's name (its file name without ``.toml``).
        source: ``builtin:NAME`` or the file's path.
        plan: the checked plan, or None when `error` is set.
        error: why the file cannot be used ("" when it can).
    """

    name: str
    source: str
    plan: Plan | None = None
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        if self.plan is None:
            return {"name": self.name, "version": "", "description": "", "device_kinds": [],
                    "parameters": [], "source": self.source, "sha256": "", "error": self.error}
        p = self.plan
        return {"name": p.name, "version": p.version, "description": p.description,
                "device_kinds": list(p.device_kinds),
                "parameters": [q.to_dict() for q in p.parameters], "source": p.source,
                "sha256": p.sha256}


def builtin_plan_dir() -> Traversable:
    """The folder of the plans shipped with MeterLab."""
    return resources.files("resources").joinpath("plans")


def load_plan(path: Path | Traversable, source: str | None = None) -> Plan:
    """Read and check a plan file; its SHA-256 is that of the file's bytes.

    Args:
        path: the file.
        source: what to call it in the plan and in messages (default: the path).

    Raises:
        ValidationError: the file cannot be read or is not a valid plan (one sentence naming the
            file, the step and what is wrong).
    """
    src = str(path) if source is None else source
    if isinstance(path, Path):
        if not path.exists():
            raise ValidationError("file", f"{src}: there is no such file.")
        if path.is_dir():
            raise ValidationError("file", f"{src}: is a folder; give a plan file (.toml).")
        if not path.is_file():
            raise ValidationError("file", f"{src}: is not a regular file; give a plan file "
                                          f"(.toml).")
    try:
        if isinstance(path, Path):
            size = path.stat().st_size
            if size > MAX_PLAN_BYTES:
                raise _too_big(src, size)
            with path.open("rb") as f:
                data = f.read(MAX_PLAN_BYTES + 1)
        else:
            data = path.read_bytes()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ValidationError("file", f"{src}: cannot be read ({reason}).") from None
    if len(data) > MAX_PLAN_BYTES:
        raise _too_big(src, len(data))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationError("file", f"{src}: is not UTF-8 text (byte {exc.start + 1} is "
                                      f"0x{data[exc.start]:02X}); a plan is a TOML text "
                                      f"file.") from None
    return _parse(text, src, hashlib.sha256(data).hexdigest())


def _too_big(src: str, size: int) -> ValidationError:
    return ValidationError("file", f"{src}: is {size} bytes; a plan file may be at most "
                                   f"{MAX_PLAN_BYTES} bytes.")


def parse_plan(text: str, source: str) -> Plan:
    """Check plan TOML text; its SHA-256 is that of the text in UTF-8.

    Raises:
        ValidationError: one sentence naming `source`, the step and what is wrong.
    """
    data = text.encode("utf-8", "surrogatepass")
    return _parse(text, source, hashlib.sha256(data).hexdigest())


def find_plans(dirs: Sequence[Path] | None = None) -> list[PlanEntry]:
    """The plans there are, by name: the built-in ones, then each of `dirs` in turn (a file of
    the same name overrides what came before). A file that cannot be used is listed with its
    error rather than raised.

    Args:
        dirs: the lab's plan folders (default: the data directory's ``plans`` folder); a folder
            that does not exist is skipped.
    """
    found: dict[str, PlanEntry] = {}
    builtin = builtin_plan_dir()
    if builtin.is_dir():
        for entry in sorted(builtin.iterdir(), key=lambda e: e.name):
            if entry.name.endswith(".toml") and entry.is_file():
                stem = entry.name.removesuffix(".toml")
                found[stem] = _entry(entry, stem, f"builtin:{stem}")
    for directory in (default_plan_dir(),) if dirs is None else dirs:
        directory = Path(directory)
        if not directory.is_dir():
            continue
        for path in sorted(directory.glob("*.toml")):
            if path.is_file():
                found[path.stem] = _entry(path, path.stem, str(path))
    return [found[name] for name in sorted(found)]


def _entry(path: Path | Traversable, stem: str, source: str) -> PlanEntry:
    try:
        plan = load_plan(path, source)
    except ValidationError as exc:
        return PlanEntry(stem, source, error=exc.message)
    if plan.name != stem:
        return PlanEntry(stem, source, error=f"{source}: the plan is named {plan.name!r} but "
                                             f"its file is {stem}.toml; name the file after the "
                                             f"plan.")
    return PlanEntry(stem, source, plan)


def get_plan(name: str, dirs: Sequence[Path] | None = None) -> Plan:
    """The plan called `name` (a lab's own before the built-in one).

    Raises:
        NotFoundError: no plan has that name (the message lists those there are).
        ValidationError: the plan's file is not valid (its one sentence).
    """
    entries = find_plans(dirs)
    for entry in entries:
        if entry.name == name:
            if entry.plan is None:
                raise ValidationError("plan", entry.error)
            return entry.plan
    known = ", ".join(e.name for e in entries) or "none"
    raise NotFoundError("plan", f"There is no plan named {name!r}; plans: {known}.")


def step_settings(plan: Plan, step: StepSpec, values: Mapping[str, Any]) -> ResolvedStep:
    """A step's settings and measurements for a run with parameter `values` (see
    :meth:`Plan.resolve_parameters`): each ``"$param"`` replaced, checked by the step's kind,
    and the kind's measurements with the plan's limits (``StepSpec.measurements`` holds only the
    plan's own measurements; the kind's are made here, from the run's settings).

    Raises:
        ValidationError: the run's values make the step's settings invalid (a plan that loaded
            cannot do this with values inside its parameters' bounds).
    """
    where = _where_of(plan, step)
    return resolve_step(step_kind(step.kind, where), plan.settings_for(step, values),
                        step.measurements, where)


def check_run_values(plan: Plan, given: Mapping[str, Any]) -> dict[str, Any]:
    """Every parameter's value for a run, checked against the parameters' bounds and against
    every step that uses them (a text parameter standing for a setting with a fixed set of
    values is only checked at its default when the plan is loaded), before anything runs.

    Raises:
        ValidationError: field ``param.NAME`` for a value out of its bounds, ``param`` for a
            value a step refuses (the message names the step).
    """
    values = plan.resolve_parameters(given)
    for step in (*plan.steps, *plan.teardown):
        try:
            step_settings(plan, step, values)
        except ValidationError as exc:
            raise ValidationError("param", f"Plan {plan.name}: {exc.message}") from None
    return values


def step_time_limit_s(step: StepSpec, resolved: ResolvedStep) -> float:
    """The step's time limit for a run: the plan's, or what its kind needs for the run's
    settings (an outage of 3600 s needs longer than one of 120 s)."""
    if step.time_limit_given:
        return step.time_limit_s
    return STEP_KINDS[step.kind].time_limit_s(resolved.settings)


def _where_of(plan: Plan, step: StepSpec) -> str:
    for label, steps in (("step", plan.steps), ("teardown step", plan.teardown)):
        for i, s in enumerate(steps, 1):
            if s == step:
                return f"{label} {i} ({s.name})"
    return f"step ({step.name})"


# Checking -------------------------------------------------------------------------------------


class _Bad(Exception):
    """A mistake in the plan: `message` is the sentence without the file name."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _parse(text: str, source: str, sha256: str) -> Plan:
    try:
        return _plan(text, source, sha256)
    except _Bad as exc:
        raise ValidationError(exc.field, f"{source}: {exc.message}") from None
    except RecursionError:  # lists or tables nested thousands deep
        raise ValidationError("file", f"{source}: values are nested too deeply for a "
                                      f"plan.") from None


def _plan(text: str, source: str, sha256: str) -> Plan:
    text = text.removeprefix("\ufeff")  # a byte-order mark some Windows editors write
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _Bad("file", _toml_error(str(exc))) from None
    _unknown_keys(doc, _PLAN_KEYS, "", "the plan")
    for key in ("name", "version", "description", "device_kinds"):
        if key in doc:
            _check_values(doc[key], key, "")
    name = _text(doc, "name", "", required=True, max_chars=MAX_NAME_CHARS)
    if not PLAN_NAME_RE.fullmatch(name):
        raise _Bad("name", f"name {name!r} must be lower-case letters, digits and hyphens "
                           f"(like 'power-outage').")
    version = _text(doc, "version", "", required=True, max_chars=MAX_NAME_CHARS)
    if not version.strip():
        raise _Bad("version", "version must not be empty (like \"1.0\").")
    description = _text(doc, "description", "", multiline=True)
    device_kinds = _device_kinds(doc.get("device_kinds", []))
    parameters = _parameters(doc.get("parameters", []))
    raw_steps = _table_list(doc, "steps", "[[steps]]")
    raw_teardown = _table_list(doc, "teardown", "[[teardown]]")
    if not raw_steps:
        raise _Bad("steps", "a plan needs at least one step ([[steps]] with a name and a kind).")
    if len(raw_steps) + len(raw_teardown) > MAX_STEPS:
        raise _Bad("steps", f"a plan may have at most {MAX_STEPS} steps and teardown steps, "
                            f"not {len(raw_steps) + len(raw_teardown)}.")
    steps: list[StepSpec] = []
    teardown: list[StepSpec] = []
    used: dict[str, str] = {}
    for label, raws, out in (("step", raw_steps, steps),
                             ("teardown step", raw_teardown, teardown)):
        for number, raw in enumerate(raws, 1):
            step = _step(raw, f"{label} {number}", parameters, device_kinds)
            key = step.name.casefold()
            if key in used:
                raise _Bad("steps.name", f"{label} {number} ({step.name}): the name is already "
                                         f"used by {used[key]}; step names must differ.")
            used[key] = f"{label} {number}"
            out.append(step)
    return Plan(name, version, description, device_kinds, parameters, tuple(steps),
                tuple(teardown), sha256, source)


def _toml_error(message: str) -> str:
    """tomllib's "Invalid value (at line 3, column 8)" as "line 3, column 8: not valid TOML
    (invalid value)."."""
    m = re.fullmatch(r"(?s)(.*?)\s*\(at (line \d+, column \d+|end of document)\)", message)
    detail, at = (m.group(1), m.group(2)) if m else (message, "")
    at = "end of file" if at == "end of document" else at
    detail = detail.rstrip(".")
    detail = detail[:1].lower() + detail[1:]
    return f"{at}: not valid TOML ({detail})." if at else f"not valid TOML ({detail})."


def _unknown_keys(table: Mapping[str, Any], known: Sequence[str], where: str,
                  what: str) -> None:
    for key in table:
        if key not in known:
            prefix = f"{where}: " if where else ""
            raise _Bad(key, f"{prefix}unknown key {key!r} in {what} (expected one of "
                            f"{', '.join(known)}).")


def _check_values(value: Any, path: str, where: str) -> None:
    """Refuse what no plan value may be: control characters, overlong text, dates, numbers
    beyond 64 bits or not finite. `path` names the key (``settings.question``)."""
    prefix = f"{where}: " if where else ""
    if isinstance(value, str):
        for ch in value:
            if unicodedata.category(ch) == "Cc" and ch not in "\t\n":
                raise _Bad(path, f"{prefix}{path} must not contain control characters (found "
                                 f"U+{ord(ch):04X}).")
            if unicodedata.category(ch) == "Cs":
                raise _Bad(path, f"{prefix}{path} is not valid Unicode text.")
        if len(value) > MAX_TEXT_CHARS:
            raise _Bad(path, f"{prefix}{path} must be at most {MAX_TEXT_CHARS} characters, not "
                             f"{len(value)}.")
    elif isinstance(value, bool):
        return
    elif isinstance(value, int):
        if abs(value) > _MAX_INT:
            raise _Bad(path, f"{prefix}{path} is too large a number (at most {_MAX_INT}).")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise _Bad(path, f"{prefix}{path} must be a finite number, not {value!r}.")
    elif isinstance(value, datetime | date | time):
        raise _Bad(path, f"{prefix}{path} must not be a date or time (found {value}); give a "
                         f"number or text.")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_values(item, f"{path}[{i}]", where)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_values(item, f"{path}.{key}" if path else key, where)


def _text(table: Mapping[str, Any], key: str, where: str, required: bool = False,
          max_chars: int = MAX_TEXT_CHARS, multiline: bool = False) -> str:
    prefix = f"{where}: " if where else ""
    if key not in table:
        if required:
            raise _Bad(key, f"{prefix}{key} is missing.")
        return ""
    value = table[key]
    if not isinstance(value, str):
        raise _Bad(key, f"{prefix}{key} must be text in quotes, not {_shown(value)}.")
    if not multiline and "\n" in value:
        raise _Bad(key, f"{prefix}{key} must be one line.")
    if len(value) > max_chars:
        raise _Bad(key, f"{prefix}{key} must be at most {max_chars} characters, not "
                        f"{len(value)}.")
    return value


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _table_list(doc: Mapping[str, Any], key: str, form: str, where: str = "") -> list[dict]:
    prefix = f"{where}: " if where else ""
    value = doc.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise _Bad(key, f"{prefix}{key} must be a list of tables ({form}), not "
                        f"{_shown(value)}.")
    return value


def _device_kinds(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _Bad("device_kinds", f"device_kinds must be a list of device kinds (like "
                                   f"[\"ESME\", \"CHF\"]), not {_shown(value)}.")
    for kind in value:
        if kind not in _DEVICE_KINDS:
            raise _Bad("device_kinds", f"device_kinds: {kind!r} is not a device kind "
                                       f"(expected one of {', '.join(_DEVICE_KINDS)}).")
    if len(set(value)) != len(value):
        raise _Bad("device_kinds", "device_kinds lists a kind twice.")
    return tuple(value)


def _parameters(value: Any) -> tuple[ParameterSpec, ...]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise _Bad("parameters", f"parameters must be a list of tables ([[parameters]]), not "
                                 f"{_shown(value)}.")
    if len(value) > MAX_PARAMETERS:
        raise _Bad("parameters", f"a plan may have at most {MAX_PARAMETERS} parameters.")
    specs: list[ParameterSpec] = []
    for number, raw in enumerate(value, 1):
        name = raw.get("name")
        where = f"parameter {number}" + (f" ({name})" if isinstance(name, str) and name else "")
        _check_values(raw, "", where)
        _unknown_keys(raw, _PARAM_KEYS, where, "a parameter")
        name = _text(raw, "name", where, required=True, max_chars=MAX_NAME_CHARS)
        if not PARAM_NAME_RE.fullmatch(name):
            raise _Bad("name", f"{where}: name {name!r} must be lower-case letters, digits and "
                               f"underscores, starting with a letter (like 'duration_s').")
        if any(p.name == name for p in specs):
            raise _Bad("name", f"{where}: another parameter has the name {name!r}.")
        type_text = _text(raw, "type", where, required=True)
        try:
            ptype = ParamType(type_text)
        except ValueError:
            raise _Bad("type", f"{where}: type must be one of "
                               f"{', '.join(t.value for t in ParamType)}, not "
                               f"{type_text!r}.") from None
        bounds: list[float | None] = []
        for key in ("min", "max"):
            bound = raw.get(key)
            if bound is not None:
                if ptype not in (ParamType.INT, ParamType.FLOAT):
                    raise _Bad(key, f"{where}: {key} is only for int and float parameters.")
                if isinstance(bound, bool) or not isinstance(bound, int | float):
                    raise _Bad(key, f"{where}: {key} must be a number, not {_shown(bound)}.")
            bounds.append(bound)
        low, high = bounds
        if low is not None and high is not None and low > high:
            raise _Bad("min", f"{where}: min {low} is above max {high}.")
        if ptype is ParamType.INT and low is not None and high is not None \
                and math.ceil(low) > math.floor(high):
            raise _Bad("min", f"{where}: no whole number lies between min {low} and max "
                              f"{high}.")
        unit = _text(raw, "unit", where, max_chars=MAX_NAME_CHARS)
        description = _text(raw, "description", where, multiline=True)
        if "default" not in raw:
            raise _Bad("default", f"{where}: default is missing (the value a run takes when "
                                  f"it is not given).")
        spec = ParameterSpec(name, ptype, None, low, high, unit, description)
        default = raw["default"]
        if not _is_type(default, ptype):
            raise _Bad("default", f"{where}: default must be {_TYPE_WORDS[ptype]}, not "
                                  f"{_shown(default)}.")
        try:
            default = spec.parse(default)
        except ValidationError as exc:
            raise _Bad("default", f"{where}: default "
                                  f"{exc.message.removeprefix(f'Parameter {name} ')}") from None
        specs.append(ParameterSpec(name, ptype, default, low, high, unit, description))
    return tuple(specs)


def _fmt(x: float) -> str:
    """A number as written in a plan: 86400, not 86400.0 or 8.64e+04."""
    if isinstance(x, float) and x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    return repr(x)


def _a(word: str) -> str:
    return f"an {word}" if word[:1] in "aeiou" else f"a {word}"


def _is_type(value: Any, ptype: ParamType) -> bool:
    if isinstance(value, bool):
        return ptype is ParamType.BOOL
    if isinstance(value, int):
        return ptype in (ParamType.INT, ParamType.FLOAT)
    if isinstance(value, float):
        return ptype is ParamType.FLOAT or (ptype is ParamType.INT and value.is_integer())
    return isinstance(value, str) and ptype is ParamType.STR


def _step(raw: dict, label: str, parameters: tuple[ParameterSpec, ...],
          device_kinds: tuple[str, ...]) -> StepSpec:
    name = raw.get("name")
    shown_name = name if isinstance(name, str) and name.strip() and len(name) <= \
        MAX_STEP_NAME_CHARS and not any(unicodedata.category(c) in ("Cc", "Cs") for c in name) \
        else None
    where = f"{label} ({shown_name})" if shown_name else label
    _check_values(raw, "", where)
    for key in raw:
        if key not in _STEP_KEYS:
            named = STEP_KINDS.get(raw["kind"]) if isinstance(raw.get("kind"), str) else None
            hint = ("; settings go under [steps.settings]"
                    if named is not None and named.setting(key) is not None else "")
            raise _Bad(key, f"{where}: unknown key {key!r} (expected one of "
                            f"{', '.join(_STEP_KEYS)}){hint}.")
    kind = _step_kind_of(raw, where)
    name = _text(raw, "name", where, required=True, max_chars=MAX_STEP_NAME_CHARS)
    if not name.strip():
        raise _Bad("name", f"{where}: name must not be empty.")
    if "=" in name:
        raise _Bad("name", f"{where}: name must not contain '=' (answers are given as "
                           f"STEP=pass).")
    settings = raw.get("settings", {})
    if not isinstance(settings, dict):
        raise _Bad("settings", f"{where}: settings must be a table ([steps.settings]), not "
                               f"{_shown(settings)}.")
    refs = _references(kind, settings, parameters, where)
    defaults = {p.name: p.default for p in parameters}
    try:
        values = kind.resolve(_substituted(settings, defaults), where)
    except ValidationError as exc:
        raise _Bad(exc.field, exc.message) from None
    _devices_listed(kind, values, device_kinds, where)
    overrides = _measurements(raw, kind, values, where)
    variants = _variants(refs, parameters, defaults)
    resolved = [(note, _resolve(kind, settings, overrides, where, vals, note))
                for note, vals in variants]
    given = "time_limit_s" in raw
    if given:
        limit = raw["time_limit_s"]
        if isinstance(limit, bool) or not isinstance(limit, int | float) \
                or not 0 < limit <= MAX_STEP_TIME_LIMIT_S:
            raise _Bad("time_limit_s", f"{where}: time_limit_s must be a number of seconds "
                                       f"above 0 and at most {_fmt(MAX_STEP_TIME_LIMIT_S)}, not "
                                       f"{_shown(limit)}.")
        limit = float(limit)
        for note, r in resolved:
            needed = kind.time_limit_s(r.settings) - kind.default_time_limit_s
            if limit < needed:
                at = f" {note}" if note else ""
                raise _Bad("time_limit_s", f"{where}: time_limit_s {_fmt(limit)} is shorter than "
                                           f"the {_fmt(needed)} s its settings ask for{at}.")
    else:
        limit = kind.time_limit_s(resolved[0][1].settings)
    repeat = raw.get("repeat_limit", 1)
    if isinstance(repeat, bool) or not isinstance(repeat, int) or not 1 <= repeat <= MAX_REPEAT:
        raise _Bad("repeat_limit", f"{where}: repeat_limit must be a whole number from 1 to "
                                   f"{MAX_REPEAT}, not {_shown(repeat)}.")
    on_fail = raw.get("on_fail", OnFail.CONTINUE.value)
    if on_fail not in tuple(o.value for o in OnFail):
        raise _Bad("on_fail", f"{where}: on_fail must be \"continue\" or \"stop\", not "
                              f"{_shown(on_fail)}.")
    return StepSpec(name, kind.name, dict(settings), overrides, limit, repeat, OnFail(on_fail),
                    time_limit_given=given)


def _step_kind_of(raw: dict, where: str) -> StepKind:
    if "kind" not in raw:
        raise _Bad("kind", f"{where}: kind is missing (one of {', '.join(STEP_KINDS)}).")
    value = raw["kind"]
    if not isinstance(value, str):
        raise _Bad("kind", f"{where}: kind must be text, one of {', '.join(STEP_KINDS)}; not "
                           f"{_shown(value)}.")
    try:
        return step_kind(value, where)
    except ValidationError as exc:
        raise _Bad("kind", exc.message) from None


def _references(kind: StepKind, settings: Mapping[str, Any],
                parameters: tuple[ParameterSpec, ...], where: str) -> dict[str, str]:
    """Which parameter each ``"$name"`` setting stands for, checked to fit the setting."""
    refs: dict[str, str] = {}
    for key, value in settings.items():
        if isinstance(value, list | dict):
            raise _Bad(f"settings.{key}", f"{where}: settings.{key} must be a single value, "
                                          f"not {_shown(value)}.")
        if not (isinstance(value, str) and value.startswith("$")):
            continue
        pname = value[1:]
        param = next((p for p in parameters if p.name == pname), None)
        if param is None:
            known = ", ".join(p.name for p in parameters) or "none"
            raise _Bad(f"settings.{key}", f"{where}: settings.{key} names {value!r}, but the "
                                          f"plan has no parameter {pname!r} (its parameters: "
                                          f"{known}).")
        setting = kind.setting(key)
        if setting is None:
            continue  # reported as an unknown setting by the kind
        if param.type not in _FITS[setting.type]:
            raise _Bad(f"settings.{key}", f"{where}: settings.{key} takes "
                                          f"{_TYPE_WORDS[setting.type]}, but parameter "
                                          f"{pname} is {param.type.value}.")
        _bounds_fit(setting, param, key, where)
        refs[key] = pname
    return refs


def _bounds_fit(setting: SettingSpec, param: ParameterSpec, key: str, where: str) -> None:
    """A numeric parameter standing for a bounded setting needs bounds of its own."""
    if param.type not in (ParamType.INT, ParamType.FLOAT):
        return
    for bound, mine, word in ((setting.minimum, param.minimum, "min"),
                              (setting.maximum, param.maximum, "max")):
        if bound is not None and mine is None:
            side = "at least" if word == "min" else "at most"
            raise _Bad(f"settings.{key}", f"{where}: settings.{key} takes {side} {_fmt(bound)}, so "
                                          f"parameter {param.name} needs a {word} (it has "
                                          f"none).")


def _substituted(settings: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: values[v[1:]] if isinstance(v, str) and v.startswith("$") and v[1:] in values
            else v for k, v in settings.items()}


def _variants(refs: Mapping[str, str], parameters: tuple[ParameterSpec, ...],
              defaults: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Parameter values to check a step with: the defaults, then each parameter the step uses
    at its minimum and at its maximum."""
    out: list[tuple[str, dict[str, Any]]] = [("", dict(defaults))]
    for pname in dict.fromkeys(refs.values()):
        param = next(p for p in parameters if p.name == pname)
        for bound, word in ((param.minimum, "minimum"), (param.maximum, "maximum")):
            if bound is None:
                continue
            if param.type is ParamType.INT:
                value: Any = math.ceil(bound) if word == "minimum" else math.floor(bound)
            else:
                value = float(bound)
            out.append((f"with parameter {pname} at its {word} {_fmt(value)}",
                        {**defaults, pname: value}))
    return out


def _resolve(kind: StepKind, settings: Mapping[str, Any], overrides: tuple[MeasurementSpec, ...],
             where: str, values: Mapping[str, Any], note: str) -> ResolvedStep:
    try:
        return resolve_step(kind, _substituted(settings, values), overrides, where)
    except ValidationError as exc:
        message = exc.message if not note else f"{exc.message.rstrip('.')}, {note}."
        raise _Bad(exc.field, message) from None


def _measurements(raw: dict, kind: StepKind, values: Mapping[str, Any],
                  where: str) -> tuple[MeasurementSpec, ...]:
    tables = _table_list(raw, "measurements", "[[steps.measurements]]", where)
    if len(tables) > MAX_MEASUREMENTS:
        raise _Bad("measurements", f"{where}: a step may have at most {MAX_MEASUREMENTS} "
                                   f"measurements.")
    own = {m.name: m for m in kind.measurements(values)}
    specs: list[MeasurementSpec] = []
    for number, table in enumerate(tables, 1):
        label = f"{where}: measurement {number}"
        name = _text(table, "name", label, required=True, max_chars=MAX_NAME_CHARS)
        if not name.strip():
            raise _Bad("measurements.name", f"{label}: name must not be empty.")
        label = f"{where}: measurement {name!r}"
        for key in table:
            if key not in _MEASUREMENT_KEYS:
                raise _Bad(f"measurements.{key}", f"{label}: unknown key {key!r} (expected one "
                                                  f"of {', '.join(_MEASUREMENT_KEYS)}).")
        if any(s.name == name for s in specs):
            raise _Bad("measurements.name", f"{label}: the step names this measurement twice.")
        if name not in own and not kind.open_measurements:
            names = ", ".join(own) or "nothing"
            raise _Bad("measurements.name", f"{where}: {_a(kind.name)} step measures {names}, "
                                            f"not {name!r}.")
        unit = _text(table, "unit", label, max_chars=MAX_NAME_CHARS)
        description = _text(table, "description", label, multiline=True)
        base = own.get(name)
        if base is not None:
            if "unit" in table and unit != base.unit:
                raise _Bad("measurements.unit", f"{label}: is measured in "
                                                f"{base.unit or 'no unit'}, not {unit!r}.")
            unit, description = base.unit, description or base.description
        equals = table.get("equals")
        if equals is not None and not isinstance(equals, str | int | float):
            raise _Bad("measurements.equals", f"{label}: equals must be a number, text or true/"
                                              f"false, not {_shown(equals)}.")
        try:
            validator = Validator.from_dict(table, label)
        except ValidationError as exc:
            raise _Bad("measurements", exc.message.replace(f"{label}.", f"{label} ")) from None
        except (OverflowError, TypeError):
            raise _Bad("measurements", f"{label}: its limits must be numbers.") from None
        specs.append(MeasurementSpec(name, unit, validator, description))
    return tuple(specs)


#: What each step kind works with on the bench, beyond a device its settings name.
_KIND_DEVICES: dict[str, tuple[str, ...]] = {
    "relay": (DeviceKind.RELAY.value,),
    "outage": (DeviceKind.ESME.value, DeviceKind.CHF.value, DeviceKind.RELAY.value),
    "expect_alert": (DeviceKind.CHF.value,),  # alerts reach the bench through the hub's log
    "log_capture": (DeviceKind.CHF.value,),
}


def _devices_listed(kind: StepKind, settings: Mapping[str, Any], device_kinds: tuple[str, ...],
                    where: str) -> None:
    needed = list(_KIND_DEVICES.get(kind.name, ()))
    if isinstance(settings.get("device"), str):
        needed.insert(0, settings["device"])
    if str(settings.get("action", "none")).startswith("relay"):
        needed.append(DeviceKind.RELAY.value)
    for device in needed:
        if device not in device_kinds:
            raise _Bad("device_kinds", f"{where}: {_a(kind.name)} step needs the bench's "
                                       f"{device}; add {device!r} to the plan's device_kinds.")
