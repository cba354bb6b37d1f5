"""Webhook base64: with the instance webhook's `base64` on (or WAGATE_WEBHOOK_GLOBAL_BASE64
with the global webhook), media events carry `message.base64`, the media downloaded through
the engine under its deadline and a size cap, in the lane's order; any failure delivers the
event without it. The stored message never has it."""

from __future__ import annotations

import asyncio
import base64
import os
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Harness, make_settings, start_harness, stop_harness
from tests.events.receiver import Receiver
from tests.messaging.conftest import A_NUMBER, B_NUMBER, PNG, Pair, open_instance

C_NUMBER = "5521987650003"


async def _base64(h: Harness, name: str, hook: Receiver, on: bool) -> None:
    body = {"webhook": {"enabled": True, "url": hook.url + "/hook", "events": [], "base64": on}}
    r = await h.client.post(f"/webhook/set/{name}", json=body)
    assert r.status_code == 201 and r.json()["webhookBase64"] is on, r.text


async def _image(h: Harness, sender: str, to: str, data: bytes = PNG) -> dict[str, Any]:
    body = {"number": to, "mediatype": "image", "mimetype": "image/png",
            "media": base64.b64encode(data).decode(), "caption": "look"}  # fmt: skip
    r = await h.client.post(f"/message/sendMedia/{sender}", json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def _inbound(h: Harness, to: str, data: bytes, **extra: Any) -> None:
    body = {"from": C_NUMBER, "media": base64.b64encode(data).decode(), **extra}
    r = await h.client.post(f"/sim/{to}/inbound", json=body)
    assert r.status_code == 200, r.text


async def test_media_events_carry_the_downloaded_bytes(pair: Pair) -> None:
    h = pair.h
    await _base64(h, "bob", pair.hook_b, True)
    doc = os.urandom(3_000)
    sent = await _image(h, "alice", B_NUMBER)
    await _inbound(h, "bob", doc, mimetype="application/pdf", fileName="r.pdf", text="doc")
    got = await pair.events(pair.hook_b, "messages.upsert", 2)
    image, document = got[0]["data"], got[1]["data"]
    assert image["key"]["id"] == sent["key"]["id"]
    assert base64.b64decode(image["message"]["base64"]) == PNG  # what alice sent
    assert image["message"]["imageMessage"]["caption"] == "look"
    assert base64.b64decode(document["message"]["base64"]) == doc
    assert document["message"]["documentMessage"]["fileName"] == "r.pdf"
    # alice's webhook has base64 off: her send.message has none
    (echo,) = await pair.events(pair.hook_a, "send.message", 1)
    assert "base64" not in echo["data"]["message"]
    # the stored messages never carry it
    r = await h.client.post("/chat/findMessages/bob", json={})
    stored = r.json()["messages"]["records"]
    assert len(stored) == 2 and all("base64" not in m["message"] for m in stored)


async def test_no_base64_when_the_webhook_does_not_ask(sqlite_pair: Pair) -> None:
    h = sqlite_pair.h
    await _base64(h, "bob", sqlite_pair.hook_b, False)
    await _image(h, "alice", B_NUMBER)
    (got,) = await sqlite_pair.events(sqlite_pair.hook_b, "messages.upsert", 1)
    assert "base64" not in got["data"]["message"] and "imageMessage" in got["data"]["message"]


async def test_text_messages_never_download(sqlite_pair: Pair) -> None:
    h = sqlite_pair.h
    await _base64(h, "bob", sqlite_pair.hook_b, True)
    calls: list[Any] = []
    real = h.gateway.download

    async def counting(instance_id: str, member: dict[str, Any]) -> bytes:
        calls.append(member)
        assert real is not None
        return bytes(await real(instance_id, member))

    h.gateway.download = counting
    r = await h.client.post("/message/sendText/alice", json={"number": B_NUMBER, "text": "t"})
    assert r.status_code == 201
    (got,) = await sqlite_pair.events(sqlite_pair.hook_b, "messages.upsert", 1)
    assert got["data"]["message"] == {"conversation": "t"} and calls == []


async def test_a_change_of_the_setting_applies_to_the_next_message(sqlite_pair: Pair) -> None:
    """Evolution reads webhookBase64 once per connection; wagate at each message."""
    h, hook = sqlite_pair.h, sqlite_pair.hook_b
    await _base64(h, "bob", hook, True)
    await _image(h, "alice", B_NUMBER)
    await sqlite_pair.events(hook, "messages.upsert", 1)
    await _base64(h, "bob", hook, False)
    await _image(h, "alice", B_NUMBER)
    first, second = await sqlite_pair.events(hook, "messages.upsert", 2)
    assert "base64" in first["data"]["message"] and "base64" not in second["data"]["message"]


async def test_the_senders_own_event_carries_the_media_it_sent(sqlite_pair: Pair) -> None:
    h = sqlite_pair.h
    await _base64(h, "alice", sqlite_pair.hook_a, True)
    sent = await _image(h, "alice", B_NUMBER)
    assert "base64" not in sent["message"]  # the API's answer is the stored messageRaw
    (echo,) = await sqlite_pair.events(sqlite_pair.hook_a, "send.message", 1)
    assert base64.b64decode(echo["data"]["message"]["base64"]) == PNG


async def test_a_failed_download_still_delivers_the_event(sqlite_pair: Pair) -> None:
    """The media is gone from the (simulated) media server when the download runs."""
    h = sqlite_pair.h
    await _base64(h, "bob", sqlite_pair.hook_b, True)
    real = h.gateway.download
    assert real is not None

    async def gone(instance_id: str, member: dict[str, Any]) -> bytes:
        h.sim.media.clear()
        return bytes(await real(instance_id, member))

    h.gateway.download = gone
    await _image(h, "alice", B_NUMBER)
    await _inbound(h, "bob", b"%PDF-1.4 a document", mimetype="application/pdf")
    got = await sqlite_pair.events(sqlite_pair.hook_b, "messages.upsert", 2)
    assert all("base64" not in g["data"]["message"] for g in got)
    assert "imageMessage" in got[0]["data"]["message"]
    r = await h.client.post("/chat/findMessages/bob", json={})
    assert r.json()["messages"]["total"] == 2


async def test_an_unreadable_setting_delivers_without_base64(
    sqlite_pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = sqlite_pair.h
    await _base64(h, "alice", sqlite_pair.hook_a, True)
    await _base64(h, "bob", sqlite_pair.hook_b, True)

    async def broken(instance_id: str) -> bool:
        raise OSError("database unreachable")

    monkeypatch.setattr(h.gateway.pipeline, "wants_base64", broken)
    await _image(h, "alice", B_NUMBER)  # the send itself succeeds
    (echo,) = await sqlite_pair.events(sqlite_pair.hook_a, "send.message", 1)
    (got,) = await sqlite_pair.events(sqlite_pair.hook_b, "messages.upsert", 1)
    assert "base64" not in echo["data"]["message"] and "base64" not in got["data"]["message"]


async def test_media_over_the_cap_is_not_downloaded(
    sqlite_pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = sqlite_pair.h
    await _base64(h, "alice", sqlite_pair.hook_a, True)
    await _base64(h, "bob", sqlite_pair.hook_b, True)
    calls: list[Any] = []
    real = h.gateway.download
    assert real is not None

    async def counting(instance_id: str, member: dict[str, Any]) -> bytes:
        calls.append(member)
        return bytes(await real(instance_id, member))

    h.gateway.download = counting
    monkeypatch.setattr(h.gateway.pipeline, "base64_cap", lambda content: len(PNG) - 1)
    await _image(h, "alice", B_NUMBER)
    (echo,) = await sqlite_pair.events(sqlite_pair.hook_a, "send.message", 1)
    (got,) = await sqlite_pair.events(sqlite_pair.hook_b, "messages.upsert", 1)
    assert "base64" not in echo["data"]["message"] and "base64" not in got["data"]["message"]
    assert calls == []  # its declared fileLength was over the cap: not even fetched


async def test_media_larger_than_it_said_is_left_out(sqlite_pair: Pair) -> None:
    h = sqlite_pair.h
    await _base64(h, "bob", sqlite_pair.hook_b, True)

    async def bigger(instance_id: str, member: dict[str, Any]) -> bytes:
        return b"x" * int(h.gateway.settings.media_max_bytes + 1)

    h.gateway.download = bigger
    await _image(h, "alice", B_NUMBER)
    (got,) = await sqlite_pair.events(sqlite_pair.hook_b, "messages.upsert", 1)
    assert "base64" not in got["data"]["message"]


async def test_a_slow_download_keeps_the_lanes_order_and_its_deadline(tmp_path: Path) -> None:
    h, ctx = await start_harness(make_settings(tmp_path, engine_timeout=0.4))
    hook = await Receiver().start()
    try:
        await open_instance(h, "alice", A_NUMBER, None)
        await open_instance(h, "bob", B_NUMBER, hook)
        await _base64(h, "bob", hook, True)
        release = asyncio.Event()
        real = h.gateway.download
        assert real is not None

        async def slow(instance_id: str, member: dict[str, Any]) -> bytes:
            if member.get("mimetype") == "image/png":
                await release.wait()  # never set: the engine deadline passes
            return bytes(await real(instance_id, member))

        h.gateway.download = slow
        started = time.monotonic()
        await _image(h, "alice", B_NUMBER)
        r = await h.client.post("/message/sendText/alice", json={"number": B_NUMBER, "text": "2"})
        assert r.status_code == 201
        await _inbound(h, "bob", b"%PDF-1.4 third", mimetype="application/pdf")
        pair = Pair(h, "alice", "bob", hook, hook)
        got = await pair.events(hook, "messages.upsert", 3)
        assert time.monotonic() - started >= 0.4
        assert [next(iter(g["data"]["message"])) for g in got] == [
            "imageMessage", "conversation", "documentMessage"
        ]  # fmt: skip
        assert "base64" not in got[0]["data"]["message"]  # timed out: delivered without
        assert base64.b64decode(got[2]["data"]["message"]["base64"]) == b"%PDF-1.4 third"
    finally:
        await hook.stop()
        await stop_harness(h, ctx)


async def test_the_global_switch_turns_it_on_for_every_instance(tmp_path: Path) -> None:
    hook = await Receiver().start()
    settings = make_settings(
        tmp_path,
        webhook_global_enabled=True,
        webhook_global_url=hook.url + "/global",
        webhook_global_base64=True,
        event_switches={"WEBHOOK_EVENTS_MESSAGES_UPSERT": True},
    )
    h, ctx = await start_harness(settings)
    try:
        await open_instance(h, "alice", A_NUMBER, None)
        await open_instance(h, "bob", B_NUMBER, None)  # no webhook of its own
        await _image(h, "alice", B_NUMBER)
        (got,) = await Pair(h, "alice", "bob", hook, hook).events(hook, "messages.upsert", 1)
        assert got["instance"] == "bob"
        assert base64.b64decode(got["data"]["message"]["base64"]) == PNG
    finally:
        await hook.stop()
        await stop_harness(h, ctx)


async def test_a_megabyte_event_is_stored_and_delivered_whole(pair: Pair) -> None:
    """A 790 KB image: its messages.upsert (over 1 MiB with the base64) is kept by the outbox
    of every database (MySQL/MariaDB's TEXT held 64 KiB: LONGTEXT since migration 0006) and
    delivered as stored."""
    h = pair.h
    await _base64(h, "bob", pair.hook_b, True)
    image = os.urandom(790_000)
    await _inbound(h, "bob", image, mimetype="image/jpeg")
    (got,) = await pair.events(pair.hook_b, "messages.upsert", 1)
    assert base64.b64decode(got["data"]["message"]["base64"]) == image
    (received,) = [r for r in pair.hook_b.received if r.json["event"] == "messages.upsert"]
    bob = h.gateway.instances["bob"].id
    rows = await h.app.state.events.outbox.recent(bob, 20)
    (row,) = [r for r in rows if r.event == "messages.upsert"]
    assert len(row.payload) > 1 << 20 and row.payload.encode() == received.body
    r = await h.client.post("/chat/findMessages/bob", json={})
    assert r.json()["messages"]["total"] == 1


async def test_no_download_for_an_instance_that_is_gone(sqlite_harness: Harness) -> None:
    from wagate.domain.errors import EngineUnavailable

    with pytest.raises(EngineUnavailable):
        await sqlite_harness.app.state.gateway.download("no-such-id", {"directPath": "/v/x"})
