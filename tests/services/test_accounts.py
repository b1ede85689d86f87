"""Staff accounts: hashing, rehash, the sign-in lock, disabled accounts, who may manage accounts."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from argon2.low_level import Type

from app.domain.clock import FixedClock
from app.domain.errors import NotFoundError, RuleRefusal, ValidationError
from app.domain.principals import WORKSTATION_ADMIN, Role, participant
from app.services.accounts import (
    LOCK_S,
    MAX_FAILED_LOGINS,
    AccountLocked,
    AccountService,
    cli_principal,
)
from app.storage.db import open_database

PASSWORD = "correct horse battery staple"


def cheap_hasher(time_cost: int = 1) -> PasswordHasher:
    """Real argon2id with small parameters, so that the suite stays fast."""
    return PasswordHasher(time_cost=time_cost, memory_cost=1024, parallelism=1, type=Type.ID)


@pytest.fixture
def db(db_path: Path):
    database = open_database(db_path)
    yield database
    database.conn.close()


@pytest.fixture
def service(db, clock: FixedClock) -> AccountService:
    return AccountService(db, clock, cheap_hasher())


@pytest.fixture
def admin(service: AccountService):
    account = service.add(WORKSTATION_ADMIN, "Ada Admin", "admin", PASSWORD, login="ada")
    return service.verify("Ada Admin", PASSWORD), account


def audit_rows(db) -> list[dict]:
    return [dict(r) for r in db["audit"].rows_where("entity = 'staff_account'", order_by="id")]


def test_password_is_stored_as_an_argon2_hash_carrying_its_parameters(db, service, admin) -> None:
    stored = db.execute("SELECT password_hash FROM staff_accounts").fetchone()[0]
    assert stored.startswith("$argon2id$v=19$m=1024,t=1,p=1$")
    assert PASSWORD not in stored
    assert service.verify("ada admin", PASSWORD).name == "Ada Admin"  # names ignore case
    assert service.verify("Ada Admin", PASSWORD + "x") is None
    assert service.verify("Nobody", PASSWORD) is None


def test_raised_parameters_rehash_on_the_next_right_password(db, clock, service, admin) -> None:
    old = db.execute("SELECT password_hash FROM staff_accounts").fetchone()[0]
    stronger = AccountService(db, clock, cheap_hasher(time_cost=3))
    assert stronger.verify("Ada Admin", "wrong") is None
    assert db.execute("SELECT password_hash FROM staff_accounts").fetchone()[0] == old
    principal = stronger.verify("Ada Admin", PASSWORD)
    assert principal is not None and principal.role is Role.ADMIN
    new = db.execute("SELECT password_hash FROM staff_accounts").fetchone()[0]
    assert new != old and ",t=3," in new
    # The new hash still verifies with the old service too (the hash string holds its
    # parameters), which does not weaken it again.
    assert service.verify("Ada Admin", PASSWORD) is not None
    assert db.execute("SELECT password_hash FROM staff_accounts").fetchone()[0] == new


def test_five_wrong_passwords_lock_for_a_minute(db, clock, service, admin) -> None:
    for _ in range(MAX_FAILED_LOGINS - 1):
        assert service.verify("Ada Admin", "wrong") is None
    with pytest.raises(AccountLocked) as locked:
        service.verify("Ada Admin", "wrong")
    assert "locked" in locked.value.message and "10:01:00" in locked.value.message
    assert locked.value.until == clock.now() + timedelta(seconds=LOCK_S)
    clock.advance(LOCK_S - 1)
    with pytest.raises(AccountLocked, match="try again at 10:01:00"):
        service.verify("Ada Admin", PASSWORD)  # even the right password, while locked
    clock.advance(1)
    assert service.verify("Ada Admin", PASSWORD) is not None
    assert [r["action"] for r in audit_rows(db)] == ["created", "locked"]


def test_a_right_password_resets_the_count(clock, service, admin) -> None:
    for _ in range(MAX_FAILED_LOGINS - 1):
        assert service.verify("Ada Admin", "wrong") is None
    assert service.verify("Ada Admin", PASSWORD) is not None
    for _ in range(MAX_FAILED_LOGINS - 1):
        assert service.verify("Ada Admin", "wrong") is None
    assert service.verify("Ada Admin", PASSWORD) is not None


def test_a_new_password_lifts_the_lock(clock, service, admin) -> None:
    principal, _ = admin
    service.add(principal, "Sam Staff", "staff", "sam's password")
    for _ in range(MAX_FAILED_LOGINS - 1):
        service.verify("Sam Staff", "wrong")
    with pytest.raises(AccountLocked):
        service.verify("Sam Staff", "wrong")
    service.set_password(principal, "sam staff", "a new one")
    assert service.verify("Sam Staff", "a new one").name == "Sam Staff"
    assert service.verify("Sam Staff", "sam's password") is None


def test_a_disabled_account_cannot_sign_in_or_act(db, clock, service, admin) -> None:
    principal, _ = admin
    service.add(principal, "Sam Staff", "staff", "sam's password", login="sam")
    assert cli_principal(db, clock, os_login="sam").name == "Sam Staff"
    account = service.disable(principal, "SAM STAFF")
    assert account.disabled
    assert service.verify("Sam Staff", "sam's password") is None
    assert service.for_login("sam") is None
    with pytest.raises(RuleRefusal, match="Sam Staff mapped to login sam is disabled"):
        cli_principal(db, clock, os_login="sam")
    # Its login may be given to a new account; the disabled one keeps it for the record.
    service.add(principal, "Sam Again", "staff", "another", login="sam")
    assert cli_principal(db, clock, os_login="sam").name == "Sam Again"


def test_the_last_enabled_admin_cannot_be_disabled(db, service, admin) -> None:
    principal, _ = admin
    with pytest.raises(RuleRefusal, match="last enabled admin"):
        service.disable(principal, "Ada Admin")
    service.add(principal, "Ben Admin", "admin", "ben's password")
    assert service.disable(principal, "Ada Admin").disabled


def test_the_first_account_may_be_added_by_anyone_but_must_be_an_admin(db, clock, service) -> None:
    assert not service.any_accounts()
    assert cli_principal(db, clock, os_login="whoever") is WORKSTATION_ADMIN
    with pytest.raises(ValidationError, match="first staff account must be an admin") as exc:
        service.add(WORKSTATION_ADMIN, "Sam Staff", "staff", PASSWORD)
    assert exc.value.field == "role"
    assert not service.any_accounts()
    # Even a participant: until an account exists there is nobody else to ask.
    first = service.add(participant("p@acme.example", 1), "Ada Admin", Role.ADMIN, PASSWORD)
    assert first.role is Role.ADMIN and service.any_accounts()
    with pytest.raises(RuleRefusal, match="may not manage staff accounts"):
        service.add(participant("p@acme.example", 1), "Eve", "admin", PASSWORD)


def test_a_staff_account_may_not_manage_accounts(db, clock, service, admin) -> None:
    principal, _ = admin
    service.add(principal, "Sam Staff", "staff", "sam's password", login="sam")
    sam = service.verify("Sam Staff", "sam's password")
    assert sam is not None and sam.role is Role.STAFF
    for attempt in (lambda: service.add(sam, "Eve", "admin", PASSWORD),
                    lambda: service.list(sam),
                    lambda: service.disable(sam, "Ada Admin"),
                    lambda: service.set_password(sam, "Ada Admin", "taken over")):
        with pytest.raises(RuleRefusal, match="Sam Staff is a staff account and may not"):
            attempt()
    # Its own password it may change.
    service.set_password(sam, "Sam Staff", "sam's new password")
    assert service.verify("Sam Staff", "sam's new password") is not None
    assert service.verify("Ada Admin", PASSWORD) is not None


def test_names_are_unique_ignoring_case_and_roles_are_admin_or_staff(service, admin) -> None:
    principal, _ = admin
    with pytest.raises(ValidationError, match="already exists") as exc:
        service.add(principal, "ADA ADMIN", "staff", PASSWORD)
    assert exc.value.field == "name"
    with pytest.raises(ValidationError) as exc:
        service.add(principal, "Pat", "participant", PASSWORD)
    assert exc.value.field == "role"
    with pytest.raises(ValidationError, match="already mapped") as exc:
        service.add(principal, "Other", "staff", PASSWORD, login="ada")
    assert exc.value.field == "login"
    with pytest.raises(NotFoundError):
        service.disable(principal, "Nobody")


@pytest.mark.parametrize("bad", ["", "x" * 1001, "tab\there", "new\nline", "nul\x00"])
def test_bad_passwords_are_refused_without_quoting_them(service, admin, bad) -> None:
    principal, _ = admin
    with pytest.raises(ValidationError) as exc:
        service.add(principal, "Sam Staff", "staff", bad)
    assert exc.value.field == "password"
    assert bad == "" or bad not in exc.value.message
    assert service.repo.find("Sam Staff") is None
    with pytest.raises(ValidationError):
        service.set_password(principal, "Ada Admin", bad)
    service.add(principal, "Long Pass", "staff", "y" * 1000)  # the longest allowed


def test_the_audit_trail_records_changes_without_the_password(db, clock, service, admin) -> None:
    principal, _ = admin
    service.add(principal, "Sam Staff", "staff", "sam's password", login="sam")
    service.set_password(principal, "Sam Staff", "sam's new password")
    service.disable(principal, "Sam Staff")
    rows = audit_rows(db)
    assert [(r["actor"], r["action"]) for r in rows] == [
        ("workstation", "created"), ("Ada Admin", "created"), ("Ada Admin", "password_changed"),
        ("Ada Admin", "disabled")]
    text = json.dumps(rows)
    for secret in (PASSWORD, "sam's password", "sam's new password", "$argon2"):
        assert secret not in text


def test_cli_principal_refuses_an_unmapped_login(db, clock, service, admin) -> None:
    assert cli_principal(db, clock, os_login="ada").name == "Ada Admin"
    with pytest.raises(RuleRefusal, match="No MeterLab staff account is mapped to login mallory"):
        cli_principal(db, clock, os_login="mallory")
