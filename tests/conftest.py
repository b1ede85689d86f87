"""Shared fixtures: a fixed clock, a fresh database, a lab with participants."""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.domain.clock import FixedClock
from app.main import AppContext, build_context

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)  # a Wednesday

# The desktop's settings (File › Lab store…) of whoever runs the tests are not the tests'.
os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="meterlab-test-config-")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--serial-port", default=None, help="run hardware tests against this serial port")
    parser.addoption("--ble-address", default=None, help="run hardware tests against this BLE device")


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "meterlab.db"


@pytest.fixture
def ctx(db_path: Path, clock: FixedClock) -> AppContext:
    context = build_context(db_path, clock, actor="tester")
    yield context
    context.close()


@pytest.fixture
def lab_ctx(ctx: AppContext) -> AppContext:
    """A 100-space lab with four benches, two organisations and inducted people."""
    ctx.lab_service.add_lab("Winchester", 100, site="Test site", benches=4)
    ctx.lab_service.add_org("Acme Energy", "IS,GS,ES", "IS,ES")
    ctx.lab_service.add_org("Gasco", "GT", "")
    ctx.lab_service.add_person("Acme Energy", "Ann Able", "ann@acme.example")
    ctx.lab_service.add_person("Acme Energy", "Bob Baker", "bob@acme.example")
    ctx.lab_service.add_person("Gasco", "Cat Cole", "cat@gasco.example")
    ctx.lab_service.induct("ann@acme.example", "Winchester", datetime(2026, 11, 2).date(),
                           reason="held at the lab before this store")
    ctx.lab_service.induct("cat@gasco.example", "Winchester", datetime(2025, 12, 1).date(),
                           reason="held at the lab before this store")
    return ctx


# The throwaway PostgreSQL server (session-scoped) and a fresh database per test that asks.
from tests.pg import own_pg, pg_cluster, pg_url  # noqa: E402, F401
