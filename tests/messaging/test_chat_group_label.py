"""/chat, /group and /label through the API between two sim instances and a simulated
contact: state changes reach the other side as events and the database answers find*."""

from __future__ import annotations

import base64

from tests.messaging.conftest import A_NUMBER, B_NUMBER, Pair

A_JID = f"{A_NUMBER}@s.whatsapp.net"
B_JID = f"{B_NUMBER}@s.whatsapp.net"
CONTACT = "5521998887777"
CONTACT_JID = f"{CONTACT}@s.whatsapp.net"


async def test_inbound_from_a_simulated_contact_and_chat_routes(sqlite_pair: Pair) -> None:
    p = sqlite_pair
    c = p.h.client
    r = await c.post(f"/sim/{p.b}/inbound", json={"from": CONTACT, "text": "hi from a phone"})
    assert r.status_code == 200, r.text
    pic = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 20).decode()
    r = await c.post(
        f"/sim/{p.b}/inbound",
        json={"from": CONTACT, "media": pic, "text": "look", "pushName": "Carla"},
    )
    assert r.status_code == 200, r.text
    upserts = await p.events(p.hook_b, "messages.upsert", 2)
    assert upserts[0]["data"]["message"] == {"conversation": "hi from a phone"}
    assert upserts[1]["data"]["messageType"] == "imageMessage"
    assert upserts[1]["data"]["message"]["imageMessage"]["caption"] == "look"
    assert upserts[1]["data"]["key"]["remoteJid"] == CONTACT_JID
    # a new contact is an upsert; the name it gives later is an update (as Evolution sends)
    (new,) = await p.events(p.hook_b, "contacts.upsert", 1)
    assert new["data"]["pushName"] == "Sim 7777"
    (renamed,) = await p.events(p.hook_b, "contacts.update", 1)
    assert [x["pushName"] for x in renamed["data"]] == ["Carla"]

    r = await c.post(f"/chat/findContacts/{p.b}", json={"where": {"pushName": "carl"}})
    assert [x["remoteJid"] for x in r.json()] == [CONTACT_JID]
    r = await c.post(f"/chat/findChats/{p.b}", json={})
    (chat,) = r.json()
    assert chat["remoteJid"] == CONTACT_JID and chat["unreadCount"] == 2
    assert chat["lastMessage"]["messageType"] == "imageMessage"
    r = await c.get(f"/chat/findChatByRemoteJid/{p.b}", params={"remoteJid": CONTACT_JID})
    assert r.json()["unreadMessages"] == 2

    # archive and unread go to every device of the account: chats.update
    r = await c.post(f"/chat/archiveChat/{p.b}", json={"archive": True, "chat": CONTACT})
    assert r.json() == {"chatId": CONTACT_JID, "archived": True}
    r = await c.post(
        f"/chat/markChatUnread/{p.b}", json={"lastMessage": {"key": {"remoteJid": CONTACT_JID}}}
    )
    assert r.status_code == 201, r.text
    updates = await p.events(p.hook_b, "chats.update", 2)
    assert updates[0]["data"] == [
        {
            "remoteJid": CONTACT_JID,
            "instanceId": updates[0]["data"][0]["instanceId"],
            "archived": True,
        }
    ]
    r = await c.get(f"/chat/findChatByRemoteJid/{p.b}", params={"remoteJid": CONTACT_JID})
    assert r.json()["archived"] is True and r.json()["unreadMessages"] == -1

    # presence, edit and delete reach the other instance
    r = await c.post(
        f"/chat/sendPresence/{p.a}", json={"number": B_NUMBER, "presence": "composing", "delay": 0}
    )
    assert r.status_code == 201 and r.json() == {"presence": "composing"}
    (presence,) = await p.events(p.hook_b, "presence.update", 1)
    assert presence["data"] == {
        "id": A_JID,
        "presences": {A_JID: {"lastKnownPresence": "composing"}},
    }
    r = await c.post(f"/message/sendText/{p.a}", json={"number": B_NUMBER, "text": "tpyo"})
    key = r.json()["key"]
    r = await c.post(
        f"/chat/updateMessage/{p.a}",
        json={"number": B_NUMBER, "key": {**key, "remoteJidAlt": None}, "text": "typo"},
    )
    assert r.status_code == 200, r.text
    (edited,) = await p.events(p.hook_b, "messages.edited", 1)
    assert edited["data"]["editedMessage"] == {"conversation": "typo"}
    r = await c.post(f"/chat/findMessages/{p.b}", json={"where": {"key": {"id": key["id"]}}})
    assert r.json()["messages"]["records"][0]["message"] == {"conversation": "typo"}
    await p.events(p.hook_a, "messages.update", 2)
    r = await c.post(f"/chat/findStatusMessage/{p.a}", json={"where": {"remoteJid": B_JID}})
    assert {u["status"] for u in r.json()} >= {"SERVER_ACK", "DELIVERY_ACK"}
    assert {u["keyId"] for u in r.json()} == {key["id"]}, "the edit's receipts are not kept"
    r = await c.request(
        "DELETE",
        f"/chat/deleteMessageForEveryone/{p.a}",
        json={"id": key["id"], "fromMe": True, "remoteJid": B_JID},
    )
    assert r.status_code == 201, r.text
    (deleted,) = await p.events(p.hook_b, "messages.delete", 1)
    assert deleted["data"]["id"] == key["id"]
    for name in (p.a, p.b):
        r = await c.post(f"/chat/findMessages/{name}", json={"where": {"key": {"id": key["id"]}}})
        assert r.json()["messages"]["total"] == 0, name
    r = await c.post(f"/chat/findStatusMessage/{p.a}", json={"where": {"remoteJid": B_JID}})
    assert r.json() == [], "a removed message's updates go with it"

    # profile, privacy, block
    r = await c.post(f"/chat/updateProfileName/{p.a}", json={"name": "Alice"})
    assert r.json() == {"update": "success"}
    r = await c.post(f"/chat/updateProfilePicture/{p.a}", json={"picture": pic})
    assert r.status_code == 200, r.text
    r = await c.post(f"/chat/fetchProfilePictureUrl/{p.b}", json={"number": A_NUMBER})
    assert r.json()["profilePictureUrl"].startswith("https://")
    r = await c.post(f"/chat/fetchProfile/{p.b}", json={"number": A_NUMBER})
    assert r.json()["name"] == "Alice" and r.json()["numberExists"] is True
    privacy = {
        "readreceipts": "none", "profile": "all", "status": "all",
        "online": "all", "last": "all", "groupadd": "all",
    }  # fmt: skip
    r = await c.post(f"/chat/updatePrivacySettings/{p.a}", json=privacy)
    assert r.status_code == 201 and r.json()["data"] == privacy
    r = await c.get(f"/chat/fetchPrivacySettings/{p.a}")
    assert r.json() == privacy
    r = await c.post(
        f"/chat/updateBlockStatus/{p.b}", json={"number": A_NUMBER, "status": "block"}
    )
    assert r.json() == {"block": "success"}
    before = len(p.hook_b.bodies("messages.upsert"))
    r = await c.post(f"/message/sendText/{p.a}", json={"number": B_NUMBER, "text": "blocked?"})
    assert r.status_code == 201
    r = await c.post(f"/message/sendText/{p.b}", json={"number": CONTACT, "text": "sync"})
    assert r.status_code == 201
    sent = await p.events(p.hook_b, "send.message", 1)  # B's lane is ordered: A's came first
    assert sent[-1]["data"]["message"] == {"conversation": "sync"}
    assert len(p.hook_b.bodies("messages.upsert")) == before


