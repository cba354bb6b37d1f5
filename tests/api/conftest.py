"""The app configured like the Evolution server the fixtures were recorded from (its client name
and URL, tokens shown by fetchInstances), so that recorded values such as `clientName`,
`manager` and `token` compare as they are."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import Harness, _reset_server_db, make_settings, start_harness, stop_harness

EVOLUTION_CLIENT_NAME = "evolution_exchange"
EVOLUTION_SERVER_URL = "http://127.0.0.1:18085"


async def _evolution_like(tmp_path: Path, provider: str) -> tuple[Harness, object]:
    settings = make_settings(
        tmp_path,
        provider,
        client_name=EVOLUTION_CLIENT_NAME,
        server_url=EVOLUTION_SERVER_URL,
        expose_in_fetch=True,  # Evolution's fetchInstances always lists the tokens
    )
    if settings.database_uri:
        await _reset_server_db(provider, settings.database_uri)
    return await start_harness(settings)


@pytest.fixture
async def evo(tmp_path: Path) -> AsyncIterator[Harness]:
    """Evolution-like settings on SQLite."""
    h, ctx = await _evolution_like(tmp_path, "sqlite")
    try:
        yield h
    finally:
        await stop_harness(h, ctx)


@pytest.fixture
async def evo_db(tmp_path: Path, provider: str) -> AsyncIterator[Harness]:
    """Evolution-like settings on each database (SQLite, PostgreSQL, MariaDB)."""
    h, ctx = await _evolution_like(tmp_path, provider)
    try:
        yield h
    finally:
        await stop_harness(h, ctx)
