"""Alembic environment: runs on the connection given by storage.migrate (online only)."""

from __future__ import annotations

from alembic import context

import storage.tables  # noqa: F401  (registers every model on Base.metadata)
from storage.base import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through storage.migrate.migrate(engine)")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
