"""History sync on the simulated network: a newly paired instance gets the account's past as
chats.set, messages.set, contacts.upsert and messaging-history.set, stored in the same
transaction, never twice, as much of it as syncFullHistory asks for."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Harness, make_settings, start_harness, stop_harness
from tests.events.receiver import Receiver
from tests.messaging.conftest import A_NUMBER, B_NUMBER, Pair
from wagate.engines.messaging import History, Message, MessageKey
from wagate.engines.sim.history import CHUNK, Remembered
from wagate.messaging import history

C_NUMBER = "5521987650003"
A_JID, B_JID = f"{A_NUMBER}@s.whatsapp.net", f"{B_NUMBER}@s.whatsapp.net"
C_JID = f"{C_NUMBER}@s.whatsapp.net"
DAY = 86_400


async def _text(h: Harness, sender: str, number: str, text: str) -> dict[str, Any]:
    r = await h.client.post(f"/message/sendText/{sender}", json={"number": number, "text": text})
    assert r.status_code == 201, r.text
    return dict(r.json())


async def _pair_new(h: Harness, name: str, number: str, hook: Receiver, **create: Any) -> None:
    """A new instance with a webhook, paired with `number` by scanning its QR code."""
    await h.create(name, webhook={"url": hook.url, "events": [], "enabled": True}, **create)
    r = await h.client.get(f"/instance/connect/{name}")
    assert r.status_code == 200, r.text
    r = await h.client.post(f"/sim/{name}/scan", json={"number": number})
    assert r.json()["state"] == "open", r.text


async def _settled(hook: Receiver, event: str = "messaging-history.set") -> dict[str, Any]:
    """The sync's completion event (after which every event of the sync has arrived)."""
    deadline = time.monotonic() + 10
    while not hook.bodies(event):
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {event}: {[b['event'] for b in hook.bodies()]}")
        await asyncio.sleep(0.02)
    return hook.bodies(event)[0]


def _set(hook: Receiver, event: str) -> list[dict[str, Any]]:
    """Every element of every `event` array the hook received, in order."""
    return [x for body in hook.bodies(event) for x in body["data"]]


async def _count(h: Harness, name: str, route: str) -> int:
    r = await h.client.post(f"/chat/{route}/{name}", json={})
    assert r.status_code in (200, 201), r.text
    body = r.json()
    return int(body["messages"]["total"]) if route == "findMessages" else len(body)


async def test_a_newly_paired_instance_gets_the_accounts_history(pair: Pair) -> None:
    h = pair.h
    await h.client.post("/sim/contacts", json={"number": C_NUMBER, "pushName": "Carla"})
    sent = [await _text(h, "alice", B_NUMBER, f"hi {i}") for i in range(3)]
    reply = await _text(h, "bob", A_NUMBER, "hello alice")
    r = await h.client.post("/sim/alice/inbound", json={"from": C_NUMBER, "text": "from carla"})
    assert r.status_code == 200, r.text
    await pair.events(pair.hook_a, "messages.upsert", 2)
    hook = await Receiver().start()
    try:
        await _pair_new(h, "phone2", A_NUMBER, hook)
        done = await _settled(hook)
        iid = done["instanceId"]
        assert done["data"] == {"messageCount": 5, "chatCount": 2, "contactCount": 2}
        chats = _set(hook, "chats.set")
        assert sorted(c["remoteJid"] for c in chats) == sorted([B_JID, C_JID])
        assert all(c["instanceId"] == iid and set(c) <= {"remoteJid", "instanceId", "name"}
                   for c in chats)  # fmt: skip
        messages = _set(hook, "messages.set")
        assert [m["key"]["id"] for m in messages][:3] == [m["key"]["id"] for m in sent]
        mine = messages[0]
        assert mine["key"]["fromMe"] is True and mine["key"]["remoteJid"] == B_JID
        assert mine["message"] == {"conversation": "hi 0"} and mine["status"] == "SERVER_ACK"
        assert mine["messageType"] == "conversation" and mine["instanceId"] == iid
        theirs = {m["key"]["id"]: m for m in messages}[reply["key"]["id"]]
        assert theirs["key"]["fromMe"] is False and theirs["pushName"] == "Sim 0002"
        assert theirs["status"] == "DELIVERY_ACK" and theirs["messageTimestamp"] > 0
        contacts = _set(hook, "contacts.upsert")
        assert {c["remoteJid"]: c["pushName"] for c in contacts} == {
            B_JID: "Sim 0002", C_JID: "Carla"
        }  # fmt: skip
        assert all(c["profilePicUrl"] is None and c["instanceId"] == iid for c in contacts)
        order = [b["event"] for b in hook.bodies() if b["event"] != "connection.update"]
        assert order.index("chats.set") < order.index("messages.set")
        assert order.index("contacts.upsert") < order.index("messaging-history.set")
        assert "messages.upsert" not in order and "chats.upsert" not in order
        # stored, as announced
        assert await _count(h, "phone2", "findMessages") == 5
        assert await _count(h, "phone2", "findChats") == 2
        r = await h.client.post("/chat/findContacts/phone2", json={})
        assert {c["remoteJid"]: c["pushName"] for c in r.json()} == {
            B_JID: "Sim 0002", C_JID: "Carla"
        }  # fmt: skip
        # the old device is not resynced: nothing of it reached alice again
        assert not pair.hook_a.bodies("messages.set")
    finally:
        await hook.stop()


