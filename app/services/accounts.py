"""Staff accounts: adding, listing, passwords, disabling, signing in, and who the command line is.

Passwords are hashed with argon2 (argon2-cffi's PasswordHasher). The hash string carries the
parameters it was made with, so raising the hasher's parameters later needs no migration: a
stored hash still verifies, and is replaced by a stronger one the next time its owner signs in.
A password is never stored, logged or written to the audit trail; messages never quote it.

Until the first staff account exists the workstation acts as admin (:data:`WORKSTATION_ADMIN`),
so a new install or the demo needs no sign-in; the first account must therefore be an admin, or
nobody could manage accounts afterwards.
"""

from __future__ import annotations

import getpass
from datetime import datetime, timedelta

from argon2 import PasswordHasher, extract_parameters
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlite_utils import Database

from app.domain.bookings import Reason
from app.domain.clock import Clock
from app.domain.errors import RuleRefusal, ValidationError
from app.domain.parsing import LONDON, MAX_NAME_CHARS, check_text
from app.domain.principals import WORKSTATION_ADMIN, Action, Principal, Role, staff
from app.storage.accounts import AccountRepo, StaffAccount
from app.storage.labstore import LabStore

__all__ = [
    "LOCK_S",
    "MAX_FAILED_LOGINS",
    "MAX_PASSWORD_CHARS",
    "AccountLocked",
    "AccountService",
    "StaffAccount",
    "check_password",
    "cli_principal",
]

#: Wrong passwords in a row that lock an account.
MAX_FAILED_LOGINS = 5
#: How long a lock lasts.
LOCK_S = 60
#: Longest password accepted (argon2 takes any length; this bounds the work one attempt costs).
MAX_PASSWORD_CHARS = 1000

_STAFF_ROLES = (Role.ADMIN, Role.STAFF)


class AccountLocked(RuleRefusal):
    """Signing in is refused because of repeated wrong passwords; the message says until when.

    Attributes:
        message: one sentence naming the account and when it unlocks.
        until: when the lock ends (aware UTC).
    """

    def __init__(self, message: str, until: datetime | None = None) -> None:
        super().__init__([Reason("locked", message)])
        self.message = message
        self.until = until


def check_password(password: str) -> str:
    """Refuse an empty password, one over :data:`MAX_PASSWORD_CHARS`, or one with control
    characters (a pasted newline or tab is more likely a mistake than a choice).

    The messages never quote the password.

    Raises:
        ValidationError: field "password".
    """
    if not isinstance(password, str) or password == "":
        raise ValidationError("password", "The password must not be empty.")
    if len(password) > MAX_PASSWORD_CHARS:
        raise ValidationError("password", f"The password must be at most {MAX_PASSWORD_CHARS} "
                                          f"characters, not {len(password)}.")
    check_text(password, "password", MAX_PASSWORD_CHARS)
    return password


def _check_name(name: str) -> str:
    text = check_text(str(name), "name", MAX_NAME_CHARS).strip()
    if not text:
        raise ValidationError("name", "The staff account's name must not be empty.")
    return text


def _check_login(login: str | None) -> str | None:
    if login is None:
        return None
    text = check_text(str(login), "login", MAX_NAME_CHARS).strip()
    if not text:
        raise ValidationError("login", "The login must not be empty; leave it out for an account "
                                       "used only to sign in to the window.")
    return text


def _check_role(role: Role | str) -> Role:
    value = role.value if isinstance(role, Role) else str(role).strip().lower()
    if value not in {r.value for r in _STAFF_ROLES}:
        raise ValidationError("role", f"The role must be admin or staff, not {str(role)!r}.")
    return Role(value)


def _clock_time(moment: datetime) -> str:
    """A lock's end as the lab's wall-clock time, e.g. "10:01:00 GMT"."""
    return moment.astimezone(LONDON).strftime("%H:%M:%S %Z")


