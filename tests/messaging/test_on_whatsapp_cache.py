"""The onWhatsApp cache (DATABASE_SAVE_IS_ON_WHATSAPP): a number found on WhatsApp is asked of
the engine once; entries expire after DATABASE_SAVE_IS_ON_WHATSAPP_DAYS; only "yes" is kept;
inbound messages teach it their sender's number and LID; with the flag off nothing is kept."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from tests.conftest import Harness, _reset_server_db, make_settings, start_harness, stop_harness
from tests.messaging.conftest import A_NUMBER, open_instance
from wagate.engines.messaging import NumberCheck
from wagate.engines.sim.post import SimMessaging

CONTACT = "5511987650003"  # DDD 11: registered with the 9th digit
CONTACT_JID = f"{CONTACT}@s.whatsapp.net"
WITHOUT_NINTH = "551187650003"
OTHER = "4915123456789"
OTHER_JID = f"{OTHER}@s.whatsapp.net"


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Every check_numbers call the sim engine serves, with the JIDs it was asked."""
    calls: list[list[str]] = []
    original = SimMessaging.check_numbers

    async def spy(self: SimMessaging, jids: Sequence[str]) -> list[NumberCheck]:
        calls.append(list(jids))
        return await original(self, jids)

    monkeypatch.setattr(SimMessaging, "check_numbers", spy)
    return calls


async def _harness(tmp_path: Path, provider: str, **extra: Any) -> tuple[Harness, Any]:
    settings = make_settings(tmp_path, provider, **extra)
    if settings.database_uri:
        await _reset_server_db(provider, settings.database_uri)
    h, ctx = await start_harness(settings)
    await open_instance(h, "alice", A_NUMBER, None)
    return h, ctx


@pytest.fixture
async def cached(tmp_path: Path, provider: str) -> AsyncIterator[Harness]:
    """alice, open, with the cache on, on every database."""
    h, ctx = await _harness(tmp_path, provider, save_is_on_whatsapp=True)
    try:
        yield h
    finally:
        await stop_harness(h, ctx)


async def rows(h: Harness) -> dict[str, tuple[str, str | None]]:
    async with h.app.state.db.connect() as conn:
        found = await conn.execute(text("SELECT remote_jid, jid_options, lid FROM is_on_whatsapp"))
        return {jid: (options, lid) for jid, options, lid in found}


async def age(h: Harness, days: float) -> None:
    """Make every cache entry `days` old."""
    then = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=days)
    async with h.app.state.db.begin() as conn:
        await conn.execute(text("UPDATE is_on_whatsapp SET updated_at = :t"), {"t": then})


async def until(found: Callable[[], object]) -> None:
    for _ in range(500):
        if found():
            return
        await asyncio.sleep(0.01)
    raise TimeoutError


async def until_rows(h: Harness) -> None:
    for _ in range(500):
        if await rows(h):
            return
        await asyncio.sleep(0.01)
    raise TimeoutError


async def send(h: Harness, number: str) -> Any:
    return await h.client.post("/message/sendText/alice", json={"number": number, "text": "hi"})


async def test_a_cached_number_is_asked_of_the_engine_once(
    cached: Harness, asked: list[list[str]]
) -> None:
    h = cached
    r = await h.client.post("/sim/contacts", json={"number": CONTACT})
    lid = r.json()["lid"]
    r = await send(h, WITHOUT_NINTH)  # found as its other Brazilian form
    assert r.status_code == 201, r.text
    assert r.json()["key"]["remoteJid"] == CONTACT_JID
    assert asked == [[f"{WITHOUT_NINTH}@s.whatsapp.net", CONTACT_JID]]
    assert await rows(h) == {CONTACT_JID: (f"{CONTACT_JID},{WITHOUT_NINTH}@s.whatsapp.net", lid)}

    for number in (CONTACT, WITHOUT_NINTH, "+55 (11) 98765-0003"):
        r = await send(h, number)
        assert r.status_code == 201, r.text
        assert r.json()["key"]["remoteJid"] == CONTACT_JID
    r = await h.client.post("/chat/whatsappNumbers/alice", json={"numbers": [CONTACT]})
    assert r.json() == [{"jid": CONTACT_JID, "exists": True, "number": CONTACT, "lid": lid}]
    assert len(asked) == 1, "the cache answered"

    # whatsappNumbers asks the engine once for all the numbers the cache does not answer
    await h.client.post("/sim/contacts", json={"number": OTHER})
    r = await h.client.post(
        "/chat/whatsappNumbers/alice", json={"numbers": [OTHER, CONTACT, "4915000000000"]}
    )
    assert [(x["jid"], x["exists"]) for x in r.json()] == [
        (OTHER_JID, True),
        (CONTACT_JID, True),
        ("4915000000000@s.whatsapp.net", False),
    ]
    assert asked[1:] == [[OTHER_JID, "4915000000000@s.whatsapp.net"]]
    assert set(await rows(h)) == {CONTACT_JID, OTHER_JID}


