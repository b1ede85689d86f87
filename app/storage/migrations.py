"""Schema history. The schema is created and changed only here, through sqlite-utils Migrations.

Released migrations are never edited: a change is a new migration. Each released schema version
keeps a fixture database under tests/storage/fixtures that the test suite upgrades.

m001..m009 built both stores; the lab store's tables change only through Alembic revisions since
(see app/storage/lab_schema.py), so later migrations here change only the bench store's tables.
"""

from __future__ import annotations

from sqlite_utils import Database, Migrations

migrations = Migrations("meterlab")


@migrations()
def m001_labs_people_bookings(db: Database) -> None:
    db["labs"].create(
        {
            "id": int, "name": str, "site": str, "spaces": int, "timezone": str,
            "hours_json": str, "holiday_country": str, "holiday_subdiv": str,
            "extra_closed_json": str, "attendance_notice_h": float,
            "e2e_notice_working_days": int, "induction_validity_months": int,
            "comms_hub_types_json": str, "phantom_load": int, "log_capture": int,
            "created_at": str,
        },
        pk="id", not_null={"name", "spaces", "timezone"},
    )
    db["labs"].create_index(["name"], unique=True)
    db["benches"].create(
        {"id": int, "lab_id": int, "number": int, "name": str, "equipment": str},
        pk="id", foreign_keys=[("lab_id", "labs", "id")], not_null={"lab_id", "name"},
    )
    db["benches"].create_index(["lab_id", "name"], unique=True)
    db["organisations"].create(
        {"id": int, "name": str, "roles": str, "completed_roles": str, "created_at": str},
        pk="id", not_null={"name"},
    )
    db["organisations"].create_index(["name"], unique=True)
    db["people"].create(
        {"id": int, "org_id": int, "name": str, "email": str, "created_at": str},
        pk="id", foreign_keys=[("org_id", "organisations", "id")], not_null={"org_id", "email"},
    )
    db["people"].create_index(["email"], unique=True)
    db["inductions"].create(
        {"id": int, "person_id": int, "lab_id": int, "date": str, "valid_until": str,
         "delivered_by": str, "created_at": str},
        pk="id",
        foreign_keys=[("person_id", "people", "id"), ("lab_id", "labs", "id")],
        not_null={"person_id", "lab_id", "date", "valid_until"},
    )
    db["inductions"].create_index(["person_id", "lab_id"])
    db["bookings"].create(
        {
            "id": int, "lab_id": int, "org_id": int, "start_utc": str, "end_utc": str,
            "spaces": int, "phase": str, "status": str, "roles": str, "attendees_json": str,
            "benches_json": str, "devices": str, "notes": str, "override": str,
            "override_reasons_json": str, "created_at": str, "updated_at": str,
        },
        pk="id",
        foreign_keys=[("lab_id", "labs", "id"), ("org_id", "organisations", "id")],
        not_null={"lab_id", "org_id", "start_utc", "end_utc", "spaces", "phase", "status"},
    )
    db["bookings"].create_index(["lab_id", "start_utc"])
    db["bookings"].create_index(["org_id", "start_utc"])
    # One row per day a booking occupies: capacity and bench checks look up only the days they
    # need, however many bookings the lab holds.
    db["booking_days"].create(
        {"booking_id": int, "lab_id": int, "day": str, "start_utc": str, "end_utc": str},
        foreign_keys=[("booking_id", "bookings", "id"), ("lab_id", "labs", "id")],
        not_null={"booking_id", "lab_id", "day", "start_utc", "end_utc"},
    )
    db["booking_days"].create_index(["lab_id", "day"])
    db["booking_days"].create_index(["booking_id"])
    db["audit"].create(
        {"id": int, "at": str, "actor": str, "action": str, "entity": str, "entity_id": int,
         "details_json": str},
        pk="id", not_null={"at", "action", "entity"},
    )
    db["audit"].create_index(["entity", "entity_id"])


@migrations()
def m002_devices_sessions_events(db: Database) -> None:
    db["devices"].create(
        {"id": int, "label": str, "kind": str, "device_id": str, "mpxn": str,
         "manufacturer": str, "model": str, "firmware": str, "owner": str, "bench": str,
         "connection_json": str, "created_at": str, "updated_at": str},
        pk="id", not_null={"label", "kind"},
    )
    db["devices"].create_index(["label"], unique=True)
    db["devices"].create_index(["device_id"])
    # A capture session: one connection to one port, with its raw capture file.
    db["capture_sessions"].create(
        {"id": int, "device": str, "port": str, "protocol": str, "capture_path": str,
         "started_at": str, "ended_at": str, "bytes_in": int, "bytes_out": int,
         "frames": int, "errors": int, "sha256": str, "end_state": str},
        pk="id", not_null={"device", "started_at"},
    )
    db["events"].create(
        {"id": int, "session_id": int, "device": str, "kind": str, "host_time": str,
         "device_time": str, "code": str, "fields_json": str},
        pk="id", foreign_keys=[("session_id", "capture_sessions", "id")],
        not_null={"device", "kind", "host_time"},
    )
    db["events"].create_index(["host_time"])
    db["events"].create_index(["device", "host_time"])
    db["events"].create_index(["kind", "code"])


