"""Fixtures of the events tests: a loopback webhook receiver, and apps with event settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Harness, _reset_server_db, make_settings, start_harness, stop_harness
from tests.events.receiver import Receiver


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = await Receiver().start()
    try:
        yield r
    finally:
        await r.stop()


class Apps:
    """Starts apps with event settings (fast retries unless told otherwise) on one database,
    and stops them (a restart keeps the database)."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.running: dict[int, tuple[Harness, Any]] = {}
        self.fresh = True

    async def start(self, provider: str = "sqlite", **extra: Any) -> Harness:
        values: dict[str, Any] = {"webhook_retry_initial": 0.05, "webhook_retry_jitter": 0.0}
        values.update(extra)
        settings = make_settings(self.tmp_path, provider, **values)
        if settings.database_uri and self.fresh:
            await _reset_server_db(provider, settings.database_uri)
        self.fresh = False
        h, ctx = await start_harness(settings)
        self.running[id(h)] = (h, ctx)
        return h

    async def stop(self, h: Harness) -> None:
        h, ctx = self.running.pop(id(h))
        await stop_harness(h, ctx)


@pytest.fixture
async def apps(tmp_path: Path) -> AsyncIterator[Apps]:
    a = Apps(tmp_path)
    try:
        yield a
    finally:
        for h, ctx in list(a.running.values()):
            try:
                await stop_harness(h, ctx)
            except Exception:
                pass
