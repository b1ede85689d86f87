"""Errors the domain raises for input a person got wrong."""

from __future__ import annotations


class ValidationError(ValueError):
    """Bad input: one clear sentence naming the field and what was expected.

    Attributes:
        field: the name of the field (or command-line option) at fault.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class NotFoundError(LookupError):
    """A named thing (lab, organisation, person, booking) does not exist."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class RuleRefusal(Exception):
    """A request broke one or more lab rules (see :class:`app.domain.bookings.Reason`)."""

    def __init__(self, reasons: list) -> None:
        super().__init__("; ".join(r.message for r in reasons))
        self.reasons = reasons
