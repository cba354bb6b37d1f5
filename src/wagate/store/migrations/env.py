"""Alembic environment: always given a live connection by wagate.store.migrate."""

from __future__ import annotations

from alembic import context

from wagate.store.models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover
    raise RuntimeError("run migrations through `wagate migrate`, which supplies the connection")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