@migrations()
def m003_outages_and_acknowledgements(db: Database) -> None:
    db["outages"].create(
        {"id": int, "bench": str, "mpxn": str, "start": str, "end": str, "duration_s": float,
         "long": int, "start_source": str, "end_source": str, "device_start": str,
         "device_end": str, "device_duration_s": float, "restore_alert_code": str,
         "restore_alert_host_time": str, "restore_alert_device": str, "latency_s": float,
         "interrupted_alert": int, "flags_json": str, "updated_at": str},
        pk="id", not_null={"bench"},
    )
    db["outages"].create_index(["bench", "start"])
    db["alert_acks"].create(
        {"event_id": int, "note": str, "actor": str, "at": str},
        pk="event_id", foreign_keys=[("event_id", "events", "id")],
    )


@migrations()
def m004_event_indexes_for_ingest(db: Database) -> None:
    # Two indexes serve every query (by kind in time order: the alert table and reports; by
    # device in time order: a device's history); each index dropped makes batch ingest faster.
    db.execute("DROP INDEX IF EXISTS idx_events_host_time")
    db.execute("DROP INDEX IF EXISTS idx_events_kind_code")
    db["events"].create_index(["kind", "host_time"], if_not_exists=True)


@migrations()
def m005_device_ref_and_capture_evidence(db: Database) -> None:
    # Events, capture sessions and outages follow the device's stable id, not its label, so a
    # rename keeps its history. Existing rows are carried over by the label they were stored with.
    # ADD COLUMN (not a table rebuild): millions of event rows stay where they are.
    for table in ("events", "capture_sessions", "outages"):
        db.execute(f"ALTER TABLE [{table}] ADD COLUMN device_ref INTEGER REFERENCES devices(id)")
    db.execute("UPDATE events SET device_ref = (SELECT d.id FROM devices d WHERE d.label = events.device)")
    db.execute("UPDATE capture_sessions SET device_ref = "
               "(SELECT d.id FROM devices d WHERE d.label = capture_sessions.device)")
    db.execute("UPDATE outages SET device_ref = "
               "(SELECT d.id FROM devices d WHERE d.label = outages.restore_alert_device)")
    # A device's history by id replaces the index by label (two indexes on events, as before:
    # each one more slows batch ingest).
    db.execute("DROP INDEX IF EXISTS idx_events_device_host_time")
    db["events"].create_index(["device_ref", "host_time"], if_not_exists=True)
    db["capture_sessions"].create_index(["device_ref", "started_at"], if_not_exists=True)
    # What a capture session's record must say so that its evidence can be trusted:
    # - events_unstored: decoded events that never reached the database (queue full or the
    #   database not writable); NULL when unknown (the process was killed);
    # - events_missing: 1 while the database is known or suspected to lack events of the session
    #   (a replay of the capture file restores them and clears it); events_restored counts those;
    # - rx_dropped_bytes: bytes a transport's receive buffer discarded (never in the capture file);
    # - end_reason: why it ended (a failure's reason, "capture file missing" on recovery);
    # - owner_*: the process that holds the session open, so that start-up recovery closes only
    #   sessions whose process is gone (another MeterLab may be capturing right now).
    for column, kind in (("events_unstored", int), ("events_missing", int),
                         ("events_restored", int), ("rx_dropped_bytes", int),
                         ("end_reason", str), ("owner_host", str), ("owner_pid", int),
                         ("owner_started", str)):
        db["capture_sessions"].add_column(column, kind)
    db.execute("UPDATE capture_sessions SET events_missing = 0, events_restored = 0")
    db["capture_sessions"].create_index(["ended_at"], if_not_exists=True)
    db["outages"].create_index(["device_ref"], if_not_exists=True)


