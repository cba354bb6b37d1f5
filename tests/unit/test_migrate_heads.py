"""Start-up skips alembic when the database is already at every head: the fast check must agree
with alembic itself."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text

from wagate.store import migrate
from wagate.store.db import make_engine


def test_script_heads_are_alembics_heads() -> None:
    script = ScriptDirectory.from_config(migrate.alembic_config())
    assert migrate.script_heads() == set(script.get_heads())


async def test_at_heads_only_once_every_head_is_applied(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'w.db'}")
    try:
        assert not await migrate.at_heads(engine)  # a new database: no alembic_version
        await migrate.upgrade(engine)
        assert await migrate.at_heads(engine)
        assert await migrate.current(engine) == migrate.script_heads()
        async with engine.begin() as conn:  # one head missing: a migration is pending
            await conn.execute(
                text("DELETE FROM alembic_version WHERE version_num = :v"),
                {"v": sorted(migrate.script_heads())[0]},
            )
        assert not await migrate.at_heads(engine)
    finally:
        await engine.dispose()


async def test_a_server_migrates_in_a_child_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def not_here(*_: object) -> None:
        raise AssertionError("alembic ran in the server's process")

    monkeypatch.setattr("alembic.command.upgrade", not_here)
    monkeypatch.setattr(migrate, "_apart", False)
    migrate.in_child_process()
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'w.db'}")
    try:
        await migrate.upgrade(engine)
        assert await migrate.current(engine) == migrate.script_heads()
    finally:
        await engine.dispose()


async def test_a_failed_child_migration_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(migrate, "_apart", True)
    db = tmp_path / "w.db"
    engine = make_engine(f"sqlite+aiosqlite:///{db}")
    try:
        async with engine.begin() as conn:  # a table in the way of the first migration
            await conn.execute(text("CREATE TABLE instances (id INTEGER)"))
        with pytest.raises(migrate.MigrationFailed, match="table instances already exists"):
            await migrate.upgrade(engine)
    finally:
        await engine.dispose()