async def test_groups_and_labels(sqlite_pair: Pair) -> None:
    p = sqlite_pair
    c = p.h.client
    await c.post("/sim/contacts", json={"number": CONTACT, "pushName": "Carla"})
    r = await c.post(
        f"/group/create/{p.a}",
        json={"subject": "Team", "participants": [B_NUMBER, CONTACT], "description": "d"},
    )
    assert r.status_code == 201, r.text
    group = r.json()
    gid = group["id"]
    assert gid.endswith("@g.us") and group["size"] == 3 and group["owner"] == A_JID
    (upsert,) = await p.events(p.hook_b, "groups.upsert", 1)
    assert upsert["data"][0]["id"] == gid and upsert["data"][0]["subject"] == "Team"

    r = await c.post(
        f"/message/sendText/{p.a}",
        json={"number": gid, "text": "hi all", "mentionsEveryOne": True},
    )
    assert r.status_code == 201, r.text
    assert set(r.json()["contextInfo"]["mentionedJid"]) == {A_JID, B_JID, CONTACT_JID}
    (msg,) = await p.events(p.hook_b, "messages.upsert", 1)
    assert msg["data"]["key"]["remoteJid"] == gid
    assert msg["data"]["key"]["participant"] == A_JID

    r = await c.post(
        f"/group/updateParticipant/{p.a}",
        params={"groupJid": gid},
        json={"action": "remove", "participants": [CONTACT]},
    )
    assert r.json()["updateParticipants"] == [{"status": "200", "jid": CONTACT_JID}]
    (change,) = await p.events(p.hook_b, "group-participants.update", 1)
    assert change["data"]["action"] == "remove" and change["data"]["participants"] == [CONTACT_JID]
    r = await c.post(
        f"/group/updateGroupSubject/{p.a}", params={"groupJid": gid}, json={"subject": "Core"}
    )
    assert r.status_code == 201, r.text
    (upd,) = await p.events(p.hook_b, "groups.update", 1)
    assert upd["data"][0]["subject"] == "Core"
    r = await c.get(f"/group/findGroupInfos/{p.b}", params={"groupJid": gid.split("@")[0]})
    assert r.json()["subject"] == "Core" and r.json()["size"] == 2
    r = await c.get(f"/group/fetchAllGroups/{p.b}", params={"getParticipants": "false"})
    assert [g["id"] for g in r.json()] == [gid] and "participants" not in r.json()[0]
    r = await c.post(
        f"/group/updateSetting/{p.b}", params={"groupJid": gid}, json={"action": "locked"}
    )
    assert r.status_code == 403, "only admins change settings"
    r = await c.get(f"/group/inviteCode/{p.a}", params={"groupJid": gid})
    code = r.json()["inviteCode"]
    assert r.json()["inviteUrl"].endswith(code)
    r = await c.request("DELETE", f"/group/leaveGroup/{p.b}", params={"groupJid": gid})
    assert r.json() == {"groupJid": gid, "leave": True}
    r = await c.get(f"/group/acceptInviteCode/{p.b}", params={"inviteCode": code})
    assert r.json() == {"accepted": True, "groupJid": gid}
    r = await c.get(f"/group/participants/{p.a}", params={"groupJid": gid})
    assert {x["id"] for x in r.json()["participants"]} == {A_JID, B_JID}

    r = await c.get(f"/label/findLabels/{p.a}")
    labels = r.json()
    assert len(labels) == 5 and labels[0] == {
        "color": 1,
        "name": "New customer",
        "id": "1",
        "predefinedId": "1",
    }
    r = await c.post(
        f"/label/handleLabel/{p.a}", json={"number": B_NUMBER, "labelId": "2", "action": "add"}
    )
    assert r.json() == {"numberJid": B_JID, "labelId": "2", "add": True}
    (assoc,) = await p.events(p.hook_a, "labels.association", 1)
    assert assoc["data"] == {"instance": p.a, "type": "add", "chatId": B_JID, "labelId": "2"}
    r = await c.get(f"/chat/findChatByRemoteJid/{p.a}", params={"remoteJid": B_JID})
    assert r.json()["labels"] == ["2"]
