"""MySQL/MariaDB: the outbox keeps events of any size the server takes (LONGTEXT).

`TEXT` there holds 65,535 bytes: a larger event (a history chunk, `message.base64`, a link
preview's thumbnail) failed its insert and, with it, the whole batch of the message pipeline.
The event's payload and what is copied into each of its rows from the webhook config (the URL,
the secret) become LONGTEXT, as `text` already is on PostgreSQL and SQLite (nothing to do
there). The JSON columns are LONGTEXT on MariaDB and native JSON on MySQL already; the
delivery error is kept short by the outbox itself.

One ALTER TABLE per table (each rebuilds its table once); the rows are kept.

Revision ID: 0006_long_payloads
Revises: 0005_is_on_whatsapp
Create Date: 2026-11-30
"""

from __future__ import annotations

from alembic import op

revision = "0006_long_payloads"
down_revision = "0005_is_on_whatsapp"
branch_labels = None
depends_on = None

WIDENED = {
    "event_outbox": (("payload", False), ("target", False), ("secret", True)),
    "webhooks": (("url", False), ("secret", True)),
}
"""The columns made LONGTEXT, with whether each may be NULL."""


def _on_mysql() -> bool:
    return bool(op.get_bind().dialect.name in ("mysql", "mariadb"))


def _alter(kind: str) -> None:
    for table, columns in WIDENED.items():
        changes = ", ".join(
            f"MODIFY `{name}` {kind}{'' if nullable else ' NOT NULL'}"
            for name, nullable in columns
        )
        op.execute(f"ALTER TABLE `{table}` {changes}")


def upgrade() -> None:
    if _on_mysql():
        _alter("LONGTEXT")


def downgrade() -> None:
    """Back to TEXT: fails ("Data too long") while a row holds more than 65,535 bytes."""
    if _on_mysql():
        _alter("TEXT")
