"""Line profiles: turn a device's text log into events with rules kept in TOML files.

A profile (``resources/profiles/NAME.toml`` or a lab's own directory) holds::

    name = "emulator"
    description = "Comms Hub emulator debug log"
    timestamp_format = "%Y-%m-%d %H:%M:%S"   # optional; default ISO-8601
    unmatched = "log"                        # or "ignore"
    max_line_bytes = 16384                   # optional
    prefix = '(?P<ts>\\S+) \\[(?P<level>\\w+)\\] '  # optional: matched once, before the rules

    [[rule]]
    pattern = 'PWR outage start=(?P<start>\\S+)'
    event = "outage_start"     # alert, outage_start, outage_end, reading, status, log
    time_group = "start"       # optional: the group holding the device time
    gbcs_group = "apdu"        # optional: a group with a GBCS APDU in hex
    rename = { ts = "log_time" }          # optional: group -> field name
    fields = { source = "comms_hub" }     # optional: constant fields
    types = { duration_s = "float" }      # optional: int, float or str per group

Patterns are Python regular expressions matched at the start of the line (after the ``prefix``,
if the profile has one: its groups belong to every rule); the first rule that matches wins. Named
groups become event fields (groups that did not take part are left out); a
``gbcs_group`` is decoded and the alert's fields merged in, its time becoming the device time.
Lines no rule matches become ``log`` events with the line as ``text`` (or are dropped with
``unmatched = "ignore"``).

For speed, the prefix and all rules are compiled into one regular expression (the prefix once,
then an alternation of the rules), so each line costs one regex match and the common prefix is
matched only once.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from app.domain.events import CodecEvent, EventKind
from devices.codecs.alert_catalogue import AlertCatalogue, default_catalogue
from devices.codecs.gbcs import GbcsError, decode_alert, hex_to_bytes
from devices.codecs.gbcs_codec import alert_fields
from devices.codecs.lines import LineFramer

#: Events a rule may produce.
RULE_EVENTS: dict[str, EventKind] = {
    kind.value: kind
    for kind in (
        EventKind.ALERT,
        EventKind.OUTAGE_START,
        EventKind.OUTAGE_END,
        EventKind.READING,
        EventKind.STATUS,
        EventKind.LOG,
    )
}
_CONVERTERS = {"int": int, "float": float, "str": str}
_PROFILE_KEYS = {
    "name",
    "description",
    "timestamp_format",
    "unmatched",
    "max_line_bytes",
    "prefix",
    "rule",
}
_RULE_KEYS = {"pattern", "event", "time_group", "gbcs_group", "rename", "fields", "types"}
_DEFAULT_MAX_LINE_BYTES = 16384
_ERROR_TEXT_CHARS = 200


class ProfileError(ValueError):
    """A profile file that cannot be used; the message names the file and the rule."""


@dataclass(frozen=True, slots=True)
class Rule:
    """One compiled rule (``number`` counts from 1 in file order)."""

    number: int
    pattern: re.Pattern[str]
    full_pattern: re.Pattern[str]  # the profile's prefix followed by this pattern
    kind: EventKind
    time_group: str | None = None
    gbcs_group: str | None = None
    rename: Mapping[str, str] = field(default_factory=dict)
    constants: Mapping[str, Any] = field(default_factory=dict)
    types: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Profile:
    """A validated profile."""

    name: str
    description: str
    source: str
    rules: tuple[Rule, ...]
    unmatched: str = "log"
    timestamp_format: str | None = None
    max_line_bytes: int = _DEFAULT_MAX_LINE_BYTES
    prefix: re.Pattern[str] | None = None


def builtin_profile_dir() -> Traversable:
    """The directory of the profiles shipped with MeterLab."""
    return resources.files("resources").joinpath("profiles")


def available_profiles(search_dirs: Sequence[Path] = ()) -> dict[str, Traversable]:
    """Profiles found, by name (file stem); ``search_dirs`` win over the shipped ones."""
    found: dict[str, Traversable] = {}
    for directory in [builtin_profile_dir(), *search_dirs]:
        if not directory.is_dir():
            continue
        for entry in directory.iterdir():
            if entry.name.endswith(".toml") and entry.is_file():
                found[entry.name.removesuffix(".toml")] = entry
    return found


def load_profile(path: Traversable | Path) -> Profile:
    """Read and validate a profile file.

    Raises:
        ProfileError: the file is not valid TOML or breaks a rule (message names file and rule).
    """
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProfileError(f"profile {source}: cannot be read: {exc}") from None
    return parse_profile(text, source)


def parse_profile(text: str, source: str = "<profile>") -> Profile:
    """Validate profile TOML text (see the module documentation for the format).

    Raises:
        ProfileError: naming ``source``, the rule number and what is wrong.
    """
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"profile {source}: not valid TOML: {exc}") from None

    def fail(message: str) -> ProfileError:
        return ProfileError(f"profile {source}: {message}")

    unknown = set(doc) - _PROFILE_KEYS
    if unknown:
        raise fail(
            f"unknown key(s) {', '.join(sorted(unknown))}; allowed: "
            f"{', '.join(sorted(_PROFILE_KEYS))}"
        )
    name = doc.get("name")
    if not isinstance(name, str) or not name.strip():
        raise fail("'name' must be a non-empty string")
    description = doc.get("description", "")
    if not isinstance(description, str):
        raise fail("'description' must be a string")
    unmatched = doc.get("unmatched", "log")
    if unmatched not in ("log", "ignore"):
        raise fail(f'\'unmatched\' is {unmatched!r}: expected "log" or "ignore"')
    timestamp_format = doc.get("timestamp_format")
    if timestamp_format is not None and not isinstance(timestamp_format, str):
        raise fail("'timestamp_format' must be a strftime format string")
    max_line = doc.get("max_line_bytes", _DEFAULT_MAX_LINE_BYTES)
    if not isinstance(max_line, int) or isinstance(max_line, bool) or max_line < 16:
        raise fail("'max_line_bytes' must be an integer of at least 16")
    prefix = None
    if "prefix" in doc:
        if not isinstance(doc["prefix"], str) or not doc["prefix"]:
            raise fail("'prefix' must be a non-empty regular expression")
        try:
            prefix = re.compile(doc["prefix"])
        except re.error as exc:
            raise fail(f"bad regular expression in 'prefix' {doc['prefix']!r}: {exc}") from None
    raw_rules = doc.get("rule", [])
    if not isinstance(raw_rules, list) or not raw_rules:
        raise fail("no [[rule]] entries")
    rules = tuple(_parse_rule(raw, number, prefix, fail) for number, raw in enumerate(raw_rules, 1))
    return Profile(name, description, source, rules, unmatched, timestamp_format, max_line, prefix)


def _parse_rule(raw: object, number: int, prefix: re.Pattern[str] | None, fail: Any) -> Rule:
    def bad(message: str) -> ProfileError:
        return fail(f"rule {number}: {message}")

    if not isinstance(raw, dict):
        raise bad("must be a table")
    unknown = set(raw) - _RULE_KEYS
    if unknown:
        raise bad(
            f"unknown key(s) {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(_RULE_KEYS))}"
        )
    pattern_text = raw.get("pattern")
    if not isinstance(pattern_text, str) or not pattern_text:
        raise bad("'pattern' must be a non-empty string")
    try:
        pattern = re.compile(pattern_text)
    except re.error as exc:
        raise bad(f"bad regular expression {pattern_text!r}: {exc}") from None
    event = raw.get("event")
    if event not in RULE_EVENTS:
        raise bad(f"unknown event {event!r}; expected one of {', '.join(RULE_EVENTS)}")
    prefix_groups = set(prefix.groupindex) if prefix else set()
    clash = prefix_groups & set(pattern.groupindex)
    if clash:
        raise bad(f"group(s) {', '.join(sorted(clash))} are already named in the prefix")
    try:
        full_pattern = (
            re.compile(_scoped(prefix.pattern) + _scoped(pattern_text)) if prefix else pattern
        )
    except re.error as exc:
        raise bad(f"pattern cannot follow the prefix: {exc}") from None
    groups = set(full_pattern.groupindex)
    for key in ("time_group", "gbcs_group"):
        value = raw.get(key)
        if value is not None and value not in groups:
            raise bad(
                f"{key} {value!r} is not a named group of the pattern "
                f"(groups: {', '.join(sorted(groups)) or 'none'})"
            )
    tables: dict[str, dict[str, Any]] = {}
    for key in ("rename", "fields", "types"):
        value = raw.get(key, {})
        if not isinstance(value, dict):
            raise bad(f"'{key}' must be a table")
        tables[key] = value
    for group, new_name in tables["rename"].items():
        if group not in groups:
            raise bad(f"rename: {group!r} is not a named group of the pattern")
        if not isinstance(new_name, str) or not new_name:
            raise bad(f"rename: the new name for {group!r} must be a non-empty string")
    for group, type_name in tables["types"].items():
        if group not in groups:
            raise bad(f"types: {group!r} is not a named group of the pattern")
        if type_name not in _CONVERTERS:
            raise bad(f"types: {group} has type {type_name!r}; expected int, float or str")
    return Rule(
        number=number,
        pattern=pattern,
        full_pattern=full_pattern,
        kind=RULE_EVENTS[event],
        time_group=raw.get("time_group"),
        gbcs_group=raw.get("gbcs_group"),
        rename=dict(tables["rename"]),
        constants=dict(tables["fields"]),
        types=dict(tables["types"]),
    )


@dataclass(frozen=True, slots=True)
class _Compiled:
    """A rule ready for the hot path: group indices into the matcher, field names, converters.

    ``time_at`` is the position of the time group's value among the values ``indices`` fetch.
    """

    rule: Rule
    kind: EventKind
    indices: tuple[int, ...]
    names: tuple[str, ...]
    converters: tuple[tuple[int, str, Any], ...]
    constants: Mapping[str, Any]
    time_at: int | None
    gbcs_index: int | None


class ProfileCodec:
    """Line framing plus a profile's rules (protocol ``profile:NAME``).

    Attributes:
        stats: frames = lines turned into events; errors = lines whose time, typed field or GBCS
            APDU could not be decoded (reported as ERROR events).
    """

    def __init__(self, profile: Profile, catalogue: AlertCatalogue | None = None) -> None:
        self.profile = profile
        self.catalogue = catalogue or default_catalogue()
        self._framer = LineFramer(profile.max_line_bytes)
        self.stats = self._framer.stats
        self._frames = 0
        self._matcher, self._by_index = _combine(profile)

    def reset(self) -> None:
        """Drop a partial line."""
        self._framer.reset()

    def feed(self, data: bytes) -> list[CodecEvent]:
        """Take bytes; return the events of the lines they complete."""
        events: list[CodecEvent] = []
        append = events.append
        decode_line = self.decode_line
        for line in self._framer.feed(data):
            event = decode_line(line.decode("utf-8", "replace"))
            if event is not None:
                append(event)
        self.stats.frames = self._frames
        return events

    def decode_line(self, text: str) -> CodecEvent | None:
        """Apply the rules to one line; None when it is unmatched and ignored."""
        match = self._matcher(text)
        if match is None:
            if self.profile.unmatched == "ignore":
                return None
            self._frames += 1
            return CodecEvent(EventKind.LOG, {"text": text})
        compiled = self._by_index[match.lastindex]
        values = match.group(*compiled.indices)
        # ``values`` may carry one padding entry more than ``names``.
        fields = dict(zip(compiled.names, values, strict=False))
        if None in values:
            # Optional groups that took no part are left out.
            fields = {name: value for name, value in fields.items() if value is not None}
        device_time = None
        try:
            for at, name, convert in compiled.converters:
                value = values[at]
                if value is not None:
                    try:
                        fields[name] = convert(value)
                    except ValueError:
                        raise ValueError(
                            f"field {name!r} holds {value!r}, which is not {convert.__name__}"
                        ) from None
            if compiled.time_at is not None:
                stamp = values[compiled.time_at]
                if stamp is not None:
                    device_time = self._parse_time(stamp, compiled.rule)
            if compiled.gbcs_index is not None:
                hex_text = match.group(compiled.gbcs_index)
                if hex_text is not None:
                    alert = decode_alert(hex_to_bytes(hex_text), self.catalogue)
                    fields.update(alert_fields(alert, self.catalogue))
                    device_time = alert.timestamp or device_time
        except GbcsError as exc:
            return self._error(f"rule {compiled.rule.number}: {exc.message}", text, exc.offset)
        except ValueError as exc:
            return self._error(f"rule {compiled.rule.number}: {exc}", text, None)
        if compiled.constants:
            fields.update(compiled.constants)
        if compiled.kind is EventKind.LOG:
            fields.setdefault("text", text)
        self._frames += 1
        return CodecEvent(compiled.kind, fields, device_time)

    def _parse_time(self, stamp: str, rule: Rule) -> datetime:
        fmt = self.profile.timestamp_format
        try:
            moment = datetime.strptime(stamp, fmt) if fmt else datetime.fromisoformat(stamp)
            if moment.tzinfo is UTC:
                return moment
        except ValueError:
            expected = f"the format {fmt!r}" if fmt else "ISO-8601"
            raise ValueError(
                f"time group {rule.time_group!r} holds {stamp!r}, which is not {expected}"
            ) from None
        # A device time without a zone is taken as UTC (GB devices log in UTC).
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)

    def _error(self, message: str, text: str, offset: int | None) -> CodecEvent:
        self.stats.errors += 1
        fields: dict[str, Any] = {"message": message, "text": text[:_ERROR_TEXT_CHARS]}
        if offset is not None:
            fields["offset"] = offset
        return CodecEvent(EventKind.ERROR, fields)


_GROUP_DEF = re.compile(r"(?<!\\)\(\?P<(\w+)>")
_GROUP_REF = re.compile(r"(?<!\\)\(\?P=(\w+)\)")
_GROUP_COND = re.compile(r"(?<!\\)\(\?\((\w+)\)")
_NUMBERED_REF = re.compile(r"\\[1-9]|\(\?\([1-9]")
_LEADING_FLAGS = re.compile(r"^\(\?([aiLmsux]+)\)")


def _scoped(body: str) -> str:
    """Make a pattern safe to embed: leading global flags ``(?i)`` become ``(?i:...)``."""
    flags = _LEADING_FLAGS.match(body)
    if flags:
        return f"(?{flags.group(1)}:{body[flags.end() :]})"
    return f"(?:{body})"


def _combine(profile: Profile) -> tuple[Any, dict[int, _Compiled]]:
    """Compile the prefix and all rules into one expression, else fall back to one per rule.

    Returns:
        A ``match(text)`` callable whose ``lastindex`` identifies the rule, and the map from that
        index to the compiled rule.
    """
    rules = list(profile.rules)
    prefix = profile.prefix
    patterns = [rule.pattern.pattern for rule in rules] + ([prefix.pattern] if prefix else [])
    if any(_NUMBERED_REF.search(text) for text in patterns):
        # Numbered back-references would point at other groups once the rules are combined.
        return _sequential(rules)
    parts = []
    for rule in rules:
        prefix_name = f"r{rule.number}_"
        body = rule.pattern.pattern
        body = _GROUP_DEF.sub(lambda m, p=prefix_name: f"(?P<{p}{m.group(1)}>", body)
        body = _GROUP_REF.sub(lambda m, p=prefix_name: f"(?P={p}{m.group(1)})", body)
        body = _GROUP_COND.sub(lambda m, p=prefix_name: f"(?({p}{m.group(1)})", body)
        parts.append(f"(?P<r{rule.number}>{_scoped(body)})")
    head = _scoped(prefix.pattern) if prefix else ""
    try:
        combined = re.compile(head + "(?:" + "|".join(parts) + ")")
        index = combined.groupindex
        table = {}
        for rule in rules:
            own = f"r{rule.number}_"
            lookup = {name: index[own + name] for name in rule.pattern.groupindex}
            if prefix:
                lookup.update({name: index[name] for name in prefix.groupindex})
            table[index[f"r{rule.number}"]] = _compile_rule(rule, lookup)
        # Every group accounted for (the prefix's, a wrapper per rule and the rules' own), else
        # the rewrite missed something and the rules are matched one by one instead.
        expected = (prefix.groups if prefix else 0) + sum(r.pattern.groups + 1 for r in rules)
        if combined.groups == expected:
            return combined.match, table
    except (re.error, KeyError):
        pass
    return _sequential(rules)


def _sequential(rules: list[Rule]) -> tuple[Any, dict[int, _Compiled]]:
    # One match per rule in order; the returned object mimics a match whose lastindex names the
    # rule, so the hot path is the same.
    table = {
        number: _compile_rule(rule, dict(rule.full_pattern.groupindex))
        for number, rule in enumerate(rules, start=1)
    }
    patterns = [(number, rule.full_pattern.match) for number, rule in enumerate(rules, start=1)]

    def match(text: str) -> _RuleMatch | None:
        for number, match_rule in patterns:
            found = match_rule(text)
            if found is not None:
                return _RuleMatch(found, number)
        return None

    return match, table


class _RuleMatch:
    """A match from one rule's own pattern, tagged with the rule's position."""

    __slots__ = ("_match", "lastindex")

    def __init__(self, match: re.Match[str], index: int) -> None:
        self._match = match
        self.lastindex = index

    def group(self, *indices: int) -> Any:
        return self._match.group(*indices)


def _compile_rule(rule: Rule, lookup: Mapping[str, int]) -> _Compiled:
    """Prepare a rule given where each of its group names (prefix included) sits in the match."""
    names = [n for n in rule.full_pattern.groupindex if n != rule.gbcs_group]
    indices = [lookup[n] for n in names]
    time_at = names.index(rule.time_group) if rule.time_group else None
    while len(indices) < 2:
        # match.group() with one index returns a bare value: always ask for a tuple. Index 0
        # (the whole match) pads it and is left out by ``names``.
        indices.append(0)
    return _Compiled(
        rule=rule,
        kind=rule.kind,
        indices=tuple(indices),
        names=tuple(rule.rename.get(n, n) for n in names),
        converters=tuple(
            (names.index(n), rule.rename.get(n, n), _CONVERTERS[t])
            for n, t in rule.types.items()
            if t != "str" and n in names
        ),
        constants=rule.constants,
        time_at=time_at,
        gbcs_index=lookup[rule.gbcs_group] if rule.gbcs_group else None,
    )