async def test_history_is_never_announced_or_stored_twice(pair: Pair) -> None:
    h = pair.h
    await _text(h, "bob", A_NUMBER, "from bob")
    for i in range(2):
        await _text(h, "alice", B_NUMBER, f"m{i}")
    hook = await Receiver().start()
    try:
        await _pair_new(h, "again", A_NUMBER, hook)
        await _settled(hook)
        assert len(_set(hook, "messages.set")) == 3
        # logged out and paired again, the lane's memory gone (as after a restart of wagate):
        # the same history arrives and the database says the instance has it all
        r = await h.client.delete("/instance/logout/again")
        assert r.status_code == 200, r.text
        lane = h.gateway.pipeline.lanes[h.gateway.get("again").id]
        lane.translator.forget_seen()
        hook.received.clear()
        await h.client.get("/instance/connect/again")
        r = await h.client.post("/sim/again/scan", json={"number": A_NUMBER})
        assert r.json()["state"] == "open"
        done = await _settled(hook)
        assert done["data"] == {"messageCount": 0, "chatCount": 0, "contactCount": 1}
        assert not hook.bodies("messages.set") and not hook.bodies("chats.set")
        assert [c["remoteJid"] for c in _set(hook, "contacts.upsert")] == [B_JID]
        assert await _count(h, "again", "findMessages") == 3
        assert await _count(h, "again", "findChats") == 1
        assert await _count(h, "again", "findContacts") == 1
        # a reconnect with saved credentials is no pairing: no history at all
        hook.received.clear()
        r = await h.client.post("/instance/restart/again")
        assert r.status_code == 200, r.text
        await _text(h, "bob", A_NUMBER, "after restart")
        await pair.events(hook, "messages.upsert", 1)
        assert not hook.bodies("messaging-history.set")
    finally:
        await hook.stop()


async def test_live_messages_already_seen_are_left_out(sqlite_pair: Pair) -> None:
    """A message the lane already handled (here: stored live) is not in messages.set."""
    h = sqlite_pair.h
    hook = await Receiver().start()
    try:
        await _text(h, "alice", B_NUMBER, "old")
        await _pair_new(h, "twin", A_NUMBER, hook)
        await _settled(hook)
        hook.received.clear()
        live = await _text(h, "bob", A_NUMBER, "live")  # reaches alice and twin, live
        await sqlite_pair.events(hook, "messages.upsert", 1)
        lane = h.gateway.pipeline.lanes[h.gateway.get("twin").id]
        lane.put(
            History(lane_epoch(h, "twin"), messages=(_past(live["key"]["id"], B_JID),), final=True)
        )
        done = await _settled(hook)
        assert done["data"]["messageCount"] == 0 and not hook.bodies("messages.set")
    finally:
        await hook.stop()


