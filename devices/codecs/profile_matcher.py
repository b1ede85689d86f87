"""Compile a line profile's rules into one matcher (the hot path of :mod:`.profiles`).

The prefix and every rule become one regular expression: the prefix once, then an alternation
with one wrapper group per rule, the rules' own group names made unique. ``match.lastindex`` is
the wrapper of the rule that matched (the outermost group closes last). If the rewrite cannot be
trusted (numbered back-references, a group count that does not add up) the rules are matched one
by one instead, through the same interface.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from app.domain.events import CodecEvent, EventKind

if TYPE_CHECKING:
    from devices.codecs.profiles import Profile, Rule

#: Conversions a rule's ``types`` table may ask for.
CONVERTERS: dict[str, Any] = {"int": int, "float": float, "str": str}


@dataclass(frozen=True, slots=True)
class Compiled:
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


#: Builds the event of a matched line: ``(match, text) -> event`` (None: the line is dropped).
Handler = Callable[[Any, str], "CodecEvent | None"]


def fast_handler(
    compiled: Compiled, parse_time: Callable[[str], datetime], general: Handler
) -> Handler:
    """A handler for the common case of a rule, handing every other case to ``general``.

    The common case is a line whose groups all took part and whose typed fields and time convert
    cleanly; the handler then builds exactly the event ``general`` would, with no per-line loops
    or checks for what the rule does not use. Optional groups left out, a value that does not
    convert and rules with a GBCS group go to ``general``, which also words the error events.

    Args:
        compiled: the rule.
        parse_time: device time from the time group's text; raises ValueError when it cannot.
        general: the full decoding of a matched line (the reference behaviour).
    """
    if compiled.gbcs_index is not None:
        return general
    indices = compiled.indices
    names = compiled.names
    converters = compiled.converters
    constants = dict(compiled.constants)
    time_at = compiled.time_at
    kind = compiled.kind
    is_log = kind is EventKind.LOG
    if not converters and time_at is not None and not is_log:
        # The shape of most rules (a status or reading line stamped with the log time): kept
        # free of the branches below.

        def stamped(match: Any, text: str) -> CodecEvent | None:
            values = match.group(*indices)
            if None in values:
                return general(match, text)
            fields = dict(zip(names, values, strict=False))
            try:
                device_time = parse_time(values[time_at])
            except ValueError:
                return general(match, text)
            if constants:
                fields.update(constants)
            return CodecEvent(kind, fields, device_time)

        return stamped

    def handle(match: Any, text: str) -> CodecEvent | None:
        values = match.group(*indices)
        if None in values:
            return general(match, text)
        fields = dict(zip(names, values, strict=False))
        try:
            for at, name, convert in converters:
                fields[name] = convert(values[at])
            device_time = None if time_at is None else parse_time(values[time_at])
        except ValueError:
            return general(match, text)
        if constants:
            fields.update(constants)
        if is_log:
            fields.setdefault("text", text)
        return CodecEvent(kind, fields, device_time)

    return handle


_GROUP_DEF = re.compile(r"(?<!\\)\(\?P<(\w+)>")
_GROUP_REF = re.compile(r"(?<!\\)\(\?P=(\w+)\)")
_GROUP_COND = re.compile(r"(?<!\\)\(\?\((\w+)\)")
_NUMBERED_REF = re.compile(r"\\[1-9]|\(\?\([1-9]")
_LEADING_FLAGS = re.compile(r"^\(\?([aiLmsux]+)\)")


def scoped(body: str) -> str:
    """Make a pattern safe to embed: leading global flags ``(?i)`` become ``(?i:...)``."""
    flags = _LEADING_FLAGS.match(body)
    if flags:
        return f"(?{flags.group(1)}:{body[flags.end() :]})"
    return f"(?:{body})"


def combine(profile: Profile) -> tuple[Any, dict[int, Compiled]]:
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
        parts.append(f"(?P<r{rule.number}>{scoped(body)})")
    head = scoped(prefix.pattern) if prefix else ""
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


def _sequential(rules: list[Rule]) -> tuple[Any, dict[int, Compiled]]:
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


def _compile_rule(rule: Rule, lookup: Mapping[str, int]) -> Compiled:
    """Prepare a rule given where each of its group names (prefix included) sits in the match."""
    names = [n for n in rule.full_pattern.groupindex if n != rule.gbcs_group]
    indices = [lookup[n] for n in names]
    time_at = names.index(rule.time_group) if rule.time_group else None
    while len(indices) < 2:
        # match.group() with one index returns a bare value: always ask for a tuple. Index 0
        # (the whole match) pads it and is left out by ``names``.
        indices.append(0)
    return Compiled(
        rule=rule,
        kind=rule.kind,
        indices=tuple(indices),
        names=tuple(rule.rename.get(n, n) for n in names),
        converters=tuple(
            (names.index(n), rule.rename.get(n, n), CONVERTERS[t])
            for n, t in rule.types.items()
            if t != "str" and n in names
        ),
        constants=rule.constants,
        time_at=time_at,
        gbcs_index=lookup[rule.gbcs_group] if rule.gbcs_group else None,
    )
