"""Compile a line profile's rules into one matcher (the hot path of :mod:`.profiles`).

The prefix and every rule become one regular expression: the prefix once, then an alternation
with one wrapper group per rule, the rules' own group names made unique. ``match.lastindex`` is
the wrapper of the rule that matched (the outermost group closes last). If the rewrite cannot be
trusted (numbered back-references, a group count that does not add up) the rules are matched one
by one instead, through the same interface.

The sre engine tests the alternation's branches in C, cheaply rejecting those whose literal text
does not follow the prefix, so picking a rule by a key computed in Python first is no faster. The
per-line cost left is in Python: :func:`fast_handler` keeps it to a minimum.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
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
    compiled: Compiled, parse_time: Callable[[str], datetime] | None, general: Handler
) -> Handler:
    """A handler for the common case of a rule, handing every other case to ``general``.

    The common case is a line whose groups all took part and whose typed fields and time convert
    cleanly. For it the handler is straight-line code written for the rule (as
    :mod:`dataclasses` writes ``__init__``): one ``match.group`` call, the conversions, and the
    fields as one dict display, which builds exactly the dict ``general`` builds step by step.
    Optional groups left out, a value that does not convert and rules with a GBCS group go to
    ``general``, which also words the error events.

    Only generated names, integers and ``repr`` of strings enter the source; constant field
    values are passed in by reference, so events share them as ``general``'s do.

    Args:
        compiled: the rule.
        parse_time: device time from the time group's text, raising ValueError when it cannot;
            None for ISO-8601, which is parsed inline.
        general: the full decoding of a matched line (the reference behaviour).
    """
    names = compiled.names
    if compiled.gbcs_index is not None or len(set(names)) != len(names):
        # Two groups renamed to one field: the step-by-step order decides which value stays.
        return general
    values = [f"v{at}" for at in range(len(compiled.indices))]
    shown = values[: len(names)]
    checked = []  # the conversions that may raise ValueError
    for at, _name, _convert in compiled.converters:
        checked.append(f"c{at} = convert{at}(v{at})")
        shown[at] = f"c{at}"
    time_expr = "None"
    if compiled.time_at is not None:
        # The time is read from the group's text (``v``), not from its converted value.
        stamp = f"v{compiled.time_at}"
        if parse_time is None:
            checked += [
                f"device_time = fromisoformat({stamp})",
                "if device_time.tzinfo is not UTC:",
                "    device_time = as_utc(device_time)",
            ]
        else:
            checked.append(f"device_time = parse_time({stamp})")
        time_expr = "device_time"
    body = [
        f"values = match.group({', '.join(map(str, compiled.indices))})",
        "if None in values:",
        "    return general(match, text)",
        f"{', '.join(values)}, = values",
    ]
    if checked:
        body += ["try:", *("    " + line for line in checked)]
        body += ["except ValueError:", "    return general(match, text)"]
    items = [f"{name!r}: {value}" for name, value in zip(names, shown, strict=False)]
    namespace: dict[str, Any] = {
        "general": general,
        "CodecEvent": CodecEvent,
        "kind": compiled.kind,
        "parse_time": parse_time,
        "fromisoformat": datetime.fromisoformat,
        "UTC": UTC,
        "as_utc": as_utc,
    }
    for at, _name, convert in compiled.converters:
        namespace[f"convert{at}"] = convert
    for number, (key, value) in enumerate(compiled.constants.items()):
        namespace[f"constant{number}"] = value
        items.append(f"{key!r}: constant{number}")
    if compiled.kind is EventKind.LOG and "text" not in names and "text" not in compiled.constants:
        items.append("'text': text")
    body.append(f"return CodecEvent(kind, {{{', '.join(items)}}}, {time_expr})")
    source = "def handle(match, text):\n" + "".join(f"    {line}\n" for line in body)
    exec(compile(source, f"<profile rule {compiled.rule.number}>", "exec"), namespace)
    return namespace["handle"]


def as_utc(moment: datetime) -> datetime:
    """A device time in UTC; one without a zone is taken as UTC (GB devices log in UTC)."""
    if moment.tzinfo is UTC:
        return moment
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        # e.g. 0001-01-01T00:00+01:00: a bad device time, reported like any other.
        raise ValueError(f"{moment.isoformat()} is out of range in UTC") from None


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
