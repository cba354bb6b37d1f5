"""How an engine failure on a connected instance reaches the caller: never as a 500, and never
mislabelled as 'not connected' when the socket is up."""

from __future__ import annotations

import pytest

from tests.conftest import Harness
from tests.messaging.conftest import A_NUMBER, B_NUMBER, open_instance
from wagate.domain.errors import EngineAuthFailed, EngineError, EngineFatal, EngineUnavailable
from wagate.engines.sim.post import SimMessaging


@pytest.mark.parametrize(
    ("error", "status", "says"),
    [
        (EngineUnavailable("Connection Closed"), 400, "is not connected"),
        (EngineAuthFailed("device removed"), 400, "credentials were rejected"),
        (EngineFatal("account banned"), 502, "engine failed: account banned"),
        (EngineError("stream error"), 502, "engine failed: stream error"),
    ],
)
async def test_engine_errors_on_send(
    sqlite_harness: Harness,
    monkeypatch: pytest.MonkeyPatch,
    error: EngineError,
    status: int,
    says: str,
) -> None:
    h = sqlite_harness
    await open_instance(h, "alice", A_NUMBER, None)
    await open_instance(h, "bob", B_NUMBER, None)

    async def failing_send(self: SimMessaging, out: object) -> object:
        raise error

    monkeypatch.setattr(SimMessaging, "send", failing_send)
    r = await h.client.post("/message/sendText/alice", json={"number": B_NUMBER, "text": "hi"})
    assert r.status_code == status, r.text
    body = r.json()
    assert body["status"] == status
    assert says in str(body["response"]["message"])