def _past(msg_id: str, chat: str, ts: int = 1_700_000_000, text: str = "x") -> Message:
    return Message(0, MessageKey(chat, False, msg_id), {"conversation": text}, ts, None, "history")


def lane_epoch(h: Harness, name: str) -> int:
    session = h.gateway.get(name).supervisor.session
    assert session is not None
    return int(session.epoch)


async def test_sync_full_history_decides_how_far_back_a_pairing_goes(
    sqlite_harness: Harness,
) -> None:
    h = sqlite_harness
    now = int(time.time())
    seeded = [
        {"contact": B_NUMBER, "text": "last year", "timestamp": now - 300 * DAY, "id": "OLD1AAAA"},
        {"contact": B_NUMBER, "text": "last month", "timestamp": now - 30 * DAY,
         "pushName": "Bia", "id": "RECENT1A"},
        {"contact": C_NUMBER, "text": "mine", "fromMe": True, "timestamp": now - DAY,
         "id": "MINE1AAA"},
    ]  # fmt: skip
    await h.create("seeder")
    r = await h.client.post("/sim/seeder/history", json={"number": A_NUMBER, "messages": seeded})
    assert r.status_code == 200, r.text
    assert r.json() == {"jid": A_JID, "added": 3, "remembered": 3}
    short, full = await Receiver().start(), await Receiver().start()
    try:
        await _pair_new(h, "recent", A_NUMBER, short)
        await _pair_new(h, "full", A_NUMBER, full, syncFullHistory=True)
        await _settled(short)
        await _settled(full)
        assert [m["key"]["id"] for m in _set(short, "messages.set")] == ["RECENT1A", "MINE1AAA"]
        assert [m["key"]["id"] for m in _set(full, "messages.set")] == [
            "OLD1AAAA", "RECENT1A", "MINE1AAA"
        ]  # fmt: skip
        by_id = {m["key"]["id"]: m for m in _set(full, "messages.set")}
        assert by_id["RECENT1A"]["pushName"] == "Bia"
        assert by_id["OLD1AAAA"]["messageTimestamp"] == now - 300 * DAY
        mine = by_id["MINE1AAA"]["key"]
        assert (mine["remoteJid"], mine["fromMe"]) == (C_JID, True)
        assert mine["remoteJidAlt"].endswith("@lid")
        r = await h.client.post("/chat/findChats/full", json={})
        assert {c["remoteJid"] for c in r.json()} == {B_JID, C_JID}
    finally:
        await short.stop()
        await full.stop()


async def test_a_long_history_comes_in_chunks(harness: Harness) -> None:
    """1,200 messages in 600 chats: three chunks of the sim, one event each on every database
    (each more than the 64 KiB MariaDB's outbox once held), one completion."""
    h = harness
    now = int(time.time())
    seeded = [
        {"contact": f"55219876{i % 600:05d}", "text": f"message number {i} " + "x" * 200,
         "timestamp": now - 3_600 + i, "fromMe": i % 3 == 0}
        for i in range(1_200)
    ]  # fmt: skip
    await h.create("seeded")
    r = await h.client.post("/sim/seeded/history", json={"number": A_NUMBER, "messages": seeded})
    assert r.status_code == 200, r.text
    hook = await Receiver().start()
    try:
        await _pair_new(h, "bulk", A_NUMBER, hook)
        done = await _settled(hook)
        assert done["data"] == {"messageCount": 1_200, "chatCount": 600, "contactCount": 400}
        sets = hook.bodies("messages.set")
        assert len(sets) >= 3 and all(len(b["data"]) <= history.EVENT_MESSAGES for b in sets)
        assert [len(b["data"]) for b in sets] == [500, 500, 200]  # one event per chunk
        assert sum(len(r.body) > 65_535 for r in hook.received) >= 2
        texts = [m["message"]["conversation"] for m in _set(hook, "messages.set")]
        assert texts == [s["text"] for s in seeded]  # in order, none lost, none twice
        assert len(hook.bodies("messaging-history.set")) == 1
        assert await _count(h, "bulk", "findMessages") == 1_200
        assert await _count(h, "bulk", "findChats") == 600
        assert len(_set(hook, "contacts.upsert")) == 400  # those who wrote
    finally:
        await hook.stop()


