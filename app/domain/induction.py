"""The lab induction's content and checking a participant's answers and signature.

The content is data the lab edits (a TOML file, see ``resources/induction/default.toml``):
sections, each with a text and one multiple-choice question that must be answered right before
the participant goes on. The section of kind ``visit`` is filled from the participant's booking
(its lab, benches and devices).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from app.domain.errors import ValidationError

MAX_SECTIONS = 20
MAX_CHOICES = 5
MAX_TEXT_CHARS = 4_000
MAX_LINE_CHARS = 300
#: How long an induction stays valid when the lab sets nothing else.
DEFAULT_VALIDITY_MONTHS = 12
#: the section kinds: ordinary text, or the visit filled from the booking
KINDS = ("text", "visit")
_TOP_KEYS = ("title", "version", "sections")
_SECTION_KEYS = ("key", "kind", "title", "text", "question", "choices", "answer", "why")
_KEY_RE = re.compile(r"[a-z0-9_-]+")
_PLACEHOLDERS = ("lab", "booking", "benches", "devices")


@dataclass(frozen=True)
class Question:
    """A multiple-choice question.

    Attributes:
        prompt: the question.
        choices: the possible answers, in the order shown.
        answer: index (0-based) of the right choice.
        why: shown when a wrong choice is given.
    """

    prompt: str
    choices: tuple[str, ...]
    answer: int
    why: str


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    text: str
    question: Question
    kind: str = "text"


@dataclass(frozen=True)
class AnswerCheck:
    """The result of checking one answer: right, or the sentence saying why not."""

    correct: bool
    message: str


@dataclass(frozen=True)
class InductionContent:
    """An induction's content as loaded from its file.

    Attributes:
        version: the version the lab gave the content.
        sha256: of the file's bytes (what a recorded induction keeps).
        source: ``builtin:default`` or the file's path.
    """

    title: str
    version: str
    sections: tuple[Section, ...]
    sha256: str
    source: str

    def section(self, key: str) -> Section:
        for s in self.sections:
            if s.key == key:
                return s
        raise KeyError(key)


@dataclass(frozen=True)
class VisitDetails:
    """What the visit section names, from the participant's booking."""

    lab: str
    booking: str = "none checked in today"
    benches: str = "as lab staff direct"
    devices: str = "as lab staff direct"


def check_answer(section: Section, choice: int | None) -> AnswerCheck:
    """Whether `choice` (0-based; None: nothing chosen) answers the section's question."""
    q = section.question
    if choice is None:
        return AnswerCheck(False, "Choose an answer to go on.")
    if not 0 <= choice < len(q.choices):
        return AnswerCheck(False, f"Choose one of the {len(q.choices)} answers.")
    if choice == q.answer:
        return AnswerCheck(True, "Right.")
    return AnswerCheck(False, f"Not quite. {q.why}")


def normalise_name(name: str) -> str:
    return " ".join(name.split()).casefold()


def check_signature(typed: str, person_name: str, field: str = "signature") -> str:
    """The typed full name, trimmed, when it matches the person's name (ignoring case and extra
    spaces).

    Raises:
        ValidationError: the name is empty or is not the person's.
    """
    text = " ".join(typed.split())
    if not text:
        raise ValidationError(field, "Type your full name to sign.")
    if normalise_name(text) != normalise_name(person_name):
        raise ValidationError(field, f"The signature must be the participant's full name as "
                                     f"registered ({person_name}), not {text!r}.")
    return text


def fill_visit(content: InductionContent, visit: VisitDetails) -> InductionContent:
    """The content with the visit section's placeholders filled from `visit`."""
    values = {"lab": visit.lab, "booking": visit.booking, "benches": visit.benches,
              "devices": visit.devices}
    sections = []
    for s in content.sections:
        if s.kind == "visit":
            text = s.text
            for name in _PLACEHOLDERS:
                text = text.replace("{" + name + "}", values[name])
            s = replace(s, text=text)
        sections.append(s)
    return replace(content, sections=tuple(sections))


def _text(value: Any, where: str, what: str, limit: int = MAX_LINE_CHARS) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError("induction", f"{where}: {what} must be non-empty text.")
    if len(value) > limit:
        raise ValidationError("induction", f"{where}: {what} is longer than {limit} characters.")
    return value.strip()


def _unknown(data: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
    for key in data:
        if key not in allowed:
            raise ValidationError("induction", f"{where}: unknown key {key!r} (expected one of "
                                               f"{', '.join(allowed)}).")


def _section(data: Any, number: int, where: str) -> Section:
    if not isinstance(data, Mapping):
        raise ValidationError("induction", f"{where}: section {number} must be a table.")
    _unknown(data, _SECTION_KEYS, f"{where}: section {number}")
    title = _text(data.get("title"), f"{where}: section {number}", "title")
    here = f"{where}: section {number} ({title})"
    key = _text(data.get("key"), here, "key")
    if not _KEY_RE.fullmatch(key):
        raise ValidationError("induction", f"{here}: key must be lower-case letters, digits, "
                                           f"'-' or '_', not {key!r}.")
    kind = data.get("kind", "text")
    if kind not in KINDS:
        raise ValidationError("induction", f"{here}: kind must be one of {', '.join(KINDS)}, "
                                           f"not {kind!r}.")
    choices = data.get("choices")
    if (not isinstance(choices, list) or not 2 <= len(choices) <= MAX_CHOICES):
        raise ValidationError("induction", f"{here}: choices must be a list of 2 to "
                                           f"{MAX_CHOICES} answers.")
    answer = data.get("answer")
    if isinstance(answer, bool) or not isinstance(answer, int) or not 1 <= answer <= len(choices):
        raise ValidationError("induction", f"{here}: answer must be the number (1 to "
                                           f"{len(choices)}) of the right choice, not {answer!r}.")
    question = Question(
        prompt=_text(data.get("question"), here, "question"),
        choices=tuple(_text(c, here, f"choice {i}") for i, c in enumerate(choices, start=1)),
        answer=answer - 1,
        why=_text(data.get("why"), here, "why"),
    )
    return Section(key=key, title=title, text=_text(data.get("text"), here, "text", MAX_TEXT_CHARS),
                   question=question, kind=kind)


def parse_content(data: Mapping[str, Any], raw: bytes, source: str) -> InductionContent:
    """Check an induction file's parsed TOML; its SHA-256 is that of `raw`, the file's bytes.

    Raises:
        ValidationError: (field "induction") one sentence naming the file, the section and what
            is wrong.
    """
    _unknown(data, _TOP_KEYS, source)
    title = _text(data.get("title", "Lab induction"), source, "title")
    version = _text(data.get("version"), source, "version")
    sections_data = data.get("sections")
    if not isinstance(sections_data, list) or not 1 <= len(sections_data) <= MAX_SECTIONS:
        raise ValidationError("induction", f"{source}: sections must hold 1 to {MAX_SECTIONS} "
                                           f"[[sections]] tables.")
    sections = tuple(_section(s, i, source) for i, s in enumerate(sections_data, start=1))
    keys = [s.key for s in sections]
    for key in keys:
        if keys.count(key) > 1:
            raise ValidationError("induction", f"{source}: section key {key!r} is used twice.")
    return InductionContent(title=title, version=version, sections=sections,
                            sha256=hashlib.sha256(raw).hexdigest(), source=source)
