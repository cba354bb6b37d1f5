"""A sends text to B through the HTTP API: B's webhook hears messages.upsert, A's hears
send.message and the receipts; both sides find the message in their database."""

from __future__ import annotations

from tests.messaging.conftest import A_NUMBER, B_NUMBER, Pair

A_JID = f"{A_NUMBER}@s.whatsapp.net"
B_JID = f"{B_NUMBER}@s.whatsapp.net"


async def test_text_round_trip_with_read_receipt(pair: Pair) -> None:
    h = pair.h
    r = await h.client.post(
        f"/message/sendText/{pair.a}", json={"number": B_NUMBER, "text": "hello bob"}
    )
    assert r.status_code == 201, r.text
    raw = r.json()
    assert set(raw) >= {
        "key", "pushName", "status", "message", "contextInfo", "messageType",
        "messageTimestamp", "instanceId", "source",
    }  # fmt: skip
    assert raw["key"]["remoteJid"] == B_JID and raw["key"]["fromMe"] is True
    assert raw["key"]["remoteJidAlt"].endswith("@lid")
    assert raw["message"] == {"conversation": "hello bob"}
    assert raw["messageType"] == "conversation"
    assert raw["status"] == "PENDING"
    assert raw["instanceId"] == h.gateway.instances[pair.a].id
    msg_id = raw["key"]["id"]

    (upsert,) = await pair.events(pair.hook_b, "messages.upsert", 1)
    data = upsert["data"]
    assert upsert["instance"] == pair.b and upsert["sender"] == B_JID
    assert data["key"]["id"] == msg_id
    assert data["key"]["remoteJid"] == A_JID and data["key"]["fromMe"] is False
    assert data["key"]["remoteJidAlt"].endswith("@lid")
    assert data["message"] == {"conversation": "hello bob"}
    assert data["pushName"] == "Sim 0001"
    assert data["status"] == "DELIVERY_ACK"
    contact = (await pair.events(pair.hook_b, "contacts.upsert", 1))[0]["data"]
    assert contact["remoteJid"] == A_JID and contact["pushName"] == "Sim 0001"
    chats = (await pair.events(pair.hook_b, "chats.upsert", 1))[0]["data"]
    assert chats == [{"remoteJid": A_JID, "instanceId": data["instanceId"]}]

    (sent,) = await pair.events(pair.hook_a, "send.message", 1)
    assert sent["data"] == raw
    updates = await pair.events(pair.hook_a, "messages.update", 2)
    assert [u["data"]["status"] for u in updates] == ["SERVER_ACK", "DELIVERY_ACK"]

    r = await h.client.post(
        f"/chat/markMessageAsRead/{pair.b}",
        json={"readMessages": [{"id": msg_id, "fromMe": False, "remoteJid": A_JID}]},
    )
    assert r.status_code == 201, r.text
    assert r.json() == {"message": "Read messages", "read": "success"}
    updates = await pair.events(pair.hook_a, "messages.update", 3)
    read = updates[-1]["data"]
    assert read["status"] == "READ" and read["keyId"] == msg_id
    assert read["remoteJid"] == B_JID and read["fromMe"] is True

    for name, from_me in ((pair.a, True), (pair.b, False)):
        r = await h.client.post(f"/chat/findMessages/{name}", json={})
        assert r.status_code == 200, r.text
        page = r.json()["messages"]
        assert page["total"] == 1 and page["pages"] == 1 and page["currentPage"] == 1
        (record,) = page["records"]
        assert record["key"]["id"] == msg_id and record["key"]["fromMe"] is from_me
        assert record["message"] == {"conversation": "hello bob"}
    r = await h.client.post(f"/chat/findMessages/{pair.a}", json={})
    statuses = [u["status"] for u in r.json()["messages"]["records"][0]["MessageUpdate"]]
    assert statuses == ["SERVER_ACK", "DELIVERY_ACK", "READ"]

    r = await h.client.get("/instance/fetchInstances")
    counts = {row["name"]: row["_count"] for row in r.json()}
    assert counts == {
        pair.a: {"Message": 1, "Contact": 0, "Chat": 1},
        pair.b: {"Message": 1, "Contact": 1, "Chat": 1},
    }
