"""Every /message/send* route from A to B over the API: B's webhook hears each as
messages.upsert with the right type and content; media bytes survive the trip."""

from __future__ import annotations

import base64
from typing import Any

from tests.messaging.conftest import A_NUMBER, B_NUMBER, PNG, FileServer, Pair

B64 = base64.b64encode(PNG).decode()
OGG = base64.b64encode(b"OggS" + b"\0" * 60).decode()
MP4 = base64.b64encode(b"\0\0\0\x18ftypmp42" + b"\0" * 40).decode()
POLL = {"name": "Lunch?", "selectableCount": 1, "values": ["yes", "no"]}
BUTTONS = {"title": "t", "buttons": [{"type": "reply", "displayText": "ok", "id": "1"}]}
A_JID = f"{A_NUMBER}@s.whatsapp.net"
B_JID = f"{B_NUMBER}@s.whatsapp.net"


SENDS: list[tuple[str, dict[str, Any], str]] = [
    ("sendText", {"text": "plain"}, "conversation"),
    ("sendMedia", {"mediatype": "image", "media": B64, "caption": "a dot"}, "imageMessage"),
    (
        "sendMedia",
        {"mediatype": "document", "media": B64, "fileName": "dot.png", "mimetype": "image/png"},
        "documentMessage",
    ),
    ("sendWhatsAppAudio", {"audio": OGG, "encoding": False}, "audioMessage"),
    ("sendPtv", {"video": MP4}, "ptvMessage"),
    ("sendSticker", {"sticker": B64}, "stickerMessage"),
    (
        "sendLocation",
        {"latitude": -23.55, "longitude": -46.63, "name": "Sé", "address": "Praça da Sé"},
        "locationMessage",
    ),
    (
        "sendContact",
        {"contact": [{"fullName": "Ana", "phoneNumber": "+55 11 91234-5678"}]},
        "contactMessage",
    ),
    ("sendPoll", POLL, "pollCreationMessageV3"),
    (
        "sendList",
        {
            "title": "Menu",
            "footerText": "f",
            "buttonText": "open",
            "sections": [{"title": "s", "rows": [{"title": "r", "rowId": "1"}]}],
        },
        "listMessage",
    ),
    ("sendButtons", BUTTONS, "interactiveMessage"),
]  # fmt: skip


async def test_each_send_type_reaches_b(sqlite_pair: Pair, files: FileServer) -> None:
    p = sqlite_pair
    h = p.h
    sent_ids = []
    for route, body, kind in SENDS:
        r = await h.client.post(f"/message/{route}/{p.a}", json={"number": B_NUMBER, **body})
        assert r.status_code == 201, (route, r.text)
        assert r.json()["messageType"] == kind, (route, r.json())
        sent_ids.append(r.json()["key"]["id"])
    # media by URL and by multipart upload
    r = await h.client.post(
        f"/message/sendMedia/{p.a}",
        json={"number": B_NUMBER, "mediatype": "image", "media": files.url("/png")},
    )
    assert r.status_code == 201, r.text
    assert r.json()["message"]["imageMessage"]["mimetype"] == "image/png"
    sent_ids.append(r.json()["key"]["id"])
    r = await h.client.post(
        f"/message/sendMedia/{p.a}",
        data={"number": B_NUMBER, "mediatype": "document", "delay": "0"},
        files={"file": ("report.pdf", b"%PDF-1.4 tiny", "application/pdf")},
    )
    assert r.status_code == 201, r.text
    doc = r.json()["message"]["documentMessage"]
    assert doc["fileName"] == "report.pdf" and doc["mimetype"] == "application/pdf"
    sent_ids.append(r.json()["key"]["id"])

    upserts = await p.events(p.hook_b, "messages.upsert", len(sent_ids))
    assert [u["data"]["key"]["id"] for u in upserts] == sent_ids
    kinds = [u["data"]["messageType"] for u in upserts]
    assert kinds == [k for _, _, k in SENDS] + ["imageMessage", "documentMessage"]
    image = upserts[1]["data"]
    assert image["message"]["imageMessage"]["caption"] == "a dot"
    assert image["message"]["imageMessage"]["fileLength"] == str(len(PNG))

    # B downloads the image it received: the same bytes
    r = await h.client.post(
        f"/chat/getBase64FromMediaMessage/{p.b}", json={"message": {"key": {"id": sent_ids[1]}}}
    )
    assert r.status_code == 201, r.text
    assert base64.b64decode(r.json()["base64"]) == PNG
    assert r.json()["mediaType"] == "image" and r.json()["mimetype"] == "image/png"

    # a reaction to B's copy, a quote with a mention, then paging over B's messages
    r = await h.client.post(
        f"/message/sendReaction/{p.b}",
        json={"key": {"id": sent_ids[0], "remoteJid": A_JID, "fromMe": False}, "reaction": "👍"},
    )
    assert r.status_code == 201, r.text
    assert r.json()["messageType"] == "reactionMessage"
    r = await h.client.post(
        f"/message/sendText/{p.b}",
        json={
            "number": A_NUMBER,
            "text": "re: plain",
            "quoted": {"key": {"id": sent_ids[0]}},
            "mentioned": [A_NUMBER],
        },
    )
    assert r.status_code == 201, r.text
    ctx = r.json()["contextInfo"]
    assert ctx["stanzaId"] == sent_ids[0] and ctx["quotedMessage"] == {"conversation": "plain"}
    assert ctx["mentionedJid"] == [A_JID]
    reaction = (await p.events(p.hook_a, "messages.upsert", 2))[0]["data"]
    assert reaction["message"]["reactionMessage"]["text"] == "👍"

    total = len(sent_ids) + 2
    seen: list[str] = []
    for page in (1, 2, 3):
        r = await h.client.post(f"/chat/findMessages/{p.b}", json={"page": page, "offset": 6})
        body = r.json()["messages"]
        assert body["total"] == total and body["pages"] == 3 and body["currentPage"] == page
        seen += [rec["key"]["id"] for rec in body["records"]]
    assert len(seen) == total == len(set(seen))
    r = await h.client.post(
        f"/chat/findMessages/{p.b}",
        json={
            "where": {"key": {"fromMe": False, "remoteJid": A_JID}, "messageType": "imageMessage"}
        },
    )
    assert r.json()["messages"]["total"] == 2
