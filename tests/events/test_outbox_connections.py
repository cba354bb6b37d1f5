"""The outbox's held connections always go back to the pool: a cancellation (the dispatcher
stopping) that lands while one is being opened or closed must not leave it checked out, to be
reclaimed by the garbage collector later (SQLAlchemy's "non-checked-in connection" warning)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from wagate.store import migrate
from wagate.store.budget import PayloadBudget
from wagate.store.db import make_engine, make_sessionmaker
from wagate.store.held import to_completion
from wagate.store.outbox import Outbox


async def test_a_cancel_while_the_reader_opens_gives_the_connection_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'w.db'}")
    try:
        await migrate.upgrade(engine)
        store = Outbox(make_sessionmaker(engine), PayloadBudget(None))
        entered = asyncio.Event()
        original = AsyncConnection.execution_options

        async def stuck(self: AsyncConnection, **options: Any) -> AsyncConnection:
            if options.get("isolation_level") == "AUTOCOMMIT":
                entered.set()
                await asyncio.sleep(30)
            return await original(self, **options)

        monkeypatch.setattr(AsyncConnection, "execution_options", stuck)
        task = asyncio.get_running_loop().create_task(store.pending_after(0, 10))
        await entered.wait()
        assert engine.pool.checkedout() == 1  # type: ignore[attr-defined]
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
        monkeypatch.undo()
        assert await store.pending_after(0, 10) == []  # the next read opens a fresh one
        await store.close()
        assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    finally:
        await engine.dispose()


async def test_a_cleanup_outlives_its_callers_cancellation() -> None:
    done: list[str] = []

    async def close() -> None:
        await asyncio.sleep(0.05)
        done.append("closed")

    async def caller() -> None:
        await to_completion(close())
        done.append("not reached")

    task = asyncio.get_running_loop().create_task(caller())
    await asyncio.sleep(0.01)
    task.cancel()
    await asyncio.sleep(0.01)
    task.cancel()  # twice: still finished before the caller ends
    with pytest.raises(asyncio.CancelledError):
        await task
    assert done == ["closed"]

    async def failing() -> None:
        raise OSError("gone")

    with pytest.raises(OSError, match="gone"):
        await to_completion(failing())
