"""messages.update and its MessageUpdate rows link to the stored message (`messageId`); the
receipt of a message the database does not have is skipped while messages are stored, and
announced and stored unlinked when they are not (DATABASE_SAVE_DATA_NEW_MESSAGE=false)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import make_settings, start_harness, stop_harness
from tests.events.receiver import Receiver
from tests.messaging.conftest import A_NUMBER, B_NUMBER, Pair, open_instance
from wagate.messaging.pipeline import WRITE_RETRIES
from wagate.store import messages as db
from wagate.store.models import utcnow

A_JID = f"{A_NUMBER}@s.whatsapp.net"
B_JID = f"{B_NUMBER}@s.whatsapp.net"


async def _send(p: Pair, text: str) -> str:
    r = await p.h.client.post(f"/message/sendText/{p.a}", json={"number": B_NUMBER, "text": text})
    assert r.status_code == 201, r.text
    return str(r.json()["key"]["id"])


async def _read(p: Pair, msg_id: str) -> None:
    r = await p.h.client.post(
        f"/chat/markMessageAsRead/{p.b}",
        json={"readMessages": [{"id": msg_id, "fromMe": False, "remoteJid": A_JID}]},
    )
    assert r.status_code == 201, r.text


async def _statuses(p: Pair) -> list[dict[str, Any]]:
    r = await p.h.client.post(f"/chat/findStatusMessage/{p.a}", json={})
    assert r.status_code == 200, r.text
    return sorted(r.json(), key=lambda u: u["id"])


async def test_updates_link_to_their_message_and_unknown_ones_are_skipped(pair: Pair) -> None:
    h = pair.h
    gone = await _send(pair, "one")
    acks = await pair.events(pair.hook_a, "messages.update", 2)
    r = await h.client.post(f"/chat/findMessages/{pair.a}", json={"where": {"key": {"id": gone}}})
    (record,) = r.json()["messages"]["records"]
    assert [u["data"]["messageId"] for u in acks] == [record["id"]] * 2
    assert [(u["messageId"], u["status"]) for u in await _statuses(pair)] == [
        (record["id"], "SERVER_ACK"),
        (record["id"], "DELIVERY_ACK"),
    ]

    # deleted for everyone: alice's row is removed (DATABASE_DELETE_MESSAGE=false), and the
    # revoke itself is not stored; neither's receipts can be linked any more
    r = await h.client.request(
        "DELETE",
        f"/chat/deleteMessageForEveryone/{pair.a}",
        json={"id": gone, "fromMe": True, "remoteJid": B_JID},
    )
    assert r.status_code == 201, r.text
    revoke = r.json()["key"]["id"]
    await _read(pair, gone)  # bob reads it: the READ reaches alice, which no longer has it

    kept = await _send(pair, "two")
    await _read(pair, kept)
    updates = await pair.events(pair.hook_a, "messages.update", 5)
    seen = [(u["data"]["keyId"], u["data"]["status"]) for u in updates]
    assert seen == [
        (gone, "SERVER_ACK"),
        (gone, "DELIVERY_ACK"),
        (kept, "SERVER_ACK"),
        (kept, "DELIVERY_ACK"),
        (kept, "READ"),
    ], "the receipts of the deleted message and of the revoke were skipped"
    assert revoke not in {k for k, _ in seen}
    r = await h.client.post(f"/chat/findMessages/{pair.a}", json={})
    (record,) = r.json()["messages"]["records"]
    assert record["key"]["id"] == kept and record["status"] == "READ"
    assert {u["data"]["messageId"] for u in updates[2:]} == {record["id"]}
    rows = await _statuses(pair)
    assert [(u["keyId"], u["status"], u["messageId"]) for u in rows] == [
        (kept, "SERVER_ACK", record["id"]),
        (kept, "DELIVERY_ACK", record["id"]),
        (kept, "READ", record["id"]),
    ]

    # a message deleted between the lookup and the commit: the update is kept, unlinked,
    # instead of failing the foreign key (and with it the whole batch)
    store = h.app.state.messenger.store
    await store.run(db.insert_updates([_update(h.gateway.instances[pair.a].id, "gone-row")]))
    assert (await _statuses(pair))[-1]["messageId"] is None


def _update(instance_id: str, message_id: str) -> dict[str, Any]:
    return {
        "id": db.sortable_id(),
        "instance_id": instance_id,
        "message_id": message_id,
        "key_id": "3EB0000000000000000000",
        "remote_jid": B_JID,
        "from_me": True,
        "participant": None,
        "status": "PLAYED",
        "poll_updates": None,
        "created_at": utcnow(),
    }


async def test_without_stored_messages_updates_go_out_and_are_stored_unlinked(
    tmp_path: Path,
) -> None:
    h, ctx = await start_harness(make_settings(tmp_path, save_new_message=False))
    hook_a, hook_b = await Receiver().start(), await Receiver().start()
    try:
        await open_instance(h, "alice", A_NUMBER, hook_a)
        await open_instance(h, "bob", B_NUMBER, hook_b)
        p = Pair(h, "alice", "bob", hook_a, hook_b)
        msg_id = await _send(p, "x")
        await _read(p, msg_id)
        updates = await p.events(hook_a, "messages.update", 3)
        assert [u["data"]["status"] for u in updates] == ["SERVER_ACK", "DELIVERY_ACK", "READ"]
        assert all("messageId" not in u["data"] for u in updates)
        rows = await _statuses(p)
        assert [(u["keyId"], u["status"], u["messageId"]) for u in rows] == [
            (msg_id, "SERVER_ACK", None),
            (msg_id, "DELIVERY_ACK", None),
            (msg_id, "READ", None),
        ]
    finally:
        await hook_a.stop()
        await hook_b.stop()
        await stop_harness(h, ctx)


async def test_a_receipt_whose_message_cannot_be_looked_up_is_skipped(
    sqlite_pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lookup is retried, then the receipt is left out (never announced unlinked while
    messages are stored), and the lane goes on."""
    p = sqlite_pair
    store = p.h.gateway.pipeline.store
    lookup = store.message_ids
    first = await _send(p, "one")
    await p.events(p.hook_a, "messages.update", 2)
    calls = 0

    async def broken(instance_id: str, keys: Any) -> dict[str, str]:
        nonlocal calls
        calls += 1
        raise OSError("database unreachable")

    monkeypatch.setattr(store, "message_ids", broken)
    await _read(p, first)
    for _ in range(300):
        if calls >= WRITE_RETRIES:
            break
        await asyncio.sleep(0.01)
    monkeypatch.setattr(store, "message_ids", lookup)
    second = await _send(p, "two")
    updates = await p.events(p.hook_a, "messages.update", 4)
    assert calls == WRITE_RETRIES
    assert [(u["data"]["keyId"], u["data"]["status"]) for u in updates] == [
        (first, "SERVER_ACK"),
        (first, "DELIVERY_ACK"),
        (second, "SERVER_ACK"),
        (second, "DELIVERY_ACK"),
    ]
    r = await p.h.client.post(f"/chat/findMessages/{p.a}", json={"where": {"key": {"id": first}}})
    assert r.json()["messages"]["records"][0]["status"] == "DELIVERY_ACK"


async def test_messages_are_looked_up_in_bounded_lists(
    sqlite_pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    """However many keys a batch's receipts name, each query binds at most KNOWN_CHUNK."""
    p = sqlite_pair
    sent = [await _send(p, f"m{i}") for i in range(3)]
    monkeypatch.setattr(db, "KNOWN_CHUNK", 2)
    store = p.h.gateway.pipeline.store
    alice = p.h.gateway.get(p.a).id
    found = await store.message_ids(alice, [*sent, "3EB0NOTSTORED", sent[0]])
    r = await p.h.client.post(f"/chat/findMessages/{p.a}", json={})
    ids = {m["key"]["id"]: m["id"] for m in r.json()["messages"]["records"]}
    assert found == {k: ids[k] for k in sent}
    assert await store.known_keys(alice, [*sent, "3EB0NOTSTORED"]) == set(sent)
    assert await store.message_ids(alice, []) == {}
