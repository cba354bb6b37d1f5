"""The settings act, end to end on the sim through HTTP only: rejectCall and msgCall answer a
call (the CALL event, the caller gets msgCall), groupsIgnore leaves group chats out,
readMessages and readStatus send READ receipts, alwaysOnline sets the account's presence."""

from __future__ import annotations

import asyncio
import base64
import time
from typing import Any

from tests.messaging.conftest import A_NUMBER, B_NUMBER, PNG, Pair

A_JID = f"{A_NUMBER}@s.whatsapp.net"
B_JID = f"{B_NUMBER}@s.whatsapp.net"
OFF = {
    "rejectCall": False,
    "msgCall": "",
    "groupsIgnore": False,
    "alwaysOnline": False,
    "readMessages": False,
    "readStatus": False,
    "syncFullHistory": False,
}


async def _settings(p: Pair, name: str, **on: Any) -> None:
    r = await p.h.client.post(f"/settings/set/{name}", json=OFF | on)
    assert r.status_code == 201, r.text
    assert r.json()["settings"]["settings"] == OFF | on


async def _until(check: Any, what: str) -> Any:
    deadline = time.monotonic() + 10
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(0.02)


async def _texts(p: Pair, name: str) -> list[tuple[str, str | None]]:
    r = await p.h.client.post(f"/chat/findMessages/{name}", json={})
    assert r.status_code == 200, r.text
    return [
        (m["key"]["remoteJid"], (m["message"] or {}).get("conversation"))
        for m in r.json()["messages"]["records"]
    ]


async def test_a_rejected_call_is_announced_and_answered_with_msg_call(sqlite_pair: Pair) -> None:
    p = sqlite_pair
    await _settings(p, p.a, rejectCall=True, msgCall="I cannot talk now")
    r = await p.h.client.post(f"/sim/{p.a}/call", json={"from": B_NUMBER, "video": True})
    assert r.status_code == 200, r.text
    call = r.json()
    assert call["from"] == B_JID and call["to"] == A_JID and call["video"] is True

    (event,) = await p.events(p.hook_a, "call", 1)
    data = event["data"]
    assert data["id"] == call["id"] and data["from"] == B_JID and data["chatId"] == B_JID
    assert data["status"] == "offer" and data["isVideo"] is True and data["isGroup"] is False
    assert data["offline"] is False and data["date"].endswith("Z")
    got = await p.events(p.hook_b, "messages.upsert", 1)
    assert got[0]["data"]["message"]["conversation"] == "I cannot talk now"
    assert got[0]["data"]["key"]["remoteJid"] == A_JID

    async def rejected() -> bool:
        r = await p.h.client.get(f"/sim/{p.a}/calls/{call['id']}")
        return bool(r.json()["state"] == "rejected")

    await _until(rejected, "the call was not rejected")
    # the call is announced only: alice stored the msgCall she sent and nothing else
    assert await _texts(p, p.a) == [(B_JID, "I cannot talk now")]
    assert not p.hook_a.bodies("messages.upsert")

    # rejectCall off, msgCall empty: the call rings on, announced, unanswered
    await _settings(p, p.a)
    r = await p.h.client.post(f"/sim/{p.a}/call", json={"from": B_NUMBER})
    second = r.json()["id"]
    await p.events(p.hook_a, "call", 2)
    await asyncio.sleep(0.1)
    assert (await p.h.client.get(f"/sim/{p.a}/calls/{second}")).json()["state"] == "offer"
    assert len(p.hook_b.bodies("messages.upsert")) == 1

    # a simulated contact can call too; a caller cannot be the instance's own account
    r = await p.h.client.post(f"/sim/{p.a}/call", json={"from": "5511900000077"})
    assert r.status_code == 200 and r.json()["from"] == "5511900000077@s.whatsapp.net"
    r = await p.h.client.post(f"/sim/{p.a}/call", json={"from": A_NUMBER})
    assert r.status_code == 400 and "itself" in r.text
    r = await p.h.client.post(f"/sim/{p.a}/call", json={"from": "x"})
    assert r.status_code == 400


