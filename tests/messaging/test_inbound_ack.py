"""An inbound message is acknowledged to the network only once it is durable: the sim's
/sim/{instance}/inbound answers 200 after the lane batch holding the message is committed,
503 when it could not be (the network delivers it again), and a message delivered again with
its id is stored and announced once, even after the lane forgot what it saw (a restart)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from tests.messaging.conftest import Pair
from wagate.messaging.pipeline import Lane

CONTACT = "5521999990001"


def _blocking_commit(
    monkeypatch: pytest.MonkeyPatch, lane_name: str
) -> tuple[asyncio.Event, asyncio.Event]:
    """Hold `lane_name`'s commits until `release` is set; `writing` says one started."""
    writing, release = asyncio.Event(), asyncio.Event()
    real: Callable[[Lane, Any], Awaitable[None]] = Lane._commit

    async def held(lane: Lane, b: Any) -> None:
        if lane.name == lane_name:
            writing.set()
            await release.wait()
        await real(lane, b)

    monkeypatch.setattr(Lane, "_commit", held)
    return writing, release


async def _records(pair: Pair) -> list[dict[str, Any]]:
    r = await pair.h.client.post(f"/chat/findMessages/{pair.b}", json={})
    assert r.status_code == 200, r.text
    records: list[dict[str, Any]] = r.json()["messages"]["records"]
    return records


async def test_the_200_comes_once_the_message_is_committed(
    sqlite_pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    writing, release = _blocking_commit(monkeypatch, sqlite_pair.b)
    body = {"from": CONTACT, "text": "kept", "id": "3EB0ACK00000001"}
    answer = asyncio.ensure_future(
        sqlite_pair.h.client.post(f"/sim/{sqlite_pair.b}/inbound", json=body)
    )
    await asyncio.wait_for(writing.wait(), 5)
    await asyncio.sleep(0.3)
    assert not answer.done()  # the batch is not committed: no acknowledgement yet
    assert await _records(sqlite_pair) == []
    release.set()
    r = await asyncio.wait_for(answer, 5)
    assert r.status_code == 200, r.text
    assert r.json()["id"] == "3EB0ACK00000001"
    (record,) = await _records(sqlite_pair)  # stored when acknowledged, not later
    assert record["key"]["id"] == "3EB0ACK00000001"


async def test_many_waiting_messages_share_one_commit(
    sqlite_pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Acknowledging after the commit keeps the group commit: messages that arrive while a
    batch is written go together in the next one."""
    commits: list[int] = []
    real: Callable[[Lane, Any], Awaitable[None]] = Lane._commit

    async def counted(lane: Lane, b: Any) -> None:
        if lane.name == sqlite_pair.b:
            commits.append(len(b.stored))
        await real(lane, b)

    monkeypatch.setattr(Lane, "_commit", counted)
    h = sqlite_pair.h
    answers = await asyncio.gather(
        *(
            h.client.post(f"/sim/{sqlite_pair.b}/inbound", json={"from": CONTACT, "text": f"{i}"})
            for i in range(40)
        )
    )
    assert [r.status_code for r in answers] == [200] * 40
    assert sum(commits) == 40 and len(commits) < 40, commits


async def test_a_batch_that_fails_is_a_503_and_the_message_comes_again(
    sqlite_pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    real: Callable[[Lane, Any], Awaitable[None]] = Lane._commit
    failing = True

    async def broken(lane: Lane, b: Any) -> None:
        if failing and lane.name == sqlite_pair.b:
            raise OSError("disk I/O error")
        await real(lane, b)

    monkeypatch.setattr(Lane, "_commit", broken)
    body = {"from": CONTACT, "text": "again", "id": "3EB0ACK00000002"}
    url = f"/sim/{sqlite_pair.b}/inbound"
    r = await sqlite_pair.h.client.post(url, json=body)
    assert r.status_code == 503, r.text
    assert "could not be stored" in str(r.json()) and "disk I/O error" in str(r.json())
    failing = False
    r = await sqlite_pair.h.client.post(url, json=body)  # the network delivers it again
    assert r.status_code == 200, r.text
    (record,) = await _records(sqlite_pair)
    assert record["key"]["id"] == "3EB0ACK00000002"
    (event,) = await sqlite_pair.events(sqlite_pair.hook_b, "messages.upsert", 1)
    assert event["data"]["key"]["id"] == "3EB0ACK00000002"


async def test_past_the_bound_the_answer_is_a_503(
    sqlite_pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    writing, release = _blocking_commit(monkeypatch, sqlite_pair.b)
    monkeypatch.setattr(sqlite_pair.h.gateway.settings, "inbound_ack_timeout", 0.2)
    body = {"from": CONTACT, "text": "slow", "id": "3EB0ACK00000003"}
    r = await sqlite_pair.h.client.post(f"/sim/{sqlite_pair.b}/inbound", json=body)
    assert r.status_code == 503, r.text
    assert "not stored within 0.2 s: deliver it again" in str(r.json())
    release.set()


async def test_a_message_delivered_again_after_a_restart_is_stored_and_announced_once(
    sqlite_pair: Pair,
) -> None:
    h, b = sqlite_pair.h, sqlite_pair.b
    body = {"from": CONTACT, "text": "once", "id": "3EB0ACK00000004"}
    assert (await h.client.post(f"/sim/{b}/inbound", json=body)).status_code == 200
    await sqlite_pair.events(sqlite_pair.hook_b, "messages.upsert", 1)
    lane = h.gateway.pipeline.lanes[h.gateway.get(b).id]
    lane.translator.forget_seen()  # what a restart forgets: only the database knows it now
    again = {"from": CONTACT, "text": "once", "id": "3EB0ACK00000004"}
    other = {"from": CONTACT, "text": "new", "id": "3EB0ACK00000005"}
    for sent in (again, other):
        assert (await h.client.post(f"/sim/{b}/inbound", json=sent)).status_code == 200
    await sqlite_pair.events(sqlite_pair.hook_b, "messages.upsert", 2)
    await asyncio.sleep(0.3)
    upserts = sqlite_pair.hook_b.bodies("messages.upsert")
    assert [u["data"]["key"]["id"] for u in upserts] == ["3EB0ACK00000004", "3EB0ACK00000005"]
    ids = sorted(r["key"]["id"] for r in await _records(sqlite_pair))
    assert ids == ["3EB0ACK00000004", "3EB0ACK00000005"]


async def test_a_bad_message_id_is_a_400(sqlite_pair: Pair) -> None:
    body = {"from": CONTACT, "text": "x", "id": "not-an-id!"}
    r = await sqlite_pair.h.client.post(f"/sim/{sqlite_pair.b}/inbound", json=body)
    assert r.status_code == 400, r.text
    assert "id" in str(r.json())
