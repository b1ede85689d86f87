"""Qt tests run offscreen: the platform is chosen before anything imports Qt."""

from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.domain.clock import FixedClock
from app.main import AppContext
from ui.launch import prepare_context

#: A Wednesday in a week without bank holidays; the demo lab's bookings fill that week.
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def demo(tmp_path: Path, clock: FixedClock) -> Iterator[tuple[AppContext, str]]:
    """A fresh database file with the demo lab, and the status message first start shows."""
    ctx, message = prepare_context(tmp_path / "meterlab.db", clock, "tester", demo=True)
    yield ctx, message
    ctx.close()


@pytest.fixture
def live_ctx(tmp_path: Path) -> Iterator[AppContext]:
    """The demo lab on a clock that moves from :data:`NOW`, as the GUI's does (pages that
    follow now: Live, Runs)."""
    from app.domain.clock import OffsetClock

    ctx, _ = prepare_context(tmp_path / "live.db", OffsetClock(NOW), "tester", demo=True)
    yield ctx
    ctx.close()


@pytest.fixture
def ctx(demo: tuple[AppContext, str]) -> AppContext:
    return demo[0]


@pytest.fixture
def window(qtbot, ctx: AppContext):
    from ui.main_window import MainWindow

    win = MainWindow(ctx)
    qtbot.addWidget(win)
    win.resize(1440, 900)
    return win


@pytest.fixture
def page(window):
    return window.pages["bookings"]


#: Staff accounts of the UI tests: name -> (password, role).
STAFF_ACCOUNTS = {"ada": ("admin pw", "admin"), "sam": ("staff pw", "staff"),
                  "Sam Staff": ("s3cret", "staff")}


@pytest.fixture
def accounts(ctx: AppContext):
    """The real staff account service on the test's database, with the accounts of
    :data:`STAFF_ACCOUNTS` (argon2 with small parameters, so a login costs milliseconds)."""
    from argon2 import PasswordHasher

    from app.domain.principals import WORKSTATION_ADMIN
    from app.services.accounts import AccountService

    service = AccountService(ctx.db, ctx.clock,
                             hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    admin = None
    for name, (password, role) in STAFF_ACCOUNTS.items():
        account = service.add(admin or WORKSTATION_ADMIN, name, role, password)
        admin = admin or service.verify(account.name, password)
    return service


@pytest.fixture
def no_accounts(ctx: AppContext):
    """The real staff account service on a database with no staff account yet."""
    from app.services.accounts import AccountService

    return AccountService(ctx.db, ctx.clock)
