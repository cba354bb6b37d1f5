"""Events: the durable outbox, websocket/rabbitmq/nats configs, proxies, webhook secrets.

Revision ID: 0002_events
Revises: 0001_foundation
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_events"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None

_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _stamps() -> list[sa.Column[object]]:
    return [
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "event_outbox",
        sa.Column("seq", _SEQ, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(26), nullable=False, index=True),
        sa.Column("instance_id", sa.String(36), nullable=False),
        sa.Column("instance_name", sa.String(255), nullable=False),
        sa.Column("event", sa.String(64), nullable=False),
        sa.Column("lane", sa.String(120), nullable=False),
        sa.Column("sink", sa.String(16), nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("headers", sa.JSON()),
        sa.Column("secret", sa.Text()),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_at", sa.DateTime(), nullable=False),
        sa.Column("last_code", sa.Integer()),
        sa.Column("last_error", sa.Text()),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("done_at", sa.DateTime()),
    )
    op.create_index("ix_event_outbox_status_seq", "event_outbox", ["status", "seq"])
    op.create_index("ix_event_outbox_instance_seq", "event_outbox", ["instance_id", "seq"])
    op.create_index("ix_event_outbox_done_at", "event_outbox", ["status", "done_at"])
    op.create_table(
        "event_transports",
        sa.Column("id", sa.String(30), primary_key=True),
        sa.Column(
            "instance_id",
            sa.String(36),
            sa.ForeignKey("instances.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("transport", sa.String(16), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        *_stamps(),
        sa.UniqueConstraint("instance_id", "transport"),
    )
    op.create_table(
        "proxies",
        sa.Column("id", sa.String(30), primary_key=True),
        sa.Column(
            "instance_id",
            sa.String(36),
            sa.ForeignKey("instances.id", ondelete="CASCADE"),
            nullable=False,
            unique=True,
        ),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("port", sa.String(16), nullable=False),
        sa.Column("protocol", sa.String(16), nullable=False),
        sa.Column("username", sa.Text(), nullable=False),
        sa.Column("password", sa.Text(), nullable=False),
        *_stamps(),
    )
    with op.batch_alter_table("webhooks") as batch:
        batch.add_column(sa.Column("secret", sa.Text()))


def downgrade() -> None:
    with op.batch_alter_table("webhooks") as batch:
        batch.drop_column("secret")
    for table in ("proxies", "event_transports"):
        op.drop_table(table)
    op.drop_index("ix_event_outbox_done_at", "event_outbox")
    op.drop_index("ix_event_outbox_instance_seq", "event_outbox")
    op.drop_index("ix_event_outbox_status_seq", "event_outbox")
    op.drop_table("event_outbox")
