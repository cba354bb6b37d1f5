"""A transport's own settings beside its switch and events: Pusher's app id, key, secret,
cluster and useTLS (`event_transports.options`, NULL for the transports that have none).

Revision ID: 0008_transport_options
Revises: 0007_sealed_tokens
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_transport_options"
down_revision = "0007_sealed_tokens"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("event_transports") as batch:
        batch.add_column(sa.Column("options", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("event_transports") as batch:
        batch.drop_column("options")
