"""Instance names compare exactly on MySQL/MariaDB, as on SQLite and PostgreSQL.

MariaDB's default collation ignores case, accents and trailing spaces, so "Main" was refused
as a duplicate of "main" (and "acao" of "ação", "a " of "a") there only; a binary NO PAD
collation makes the unique name index compare the exact characters.

Revision ID: 0003_exact_instance_names
Revises: 0001_foundation
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

revision = "0003_exact_instance_names"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None


def _exact_collation() -> str | None:
    """MariaDB: utf8mb4_nopad_bin; MySQL 8: utf8mb4_0900_bin (both binary and NO PAD)."""
    dialect = op.get_bind().dialect
    if dialect.name != "mysql":
        return None
    return "utf8mb4_nopad_bin" if getattr(dialect, "is_mariadb", False) else "utf8mb4_0900_bin"


def upgrade() -> None:
    collation = _exact_collation()
    if collation is not None:
        op.execute(
            "ALTER TABLE instances MODIFY name VARCHAR(255) "
            f"CHARACTER SET utf8mb4 COLLATE {collation} NOT NULL"
        )


def downgrade() -> None:
    if _exact_collation() is not None:
        op.execute(
            "ALTER TABLE instances MODIFY name VARCHAR(255) "
            "CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL"
        )