async def test_expired_entries_are_asked_again_and_refreshed(
    cached: Harness, asked: list[list[str]]
) -> None:
    h = cached
    await h.client.post("/sim/contacts", json={"number": OTHER})
    assert (await send(h, OTHER)).status_code == 201
    await age(h, 6.9)  # DATABASE_SAVE_IS_ON_WHATSAPP_DAYS=7: still fresh
    assert (await send(h, OTHER)).status_code == 201
    assert len(asked) == 1
    await age(h, 7.1)
    assert (await send(h, OTHER)).status_code == 201
    assert len(asked) == 2, "an expired entry is not trusted"
    assert (await send(h, OTHER)).status_code == 201
    assert len(asked) == 2, "the engine's answer refreshed it"

    # an expired entry the engine no longer confirms is dropped
    account = h.sim.accounts.pop(OTHER)
    h.sim.lids.pop(account.lid)
    await age(h, 8)
    r = await send(h, OTHER)
    assert r.status_code == 400
    assert r.json()["response"]["message"] == [
        {"jid": OTHER_JID, "exists": False, "number": OTHER}
    ]
    assert await rows(h) == {}


async def test_only_yes_is_cached(cached: Harness, asked: list[list[str]]) -> None:
    h = cached
    for _ in range(2):
        assert (await send(h, OTHER)).status_code == 400
    assert len(asked) == 2 and await rows(h) == {}
    await h.client.post("/sim/contacts", json={"number": OTHER})  # registers later
    assert (await send(h, OTHER)).status_code == 201


async def test_inbound_messages_teach_the_sender(cached: Harness, asked: list[list[str]]) -> None:
    h = cached
    r = await h.client.post("/sim/alice/inbound", json={"from": CONTACT, "text": "hello"})
    lid = r.json()["lid"]
    await until(lambda: h.events_of("alice", "messages.upsert"))
    # a consumer of the stored messages fills it, once the batch is committed
    await until_rows(h)
    assert await rows(h) == {CONTACT_JID: (f"{CONTACT_JID},{WITHOUT_NINTH}@s.whatsapp.net", lid)}
    assert (await send(h, CONTACT)).status_code == 201
    assert asked == []


@pytest.mark.parametrize("provider", ["sqlite"])
async def test_nothing_is_kept_with_the_flag_off(
    tmp_path: Path, provider: str, asked: list[list[str]]
) -> None:
    h, ctx = await _harness(tmp_path, provider)
    try:
        await h.client.post("/sim/contacts", json={"number": CONTACT})
        r = await h.client.post("/sim/alice/inbound", json={"from": CONTACT, "text": "hello"})
        assert r.status_code == 200
        for _ in range(2):
            assert (await send(h, CONTACT)).status_code == 201
        assert len(asked) == 2
        assert await rows(h) == {}
    finally:
        await stop_harness(h, ctx)


@pytest.mark.parametrize("provider", ["sqlite"])
async def test_a_cache_that_fails_only_costs_engine_calls(
    cached: Harness, asked: list[list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cache saves engine calls, nothing more: when it cannot be written or read, sends
    still go out (the engine answers), and it is written again once it can be."""
    h = cached
    numbers = h.app.state.messenger.numbers
    save = numbers.save

    async def broken(*_: Any) -> Any:
        raise OSError("database unreachable")

    await h.client.post("/sim/contacts", json={"number": OTHER})
    monkeypatch.setattr(numbers, "save", broken)
    assert (await send(h, OTHER)).status_code == 201
    assert len(asked) == 1 and await rows(h) == {}
    monkeypatch.setattr(numbers, "save", save)
    assert (await send(h, OTHER)).status_code == 201
    assert len(asked) == 2 and set(await rows(h)) == {OTHER_JID}
    monkeypatch.setattr(numbers, "find", broken)
    r = await h.client.post("/chat/whatsappNumbers/alice", json={"numbers": [OTHER]})
    assert r.status_code == 200 and r.json()[0]["exists"] is True
    assert len(asked) == 3, "the cache could not be read: the engine answered"


@pytest.mark.parametrize("provider", ["sqlite"])
async def test_a_sender_not_written_is_learnt_from_the_next_message(
    cached: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cache fill is a message consumer: a write that fails is counted as the consumer's
    failure and costs nothing else (the message is stored and announced); the sender's next
    message writes it."""
    from tests.unit.test_metrics import get, scrape

    h = cached
    numbers = h.app.state.messenger.numbers
    save = numbers.save
    calls: list[Any] = []

    async def broken(*args: Any) -> Any:
        calls.append(args)
        raise OSError("database unreachable")

    before = get(await scrape(h), "wagate_consumer_failures_total", consumer="onwhatsapp")
    monkeypatch.setattr(numbers, "save", broken)
    r = await h.client.post("/sim/alice/inbound", json={"from": CONTACT, "text": "one"})
    assert r.status_code == 200, r.text
    await until(lambda: calls)
    await until(lambda: h.events_of("alice", "messages.upsert"))
    failures = get(await scrape(h), "wagate_consumer_failures_total", consumer="onwhatsapp")
    assert failures == before + 1
    assert await rows(h) == {}
    monkeypatch.setattr(numbers, "save", save)
    r = await h.client.post("/sim/alice/inbound", json={"from": CONTACT, "text": "two"})
    assert r.status_code == 200, r.text
    await until_rows(h)
    assert set(await rows(h)) == {CONTACT_JID}
    r = await h.client.post("/chat/findMessages/alice", json={})
    assert r.json()["messages"]["total"] == 2