async def test_groups_ignore_leaves_group_chats_out(sqlite_pair: Pair) -> None:
    p = sqlite_pair
    r = await p.h.client.post(
        f"/group/create/{p.b}", json={"subject": "Team", "participants": [A_NUMBER]}
    )
    assert r.status_code == 201, r.text
    group = r.json()["id"]
    await _settings(p, p.a, groupsIgnore=True)
    before = len(p.hook_a.bodies("messages.upsert"))
    r = await p.h.client.post(f"/message/sendText/{p.b}", json={"number": group, "text": "g1"})
    assert r.status_code == 201, r.text
    r = await p.h.client.post(f"/message/sendText/{p.b}", json={"number": A_NUMBER, "text": "d1"})
    assert r.status_code == 201, r.text
    got = await p.events(p.hook_a, "messages.upsert", before + 1)
    await asyncio.sleep(0.1)
    got = p.hook_a.bodies("messages.upsert")[before:]
    assert [e["data"]["message"]["conversation"] for e in got] == ["d1"]
    assert (group, "g1") not in await _texts(p, p.a)
    assert (B_JID, "d1") in await _texts(p, p.a)

    await _settings(p, p.a, groupsIgnore=False)
    r = await p.h.client.post(f"/message/sendText/{p.b}", json={"number": group, "text": "g2"})
    assert r.status_code == 201, r.text
    await p.events(p.hook_a, "messages.upsert", before + 2)
    assert (group, "g2") in await _texts(p, p.a)


async def _read_receipts(p: Pair, msg_id: str) -> list[dict[str, Any]]:
    return [
        e
        for e in p.hook_b.bodies("messages.update")
        if e["data"]["keyId"] == msg_id and e["data"]["status"] == "READ"
    ]


async def test_read_messages_and_read_status_send_read_receipts(sqlite_pair: Pair) -> None:
    p = sqlite_pair
    r = await p.h.client.post(f"/message/sendText/{p.b}", json={"number": A_NUMBER, "text": "1"})
    unread = r.json()["key"]["id"]
    await _settings(p, p.a, readMessages=True)
    r = await p.h.client.post(f"/message/sendText/{p.b}", json={"number": A_NUMBER, "text": "2"})
    read = r.json()["key"]["id"]
    await _until(lambda: _read_receipts(p, read), "no READ receipt for readMessages")
    assert not await _read_receipts(p, unread)

    status = {"type": "text", "content": "my status", "statusJidList": [A_JID]}
    r = await p.h.client.post(f"/message/sendStatus/{p.b}", json=status)
    assert r.status_code == 201, r.text
    seen = r.json()["key"]["id"]
    await p.events(p.hook_a, "messages.upsert", 3)
    await asyncio.sleep(0.2)
    assert not await _read_receipts(p, seen)  # readMessages is not readStatus
    await _settings(p, p.a, readStatus=True)
    r = await p.h.client.post(f"/message/sendStatus/{p.b}", json=status)
    seen = r.json()["key"]["id"]
    await _until(lambda: _read_receipts(p, seen), "no READ receipt for readStatus")


async def test_always_online_sets_the_account_presence(sqlite_pair: Pair) -> None:
    p = sqlite_pair

    async def presence() -> str | None:
        r = await p.h.client.get(f"/sim/{p.a}/stats")
        value: str | None = r.json()["presence"]
        return value

    assert await presence() == "unavailable"  # announced when it opened with the setting off
    await _settings(p, p.a, alwaysOnline=True)
    await _until(lambda: _is(presence, "available"), "alwaysOnline did not announce available")
    r = await p.h.client.post(f"/sim/{p.a}/disconnect", json={"code": 428})
    assert r.status_code == 200
    await _until(lambda: _open(p), "did not reopen")
    await _until(lambda: _is(presence, "available"), "reopened without announcing available")
    await _settings(p, p.a, alwaysOnline=False)
    await _until(lambda: _is(presence, "unavailable"), "alwaysOnline off kept available")


async def _is(read: Any, value: str) -> bool:
    return bool(await read() == value)


async def _open(p: Pair) -> bool:
    r = await p.h.client.get(f"/instance/connectionState/{p.a}")
    return bool(r.json()["instance"]["state"] == "open")


