"""Statuses from A over the API: text, image and voice to the contacts named in statusJidList
(or to every contact with allContacts), heard by B as messages.upsert in status@broadcast."""

from __future__ import annotations

import base64
from typing import Any

from tests.messaging.conftest import A_NUMBER, B_NUMBER, PNG, Pair
from tests.messaging.samples import wav
from wagate.messaging.convert import OPUS_MIME, opus_head

STATUS = "status@broadcast"
A_JID = f"{A_NUMBER}@s.whatsapp.net"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def test_statuses_reach_the_contacts_they_name(sqlite_pair: Pair) -> None:
    p, c = sqlite_pair, sqlite_pair.h.client
    sends: list[dict[str, Any]] = [
        {"type": "text", "content": "hello all", "backgroundColor": "#008000", "font": 1},
        {"type": "image", "content": b64(PNG), "caption": "a dot"},
        {"type": "audio", "content": b64(wav(2.0))},
    ]
    ids: list[str] = []
    for body in sends:
        r = await c.post(f"/message/sendStatus/{p.a}", json={**body, "statusJidList": [B_NUMBER]})
        assert r.status_code == 201, r.text
        assert r.json()["key"]["remoteJid"] == STATUS and r.json()["key"]["fromMe"] is True
        ids.append(r.json()["key"]["id"])

    upserts = [u["data"] for u in await p.events(p.hook_b, "messages.upsert", 3)]
    assert [u["key"]["id"] for u in upserts] == ids
    assert {u["key"]["remoteJid"] for u in upserts} == {STATUS}
    assert {u["key"]["participant"] for u in upserts} == {A_JID}
    assert upserts[0]["message"]["conversation"] == "hello all"  # Evolution's messageRaw
    assert upserts[1]["message"]["imageMessage"]["caption"] == "a dot"
    voice = upserts[2]["message"]["audioMessage"]
    assert voice["ptt"] is True and voice["mimetype"] == OPUS_MIME and voice["seconds"] == 2

    # what B downloads of the voice status is Ogg/Opus, not the WAV A gave
    r = await c.post(
        f"/chat/getBase64FromMediaMessage/{p.b}", json={"message": {"key": {"id": ids[2]}}}
    )
    assert r.status_code == 201, r.text
    heard = base64.b64decode(r.json()["base64"])
    assert heard.startswith(b"OggS") and opus_head(heard) is not None

    # both sides stored them in the status chat
    for name in (p.a, p.b):
        r = await c.post(
            f"/chat/findMessages/{name}", json={"where": {"key": {"remoteJid": STATUS}}}
        )
        assert r.status_code == 200, r.text
        assert sorted(m["key"]["id"] for m in r.json()["messages"]["records"]) == sorted(ids)


async def test_all_contacts_reaches_everyone_a_knows(sqlite_pair: Pair) -> None:
    p, c = sqlite_pair, sqlite_pair.h.client
    r = await c.post(f"/message/sendText/{p.b}", json={"number": A_NUMBER, "text": "hi"})
    assert r.status_code == 201, r.text
    await p.events(p.hook_a, "messages.upsert", 1)  # A now knows B as a contact
    r = await c.post(
        f"/message/sendStatus/{p.a}",
        json={"type": "text", "content": "to everyone", "allContacts": True},
    )
    assert r.status_code == 201, r.text
    upsert = (await p.events(p.hook_b, "messages.upsert", 1))[0]["data"]
    assert upsert["key"]["remoteJid"] == STATUS
    assert upsert["message"]["conversation"] == "to everyone"


async def test_a_voice_status_that_cannot_be_converted_is_a_400(sqlite_pair: Pair) -> None:
    p = sqlite_pair
    r = await p.h.client.post(
        f"/message/sendStatus/{p.a}",
        json={"type": "audio", "content": b64(PNG), "statusJidList": [B_NUMBER]},
    )
    assert r.status_code == 400, r.text
    assert "content could not be converted" in str(r.json()["response"]["message"])