async def test_nothing_of_the_history_is_stored_without_save_historic(tmp_path: Path) -> None:
    h, ctx = await start_harness(make_settings(tmp_path, save_historic=False))
    hook = await Receiver().start()
    try:
        await h.create("seed")
        body = {"number": A_NUMBER,
                "messages": [{"contact": B_NUMBER, "text": "t", "pushName": "Bia"}]}  # fmt: skip
        assert (await h.client.post("/sim/seed/history", json=body)).status_code == 200
        await _pair_new(h, "nostore", A_NUMBER, hook)
        done = await _settled(hook)
        assert done["data"] == {"messageCount": 1, "chatCount": 1, "contactCount": 1}
        assert len(_set(hook, "messages.set")) == 1 and len(_set(hook, "chats.set")) == 1
        assert await _count(h, "nostore", "findMessages") == 0
        assert await _count(h, "nostore", "findChats") == 0
        assert await _count(h, "nostore", "findContacts") == 1  # DATABASE_SAVE_DATA_CONTACTS
    finally:
        await hook.stop()
        await stop_harness(h, ctx)


async def test_a_history_chunk_is_dropped_when_the_database_cannot_be_read(
    sqlite_pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Never stored twice: with what is stored unreadable the chunk is dropped (logged) and
    the rest of the lane goes on. (The chats are the read only the history lookup makes: the
    live messages' redelivery lookup reads the keys too, and must keep working here.)"""
    h = sqlite_pair.h
    await _text(h, "bob", A_NUMBER, "before")
    calls = 0

    async def broken(instance_id: str, jids: Any) -> set[str]:
        nonlocal calls
        calls += 1
        raise OSError("database unreachable")

    monkeypatch.setattr(h.gateway.pipeline.store, "known_chats", broken)
    hook = await Receiver().start()
    try:
        await _pair_new(h, "unlucky", A_NUMBER, hook)
        await _text(h, "bob", A_NUMBER, "after")
        got = await sqlite_pair.events(hook, "messages.upsert", 1)
        assert got[0]["data"]["message"] == {"conversation": "after"}
        assert calls == history.READ_RETRIES
        assert not hook.bodies("messages.set") and not hook.bodies("messaging-history.set")
        assert await _count(h, "unlucky", "findMessages") == 1
    finally:
        await hook.stop()


async def test_the_history_route_refuses_bad_input(sqlite_harness: Harness) -> None:
    h = sqlite_harness
    await h.create("closed")
    ok = {"contact": B_NUMBER, "text": "t"}
    cases: list[tuple[str, Any, int, str]] = [
        ("nobody", {"number": A_NUMBER, "messages": [ok]}, 404, "does not exist"),
        ("closed", {"messages": [ok]}, 409, 'give "number"'),
        ("closed", {"number": "12", "messages": [ok]}, 400, "number"),
        ("closed", {"number": A_NUMBER}, 400, "messages"),
        ("closed", {"number": A_NUMBER, "messages": [{"text": "t"}]}, 400, "contact"),
        ("closed", {"number": A_NUMBER, "messages": [{**ok, "text": ""}]}, 400, "text"),
        ("closed", {"number": A_NUMBER, "messages": [{**ok, "timestamp": "x"}]}, 400, "timestamp"),
        ("closed", {"number": A_NUMBER, "messages": [{**ok, "fromMe": "yes"}]}, 400, "fromMe"),
        ("closed", {"number": A_NUMBER, "messages": [{**ok, "id": "a b"}]}, 400, "id"),
    ]
    for name, body, status, text in cases:
        r = await h.client.post(f"/sim/{name}/history", json=body)
        assert r.status_code == status, (body, r.text)
        payload = r.json()
        assert payload["status"] == status and text in str(payload["response"]["message"]), r.text
    r = await h.client.post(
        "/sim/closed/history", json={"number": A_NUMBER, "messages": [ok]},
        headers={"apikey": "wrong-key-0123456789"},
    )  # fmt: skip
    assert r.status_code == 401


async def test_an_open_instance_seeds_its_own_account(sqlite_pair: Pair) -> None:
    h = sqlite_pair.h
    r = await h.client.post(
        "/sim/alice/history", json={"messages": [{"contact": C_NUMBER, "text": "seeded"}]}
    )
    assert r.status_code == 200, r.text
    assert r.json()["jid"] == A_JID and r.json()["added"] == 1


def test_the_sims_memory_splits_a_sync_into_chunks() -> None:
    past = Remembered()
    assert past.sync(now=1_700_000_000, full=True) == []
    for i in range(CHUNK + 1):
        past.record(_past(f"ID{i:06d}", B_JID, 1_700_000_000 + i))
    chunks = past.sync(now=1_700_000_000, full=True)
    assert [(len(c.messages), c.progress, c.final) for c in chunks] == [
        (CHUNK, 50, False), (1, 100, True)
    ]  # fmt: skip
    assert [len(c.chats) for c in chunks] == [1, 0] and chunks[0].contacts == chunks[0].contacts
    assert all(m.kind == "history" for c in chunks for m in c.messages)


def test_the_sims_memory_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Messages, chats and contacts: at most HISTORY_LIMIT each, the least recent forgotten,
    and every chat of a remembered message kept."""
    from wagate.engines.sim import history as sim_history

    monkeypatch.setattr(sim_history, "HISTORY_LIMIT", 3)
    past = Remembered()
    jids = [f"55219000000{i:02d}@s.whatsapp.net" for i in range(6)]
    for i in (0, 1, 2, 3, 4, 2, 5):
        key = MessageKey(jids[i], False, f"ID{len(past.chats)}{i}")
        past.record(Message(0, key, {"conversation": "x"}, 1_700_000_000 + i, f"P{i}"))
    assert len(past.messages) == 3
    assert list(past.chats) == list(past.contacts) == [jids[4], jids[2], jids[5]]
    (chunk,) = past.sync(now=1_700_000_000, full=True)
    assert {c.jid for c in chunk.chats} == set(past.chats)


def test_messages_set_events_stay_within_the_budget() -> None:
    raws = [{"key": {"id": f"K{i}"}, "message": {"conversation": "y" * 100}} for i in range(50)]
    parts = history.split(raws, 1_000, "message")
    assert [r["key"]["id"] for p in parts for r in p] == [r["key"]["id"] for r in raws]
    assert all(len(p) <= 7 for p in parts)
    huge = [{"key": {"id": "BIG"}, "message": {"conversation": "z" * 5_000}}, *raws[:2]]
    assert [[r["key"]["id"] for r in p] for p in history.split(huge, 1_000, "message")] == [
        ["K0", "K1"]
    ]
    assert history.event_bytes(None) == history.EVENT_BYTES  # PostgreSQL, SQLite
    assert history.event_bytes(16 << 20) == history.EVENT_BYTES  # MariaDB's default packet
    room = 1 << 20  # escaped, JSON may double: half of it, less the envelope
    assert history.event_bytes(room) == room // 2 - history.ENVELOPE_SLACK
    assert history.event_bytes(100) == 1


async def test_an_engines_history_chunk_in_evolutions_shapes(sqlite_pair: Pair) -> None:
    """A chunk as the neonize engine reports it: a group message gets its sender's name from
    the chunk's contacts, one without any name gets the number; messages without content or
    time are left out; chats keep their name, unread count and archived flag."""
    from wagate.engines.messaging import HistoryChat, HistoryContact

    h, hook = sqlite_pair.h, sqlite_pair.hook_a
    grp = "120363012345678901@g.us"
    chunk = History(
        lane_epoch(h, "alice"),
        messages=(
            Message(0, MessageKey(grp, False, "G1", participant=C_JID),
                    {"conversation": "in group"}, 1_690_000_000, None, "history"),
            Message(0, MessageKey(B_JID, False, "G2"), {"conversation": "no name"},
                    1_690_000_001, None, "history", "READ"),
            Message(0, MessageKey(B_JID, False, "G3"), {}, 1_690_000_002, None, "history"),
            Message(0, MessageKey(B_JID, False, "G4"), {"conversation": "x"}, 0, None, "history"),
            Message(0, MessageKey(B_JID, False, "G2"), {"conversation": "dup"}, 1_690_000_003),
        ),
        chats=(HistoryChat(grp, "Team", 3, 1_690_000_000, True), HistoryChat(B_JID)),
        contacts=(HistoryContact(C_JID, name="Carla"), HistoryContact(B_JID)),
        progress=100,
        final=True,
    )  # fmt: skip
    h.gateway.pipeline.lanes[h.gateway.get("alice").id].put(chunk)
    done = await _settled(hook)
    assert done["data"] == {"messageCount": 2, "chatCount": 2, "contactCount": 2}
    iid = done["instanceId"]
    assert _set(hook, "chats.set") == [
        {"remoteJid": grp, "instanceId": iid, "name": "Team"},
        {"remoteJid": B_JID, "instanceId": iid},
    ]
    g1, g2 = _set(hook, "messages.set")
    assert (g1["key"]["participant"], g1["pushName"], g1["status"]) == (
        C_JID,
        "Carla",
        "DELIVERY_ACK",
    )
    assert (g2["pushName"], g2["status"], g2["message"]) == (
        B_NUMBER,
        "READ",
        {"conversation": "no name"},
    )
    assert _set(hook, "contacts.upsert") == [
        {"remoteJid": C_JID, "pushName": "Carla", "profilePicUrl": None, "instanceId": iid}
    ]
    row = await h.gateway.pipeline.store.chat(iid, grp)
    assert row is not None and (row.name, row.unread_messages, row.archived) == ("Team", 3, True)
    assert row.last_message_at == 1_690_000_000
    # a live message from Carla with the same name: no new contacts.upsert
    r = await h.client.post(
        "/sim/alice/inbound", json={"from": C_NUMBER, "text": "hi", "pushName": "Carla"}
    )
    assert r.status_code == 200
    await sqlite_pair.events(hook, "messages.upsert", 1)
    assert len(hook.bodies("contacts.upsert")) == 1


async def test_an_unreadable_sync_full_history_setting_still_pairs(
    sqlite_harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The setting cannot be read at connect: the instance pairs and gets the recent history."""
    h = sqlite_harness
    now = int(time.time())
    await h.create("seeder")
    past = [{"contact": B_NUMBER, "text": "old", "timestamp": now - 200 * DAY},
            {"contact": B_NUMBER, "text": "new", "timestamp": now - DAY}]  # fmt: skip
    r = await h.client.post("/sim/seeder/history", json={"number": A_NUMBER, "messages": past})
    assert r.status_code == 200, r.text

    async def broken(instance_id: str) -> Any:
        raise OSError("database unreachable")

    hook = await Receiver().start()
    try:
        webhook = {"url": hook.url, "events": [], "enabled": True}
        await h.create("wanted-full", webhook=webhook, syncFullHistory=True)
        monkeypatch.setattr(h.gateway.store, "get_settings", broken)
        await h.client.get("/instance/connect/wanted-full")
        r = await h.client.post("/sim/wanted-full/scan", json={"number": A_NUMBER})
        assert r.json()["state"] == "open", r.text
        await _settled(hook)
        assert [m["message"]["conversation"] for m in _set(hook, "messages.set")] == ["new"]
    finally:
        await hook.stop()


async def test_a_history_contact_does_not_overwrite_a_stored_one(pair: Pair) -> None:
    """History contacts are inserted when absent: a contact the instance already stored (here
    from a live message) keeps its push name, on every database."""
    from wagate.engines.messaging import HistoryContact

    h, hook = pair.h, pair.hook_a
    await _text(h, "bob", A_NUMBER, "live")
    await pair.events(hook, "contacts.upsert", 1)
    chunk = History(
        lane_epoch(h, "alice"),
        contacts=(HistoryContact(B_JID, name="Renamed"), HistoryContact(C_JID, name="Carla")),
        final=True,
    )
    h.gateway.pipeline.lanes[h.gateway.get("alice").id].put(chunk)
    await _settled(hook)
    r = await h.client.post("/chat/findContacts/alice", json={})
    assert {c["remoteJid"]: c["pushName"] for c in r.json()} == {
        B_JID: "Sim 0002", C_JID: "Carla"
    }  # fmt: skip
