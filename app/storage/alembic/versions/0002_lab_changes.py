"""Lab changes: on PostgreSQL, every committed change to a shared table is announced.

A statement-level trigger on each table of the lab store sends ``NOTIFY meterlab_lab_changes``
with the table's name as payload. PostgreSQL delivers a notification only when its transaction
commits, once per distinct payload, so a booking (its row, its day rows, its audit row) reaches
the other workstations as three short messages at its commit, and a rolled-back change as none.
:class:`app.services.lab_changes.LabChangeWatcher` listens for them.

On SQLite nothing is created: a workstation's file is watched through ``PRAGMA data_version``.

Revision ID: 0002_lab_changes
Revises: 0001_baseline
Create Date: 2026-12-02
"""
from __future__ import annotations

from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0002_lab_changes'
down_revision: str | Sequence[str] | None = '0001_baseline'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: The channel the triggers notify on (app.services.lab_changes.CHANNEL names the same).
CHANNEL = "meterlab_lab_changes"
FUNCTION = "meterlab_notify_lab_change"
#: The lab store's tables as this revision knows them (released revisions are never edited).
TABLES = ("labs", "benches", "organisations", "people", "inductions", "bookings", "booking_days",
          "audit", "devices", "staff_accounts", "runs", "run_steps", "run_measurements",
          "run_devices", "run_evidence", "run_seals")


def _trigger(table: str) -> str:
    return f"{table}_lab_change"


def upgrade() -> None:
    """Create the notifying function and one trigger per table (PostgreSQL only)."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"""
        CREATE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('{CHANNEL}', TG_TABLE_NAME);
            RETURN NULL;
        END;
        $$""")
    for table in TABLES:
        op.execute(f"CREATE TRIGGER {_trigger(table)} AFTER INSERT OR UPDATE OR DELETE OR "
                   f"TRUNCATE ON {table} FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}()")


def downgrade() -> None:
    """Drop the triggers and the function (PostgreSQL only)."""
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {_trigger(table)} ON {table}")
    op.execute(f"DROP FUNCTION IF EXISTS {FUNCTION}()")
