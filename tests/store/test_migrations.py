"""The migrations build what the models describe, on every database, and 0006 (LONGTEXT event
payloads on MySQL/MariaDB) keeps the rows it finds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import delete, insert, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

import wagate.store.configs
import wagate.store.messages
import wagate.store.onwhatsapp
from tests.store.conftest import fresh_engine
from wagate.store import migrate
from wagate.store.models import Base, Instance, Webhook, utcnow
from wagate.store.outbox import OutboxRow

assert wagate.store.configs and wagate.store.messages and wagate.store.onwhatsapp  # their tables
BEFORE = "0005_is_on_whatsapp"
WIDENED = {
    ("event_outbox", "payload"),
    ("event_outbox", "target"),
    ("event_outbox", "secret"),
    ("webhooks", "url"),
    ("webhooks", "secret"),
}


def _drift(conn: Connection) -> list[Any]:
    context = MigrationContext.configure(conn, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_the_models_match_the_migrations(tmp_path: Path, provider: str) -> None:
    """What autogenerate would write after every migration: nothing (types compared too)."""
    async with (
        fresh_engine(provider, tmp_path, migrated=True) as engine,
        engine.connect() as conn,
    ):
        assert await conn.run_sync(_drift) == []


async def _column_types(engine: AsyncEngine) -> dict[tuple[str, str], str]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT table_name, column_name, data_type FROM information_schema.columns"
                " WHERE table_schema = DATABASE()"
            )
        )
        return {(t, c): d.lower() for t, c, d in rows if (t, c) in WIDENED}


async def _downgrade(engine: AsyncEngine, revision: str) -> None:
    def run(conn: Connection) -> None:
        command.downgrade(migrate.alembic_config(conn), revision)

    async with engine.begin() as conn:
        await conn.run_sync(run)


async def test_0006_keeps_the_rows_and_takes_large_events(tmp_path: Path, provider: str) -> None:
    now = utcnow()
    payload = '{"data":"' + "é\"'\\ " * 10_000 + '"}'  # 60 KB: nearly what TEXT holds
    outbox_row = {
        "event_id": "0" * 26, "instance_id": "i-1", "instance_name": "main",
        "event": "messages.upsert", "lane": "i-1|webhook|instance", "sink": "webhook",
        "scope": "instance", "target": "http://127.0.0.1:1/h", "headers": {"a": "b"},
        "secret": "s3cret", "payload": payload, "status": "pending", "attempts": 0,
        "next_at": now, "created_at": now,
    }  # fmt: skip
    async with fresh_engine(provider, tmp_path) as engine:
        await migrate.upgrade(engine, BEFORE)
        async with engine.begin() as conn:
            await conn.execute(
                insert(Instance).values(
                    id="i-1",
                    name="main",
                    integration="WHATSAPP-BAILEYS",
                    token_hash="h",
                    client_name="c",
                    connection_status="close",
                    lifecycle_state="idle",
                    status_reason=200,
                    status_detail="",
                    created_at=now,
                    updated_at=now,
                )  # fmt: skip
            )
            await conn.execute(
                insert(Webhook).values(
                    id="w-1",
                    instance_id="i-1",
                    url="http://127.0.0.1:1/h",
                    enabled=True,
                    events=["MESSAGES_UPSERT"],
                    headers={},
                    by_events=False,
                    base64=True,
                    secret="s3cret",
                    created_at=now,
                    updated_at=now,
                )  # fmt: skip
            )
            await conn.execute(insert(OutboxRow), [outbox_row])
        if provider == "mysql":
            assert set((await _column_types(engine)).values()) == {"text"}

        await migrate.upgrade(engine)
        assert await migrate.current(engine) == migrate.script_heads()
        async with engine.begin() as conn:
            (kept,) = (await conn.execute(select(OutboxRow))).mappings().all()
            assert {k: kept[k] for k in outbox_row if k not in ("next_at", "created_at")} == {
                k: v for k, v in outbox_row.items() if k not in ("next_at", "created_at")
            }
            hook = (await conn.execute(select(Webhook.url, Webhook.secret))).one()
            assert tuple(hook) == ("http://127.0.0.1:1/h", "s3cret")
            big = payload * 18  # 1 MiB
            long_url = "http://127.0.0.1:1/" + "p" * 70_000
            await conn.execute(
                insert(OutboxRow),
                [{**outbox_row, "event_id": "1" * 26, "payload": big, "target": long_url}],
            )
        async with engine.connect() as conn:
            stored = (
                await conn.execute(select(OutboxRow.payload, OutboxRow.target).where(
                    OutboxRow.event_id == "1" * 26
                ))
            ).one()  # fmt: skip
            assert tuple(stored) == (big, long_url)
        if provider != "mysql":
            return
        assert await _column_types(engine) == dict.fromkeys(WIDENED, "longtext")
        async with engine.begin() as conn:  # back to TEXT once nothing is larger than it holds
            await conn.execute(delete(OutboxRow).where(OutboxRow.event_id == "1" * 26))
        await _downgrade(engine, BEFORE)
        assert set((await _column_types(engine)).values()) == {"text"}
        async with engine.connect() as conn:
            assert (await conn.execute(select(OutboxRow.payload))).scalar_one() == payload