async def test_contacts_update_on_a_new_name_or_picture(sqlite_pair: Pair) -> None:
    p = sqlite_pair
    r = await p.h.client.post(f"/message/sendText/{p.b}", json={"number": A_NUMBER, "text": "hi"})
    assert r.status_code == 201, r.text
    (first,) = await p.events(p.hook_a, "contacts.upsert", 1)
    assert first["data"]["remoteJid"] == B_JID
    r = await p.h.client.post(f"/chat/updateProfileName/{p.b}", json={"name": "Roberto"})
    assert r.status_code == 200, r.text
    (renamed,) = await p.events(p.hook_a, "contacts.update", 1)
    assert renamed["data"] == [
        {
            "remoteJid": B_JID,
            "pushName": "Roberto",
            "profilePicUrl": None,
            "instanceId": renamed["data"][0]["instanceId"],
        }
    ]
    r = await p.h.client.post(
        f"/chat/updateProfilePicture/{p.b}", json={"picture": base64.b64encode(PNG).decode()}
    )
    assert r.status_code == 200, r.text
    pictured = (await p.events(p.hook_a, "contacts.update", 2))[1]["data"][0]
    assert pictured["pushName"] == "Roberto" and pictured["profilePicUrl"].startswith("https://")
    r = await p.h.client.post(f"/chat/findContacts/{p.a}", json={"where": {"remoteJid": B_JID}})
    (row,) = r.json()
    assert row["pushName"] == "Roberto" and row["profilePicUrl"] == pictured["profilePicUrl"]
    # a message under the new name is no new contact and no further update
    await p.h.client.post(f"/message/sendText/{p.b}", json={"number": A_NUMBER, "text": "again"})
    await p.events(p.hook_a, "messages.upsert", 2)
    assert len(p.hook_a.bodies("contacts.update")) == 2
    assert len(p.hook_a.bodies("contacts.upsert")) == 1
    # a removed picture clears the stored URL and is announced
    r = await p.h.client.delete(f"/chat/removeProfilePicture/{p.b}")
    assert r.status_code == 200, r.text
    removed = (await p.events(p.hook_a, "contacts.update", 3))[2]["data"][0]
    assert removed["remoteJid"] == B_JID and removed["profilePicUrl"] is None
    assert removed["pushName"] == "Roberto"
    for _ in range(100):
        r = await p.h.client.post(
            f"/chat/findContacts/{p.a}", json={"where": {"remoteJid": B_JID}}
        )
        (row,) = r.json()
        if row["profilePicUrl"] is None:
            break
        await asyncio.sleep(0.05)
    assert row["pushName"] == "Roberto" and row["profilePicUrl"] is None, row


async def test_logout_announces_status_and_logout_instance(sqlite_pair: Pair) -> None:
    p = sqlite_pair
    r = await p.h.client.delete(f"/instance/logout/{p.a}")
    assert r.status_code == 200, r.text
    await p.events(p.hook_a, "logout.instance", 1)
    wanted = ("status.instance", "logout.instance", "connection.update")
    names = [e["event"] for e in p.hook_a.bodies() if e["event"] in wanted]
    assert names[-3:] == ["status.instance", "logout.instance", "connection.update"]
    (status,) = p.hook_a.bodies("status.instance")
    assert status["data"]["instance"] == p.a and status["data"]["status"] == "closed"
    assert status["data"]["disconnectionReasonCode"] == 401
    assert status["data"]["disconnectionAt"].endswith("Z")
    (logout,) = p.hook_a.bodies("logout.instance")
    assert logout["data"] is None
    # a close that reconnects announces neither
    r = await p.h.client.post(f"/sim/{p.b}/disconnect", json={"code": 428})
    assert r.status_code == 200
    await _until(lambda: _state_is(p, p.b, "open"), "bob did not reconnect")
    assert not p.hook_b.bodies("status.instance") and not p.hook_b.bodies("logout.instance")
    # a close that stops (banned) announces both
    await p.h.client.post(f"/sim/{p.b}/disconnect", json={"code": 403})
    (stopped,) = await p.events(p.hook_b, "status.instance", 1)
    assert stopped["data"]["disconnectionReasonCode"] == 403
    await p.events(p.hook_b, "logout.instance", 1)


async def _state_is(p: Pair, name: str, state: str) -> bool:
    r = await p.h.client.get(f"/instance/connectionState/{name}")
    return bool(r.json()["instance"]["state"] == state)


async def test_an_edit_through_the_api_is_send_message_update(sqlite_pair: Pair) -> None:
    p = sqlite_pair
    r = await p.h.client.post(
        f"/message/sendText/{p.a}", json={"number": B_NUMBER, "text": "tpyo"}
    )
    key = r.json()["key"]
    r = await p.h.client.post(
        f"/chat/updateMessage/{p.a}", json={"number": B_NUMBER, "key": key, "text": "typo"}
    )
    assert r.status_code == 200, r.text
    (update,) = await p.events(p.hook_a, "send.message.update", 1)
    edit = update["data"]["message"]["protocolMessage"]
    assert edit["key"]["id"] == key["id"]
    assert edit["editedMessage"]["conversation"] == "typo"
