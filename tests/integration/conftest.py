"""Fixtures shared by the lifecycle tests through the HTTP API."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Harness, make_settings, start_harness, stop_harness


@pytest.fixture
async def make_harness(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    """Starts virtual-clock harnesses with the caller's settings (no reconnect jitter unless
    asked), each on its own data, and stops them all at the end."""
    started: list[tuple[Harness, Any]] = []

    async def make(**extra: Any) -> Harness:
        settings = make_settings(
            tmp_path / str(len(started)), **{"reconnect_jitter": 0.0, **extra}
        )
        h, ctx = await start_harness(settings, virtual=True)
        started.append((h, ctx))
        return h

    yield make
    for h, ctx in started:
        await stop_harness(h, ctx)
