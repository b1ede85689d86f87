"""The lab store's tables, once, for both engines (SQLAlchemy Core).

The lab store is what every workstation of a lab shares: labs and benches, organisations, people
and inductions, staff accounts, bookings, the devices registry, test runs with their steps,
measurements, devices, evidence and seals, and the audit trail. The bench store (events, capture
sessions, outages, acknowledgements) stays in the workstation's SQLite file and is not here.

These definitions mirror the SQLite schema that the sqlite-utils migrations m001..m009 built
(``app/storage/migrations.py``): the same tables, columns, types, keys and index names, so one set of
queries runs on an existing SQLite file and on PostgreSQL. Times are ISO-8601 UTC text and flags are
integers on both engines, as they always were on SQLite. A test compares these definitions with
the schema of a new SQLite file and with a PostgreSQL database upgraded by Alembic.

Changes to the schema from now on are Alembic revisions (``app/storage/alembic/versions``) that
run on both engines, together with the change here.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    text,
)

metadata = MetaData()

#: SQLite's INTEGER holds 64 bits; PostgreSQL's integer only 32: BIGINT there, so that ids, byte
#: counts and every other integer stored today fit on both.
Int = Integer().with_variant(BigInteger(), "postgresql")


def _id() -> Column:
    return Column("id", Int, primary_key=True)


labs = Table(
    "labs", metadata,
    _id(),
    Column("name", Text, nullable=False),
    Column("site", Text),
    Column("spaces", Int, nullable=False),
    Column("timezone", Text, nullable=False),
    Column("hours_json", Text),
    Column("holiday_country", Text),
    Column("holiday_subdiv", Text),
    Column("extra_closed_json", Text),
    Column("attendance_notice_h", Double),
    Column("e2e_notice_working_days", Int),
    Column("induction_validity_months", Int),
    Column("comms_hub_types_json", Text),
    Column("phantom_load", Int),
    Column("log_capture", Int),
    Column("created_at", Text),
    Index("idx_labs_name", "name", unique=True),
)

benches = Table(
    "benches", metadata,
    _id(),
    Column("lab_id", Int, ForeignKey("labs.id"), nullable=False),
    Column("number", Int),
    Column("name", Text, nullable=False),
    Column("equipment", Text),
    Index("idx_benches_lab_id_name", "lab_id", "name", unique=True),
)

organisations = Table(
    "organisations", metadata,
    _id(),
    Column("name", Text, nullable=False),
    Column("roles", Text),
    Column("completed_roles", Text),
    Column("created_at", Text),
    Index("idx_organisations_name", "name", unique=True),
)

people = Table(
    "people", metadata,
    _id(),
    Column("org_id", Int, ForeignKey("organisations.id"), nullable=False),
    Column("name", Text),
    Column("email", Text, nullable=False),
    Column("created_at", Text),
    Index("idx_people_email", "email", unique=True),
)

inductions = Table(
    "inductions", metadata,
    _id(),
    Column("person_id", Int, ForeignKey("people.id"), nullable=False),
    Column("lab_id", Int, ForeignKey("labs.id"), nullable=False),
    Column("date", Text, nullable=False),
    Column("valid_until", Text, nullable=False),
    Column("delivered_by", Text),
    Column("created_at", Text),
    # Given at the workstation: what was given and who signed (m008).
    Column("content_version", Text),
    Column("content_sha256", Text),
    Column("participant_signature", Text),
    Column("countersigned_by", Text),
    Column("countersign_note", Text),
    Column("booking_id", Int),
    Index("idx_inductions_person_id_lab_id", "person_id", "lab_id"),
)

bookings = Table(
    "bookings", metadata,
    _id(),
    Column("lab_id", Int, ForeignKey("labs.id"), nullable=False),
    Column("org_id", Int, ForeignKey("organisations.id"), nullable=False),
    Column("start_utc", Text, nullable=False),
    Column("end_utc", Text, nullable=False),
    Column("spaces", Int, nullable=False),
    Column("phase", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("roles", Text),
    Column("attendees_json", Text),
    Column("benches_json", Text),
    Column("devices", Text),
    Column("notes", Text),
    Column("override", Text),
    Column("override_reasons_json", Text),
    Column("created_at", Text),
    Column("updated_at", Text),
    Index("idx_bookings_lab_id_start_utc", "lab_id", "start_utc"),
    Index("idx_bookings_org_id_start_utc", "org_id", "start_utc"),
)

#: One row per day a booking occupies: capacity and bench checks read only the days they need.
booking_days = Table(
    "booking_days", metadata,
    Column("booking_id", Int, ForeignKey("bookings.id"), nullable=False),
    Column("lab_id", Int, ForeignKey("labs.id"), nullable=False),
    Column("day", Text, nullable=False),
    Column("start_utc", Text, nullable=False),
    Column("end_utc", Text, nullable=False),
    Index("idx_booking_days_lab_id_day", "lab_id", "day"),
    Index("idx_booking_days_booking_id", "booking_id"),
)

audit = Table(
    "audit", metadata,
    _id(),
    Column("at", Text, nullable=False),
    Column("actor", Text),
    Column("action", Text, nullable=False),
    Column("entity", Text, nullable=False),
    Column("entity_id", Int),
    Column("details_json", Text),
    Index("idx_audit_entity_entity_id", "entity", "entity_id"),
)

devices = Table(
    "devices", metadata,
    _id(),
    Column("label", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("device_id", Text),
    Column("mpxn", Text),
    Column("manufacturer", Text),
    Column("model", Text),
    Column("firmware", Text),
    Column("owner", Text),
    Column("bench", Text),
    Column("connection_json", Text),
    Column("created_at", Text),
    Column("updated_at", Text),
    Index("idx_devices_label", "label", unique=True),
    Index("idx_devices_device_id", "device_id"),
)

staff_accounts = Table(
    "staff_accounts", metadata,
    _id(),
    Column("name", Text, nullable=False),
    Column("name_key", Text, nullable=False),
    Column("role", Text, nullable=False),
    Column("login", Text),
    Column("password_hash", Text, nullable=False),
    Column("disabled", Int, nullable=False, server_default=text("0")),
    Column("failed_logins", Int, nullable=False, server_default=text("0")),
    Column("locked_until", Text),
    Column("created_at", Text, nullable=False),
    Column("updated_at", Text),
    Index("idx_staff_accounts_name_key", "name_key", unique=True),
    # One enabled account per login; a disabled account keeps its login for the record.
    Index("idx_staff_accounts_login_enabled", "login", unique=True,
          sqlite_where=text("disabled = 0"), postgresql_where=text("disabled = 0")),
)

runs = Table(
    "runs", metadata,
    _id(),
    Column("plan_name", Text, nullable=False),
    Column("plan_version", Text),
    Column("plan_sha256", Text),
    Column("plan_source", Text),
    Column("parameters_json", Text),
    Column("step_names_json", Text),
    Column("bench", Text, nullable=False),
    Column("lab_id", Int, ForeignKey("labs.id")),
    Column("booking_id", Int, ForeignKey("bookings.id")),
    Column("org_id", Int, ForeignKey("organisations.id")),
    Column("operator", Text),
    Column("emulated", Int, nullable=False),
    Column("faults_json", Text),
    Column("time_scale", Double),
    Column("started", Text, nullable=False),
    Column("ended", Text),
    Column("verdict", Text),
    Column("message", Text),
    Column("seal", Text),
    Column("owner_host", Text),
    Column("owner_pid", Int),
    Column("owner_started", Text),
    # The workstation that executed the run and holds its evidence (capture files, events).
    Column("workstation", Text),
    Index("idx_runs_started", "started"),
    Index("idx_runs_org_id_started", "org_id", "started"),
    Index("idx_runs_bench_started", "bench", "started"),
    Index("idx_runs_plan_name_started", "plan_name", "started"),
    Index("idx_runs_verdict_started", "verdict", "started"),
)

run_steps = Table(
    "run_steps", metadata,
    Column("run_id", Int, ForeignKey("runs.id"), nullable=False),
    Column("idx", Int, nullable=False),
    Column("name", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("teardown", Int),
    Column("outcome", Text, nullable=False),
    Column("started", Text),
    Column("ended", Text),
    Column("attempts", Int),
    Column("message", Text),
    Column("answer", Text),
    PrimaryKeyConstraint("run_id", "idx"),
)

run_measurements = Table(
    "run_measurements", metadata,
    Column("run_id", Int, ForeignKey("runs.id"), nullable=False),
    Column("step_idx", Int, nullable=False),
    Column("seq", Int, nullable=False),
    Column("name", Text, nullable=False),
    Column("value_json", Text),
    Column("unit", Text),
    Column("limits", Text),
    Column("outcome", Text, nullable=False),
    Column("note", Text),
    PrimaryKeyConstraint("run_id", "step_idx", "seq"),
)

#: A device as it was when the run started; device_ref is the registry's id then (no foreign key:
#: a device removed from the registry later keeps its runs).
run_devices = Table(
    "run_devices", metadata,
    Column("run_id", Int, ForeignKey("runs.id"), nullable=False),
    Column("seq", Int, nullable=False),
    Column("label", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("device_id", Text),
    Column("mpxn", Text),
    Column("manufacturer", Text),
    Column("model", Text),
    Column("firmware", Text),
    Column("device_ref", Int),
    PrimaryKeyConstraint("run_id", "seq"),
    Index("idx_run_devices_label", "label"),
    Index("idx_run_devices_device_id", "device_id"),
)

#: The capture files a run's verdict rests on, by SHA-256 (capture sessions are in the bench store,
#: so capture_session_id is no foreign key).
run_evidence = Table(
    "run_evidence", metadata,
    Column("run_id", Int, ForeignKey("runs.id"), nullable=False),
    Column("capture_session_id", Int, nullable=False),
    Column("device", Text),
    Column("path", Text),
    Column("bytes", Int),
    Column("sha256", Text),
    PrimaryKeyConstraint("run_id", "capture_session_id", "path"),
)

run_seals = Table(
    "run_seals", metadata,
    Column("run_id", Int, ForeignKey("runs.id"), primary_key=True, autoincrement=False),
    Column("seal", Text, nullable=False),
    Column("canonical_json", Text, nullable=False),
    Column("sealed_at", Text, nullable=False),
)

#: The lab store's tables, in an order that creates each after the tables it refers to.
LAB_STORE_TABLES: tuple[str, ...] = tuple(t.name for t in metadata.sorted_tables)
