"""Ways to answer a run's prompts: scripted (``--answer``), nobody, or a person through a queue.

Every one implements :class:`~app.services.runs.api.Prompt`: ``ask`` returns a future at once; a
None answer means nobody can answer (the step ends ERROR "no operator answer"). The executor
cancels the future when the step's time limit (real seconds) passes or the run is aborted.
"""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Callable, Mapping
from typing import Protocol

from app.domain.errors import ValidationError
from app.services.runs.api import PromptAnswer, PromptRequest

AnswerFuture = concurrent.futures.Future[PromptAnswer | None]


class PromptListener(Protocol):
    """Told of the questions of a :class:`QueuePrompt` (from any thread; must return at once)."""

    def asked(self, request: PromptRequest) -> None:
        """A question now waits for an answer."""

    def settled(self, request: PromptRequest) -> None:
        """The question no longer waits: answered (here or elsewhere), timed out or aborted."""


def parse_answer(text: str, where: str = "answer") -> PromptAnswer:
    """``pass``, ``fail`` or either with ``:note`` (``fail:no message shown``).

    Raises:
        ValidationError: anything else, in one sentence naming `where`.
    """
    verdict, _, note = str(text).partition(":")
    word = verdict.strip().lower()
    if word not in ("pass", "fail"):
        raise ValidationError(where, f"{where} must be pass or fail, optionally with :note "
                                     f"(e.g. fail:no message shown), not {text!r}.")
    return PromptAnswer(word == "pass", note.strip())


def parse_step_answer(text: str) -> tuple[str, PromptAnswer]:
    """``STEP=pass|fail[:note]`` (the command line's ``--answer``) as (step name, answer)."""
    step, sep, answer = str(text).partition("=")
    if not sep or not step.strip():
        raise ValidationError("answer", f"--answer must be STEP=pass or STEP=fail[:note], not "
                                        f"{text!r}.")
    return step.strip(), parse_answer(answer, f"--answer for {step.strip()}")


def _resolved(answer: PromptAnswer | None) -> AnswerFuture:
    future: AnswerFuture = concurrent.futures.Future()
    future.set_result(answer)
    return future


class ScriptedPrompt:
    """Answers given in advance by step name (the command line's ``--answer``); a prompt with
    no scripted answer is answered by `fallback` (default: nobody)."""

    def __init__(self, answers: Mapping[str, PromptAnswer],
                 fallback: Callable[[PromptRequest], AnswerFuture] | None = None) -> None:
        self.answers = dict(answers)
        self.fallback = fallback
        self.asked: list[PromptRequest] = []

    def ask(self, request: PromptRequest) -> AnswerFuture:
        self.asked.append(request)
        if request.step_name in self.answers:
            return _resolved(self.answers[request.step_name])
        if self.fallback is not None:
            return self.fallback(request)
        return _resolved(None)


class NoAnswerPrompt:
    """Nobody to ask: every prompt is answered None (the step ends ERROR "no operator answer")."""

    def ask(self, request: PromptRequest) -> AnswerFuture:
        return _resolved(None)


class QueuePrompt:
    """Prompts waiting for a person (the Runs page, a terminal): ``ask`` returns an open future
    that :meth:`answer` resolves, from any thread.

    Args:
        on_asked: told of each new request (any thread: the executor's); must return at once.
    """

    def __init__(self, on_asked: Callable[[PromptRequest], None] | None = None) -> None:
        self.on_asked = on_asked
        self._lock = threading.Lock()
        self._open: dict[PromptRequest, AnswerFuture] = {}
        self._listeners: list[PromptListener] = []

    def listen(self, listener: PromptListener) -> Callable[[], None]:
        """Tell `listener` of every question asked and settled from now on (any thread; it must
        return at once). Returns the call that stops it."""
        with self._lock:
            self._listeners.append(listener)

        def stop() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)
        return stop

    def _each_listener(self) -> list[PromptListener]:
        with self._lock:
            return list(self._listeners)

    def ask(self, request: PromptRequest) -> AnswerFuture:
        future: AnswerFuture = concurrent.futures.Future()
        with self._lock:
            self._open[request] = future
        future.add_done_callback(lambda _f: self._forget(request, future))
        if self.on_asked is not None:
            self.on_asked(request)
        for listener in self._each_listener():
            listener.asked(request)
        return future

    def _forget(self, request: PromptRequest, future: AnswerFuture) -> None:
        with self._lock:
            if self._open.get(request) is future:
                del self._open[request]
        for listener in self._each_listener():
            listener.settled(request)

    def pending(self) -> list[PromptRequest]:
        """The questions still waiting for an answer, oldest first."""
        with self._lock:
            return list(self._open)

    def answer(self, request: PromptRequest, answer: PromptAnswer | None) -> bool:
        """Answer a waiting question; False when it is no longer waiting (answered, timed out,
        run aborted)."""
        with self._lock:
            future = self._open.get(request)
        if future is None:
            return False
        try:
            future.set_result(answer)
        except concurrent.futures.InvalidStateError:
            return False
        return True
