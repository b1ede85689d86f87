"""Alembic's environment for the lab store, run programmatically (no alembic.ini).

:mod:`app.storage.lab_schema` passes an open SQLAlchemy connection in
``config.attributes["connection"]``. Only the lab store's tables are compared and migrated: the
bench store's tables in a workstation's SQLite file belong to the sqlite-utils migrations.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from app.storage.tables import metadata


def _include_name(name, type_, parent_names) -> bool:
    return type_ != "table" or name in metadata.tables


def _run(connection) -> None:
    context.configure(
        connection=connection, target_metadata=metadata, include_name=_include_name,
        # SQLite changes most columns only by copying the table: let revisions say so once.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True, transaction_per_migration=False,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:  # a developer's `alembic -x url=...` (e.g. autogenerating a new revision)
    url = context.get_x_argument(as_dictionary=True).get("url") or context.config.get_main_option(
        "sqlalchemy.url")
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            _run(conn)
            conn.commit()
    finally:
        engine.dispose()
