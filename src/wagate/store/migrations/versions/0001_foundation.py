"""Foundation: instances, settings, sessions, webhooks.

Revision ID: 0001_foundation
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_foundation"
down_revision = None
branch_labels = None
depends_on = None


def _stamps() -> list[sa.Column[object]]:
    return [
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "instances",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False, unique=True),
        sa.Column("integration", sa.String(32), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, index=True),
        sa.Column("client_name", sa.String(100), nullable=False),
        sa.Column("number", sa.String(100)),
        sa.Column("business_id", sa.String(100)),
        sa.Column("connection_status", sa.String(16), nullable=False),
        sa.Column("lifecycle_state", sa.String(32), nullable=False),
        sa.Column("status_reason", sa.Integer(), nullable=False),
        sa.Column("status_detail", sa.Text(), nullable=False),
        sa.Column("owner_jid", sa.String(100)),
        sa.Column("profile_name", sa.String(255)),
        sa.Column("profile_pic_url", sa.Text()),
        sa.Column("disconnection_reason_code", sa.Integer()),
        sa.Column("disconnection_object", sa.Text()),
        sa.Column("disconnection_at", sa.DateTime()),
        *_stamps(),
    )
    op.create_table(
        "settings",
        sa.Column("id", sa.String(30), primary_key=True),
        sa.Column(
            "instance_id",
            sa.String(36),
            sa.ForeignKey("instances.id", ondelete="CASCADE"),
            nullable=False,
            unique=True,
        ),
        sa.Column("reject_call", sa.Boolean(), nullable=False),
        sa.Column("msg_call", sa.Text(), nullable=False),
        sa.Column("groups_ignore", sa.Boolean(), nullable=False),
        sa.Column("always_online", sa.Boolean(), nullable=False),
        sa.Column("read_messages", sa.Boolean(), nullable=False),
        sa.Column("read_status", sa.Boolean(), nullable=False),
        sa.Column("sync_full_history", sa.Boolean(), nullable=False),
        sa.Column("wavoip_token", sa.Text(), nullable=False),
        *_stamps(),
    )
    op.create_table(
        "sessions",
        sa.Column(
            "instance_id",
            sa.String(36),
            sa.ForeignKey("instances.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("creds", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "webhooks",
        sa.Column("id", sa.String(30), primary_key=True),
        sa.Column(
            "instance_id",
            sa.String(36),
            sa.ForeignKey("instances.id", ondelete="CASCADE"),
            nullable=False,
            unique=True,
        ),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("headers", sa.JSON(), nullable=False),
        sa.Column("by_events", sa.Boolean(), nullable=False),
        sa.Column("base64", sa.Boolean(), nullable=False),
        *_stamps(),
    )


def downgrade() -> None:
    for table in ("webhooks", "sessions", "settings", "instances"):
        op.drop_table(table)
