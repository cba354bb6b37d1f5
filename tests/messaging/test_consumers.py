"""Message consumers (messaging/consumers.py): after a batch commits, every registered consumer
hears its new messages in order, each on its own bounded queue; a consumer that raises or
never returns delays only itself, and its backlog, drops and failures show in /metrics."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from tests.messaging.conftest import A_NUMBER, B_NUMBER, Pair
from tests.unit.test_metrics import get, scrape
from wagate.engines.messaging import MessageKey
from wagate.messaging.consumers import Consumers, StoredMessage
from wagate.observability import metrics


class Recording:
    def __init__(self, name: str = "recording") -> None:
        self.name = name
        self.got: list[StoredMessage] = []
        self.calls = 0

    async def handle(self, messages: Sequence[StoredMessage]) -> None:
        self.calls += 1
        self.got.extend(messages)


class Raising:
    name = "raising"

    def __init__(self) -> None:
        self.calls = 0

    async def handle(self, messages: Sequence[StoredMessage]) -> None:
        self.calls += 1
        raise RuntimeError("this consumer always fails")


class Sleeping:
    """Takes the first batch and never returns (until cancelled)."""

    name = "sleeping"

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.cancelled = asyncio.Event()

    async def handle(self, messages: Sequence[StoredMessage]) -> None:
        self.started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled.set()
            raise


async def _until(found: Any, what: str) -> None:
    for _ in range(1000):
        if found():
            return
        await asyncio.sleep(0.01)
    raise TimeoutError(what)


async def test_a_failing_and_a_stuck_consumer_stop_nothing(sqlite_pair: Pair) -> None:
    h = sqlite_pair.h
    consumers = h.gateway.pipeline.consumers
    raising, sleeping, recording = Raising(), Sleeping(), Recording()
    for consumer in (raising, sleeping, recording):
        consumers.register(consumer)
    failed_before = get(await scrape(h), "wagate_consumer_failures_total", consumer="raising")
    texts = [f"m{i}" for i in range(12)]
    for text in texts:  # alice sends (send.message) and bob receives (messages.upsert)
        r = await h.client.post("/message/sendText/alice", json={"number": B_NUMBER, "text": text})
        assert r.status_code == 201, r.text
    r = await h.client.post("/message/sendText/bob", json={"number": A_NUMBER, "text": "back"})
    assert r.status_code == 201, r.text
    # the webhooks all arrive, in order
    got = await sqlite_pair.events(sqlite_pair.hook_b, "messages.upsert", len(texts))
    assert [e["data"]["message"]["conversation"] for e in got] == texts
    await sqlite_pair.events(sqlite_pair.hook_a, "messages.upsert", 1)
    # and so do the messages of the consumer that works, in each instance's order
    await _until(lambda: len(recording.got) == 2 * len(texts) + 2, "the recording consumer")
    by_instance: dict[str, list[StoredMessage]] = {}
    for m in recording.got:
        by_instance.setdefault(m.instance, []).append(m)
    alice, bob = by_instance["alice"], by_instance["bob"]
    assert [m.content["conversation"] for m in alice] == [*texts, "back"]
    assert [m.content["conversation"] for m in bob] == [*texts, "back"]
    sent, received = alice[0], bob[0]
    assert (sent.event, sent.kind, sent.from_me) == ("send.message", "sent", True)
    assert (received.event, received.kind, received.from_me) == (
        "messages.upsert",
        "notify",
        False,
    )
    assert received.instance_id == h.gateway.get("bob").id
    assert received.message_type == "conversation" and received.push_name
    assert received.key.id == sent.key.id and received.timestamp > 0
    assert received.row_id is not None and received.raw["key"]["id"] == received.key.id
    r = await h.client.post(
        "/chat/findMessages/bob", json={"where": {"key": {"id": received.key.id}}}
    )
    assert r.json()["messages"]["records"][0]["id"] == received.row_id
    # the failing consumer was called for every batch, each failure counted
    assert raising.calls >= 2
    samples = await scrape(h)
    failures = get(samples, "wagate_consumer_failures_total", consumer="raising")
    assert failures - failed_before == raising.calls
    # the stuck one holds its first batch; the rest waits in its backlog
    assert sleeping.started.is_set()
    backlog = get(samples, "wagate_consumer_backlog", consumer="sleeping")
    assert backlog == 2 * len(texts) + 2
    assert get(samples, "wagate_consumer_backlog", consumer="recording") == 0
    # deleting an instance drops what its consumers had yet to hear of it
    r = await h.client.delete("/instance/delete/alice")
    assert r.status_code == 200, r.text
    assert dict(consumers.backlogs())["sleeping"] < backlog


async def test_the_server_stopping_cancels_a_stuck_consumer(sqlite_pair: Pair) -> None:
    h = sqlite_pair.h
    sleeping = Sleeping()
    h.gateway.pipeline.consumers.register(sleeping)
    r = await h.client.post("/message/sendText/alice", json={"number": B_NUMBER, "text": "x"})
    assert r.status_code == 201, r.text
    await asyncio.wait_for(sleeping.started.wait(), 5)
    h.gateway.pipeline.close()
    await asyncio.wait_for(sleeping.cancelled.wait(), 5)
    assert dict(h.gateway.pipeline.consumers.backlogs())["sleeping"] == 0


def _message(instance: str, n: int) -> StoredMessage:
    key = MessageKey("5511987650009@s.whatsapp.net", False, f"K{n}")
    raw = {"instanceId": f"id-{instance}", "pushName": "Carla", "messageType": "conversation",
           "message": {"conversation": str(n)}, "messageTimestamp": n,
           "status": "DELIVERY_ACK"}  # fmt: skip
    return StoredMessage.of(instance, "messages.upsert", "notify", key, raw, None)


async def test_a_full_backlog_drops_the_oldest_and_counts_them() -> None:
    consumers = Consumers()
    release = asyncio.Event()
    seen: list[int] = []

    class Gated:
        name = "gated"

        async def handle(self, messages: Sequence[StoredMessage]) -> None:
            await release.wait()
            seen.extend(m.timestamp for m in messages)

    consumers.register(Gated(), backlog=5)
    before = metrics.CONSUMER_DROPPED.labels("gated")._value.get()
    consumers.offer([_message("a", 0)])  # taken by the consumer, which waits
    await asyncio.sleep(0)
    consumers.offer([_message("a", 1), _message("a", 2)])
    consumers.offer([_message("a", 3), _message("a", 4)])
    assert dict(consumers.backlogs()) == {"gated": 5}  # 4 waiting, 1 in hand
    consumers.offer([_message("a", 5), _message("a", 6)])  # the oldest waiting batch goes
    assert dict(consumers.backlogs()) == {"gated": 5}
    consumers.offer([_message("a", n) for n in range(7, 17)])  # more than the bound at once
    assert dict(consumers.backlogs()) == {"gated": 6}  # 5 waiting, 1 in hand
    dropped = metrics.CONSUMER_DROPPED.labels("gated")._value.get() - before
    assert dropped == 2 + 5 + 2 + 2  # (1, 2); then 7 … 11, (3, 4) and (5, 6)
    release.set()
    await _until(lambda: dict(consumers.backlogs())["gated"] == 0, "the backlog drained")
    assert seen == [0, 12, 13, 14, 15, 16]  # what was kept, in order
    consumers.close()


async def test_registration_is_checked() -> None:
    consumers = Consumers()
    consumers.register(Recording("one"))
    with pytest.raises(ValueError, match="already registered"):
        consumers.register(Recording("one"))
    with pytest.raises(ValueError, match="at least one"):
        consumers.register(Recording("two"), backlog=0)
    consumers.offer([])  # nothing to hand over: no task is started
    assert dict(consumers.backlogs()) == {"one": 0}


async def test_a_consumer_answers_through_the_public_send(sqlite_pair: Pair) -> None:
    """A chatbot's shape: it hears bob's inbound messages and replies with Messenger.send,
    the operation behind /message/sendText (its reply is itself a message it then hears)."""
    h = sqlite_pair.h
    messenger = h.app.state.messenger
    heard: list[tuple[str, str]] = []

    class EchoBot:
        name = "echo"

        async def handle(self, messages: Sequence[StoredMessage]) -> None:
            for m in messages:
                text = m.content.get("conversation", "")
                heard.append((m.instance, text))
                if m.instance != "bob" or m.from_me or m.kind != "notify":
                    continue
                reg = h.gateway.get(m.instance)
                number = m.key.remote_jid.split("@", 1)[0]
                await messenger.send(reg, number, {"conversation": f"echo: {text}"})

    h.gateway.pipeline.consumers.register(EchoBot())
    r = await h.client.post("/message/sendText/alice", json={"number": B_NUMBER, "text": "hi"})
    assert r.status_code == 201, r.text
    (reply,) = await sqlite_pair.events(sqlite_pair.hook_a, "messages.upsert", 1)
    assert reply["data"]["message"]["conversation"] == "echo: hi"
    await _until(lambda: ("bob", "echo: hi") in heard, "the bot hears its own reply")
    assert heard.count(("bob", "hi")) == 1 and ("alice", "hi") in heard
