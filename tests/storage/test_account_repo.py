"""AccountRepo on a real SQLite file and on PostgreSQL: round trips, unique names and logins, the
audit trail without hashes, failure counting, atomic changes and rules checked against another
workstation changing accounts at the same moment."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from app.domain.clock import FixedClock
from app.domain.errors import NotFoundError, RuleRefusal, ValidationError
from app.domain.principals import Role
from app.storage.accounts import AccountRepo
from tests.storage.engines import engine  # noqa: F401 (a fixture: every test on both engines)

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
HASH = "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo"


@pytest.fixture
def db(engine):  # noqa: F811
    return engine


@pytest.fixture
def repo(db) -> AccountRepo:
    return AccountRepo(db.source, FixedClock(NOW))


def test_round_trip_lookups_and_listing(db, repo) -> None:
    assert repo.count() == 0 and repo.list() == []
    ada = repo.add("Ada", Role.ADMIN, "ada", HASH, "setup")
    bob = repo.add("bob", Role.STAFF, None, HASH, "ada")
    assert (ada.name, ada.role, ada.login, ada.disabled, ada.created) == (
        "Ada", Role.ADMIN, "ada", False, NOW)
    assert repo.get(ada.id) == ada and repo.find("ADA") == ada and repo.resolve("ada") == ada
    assert repo.find_by_login("ada") == ada and repo.find_by_login("bob") is None
    assert [a.name for a in repo.list()] == ["Ada", "bob"] and repo.count() == 2
    assert repo.count_enabled_admins() == 1
    creds = repo.credentials("Ada")
    assert creds is not None and creds.password_hash == HASH and creds.failed_logins == 0
    assert creds.locked_until is None and repo.credentials("nobody") is None
    with pytest.raises(NotFoundError, match="accounts: Ada, bob"):
        repo.resolve("carol")
    for missing in (bob.id + 100, 2**70):
        with pytest.raises(NotFoundError):
            repo.get(missing)
    rows = db.sql("SELECT actor, action, entity, entity_id, details_json FROM audit ORDER BY id")
    assert [r[:4] for r in rows] == [("setup", "created", "staff_account", ada.id),
                                     ("ada", "created", "staff_account", bob.id)]
    assert all(HASH not in r[4] for r in rows)


def test_names_ignore_case_and_an_enabled_login_is_held_once(db, repo) -> None:
    ada = repo.add("Ada", Role.ADMIN, "ada", HASH, "setup")
    with pytest.raises(ValidationError, match="named 'Ada' already exists"):
        repo.add("ADA", Role.STAFF, None, HASH, "setup")
    with pytest.raises(ValidationError, match="already mapped"):
        repo.add("Ann", Role.STAFF, "ada", HASH, "setup")
    repo.disable(ada.id, "setup")
    again = repo.add("Ann", Role.STAFF, "ada", HASH, "setup")  # a disabled account keeps its login
    assert repo.find_by_login("ada") == again
    assert db.count("staff_accounts") == 2 and db.idle()


def test_password_failures_lock_and_success_clears(db, repo) -> None:
    ada = repo.add("Ada", Role.ADMIN, "ada", HASH, "setup")
    until = NOW + timedelta(minutes=1)
    assert [repo.record_failure(ada.id, 3, until) for _ in range(3)] == [None, None, until]
    creds = repo.credentials("Ada")
    assert creds is not None and (creds.failed_logins, creds.locked_until) == (0, until)
    repo.record_failure(ada.id, 3, until)
    repo.record_success(ada.id)
    creds = repo.credentials("Ada")
    assert creds is not None and (creds.failed_logins, creds.locked_until) == (0, None)
    repo.set_password_hash(ada.id, HASH + "x", "ada")
    repo.rehash(ada.id, HASH + "y")
    assert repo.credentials("ada").password_hash == HASH + "y"  # type: ignore[union-attr]
    actions = [r[0] for r in db.sql("SELECT action FROM audit ORDER BY id")]
    assert actions == ["created", "locked", "password_changed"]


def test_a_change_and_its_audit_row_are_one_transaction(db, repo) -> None:
    ada = repo.add("Ada", Role.ADMIN, "ada", HASH, "setup")
    db.fail_insert("audit", "NEW.action IN ('created', 'disabled')")
    with pytest.raises(db.integrity_error):
        repo.add("Bob", Role.STAFF, None, HASH, "ada")
    with pytest.raises(db.integrity_error):
        repo.disable(ada.id, "setup")
    assert db.count("staff_accounts") == 1 and not repo.get(ada.id).disabled and db.idle()


def test_a_refusing_check_leaves_nothing(db, repo) -> None:
    def refuse(_: object) -> None:
        raise RuleRefusal([])

    ada = repo.add("Ada", Role.ADMIN, "ada", HASH, "setup")
    with pytest.raises(RuleRefusal):
        repo.add("Bob", Role.STAFF, None, HASH, "setup", check=refuse)
    with pytest.raises(RuleRefusal):
        repo.disable(ada.id, "setup", check=refuse)
    assert db.count("staff_accounts") == 1 and db.count("audit") == 1 and db.idle()


def test_two_workstations_adding_the_first_account_at_once(db) -> None:
    """The first-account rule is checked inside the adding transaction: of two workstations
    adding "the first account" at the same moment, the second waits and then sees the first's."""
    outcomes: dict[str, str] = {}
    start = threading.Barrier(2)

    def first_only(count: int) -> None:
        time.sleep(0.3)  # both are inside their transaction before either inserts
        if count:
            raise RuleRefusal([])

    def add(name: str) -> None:
        with db.second_workstation() as source:
            repo = AccountRepo(source, FixedClock(NOW))
            start.wait()
            try:
                repo.add(name, Role.ADMIN, None, HASH, name, check=first_only)
                outcomes[name] = "added"
            except RuleRefusal:
                outcomes[name] = "refused"

    threads = [threading.Thread(target=add, args=(n,)) for n in ("ws1", "ws2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes.values()) == ["added", "refused"]
    assert db.count("staff_accounts") == 1


def test_two_workstations_disabling_the_last_two_admins_at_once(db, repo) -> None:
    a = repo.add("Ada", Role.ADMIN, None, HASH, "setup")
    b = repo.add("Bea", Role.ADMIN, None, HASH, "setup")
    outcomes: dict[int, str] = {}
    start = threading.Barrier(2)

    def disable(account_id: int) -> None:
        with db.second_workstation() as source:
            other = AccountRepo(source, FixedClock(NOW))

            def keeps_an_admin(_: object) -> None:
                time.sleep(0.3)
                if other.count_enabled_admins() <= 1:
                    raise RuleRefusal([])

            start.wait()
            try:
                other.disable(account_id, "x", check=keeps_an_admin)
                outcomes[account_id] = "disabled"
            except RuleRefusal:
                outcomes[account_id] = "refused"

    threads = [threading.Thread(target=disable, args=(i,)) for i in (a.id, b.id)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes.values()) == ["disabled", "refused"]
    assert repo.count_enabled_admins() == 1