@migrations()
def m006_test_runs(db: Database) -> None:
    # A test run and its results. verdict is NULL while the run is executing; owner_* name the
    # process executing it, so that start-up recovery closes only runs whose process is gone.
    # seal is left for a report's seal over the stored results.
    db["runs"].create(
        {"id": int, "plan_name": str, "plan_version": str, "plan_sha256": str,
         "plan_source": str, "parameters_json": str, "step_names_json": str, "bench": str,
         "lab_id": int, "booking_id": int, "org_id": int, "operator": str, "emulated": int,
         "faults_json": str, "time_scale": float, "started": str, "ended": str, "verdict": str,
         "message": str, "seal": str, "owner_host": str, "owner_pid": int,
         "owner_started": str},
        pk="id",
        foreign_keys=[("lab_id", "labs", "id"), ("booking_id", "bookings", "id"),
                      ("org_id", "organisations", "id")],
        not_null={"plan_name", "bench", "started", "emulated"},
    )
    # The history's filters, each newest first; open runs (verdict NULL) are found by the
    # verdict index.
    db["runs"].create_index(["started"])
    db["runs"].create_index(["org_id", "started"])
    db["runs"].create_index(["bench", "started"])
    db["runs"].create_index(["plan_name", "started"])
    db["runs"].create_index(["verdict", "started"])
    db["run_steps"].create(
        {"run_id": int, "idx": int, "name": str, "kind": str, "teardown": int, "outcome": str,
         "started": str, "ended": str, "attempts": int, "message": str, "answer": str},
        pk=("run_id", "idx"), foreign_keys=[("run_id", "runs", "id")],
        not_null={"run_id", "idx", "name", "kind", "outcome"},
    )
    # seq keeps the measurements in the order the step reported them.
    db["run_measurements"].create(
        {"run_id": int, "step_idx": int, "seq": int, "name": str, "value_json": str,
         "unit": str, "limits": str, "outcome": str, "note": str},
        pk=("run_id", "step_idx", "seq"), foreign_keys=[("run_id", "runs", "id")],
        not_null={"run_id", "step_idx", "seq", "name", "outcome"},
    )
    # A device as it was when the run started; device_ref is the registry's id then (no foreign
    # key: a device removed from the registry later keeps its runs).
    db["run_devices"].create(
        {"run_id": int, "seq": int, "label": str, "kind": str, "device_id": str, "mpxn": str,
         "manufacturer": str, "model": str, "firmware": str, "device_ref": int},
        pk=("run_id", "seq"), foreign_keys=[("run_id", "runs", "id")],
        not_null={"run_id", "seq", "label", "kind"},
    )
    db["run_devices"].create_index(["label"])
    db["run_devices"].create_index(["device_id"])
    db["run_evidence"].create(
        {"run_id": int, "capture_session_id": int, "device": str, "path": str, "bytes": int,
         "sha256": str},
        pk=("run_id", "capture_session_id", "path"), foreign_keys=[("run_id", "runs", "id")],
        not_null={"run_id", "capture_session_id"},
    )


@migrations()
def m007_run_seals(db: Database) -> None:
    # The canonical JSON a run's report was sealed over, kept when the seal is first stored
    # (runs.seal), so that a later check can say what changed since, not only that it did.
    db["run_seals"].create(
        {"run_id": int, "seal": str, "canonical_json": str, "sealed_at": str},
        pk="run_id", foreign_keys=[("run_id", "runs", "id")],
        not_null={"run_id", "seal", "canonical_json", "sealed_at"},
    )


@migrations()
def m008_induction_records(db: Database) -> None:
    # An induction given at the workstation keeps what was given (the content's version and the
    # SHA-256 of its file) and who signed: the participant's typed name and the countersigning
    # staff member. Inductions recorded as held elsewhere leave these empty.
    for column in ("content_version", "content_sha256", "participant_signature",
                   "countersigned_by", "countersign_note"):
        db["inductions"].add_column(column, str)
    db["inductions"].add_column("booking_id", int)


@migrations()
def m009_staff_accounts(db: Database) -> None:
    # Staff who sign in to MeterLab. name_key (the name in lower case) keeps names unique ignoring
    # case; login maps an operating-system login to its account for the command line. The
    # password is kept only as an argon2 hash string, which carries its own parameters.
    # failed_logins and locked_until hold the lock after repeated wrong passwords.
    db["staff_accounts"].create(
        {"id": int, "name": str, "name_key": str, "role": str, "login": str,
         "password_hash": str, "disabled": int, "failed_logins": int, "locked_until": str,
         "created_at": str, "updated_at": str},
        pk="id", not_null={"name", "name_key", "role", "password_hash", "disabled",
                           "failed_logins", "created_at"},
        defaults={"disabled": 0, "failed_logins": 0},
    )
    db["staff_accounts"].create_index(["name_key"], unique=True)
    # One enabled account per login; a disabled account keeps its login for the record without
    # blocking a new account for it.
    db.execute("CREATE UNIQUE INDEX idx_staff_accounts_login_enabled "
               "ON staff_accounts (login) WHERE disabled = 0")


@migrations()
def m010_lab_devices(db: Database) -> None:
    # The bench store's link to a lab store's devices registry on a server. Events, capture
    # sessions and outages keep referring to a row of this file's devices table (their foreign
    # key); a device of a lab store is captured under a local stand-in row there, and this table
    # says which lab-store device each stand-in is: the lab store (its server and database,
    # see app/storage/lab_devices.py), the device's id there and when it was registered there
    # (a database created again from scratch gives its ids out again, to other devices). One
    # current stand-in per lab-store device; an earlier one keeps its history under its own id.
    db["lab_devices"].create(
        {"store": str, "lab_ref": int, "lab_created_at": str, "local_ref": int,
         "label": str, "device_id": str, "seen_at": str},
        pk=("store", "lab_ref"), foreign_keys=[("local_ref", "devices", "id")],
        not_null={"store", "lab_ref", "local_ref", "label", "seen_at"},
    )
    db["lab_devices"].create_index(["local_ref"], unique=True)
