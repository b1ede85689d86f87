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
matched only once; each rule's common case (every group present, values that convert) then runs
straight-line code written for that rule, and everything else takes the general path that words
the error events (see :mod:`.profile_matcher`). A chunk's lines are decoded from UTF-8 in one
call.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from app.domain.events import CodecEvent, EventKind
from devices.codecs.alert_catalogue import AlertCatalogue, default_catalogue
from devices.codecs.base import CodecError
from devices.codecs.gbcs import decode_alert, hex_to_bytes
from devices.codecs.gbcs_codec import alert_fields
from devices.codecs.lines import LineFramer
from devices.codecs.profile_matcher import CONVERTERS, as_utc, combine, fast_handler, scoped

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
_TIME_CACHE_ENTRIES = 4096


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
            re.compile(scoped(prefix.pattern) + scoped(pattern_text)) if prefix else pattern
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
        if type_name not in CONVERTERS:
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
        self._log_unmatched = profile.unmatched == "log"
        # Device times already parsed with the profile's strptime format, by text (bounded).
        self._time_cache: dict[str, datetime] = {}
        self._matcher, self._by_index = combine(profile)
        parse_time = self._strptime_utc if profile.timestamp_format else None
        self._handlers = {
            index: fast_handler(compiled, parse_time, self._decode_match)
            for index, compiled in self._by_index.items()
        }

    def reset(self) -> None:
        """Drop a partial line."""
        self._framer.reset()

    def feed(self, data: bytes) -> list[CodecEvent]:
        """Take bytes; return the events of the lines they complete."""
        lines = self._framer.feed(data)
        if not lines:
            self.stats.frames = self._frames
            return []
        # One decode for the whole batch. Framed lines hold no CR or LF, and a UTF-8 decoder
        # never lets an invalid sequence run over an ASCII byte, so each line comes out exactly
        # as if it had been decoded on its own (replacement characters included).
        texts = b"\n".join(lines).decode("utf-8", "replace").split("\n")
        stats = self.stats
        errors_before = stats.errors
        events: list[CodecEvent] = []
        append = events.append
        match_line = self._matcher
        handlers = self._handlers
        log_unmatched = self._log_unmatched
        log_kind = EventKind.LOG
        for text in texts:
            match = match_line(text)
            if match is None:
                if log_unmatched:
                    append(CodecEvent(log_kind, {"text": text}))
                continue
            event = handlers[match.lastindex](match, text)
            if event is not None:
                append(event)
        # Every event but an error event is a frame.
        self._frames += len(events) - (stats.errors - errors_before)
        stats.frames = self._frames
        return events

    def decode_line(self, text: str) -> CodecEvent | None:
        """Apply the rules to one line; None when it is unmatched and ignored."""
        match = self._matcher(text)
        if match is None:
            if not self._log_unmatched:
                return None
            self._frames += 1
            return CodecEvent(EventKind.LOG, {"text": text})
        event = self._decode_match(match, text)
        if event.kind is not EventKind.ERROR:
            self._frames += 1
        return event

    def _decode_match(self, match: Any, text: str) -> CodecEvent:
        """The event of a line the rules matched: every case, errors included."""
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
        except CodecError as exc:
            return self._error(f"rule {compiled.rule.number}: {exc.message}", text, exc.offset)
        except ValueError as exc:
            return self._error(f"rule {compiled.rule.number}: {exc}", text, None)
        if compiled.constants:
            fields.update(compiled.constants)
        if compiled.kind is EventKind.LOG:
            fields.setdefault("text", text)
        return CodecEvent(compiled.kind, fields, device_time)

    def _parse_time(self, stamp: str, rule: Rule) -> datetime:
        fmt = self.profile.timestamp_format
        try:
            return self._strptime_utc(stamp) if fmt else _iso_utc(stamp)
        except ValueError:
            expected = f"the format {fmt!r}" if fmt else "ISO-8601"
            raise ValueError(
                f"time group {rule.time_group!r} holds {stamp!r}, which is not {expected}"
            ) from None

    def _strptime_utc(self, stamp: str) -> datetime:
        # strptime is slow and a log repeats each second's stamp on many lines: remember them.
        cache = self._time_cache
        moment = cache.get(stamp)
        if moment is None:
            moment = as_utc(datetime.strptime(stamp, self.profile.timestamp_format or ""))
            if len(cache) >= _TIME_CACHE_ENTRIES:
                cache.clear()
            cache[stamp] = moment
        return moment

    def _error(self, message: str, text: str, offset: int | None) -> CodecEvent:
        self.stats.errors += 1
        fields: dict[str, Any] = {"message": message, "text": text[:_ERROR_TEXT_CHARS]}
        if offset is not None:
            fields["offset"] = offset
        return CodecEvent(EventKind.ERROR, fields)


def _iso_utc(stamp: str) -> datetime:
    """An ISO-8601 device time as UTC; raises ValueError when it is not ISO-8601."""
    return as_utc(datetime.fromisoformat(stamp))
