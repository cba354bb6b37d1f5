"""An event larger than MySQL/MariaDB takes (its max_allowed_packet, read at start-up; lowered
here rather than sending 16 MiB) never fails the batch it came in: it goes without
`message.base64`, or, with nothing to leave out, is not delivered (logged); a message that large
is not stored (logged). The batch's other messages and events are stored and delivered."""

from __future__ import annotations

import base64
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from structlog.testing import CapturingLogger

from tests.conftest import _reset_server_db, make_settings, start_harness, stop_harness
from tests.messaging.conftest import Pair, _pair
from wagate.engines.messaging import Message, MessageKey
from wagate.events import bus
from wagate.messaging import pipeline as pipeline_module
from wagate.messaging import translate

pytestmark = pytest.mark.mysql
PACKET = 200_000
"""max_allowed_packet as the tests pretend (MariaDB's default is 16 MiB)."""
CARLA = "5521987650003@s.whatsapp.net"


@pytest.fixture
async def low_pair(tmp_path: Path) -> AsyncIterator[Pair]:
    """alice and bob on MariaDB, the outbox taking rows of at most PACKET bytes."""
    settings = make_settings(tmp_path, "mysql")
    assert settings.database_uri
    await _reset_server_db("mysql", settings.database_uri)
    h, ctx = await start_harness(settings)
    try:
        budget = h.app.state.events.outbox.budget  # the message store's too
        async with h.app.state.db.connect() as conn:  # read at start-up
            packet = (await conn.execute(text("SELECT @@max_allowed_packet"))).scalar_one()
        assert budget.packet == packet > PACKET
        budget.packet = PACKET
        async for p in _pair(h):
            yield p
    finally:
        await stop_harness(h, ctx)


def _logged(monkeypatch: pytest.MonkeyPatch) -> CapturingLogger:
    """Records what the bus and the pipeline log from now on."""
    logger = CapturingLogger()
    monkeypatch.setattr(bus, "_log", logger)
    monkeypatch.setattr(pipeline_module, "_log", logger)
    monkeypatch.setattr(translate, "_log", logger)
    return logger


def _said(logger: CapturingLogger) -> list[tuple[str, str, dict[str, Any]]]:
    """(level, message, values) of each line above debug."""
    return [(c.method_name, c.args[0], c.kwargs) for c in logger.calls if c.method_name != "debug"]


def _text(key_id: str, body: str) -> Message:
    return Message(0, MessageKey(CARLA, False, key_id), {"conversation": body}, int(time.time()))


async def _stored(pair: Pair, name: str) -> list[dict[str, Any]]:
    r = await pair.h.client.post(f"/chat/findMessages/{name}", json={})
    return list(r.json()["messages"]["records"])


async def test_an_event_too_large_is_left_out_and_its_batch_is_kept(
    low_pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = low_pair.h
    lane = h.gateway.pipeline.lanes[h.gateway.instances["bob"].id]
    huge = "é" * 150_000  # 300 KB of text: more than the database takes in one row
    logs = _logged(monkeypatch)
    for key_id, body in (("SMALL1", "before"), ("HUGE1", huge), ("SMALL2", "after")):
        lane.put(_text(key_id, body))  # queued together: one batch
    got = await low_pair.events(low_pair.hook_b, "messages.upsert", 2)
    await low_pair.events(low_pair.hook_b, "chats.upsert", 1)
    assert [e["data"]["key"]["id"] for e in got] == ["SMALL1", "SMALL2"]
    stored = {m["key"]["id"]: m["message"] for m in await _stored(low_pair, "bob")}
    assert stored == {"SMALL1": {"conversation": "before"}, "SMALL2": {"conversation": "after"}}
    (row, event) = _said(logs)  # and no failed batch write
    assert row[:2] == ("error", "message too large to store") and row[2]["id"] == "HUGE1"
    assert event[:2] == ("error", "event too large for the outbox: not delivered")
    assert event[2]["event_name"] == "messages.upsert" and event[2]["packet"] == PACKET
    assert event[2]["row_bytes"] > PACKET
    # the lane goes on
    lane.put(_text("SMALL3", "later"))
    got = await low_pair.events(low_pair.hook_b, "messages.upsert", 3)
    assert got[-1]["data"]["message"] == {"conversation": "later"}


async def _inbound(pair: Pair, data: bytes, name: str) -> None:
    body = {"from": "5521987650003", "media": base64.b64encode(data).decode(),
            "mimetype": "application/pdf", "fileName": name}  # fmt: skip
    r = await pair.h.client.post("/sim/bob/inbound", json=body)
    assert r.status_code == 200, r.text


async def test_media_that_would_not_fit_goes_without_base64(
    low_pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    h, pipeline = low_pair.h, low_pair.h.gateway.pipeline
    body = {"webhook": {"enabled": True, "url": low_pair.hook_b.url + "/hook", "events": [],
                        "base64": True}}  # fmt: skip
    assert (await h.client.post("/webhook/set/bob", json=body)).status_code == 201
    fetched: list[int] = []
    real = h.gateway.download

    async def counting(instance_id: str, member: dict[str, Any]) -> bytes:
        data: bytes = await real(instance_id, member)
        fetched.append(len(data))
        return data

    monkeypatch.setattr(h.gateway, "download", counting)
    small, large = os.urandom(50_000), os.urandom(180_000)
    await _inbound(low_pair, small, "small.pdf")
    await _inbound(low_pair, large, "large.pdf")  # not even downloaded: it could not be sent
    got = await low_pair.events(low_pair.hook_b, "messages.upsert", 2)
    assert base64.b64decode(got[0]["data"]["message"]["base64"]) == small
    assert "base64" not in got[1]["data"]["message"]
    assert fetched == [len(small)]
    # the estimate missed (here: no estimate): the bus leaves it out of the event itself
    monkeypatch.setattr(pipeline, "base64_cap", lambda content: 1 << 30)
    logs = _logged(monkeypatch)
    await _inbound(low_pair, large, "again.pdf")
    got = await low_pair.events(low_pair.hook_b, "messages.upsert", 3)
    assert fetched == [len(small), len(large)]
    message = got[2]["data"]["message"]
    assert "base64" not in message and message["documentMessage"]["fileName"] == "again.pdf"
    assert [(level, message) for level, message, _ in _said(logs)] == [
        ("warning", "media left out of the event: too large for the outbox")
    ]
    assert len(await _stored(low_pair, "bob")) == 3
