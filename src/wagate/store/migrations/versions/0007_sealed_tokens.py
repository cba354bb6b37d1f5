"""Instance tokens are also kept sealed (AES-GCM, store/tokens.py), so that fetchInstances can
show them when AUTHENTICATION_EXPOSE_IN_FETCH_INSTANCES=true.

Rows created before have only the token's digest: their `token_sealed` stays NULL and their
token cannot be shown (authentication by digest is unchanged).

Revision ID: 0007_sealed_tokens
Revises: 0006_long_payloads
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_sealed_tokens"
down_revision = "0006_long_payloads"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("instances") as batch:
        batch.add_column(sa.Column("token_sealed", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("instances") as batch:
        batch.drop_column("token_sealed")