class AccountService:
    """Staff accounts and signing in.

    Args:
        db: the lab store.
        clock: what "now" is (locks are timed by it).
        hasher: the argon2 hasher (default: argon2-cffi's recommended parameters). Raising its
            parameters makes older hashes be replaced at their owner's next sign-in.
    """

    def __init__(self, db: Database | LabStore, clock: Clock,
                 hasher: PasswordHasher | None = None) -> None:
        self.repo = AccountRepo(db, clock)
        self.clock = clock
        self.hasher = hasher or PasswordHasher()
        self._dummy_hash: str | None = None

    def any_accounts(self) -> bool:
        """Whether a staff account exists (until one does, the workstation acts as admin)."""
        return self.repo.count() > 0

    def add(self, principal: Principal, name: str, role: Role | str, password: str,
            login: str | None = None) -> StaffAccount:
        """Add a staff account.

        Anyone may add the first account, which must be an admin; after that only a principal
        allowed to manage accounts (an admin) may.

        Raises:
            ValidationError: a bad name, role, login or password; a name or login taken; a first
                account that is not an admin.
            RuleRefusal: the principal may not manage accounts.
        """
        name = _check_name(name)
        role = _check_role(role)
        login = _check_login(login)
        check_password(password)

        def may_add(existing: int) -> None:
            if existing == 0:
                if role is not Role.ADMIN:
                    raise ValidationError(
                        "role", "The first staff account must be an admin: once it exists the "
                                "workstation no longer acts as admin, and only an admin can "
                                "manage accounts.")
                return
            principal.require(Action.ACCOUNTS, "manage staff accounts")

        if self.any_accounts():  # refuse before the costly hash; checked again when stored
            may_add(1)
        password_hash = self.hasher.hash(password)
        return self.repo.add(name, role, login, password_hash, principal.name, check=may_add)

    def list(self, principal: Principal) -> list[StaffAccount]:
        """Every staff account, by name (admins only)."""
        principal.require(Action.ACCOUNTS, "see the staff accounts")
        return self.repo.list()

    def get(self, principal: Principal, name: str) -> StaffAccount:
        """One account by name (ignoring case): admins any, staff their own."""
        account = self.repo.resolve(_check_name(name))
        if principal.account_id != account.id or principal.is_participant:
            principal.require(Action.ACCOUNTS, "see other staff accounts")
        return account

    def set_password(self, principal: Principal, name: str, password: str) -> None:
        """Set an account's password; it also lifts a sign-in lock.

        An admin may set anyone's; a staff account may set its own.

        Raises:
            NotFoundError: no such account.
            ValidationError: a bad password.
            RuleRefusal: the principal may not change this account.
        """
        account = self.repo.resolve(_check_name(name))
        if principal.is_participant or principal.account_id != account.id:
            principal.require(Action.ACCOUNTS, "change another staff account's password")
        check_password(password)
        self.repo.set_password_hash(account.id, self.hasher.hash(password), principal.name)

    def disable(self, principal: Principal, name: str) -> StaffAccount:
        """Disable an account: it can no longer sign in or act on the command line.

        Disabling an account already disabled changes nothing.

        Raises:
            NotFoundError: no such account.
            RuleRefusal: the principal may not manage accounts, or this is the last enabled admin
                (nobody could manage accounts afterwards).
        """
        principal.require(Action.ACCOUNTS, "manage staff accounts")
        account = self.repo.resolve(_check_name(name))

        def keeps_an_admin(current: StaffAccount) -> None:
            if (current.role is Role.ADMIN and not current.disabled
                    and self.repo.count_enabled_admins() <= 1):
                raise RuleRefusal([Reason(
                    "last_admin", f"{current.name} is the last enabled admin account; add "
                                  f"another admin before disabling it, or nobody could manage "
                                  f"accounts.")])

        return self.repo.disable(account.id, principal.name, check=keeps_an_admin)

    def verify(self, name: str, password: str) -> Principal | None:
        """Sign in: the account's principal when the password is right.

        Returns None for a wrong password, an unknown name or a disabled account (the caller
        cannot tell which). After :data:`MAX_FAILED_LOGINS` wrong passwords in a row the account is
        locked for :data:`LOCK_S` seconds: that attempt and every attempt until the lock ends raise
        :class:`AccountLocked`, even with the right password. A right password resets the count
        and, when the hasher's parameters were raised since, replaces the stored hash.

        Raises:
            AccountLocked: the account is locked; the message says until when.
        """
        if not isinstance(password, str) or not isinstance(name, str):
            return None
        creds = self.repo.credentials(name.strip())
        if creds is None or creds.account.disabled:
            self._spend_like_a_verify(password)
            return None
        account = creds.account
        now = self.clock.now()
        if creds.locked_until is not None and now < creds.locked_until:
            raise self._locked(account.name, creds.locked_until)
        try:
            self.hasher.verify(creds.password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return self._failed(account, now)
        self.repo.record_success(account.id)
        if self._weaker_than_current(creds.password_hash):
            self.repo.rehash(account.id, self.hasher.hash(password))
        return staff(account.name, account.role, account.id)

    def for_login(self, os_login: str) -> Principal | None:
        """The enabled staff account mapped to an operating-system login, or None."""
        account = self.repo.find_by_login(os_login)
        if account is None or account.disabled:
            return None
        return staff(account.name, account.role, account.id)

    def _weaker_than_current(self, password_hash: str) -> bool:
        """Whether a stored hash was made with weaker parameters than the hasher's.

        Only weaker ones are replaced: a workstation still on older parameters must not weaken a
        hash another one strengthened.
        """
        if not self.hasher.check_needs_rehash(password_hash):
            return False
        stored, current = extract_parameters(password_hash), self.hasher
        return (stored.type is not current.type or stored.time_cost < current.time_cost
                or stored.memory_cost < current.memory_cost
                or stored.hash_len < current.hash_len or stored.salt_len < current.salt_len)

    def _failed(self, account: StaffAccount, now: datetime) -> None:
        until = self.repo.record_failure(account.id, MAX_FAILED_LOGINS,
                                         now + timedelta(seconds=LOCK_S))
        if until is not None:
            raise self._locked(account.name, until)

    @staticmethod
    def _locked(name: str, until: datetime) -> AccountLocked:
        return AccountLocked(
            f"The staff account {name} is locked after {MAX_FAILED_LOGINS} wrong passwords in a "
            f"row; try again at {_clock_time(until)} (locks last {LOCK_S} s).", until)

    def _spend_like_a_verify(self, password: str) -> None:
        # An unknown or disabled name costs as much time as a wrong password, so the time taken
        # does not tell which names exist.
        if self._dummy_hash is None:
            self._dummy_hash = self.hasher.hash("not a password of any account")
        try:
            self.hasher.verify(self._dummy_hash, password)
        except VerificationError:
            pass


def cli_principal(db: Database | LabStore, clock: Clock,
                  os_login: str | None = None) -> Principal:
    """Who the command line acts as.

    With no staff account yet, the workstation (admin). Otherwise the enabled staff account mapped
    to the operating-system login (default: the current login).

    Raises:
        RuleRefusal: no enabled staff account is mapped to the login (exit 3).
    """
    service = AccountService(db, clock)
    if not service.any_accounts():
        return WORKSTATION_ADMIN
    if os_login is None:
        try:
            os_login = getpass.getuser()
        except (KeyError, OSError):
            os_login = ""
    principal = service.for_login(os_login) if os_login else None
    if principal is not None:
        return principal
    mapped = service.repo.find_by_login(os_login) if os_login else None
    if mapped is not None:
        raise RuleRefusal([Reason("account_disabled", (
            f"The MeterLab staff account {mapped.name} mapped to login {os_login} is disabled; "
            f"an admin can add another account for that login."))])
    raise RuleRefusal([Reason("no_account", (
        f"No MeterLab staff account is mapped to login {os_login or '(unknown)'}; an admin can "
        f"add one for that login."))])
