"""Messaging: messages, message_updates, contacts, chats, labels (store/messages.py).

Also merges the events and instance-name heads into one.

Revision ID: 0004_messaging
Revises: 0002_events, 0003_exact_instance_names
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_messaging"
down_revision = ("0002_events", "0003_exact_instance_names")
branch_labels = None
depends_on = None


def _instance() -> sa.Column[str]:
    return sa.Column(
        "instance_id",
        sa.String(36),
        sa.ForeignKey("instances.id", ondelete="CASCADE"),
        nullable=False,
    )


def _stamps() -> list[sa.Column[object]]:
    return [
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "messages",
        sa.Column("id", sa.String(30), primary_key=True),
        _instance(),
        sa.Column("key_id", sa.String(128), nullable=False),
        sa.Column("remote_jid", sa.String(128), nullable=False),
        sa.Column("remote_jid_alt", sa.String(128)),
        sa.Column("from_me", sa.Boolean(), nullable=False),
        sa.Column("participant", sa.String(128)),
        sa.Column("key", sa.JSON(), nullable=False),
        sa.Column("push_name", sa.String(255)),
        sa.Column("message_type", sa.String(64), nullable=False),
        sa.Column("message", sa.JSON(), nullable=False),
        sa.Column("context_info", sa.JSON()),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("message_timestamp", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(16)),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_messages_instance_ts", "messages", ["instance_id", "message_timestamp"])
    op.create_index("ix_messages_instance_key", "messages", ["instance_id", "key_id"])
    op.create_index(
        "ix_messages_instance_chat_ts",
        "messages",
        ["instance_id", "remote_jid", "message_timestamp"],
    )
    op.create_table(
        "message_updates",
        sa.Column("id", sa.String(30), primary_key=True),
        _instance(),
        sa.Column("message_id", sa.String(30), sa.ForeignKey("messages.id", ondelete="CASCADE")),
        sa.Column("key_id", sa.String(128), nullable=False),
        sa.Column("remote_jid", sa.String(128), nullable=False),
        sa.Column("from_me", sa.Boolean(), nullable=False),
        sa.Column("participant", sa.String(128)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("poll_updates", sa.JSON()),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index(
        "ix_message_updates_instance_key", "message_updates", ["instance_id", "key_id"]
    )
    op.create_index("ix_message_updates_message", "message_updates", ["message_id"])
    op.create_table(
        "contacts",
        sa.Column("id", sa.String(30), primary_key=True),
        _instance(),
        sa.Column("remote_jid", sa.String(128), nullable=False),
        sa.Column("push_name", sa.String(255)),
        sa.Column("profile_pic_url", sa.Text()),
        *_stamps(),
        sa.UniqueConstraint("instance_id", "remote_jid", name="uq_contacts_jid"),
    )
    op.create_table(
        "chats",
        sa.Column("id", sa.String(30), primary_key=True),
        _instance(),
        sa.Column("remote_jid", sa.String(128), nullable=False),
        sa.Column("name", sa.String(255)),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("unread_messages", sa.Integer(), nullable=False),
        sa.Column("archived", sa.Boolean(), nullable=False),
        sa.Column("last_message_at", sa.BigInteger(), nullable=False),
        *_stamps(),
        sa.UniqueConstraint("instance_id", "remote_jid", name="uq_chats_jid"),
    )
    op.create_table(
        "labels",
        sa.Column("id", sa.String(30), primary_key=True),
        _instance(),
        sa.Column("label_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("color", sa.Integer(), nullable=False),
        sa.Column("predefined_id", sa.String(64)),
        *_stamps(),
        sa.UniqueConstraint("instance_id", "label_id", name="uq_labels_id"),
    )


def downgrade() -> None:
    for table in ("labels", "chats", "contacts", "message_updates", "messages"):
        op.drop_table(table)
