"""The onWhatsApp cache: is_on_whatsapp (store/onwhatsapp.py), one table for all instances.

Revision ID: 0005_is_on_whatsapp
Revises: 0004_messaging
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_is_on_whatsapp"
down_revision = "0004_messaging"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "is_on_whatsapp",
        sa.Column("id", sa.String(30), primary_key=True),
        sa.Column("remote_jid", sa.String(128), nullable=False),
        sa.Column("jid_options", sa.Text(), nullable=False),
        sa.Column("lid", sa.String(128)),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("remote_jid", name="uq_is_on_whatsapp_jid"),
    )


def downgrade() -> None:
    op.drop_table("is_on_whatsapp")
