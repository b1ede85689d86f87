"""Staff accounts in the lab store: names, roles, OS logins, password hashes, sign-in locks.

The repository stores what it is given; who may change an account, and the password rules, are
the account service's. Every change is written with its audit row in one transaction, and no audit
row holds a password or a hash. SQLAlchemy Core, on the workstation's SQLite file or the lab's
PostgreSQL server.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, insert, select, text, update
from sqlite_utils import Database

from app.domain.clock import Clock
from app.domain.errors import NotFoundError, ValidationError
from app.domain.principals import Role
from app.storage.audit import write_audit
from app.storage.labstore import LabStore, lab_store
from app.storage.tables import staff_accounts
from app.storage.timefmt import from_db, to_db

ENTITY = "staff_account"


@dataclass(frozen=True)
class StaffAccount:
    """A staff account as the rest of MeterLab sees it (never with its password hash).

    Attributes:
        login: the operating-system login the command line maps to this account, or None.
        created: when the account was added (aware UTC).
    """

    id: int
    name: str
    role: Role
    login: str | None
    disabled: bool
    created: datetime

    def to_dict(self) -> dict[str, object]:
        return {"id": self.id, "name": self.name, "role": self.role.value, "login": self.login,
                "disabled": self.disabled, "created": self.created}


@dataclass(frozen=True)
class Credentials:
    """What signing in needs of an account: its hash and its lock state."""

    account: StaffAccount
    password_hash: str
    failed_logins: int
    locked_until: datetime | None


#: The largest id the lab store holds (64-bit on both engines).
_MAX_ID = 2**63 - 1


def _account(row) -> StaffAccount:  # type: ignore[no-untyped-def]
    created = from_db(row["created_at"])
    assert created is not None
    return StaffAccount(id=row["id"], name=row["name"], role=Role(row["role"]),
                        login=row["login"], disabled=bool(row["disabled"]), created=created)


class AccountRepo:
    """Stores and loads staff accounts."""

    def __init__(self, db: Database | LabStore, clock: Clock) -> None:
        self.store = lab_store(db)
        self.clock = clock

    def _rows(self, *where, order=None) -> list:  # type: ignore[no-untyped-def]
        query = select(staff_accounts).where(*where)
        if order is not None:
            query = query.order_by(*order)
        with self.store.reading() as conn:
            return list(conn.execute(query).mappings().all())

    def _serialise(self, conn: Connection) -> None:
        """Make the rules checked in this transaction (the first account an admin, the last
        enabled admin kept) hold against another workstation changing accounts at the same
        moment. SQLite's write transaction already excludes every other writer; PostgreSQL locks
        the table against other account changes (reads go on) until the transaction ends."""
        if self.store.dialect == "postgresql":
            conn.execute(text("LOCK TABLE staff_accounts IN SHARE ROW EXCLUSIVE MODE"))

    def count(self) -> int:
        with self.store.reading() as conn:
            return int(conn.execute(select(func.count()).select_from(staff_accounts)).scalar_one())

    def add(self, name: str, role: Role, login: str | None, password_hash: str, actor: str,
            check: Callable[[int], None] | None = None) -> StaffAccount:
        """Insert an account and its audit row in one transaction.

        Args:
            check: called inside the transaction with the number of accounts already stored,
                before the insert, so that a rule about the first account holds against another
                process adding one at the same moment; it raises to refuse.

        Raises:
            ValidationError: the name (ignoring case) or the login is taken.
        """
        now = to_db(self.clock.now())
        with self.store.transaction() as conn:
            self._serialise(conn)
            if check is not None:
                check(self.count())
            taken = self._row_by_name(name)
            if taken is not None:
                raise ValidationError("name", f"A staff account named {taken['name']!r} already "
                                              f"exists (names are compared ignoring case).")
            if login is not None:
                holder = self._row_by_login(login)
                if holder is not None and not holder["disabled"]:
                    raise ValidationError("login", f"Login {login!r} is already mapped to the "
                                                   f"staff account {holder['name']!r}.")
            account_id = int(conn.execute(insert(staff_accounts).values(
                name=name, name_key=name.casefold(), role=role.value, login=login,
                password_hash=password_hash, disabled=0, failed_logins=0, locked_until=None,
                created_at=now, updated_at=now,
            )).inserted_primary_key[0])
            write_audit(conn, now, actor, "created", ENTITY, account_id,
                        {"name": name, "role": role.value, "login": login})
        return self.get(account_id)

    def get(self, account_id: int) -> StaffAccount:
        rows = self._rows(staff_accounts.c.id == account_id) if 0 <= account_id <= _MAX_ID else []
        if not rows:
            raise NotFoundError("name", f"There is no staff account with id {account_id}.")
        return _account(rows[0])

    def find(self, name: str) -> StaffAccount | None:
        row = self._row_by_name(name)
        return _account(row) if row else None

    def resolve(self, name: str) -> StaffAccount:
        """The account of that name (ignoring case).

        Raises:
            NotFoundError: field "name", listing the accounts there are.
        """
        account = self.find(name)
        if account is None:
            names = ", ".join(a.name for a in self.list()) or "none yet"
            raise NotFoundError("name", f"There is no staff account {name!r} (accounts: {names}).")
        return account

    def find_by_login(self, login: str) -> StaffAccount | None:
        row = self._row_by_login(login)
        return _account(row) if row else None

    def list(self) -> list[StaffAccount]:
        return [_account(r) for r in self._rows(order=[staff_accounts.c.name_key])]

    def count_enabled_admins(self) -> int:
        with self.store.reading() as conn:
            return int(conn.execute(
                select(func.count()).select_from(staff_accounts).where(
                    staff_accounts.c.role == Role.ADMIN.value, staff_accounts.c.disabled == 0)
            ).scalar_one())

    def credentials(self, name: str) -> Credentials | None:
        row = self._row_by_name(name)
        if row is None:
            return None
        return Credentials(_account(row), row["password_hash"], int(row["failed_logins"]),
                           from_db(row["locked_until"]))

    def _update(self, conn: Connection, account_id: int, **values: object) -> None:
        conn.execute(update(staff_accounts).where(staff_accounts.c.id == account_id)
                     .values(**values))

    def set_password_hash(self, account_id: int, password_hash: str, actor: str) -> None:
        """Store a new password's hash, clear any sign-in lock, and audit it (without the hash)."""
        now = to_db(self.clock.now())
        with self.store.transaction() as conn:
            account = self.get(account_id)
            self._update(conn, account_id, password_hash=password_hash, failed_logins=0,
                         locked_until=None, updated_at=now)
            write_audit(conn, now, actor, "password_changed", ENTITY, account_id,
                        {"name": account.name})

    def rehash(self, account_id: int, password_hash: str) -> None:
        """Replace a hash by one of the same password with stronger parameters (not audited:
        nothing a reader of the trail needs changed)."""
        with self.store.transaction() as conn:
            self._update(conn, account_id, password_hash=password_hash)

    def disable(self, account_id: int, actor: str,
                check: Callable[[StaffAccount], None] | None = None) -> StaffAccount:
        """Mark an account disabled and audit it.

        Args:
            check: called inside the transaction with the account before it changes; raises to
                refuse (e.g. the last enabled admin).
        """
        now = to_db(self.clock.now())
        with self.store.transaction() as conn:
            self._serialise(conn)
            account = self.get(account_id)
            if check is not None:
                check(account)
            if not account.disabled:
                self._update(conn, account_id, disabled=1, updated_at=now)
                write_audit(conn, now, actor, "disabled", ENTITY, account_id,
                            {"name": account.name})
        return self.get(account_id)

    def record_failure(self, account_id: int, max_failures: int,
                       lock_until: datetime) -> datetime | None:
        """Count one more wrong password in a row; at `max_failures` lock until `lock_until`.

        Counted and checked in one write transaction (the row stays locked until it ends), so
        attempts from two processes or workstations at once are all counted. The lock's end is
        stored (audited), not a start and length, so a changed lock length applies to the next
        lock only.

        Returns:
            the lock's end when this failure locked the account, else None.
        """
        with self.store.transaction() as conn:
            self._update(conn, account_id, failed_logins=staff_accounts.c.failed_logins + 1)
            failures = int(conn.execute(select(staff_accounts.c.failed_logins).where(
                staff_accounts.c.id == account_id)).scalar_one())
            if failures < max_failures:
                return None
            self._update(conn, account_id, failed_logins=0, locked_until=to_db(lock_until))
            account = self.get(account_id)
            write_audit(conn, to_db(self.clock.now()), account.name, "locked", ENTITY,
                        account_id, {"name": account.name, "until": to_db(lock_until),
                                     "reason": f"{failures} wrong passwords in a row"})
        return lock_until

    def record_success(self, account_id: int) -> None:
        with self.store.transaction() as conn:
            self._update(conn, account_id, failed_logins=0, locked_until=None)

    def _row_by_name(self, name: str):  # type: ignore[no-untyped-def]
        rows = self._rows(staff_accounts.c.name_key == name.casefold())
        return rows[0] if rows else None

    def _row_by_login(self, login: str):  # type: ignore[no-untyped-def]
        # The enabled account first: a disabled one may still carry the same login.
        rows = self._rows(staff_accounts.c.login == login,
                          order=[staff_accounts.c.disabled, staff_accounts.c.id])
        return rows[0] if rows else None
