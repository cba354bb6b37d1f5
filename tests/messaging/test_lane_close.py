"""A lane that closes (its instance deleted, or the server stopping) leaves nothing behind: the
media downloads it started are cancelled, and every send it holds, in the batch being written
or still waiting, is answered (409) rather than left waiting for ever."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from tests.messaging.conftest import B_NUMBER, PNG, Pair
from wagate.messaging.pipeline import Lane, Pending
from wagate.runtime.tasks import running


async def _until(found: Callable[[], object], what: str) -> None:
    for _ in range(500):
        if found():
            return
        await asyncio.sleep(0.01)
    raise TimeoutError(what)


async def test_deleting_an_instance_cancels_its_media_downloads(sqlite_pair: Pair) -> None:
    h = sqlite_pair.h
    hook = {"enabled": True, "url": sqlite_pair.hook_b.url + "/hook", "events": [], "base64": True}
    r = await h.client.post("/webhook/set/bob", json={"webhook": hook})
    assert r.status_code == 201, r.text
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def stuck(instance_id: str, member: dict[str, Any]) -> bytes:
        started.set()
        try:
            await asyncio.Event().wait()  # a media server that never answers
        except asyncio.CancelledError:
            cancelled.set()
            raise
        raise AssertionError("unreachable")

    h.gateway.download = stuck
    body = {"number": B_NUMBER, "mediatype": "image", "mimetype": "image/png",
            "media": base64.b64encode(PNG).decode()}  # fmt: skip
    r = await h.client.post("/message/sendMedia/alice", json=body)
    assert r.status_code == 201, r.text
    await asyncio.wait_for(started.wait(), 5)
    assert running("base64:bob")
    r = await h.client.delete("/instance/delete/bob")
    assert r.status_code == 200, r.text
    await asyncio.wait_for(cancelled.wait(), 5)
    await _until(lambda: not running("base64:bob"), "the download task is still running")


async def test_sends_held_by_a_closing_lane_are_answered(
    sqlite_pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = sqlite_pair.h
    writing = asyncio.Event()
    real: Callable[[Lane, Any], Awaitable[None]] = Lane._commit

    async def slow_commit(lane: Lane, b: Any) -> None:
        if lane.name == "alice" and any(m.kind == "sent" for m in b.stored):  # a send: hangs
            writing.set()
            await asyncio.Event().wait()
        await real(lane, b)

    monkeypatch.setattr(Lane, "_commit", slow_commit)

    async def send(text: str) -> Any:
        return await h.client.post(
            "/message/sendText/alice", json={"number": B_NUMBER, "text": text}
        )

    first = asyncio.ensure_future(send("in the batch being written"))
    await asyncio.wait_for(writing.wait(), 5)
    second = asyncio.ensure_future(send("waiting behind it"))
    alice = h.gateway.get("alice").id
    lane = h.gateway.pipeline.lanes[alice]
    await _until(lambda: any(isinstance(i, Pending) for i in lane._items), "second send")
    h.gateway.pipeline.forget(alice)
    for request in (first, second):
        r = await asyncio.wait_for(request, 5)
        assert r.status_code == 409, r.text
        assert "deleted or stopped before the message was stored" in str(r.json())

    # an item that reaches the closed lane is dropped at once
    loop = asyncio.get_running_loop()
    late = Pending(loop.create_future(), loop.create_future(), None)
    lane.put(late)
    assert isinstance(late.stored.exception(), Exception) and not lane._items


async def test_a_send_that_outlives_its_instance_leaves_no_lane(
    sqlite_pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The instance is deleted while the send waits (here: for the webhook's base64 setting):
    404, and no new lane for the instance that is gone."""
    h = sqlite_pair.h
    ms = h.app.state.messenger
    alice = h.gateway.get("alice").id

    async def deleted_meanwhile(*_: Any) -> None:
        await h.gateway.delete("alice")

    monkeypatch.setattr(ms, "media_base64", deleted_meanwhile)
    r = await h.client.post("/message/sendText/alice", json={"number": B_NUMBER, "text": "t"})
    assert r.status_code == 404, r.text
    assert 'The "alice" instance does not exist' in str(r.json())
    assert alice not in h.gateway.pipeline.lanes
