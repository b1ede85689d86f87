"""A run names the workstation that holds its evidence (its capture files and bench store).

``runs.workstation`` is the host name of the workstation that executed the run. Runs recorded
before this revision were executed by the process ``owner_host`` names, so that is their
workstation. On SQLite the column is added in Alembic's batch mode (see
app/storage/lab_schema.py), which adds a nullable column without copying the table.

Revision ID: 0003_run_workstation
Revises: 0002_lab_changes
Create Date: 2026-12-02
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0003_run_workstation'
down_revision: str | Sequence[str] | None = '0002_lab_changes'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add ``runs.workstation``, filled in from ``owner_host`` for the runs already stored."""
    with op.batch_alter_table('runs') as batch:
        batch.add_column(sa.Column('workstation', sa.Text(), nullable=True))
    op.execute("UPDATE runs SET workstation = owner_host WHERE workstation IS NULL")


def downgrade() -> None:
    """Drop ``runs.workstation``."""
    with op.batch_alter_table('runs') as batch:
        batch.drop_column('workstation')
