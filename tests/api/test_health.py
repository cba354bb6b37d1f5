"""/health: ready while the database answers, 503 with the database's error when it does not."""

from __future__ import annotations

import pytest

from tests.conftest import Harness
from wagate.store.db import make_engine, make_sessionmaker
from wagate.store.repos import Store


async def test_health_is_ready_while_the_database_answers(harness: Harness) -> None:
    r = await harness.client.get("/health")
    assert r.status_code == 200
    body = r.json()
    assert (body["status"], body["live"], body["ready"]) == ("ok", True, True)
    assert body["database"]["ok"] is True and body["database"]["error"] is None


async def test_health_is_unavailable_when_the_database_does_not_answer(
    sqlite_harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    gone = make_engine("postgresql+asyncpg://postgres@127.0.0.1:1/none")  # nothing listens
    try:
        monkeypatch.setattr(sqlite_harness.gateway, "store", Store(make_sessionmaker(gone)))
        r = await sqlite_harness.client.get("/health")
        assert r.status_code == 503
        body = r.json()
        assert (body["status"], body["live"], body["ready"]) == ("unavailable", True, False)
        assert body["database"]["ok"] is False and "Connect" in body["database"]["error"]
    finally:
        monkeypatch.undo()
        await gone.dispose()
