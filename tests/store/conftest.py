"""Fixtures of the store tests: an empty database of each kind, migrated or not."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import _fresh_uri, _reset_server_db
from wagate.store import migrate
from wagate.store.db import database_url, make_engine


@asynccontextmanager
async def fresh_engine(
    provider: str, tmp_path: Path, *, migrated: bool = False
) -> AsyncIterator[AsyncEngine]:
    """An engine on an empty database (this test process's own on a server; skipped when the
    server is not running), brought to every head if `migrated`."""
    uri = _fresh_uri(provider)
    if uri is None:
        url = f"sqlite+aiosqlite:///{tmp_path / 'wagate.db'}"
    else:
        await _reset_server_db(provider, uri)
        url = database_url(provider, uri, tmp_path)
    engine = make_engine(url)
    try:
        if migrated:
            await migrate.upgrade(engine)
        yield engine
    finally:
        await engine.dispose()
