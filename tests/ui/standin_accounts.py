"""A stand-in for the staff account service in UI tests: fixed names and passwords in memory,
locking an account after a set number of failures, raising its own "locked" error."""

from __future__ import annotations

from app.domain.principals import Principal, Role, staff


class StandInAccountLocked(Exception):
    """What the stand-in raises for a locked account."""


class StandInAccounts:
    def __init__(self, accounts: dict[str, tuple[str, Role]], lock_after: int = 5) -> None:
        self.accounts = accounts
        self.lock_after = lock_after
        self.failures: dict[str, int] = {}
        self.calls: list[str] = []

    def verify(self, name: str, password: str) -> Principal | None:
        self.calls.append(name)
        if self.failures.get(name, 0) >= self.lock_after:
            raise StandInAccountLocked(f"The account {name} is locked for a minute after "
                                       f"{self.lock_after} failed attempts.")
        held = self.accounts.get(name)
        if held is None or held[0] != password:
            self.failures[name] = self.failures.get(name, 0) + 1
            return None
        self.failures.pop(name, None)
        return staff(name, held[1])
