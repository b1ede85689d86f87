"""Baseline: the lab store as the SQLite migrations m001..m009 built it.

On PostgreSQL this creates the lab store. A SQLite file is never upgraded through it: the
sqlite-utils migrations built these tables there, and the file is stamped at this revision
(see app/storage/lab_schema.py). Released revisions are never edited: a change is a new revision.

Revision ID: 0001_baseline
Revises:
Create Date: 2026-12-02
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0001_baseline'
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Every integer is BIGINT: SQLite's INTEGER, which these tables mirror, holds 64 bits.


def upgrade() -> None:
    """Create the lab store's tables and indexes."""
    op.create_table('audit',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('at', sa.Text(), nullable=False),
    sa.Column('actor', sa.Text(), nullable=True),
    sa.Column('action', sa.Text(), nullable=False),
    sa.Column('entity', sa.Text(), nullable=False),
    sa.Column('entity_id', sa.BigInteger(), nullable=True),
    sa.Column('details_json', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('idx_audit_entity_entity_id', 'audit', ['entity', 'entity_id'], unique=False)
    op.create_table('devices',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('label', sa.Text(), nullable=False),
    sa.Column('kind', sa.Text(), nullable=False),
    sa.Column('device_id', sa.Text(), nullable=True),
    sa.Column('mpxn', sa.Text(), nullable=True),
    sa.Column('manufacturer', sa.Text(), nullable=True),
    sa.Column('model', sa.Text(), nullable=True),
    sa.Column('firmware', sa.Text(), nullable=True),
    sa.Column('owner', sa.Text(), nullable=True),
    sa.Column('bench', sa.Text(), nullable=True),
    sa.Column('connection_json', sa.Text(), nullable=True),
    sa.Column('created_at', sa.Text(), nullable=True),
    sa.Column('updated_at', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('idx_devices_device_id', 'devices', ['device_id'], unique=False)
    op.create_index('idx_devices_label', 'devices', ['label'], unique=True)
    op.create_table('labs',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('site', sa.Text(), nullable=True),
    sa.Column('spaces', sa.BigInteger(), nullable=False),
    sa.Column('timezone', sa.Text(), nullable=False),
    sa.Column('hours_json', sa.Text(), nullable=True),
    sa.Column('holiday_country', sa.Text(), nullable=True),
    sa.Column('holiday_subdiv', sa.Text(), nullable=True),
    sa.Column('extra_closed_json', sa.Text(), nullable=True),
    sa.Column('attendance_notice_h', sa.Double(), nullable=True),
    sa.Column('e2e_notice_working_days', sa.BigInteger(), nullable=True),
    sa.Column('induction_validity_months', sa.BigInteger(), nullable=True),
    sa.Column('comms_hub_types_json', sa.Text(), nullable=True),
    sa.Column('phantom_load', sa.BigInteger(), nullable=True),
    sa.Column('log_capture', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('idx_labs_name', 'labs', ['name'], unique=True)
    op.create_table('organisations',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('roles', sa.Text(), nullable=True),
    sa.Column('completed_roles', sa.Text(), nullable=True),
    sa.Column('created_at', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('idx_organisations_name', 'organisations', ['name'], unique=True)
    op.create_table('staff_accounts',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('name_key', sa.Text(), nullable=False),
    sa.Column('role', sa.Text(), nullable=False),
    sa.Column('login', sa.Text(), nullable=True),
    sa.Column('password_hash', sa.Text(), nullable=False),
    sa.Column('disabled', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('failed_logins', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('locked_until', sa.Text(), nullable=True),
    sa.Column('created_at', sa.Text(), nullable=False),
    sa.Column('updated_at', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('idx_staff_accounts_login_enabled', 'staff_accounts', ['login'], unique=True, sqlite_where=sa.text('disabled = 0'), postgresql_where=sa.text('disabled = 0'))
    op.create_index('idx_staff_accounts_name_key', 'staff_accounts', ['name_key'], unique=True)
    op.create_table('benches',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('lab_id', sa.BigInteger(), nullable=False),
    sa.Column('number', sa.BigInteger(), nullable=True),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('equipment', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['lab_id'], ['labs.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('idx_benches_lab_id_name', 'benches', ['lab_id', 'name'], unique=True)
    op.create_table('bookings',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('lab_id', sa.BigInteger(), nullable=False),
    sa.Column('org_id', sa.BigInteger(), nullable=False),
    sa.Column('start_utc', sa.Text(), nullable=False),
    sa.Column('end_utc', sa.Text(), nullable=False),
    sa.Column('spaces', sa.BigInteger(), nullable=False),
    sa.Column('phase', sa.Text(), nullable=False),
    sa.Column('status', sa.Text(), nullable=False),
    sa.Column('roles', sa.Text(), nullable=True),
    sa.Column('attendees_json', sa.Text(), nullable=True),
    sa.Column('benches_json', sa.Text(), nullable=True),
    sa.Column('devices', sa.Text(), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('override', sa.Text(), nullable=True),
    sa.Column('override_reasons_json', sa.Text(), nullable=True),
    sa.Column('created_at', sa.Text(), nullable=True),
    sa.Column('updated_at', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['lab_id'], ['labs.id'], ),
    sa.ForeignKeyConstraint(['org_id'], ['organisations.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('idx_bookings_lab_id_start_utc', 'bookings', ['lab_id', 'start_utc'], unique=False)
    op.create_index('idx_bookings_org_id_start_utc', 'bookings', ['org_id', 'start_utc'], unique=False)
    op.create_table('people',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('org_id', sa.BigInteger(), nullable=False),
    sa.Column('name', sa.Text(), nullable=True),
    sa.Column('email', sa.Text(), nullable=False),
    sa.Column('created_at', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['org_id'], ['organisations.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('idx_people_email', 'people', ['email'], unique=True)
    op.create_table('booking_days',
    sa.Column('booking_id', sa.BigInteger(), nullable=False),
    sa.Column('lab_id', sa.BigInteger(), nullable=False),
    sa.Column('day', sa.Text(), nullable=False),
    sa.Column('start_utc', sa.Text(), nullable=False),
    sa.Column('end_utc', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['booking_id'], ['bookings.id'], ),
    sa.ForeignKeyConstraint(['lab_id'], ['labs.id'], )
    )
    op.create_index('idx_booking_days_booking_id', 'booking_days', ['booking_id'], unique=False)
    op.create_index('idx_booking_days_lab_id_day', 'booking_days', ['lab_id', 'day'], unique=False)
    op.create_table('inductions',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('person_id', sa.BigInteger(), nullable=False),
    sa.Column('lab_id', sa.BigInteger(), nullable=False),
    sa.Column('date', sa.Text(), nullable=False),
    sa.Column('valid_until', sa.Text(), nullable=False),
    sa.Column('delivered_by', sa.Text(), nullable=True),
    sa.Column('created_at', sa.Text(), nullable=True),
    sa.Column('content_version', sa.Text(), nullable=True),
    sa.Column('content_sha256', sa.Text(), nullable=True),
    sa.Column('participant_signature', sa.Text(), nullable=True),
    sa.Column('countersigned_by', sa.Text(), nullable=True),
    sa.Column('countersign_note', sa.Text(), nullable=True),
    sa.Column('booking_id', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['lab_id'], ['labs.id'], ),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('idx_inductions_person_id_lab_id', 'inductions', ['person_id', 'lab_id'], unique=False)
    op.create_table('runs',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('plan_name', sa.Text(), nullable=False),
    sa.Column('plan_version', sa.Text(), nullable=True),
    sa.Column('plan_sha256', sa.Text(), nullable=True),
    sa.Column('plan_source', sa.Text(), nullable=True),
    sa.Column('parameters_json', sa.Text(), nullable=True),
    sa.Column('step_names_json', sa.Text(), nullable=True),
    sa.Column('bench', sa.Text(), nullable=False),
    sa.Column('lab_id', sa.BigInteger(), nullable=True),
    sa.Column('booking_id', sa.BigInteger(), nullable=True),
    sa.Column('org_id', sa.BigInteger(), nullable=True),
    sa.Column('operator', sa.Text(), nullable=True),
    sa.Column('emulated', sa.BigInteger(), nullable=False),
    sa.Column('faults_json', sa.Text(), nullable=True),
    sa.Column('time_scale', sa.Double(), nullable=True),
    sa.Column('started', sa.Text(), nullable=False),
    sa.Column('ended', sa.Text(), nullable=True),
    sa.Column('verdict', sa.Text(), nullable=True),
    sa.Column('message', sa.Text(), nullable=True),
    sa.Column('seal', sa.Text(), nullable=True),
    sa.Column('owner_host', sa.Text(), nullable=True),
    sa.Column('owner_pid', sa.BigInteger(), nullable=True),
    sa.Column('owner_started', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['booking_id'], ['bookings.id'], ),
    sa.ForeignKeyConstraint(['lab_id'], ['labs.id'], ),
    sa.ForeignKeyConstraint(['org_id'], ['organisations.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('idx_runs_bench_started', 'runs', ['bench', 'started'], unique=False)
    op.create_index('idx_runs_org_id_started', 'runs', ['org_id', 'started'], unique=False)
    op.create_index('idx_runs_plan_name_started', 'runs', ['plan_name', 'started'], unique=False)
    op.create_index('idx_runs_started', 'runs', ['started'], unique=False)
    op.create_index('idx_runs_verdict_started', 'runs', ['verdict', 'started'], unique=False)
    op.create_table('run_devices',
    sa.Column('run_id', sa.BigInteger(), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('label', sa.Text(), nullable=False),
    sa.Column('kind', sa.Text(), nullable=False),
    sa.Column('device_id', sa.Text(), nullable=True),
    sa.Column('mpxn', sa.Text(), nullable=True),
    sa.Column('manufacturer', sa.Text(), nullable=True),
    sa.Column('model', sa.Text(), nullable=True),
    sa.Column('firmware', sa.Text(), nullable=True),
    sa.Column('device_ref', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], ),
    sa.PrimaryKeyConstraint('run_id', 'seq')
    )
    op.create_index('idx_run_devices_device_id', 'run_devices', ['device_id'], unique=False)
    op.create_index('idx_run_devices_label', 'run_devices', ['label'], unique=False)
    op.create_table('run_evidence',
    sa.Column('run_id', sa.BigInteger(), nullable=False),
    sa.Column('capture_session_id', sa.BigInteger(), nullable=False),
    sa.Column('device', sa.Text(), nullable=True),
    sa.Column('path', sa.Text(), nullable=False),
    sa.Column('bytes', sa.BigInteger(), nullable=True),
    sa.Column('sha256', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], ),
    sa.PrimaryKeyConstraint('run_id', 'capture_session_id', 'path')
    )
    op.create_table('run_measurements',
    sa.Column('run_id', sa.BigInteger(), nullable=False),
    sa.Column('step_idx', sa.BigInteger(), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('value_json', sa.Text(), nullable=True),
    sa.Column('unit', sa.Text(), nullable=True),
    sa.Column('limits', sa.Text(), nullable=True),
    sa.Column('outcome', sa.Text(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], ),
    sa.PrimaryKeyConstraint('run_id', 'step_idx', 'seq')
    )
    op.create_table('run_seals',
    sa.Column('run_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('seal', sa.Text(), nullable=False),
    sa.Column('canonical_json', sa.Text(), nullable=False),
    sa.Column('sealed_at', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], ),
    sa.PrimaryKeyConstraint('run_id')
    )
    op.create_table('run_steps',
    sa.Column('run_id', sa.BigInteger(), nullable=False),
    sa.Column('idx', sa.BigInteger(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('kind', sa.Text(), nullable=False),
    sa.Column('teardown', sa.BigInteger(), nullable=True),
    sa.Column('outcome', sa.Text(), nullable=False),
    sa.Column('started', sa.Text(), nullable=True),
    sa.Column('ended', sa.Text(), nullable=True),
    sa.Column('attempts', sa.BigInteger(), nullable=True),
    sa.Column('message', sa.Text(), nullable=True),
    sa.Column('answer', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], ),
    sa.PrimaryKeyConstraint('run_id', 'idx')
    )


def downgrade() -> None:
    """Drop them (an empty database again)."""
    op.drop_table('run_steps')
    op.drop_table('run_seals')
    op.drop_table('run_measurements')
    op.drop_table('run_evidence')
    op.drop_index('idx_run_devices_label', table_name='run_devices')
    op.drop_index('idx_run_devices_device_id', table_name='run_devices')
    op.drop_table('run_devices')
    op.drop_index('idx_runs_verdict_started', table_name='runs')
    op.drop_index('idx_runs_started', table_name='runs')
    op.drop_index('idx_runs_plan_name_started', table_name='runs')
    op.drop_index('idx_runs_org_id_started', table_name='runs')
    op.drop_index('idx_runs_bench_started', table_name='runs')
    op.drop_table('runs')
    op.drop_index('idx_inductions_person_id_lab_id', table_name='inductions')
    op.drop_table('inductions')
    op.drop_index('idx_booking_days_lab_id_day', table_name='booking_days')
    op.drop_index('idx_booking_days_booking_id', table_name='booking_days')
    op.drop_table('booking_days')
    op.drop_index('idx_people_email', table_name='people')
    op.drop_table('people')
    op.drop_index('idx_bookings_org_id_start_utc', table_name='bookings')
    op.drop_index('idx_bookings_lab_id_start_utc', table_name='bookings')
    op.drop_table('bookings')
    op.drop_index('idx_benches_lab_id_name', table_name='benches')
    op.drop_table('benches')
    op.drop_index('idx_staff_accounts_name_key', table_name='staff_accounts')
    op.drop_index('idx_staff_accounts_login_enabled', table_name='staff_accounts', sqlite_where=sa.text('disabled = 0'), postgresql_where=sa.text('disabled = 0'))
    op.drop_table('staff_accounts')
    op.drop_index('idx_organisations_name', table_name='organisations')
    op.drop_table('organisations')
    op.drop_index('idx_labs_name', table_name='labs')
    op.drop_table('labs')
    op.drop_index('idx_devices_label', table_name='devices')
    op.drop_index('idx_devices_device_id', table_name='devices')
    op.drop_table('devices')
    op.drop_index('idx_audit_entity_entity_id', table_name='audit')
    op.drop_table('audit')
