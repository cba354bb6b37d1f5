# ruff: noqa: E501 - the request tables read best one case per line
"""Bad input on every messaging route is a 400 in Evolution's envelope naming the field; a
closed instance is a 400 naming its state (never a hang, never a 500); unknown numbers are
Evolution's exists:false; media URLs are fetched with a deadline and a size cap."""

from __future__ import annotations

from typing import Any

from tests.conftest import Harness
from tests.messaging.conftest import B_NUMBER, FileServer, Pair

N = B_NUMBER
# (method, route, body, query, text the message must contain)
BAD: list[tuple[str, str, Any, dict[str, str] | None, str]] = [
    ("POST", "/message/sendText", {"text": "x"}, None, 'requires property "number"'),
    ("POST", "/message/sendText", {"number": N}, None, 'requires property "text"'),
    ("POST", "/message/sendText", {"number": N, "text": ""}, None, "Text is required"),
    ("POST", "/message/sendText", {"number": N, "text": "x", "delay": -1}, None, "delay"),
    ("POST", "/message/sendText", {"number": N, "text": "x", "quoted": {}}, None, '"key"'),
    ("POST", "/message/sendText", {"number": "abc", "text": "x"}, None, "number:"),
    ("POST", "/message/sendText", {"number": 5511, "text": "x"}, None, "number is not of a type"),
    ("POST", "/message/sendMedia", {"number": N, "media": "x"}, None, '"mediatype"'),
    ("POST", "/message/sendMedia", {"number": N, "mediatype": "gif", "media": "x"}, None, "mediatype"),
    ("POST", "/message/sendMedia", {"number": N, "mediatype": "image", "media": "not media!"}, None, "Owned media must be a url or base64"),
    ("POST", "/message/sendMedia", {"number": N, "mediatype": "image"}, None, "Owned media"),
    ("POST", "/message/sendPtv", {"number": N}, None, "Owned media"),
    ("POST", "/message/sendWhatsAppAudio", {"audio": "x"}, None, '"number"'),
    ("POST", "/message/sendSticker", {"number": N, "sticker": 1}, None, "sticker"),
    ("POST", "/message/sendLocation", {"number": N, "latitude": 91, "longitude": 0, "name": "n", "address": "a"}, None, "latitude"),
    ("POST", "/message/sendLocation", {"number": N, "latitude": 1, "longitude": 0, "name": "n"}, None, '"address"'),
    ("POST", "/message/sendContact", {"number": N, "contact": []}, None, "contact"),
    ("POST", "/message/sendContact", {"number": N, "contact": [{"fullName": "a", "phoneNumber": "1"}]}, None, "phoneNumber"),
    ("POST", "/message/sendReaction", {"key": {"id": "x", "remoteJid": N, "fromMe": True}, "reaction": "ok"}, None, "single emoji"),
    ("POST", "/message/sendReaction", {"reaction": "👍"}, None, '"key"'),
    ("POST", "/message/sendPoll", {"number": N, "name": "p", "selectableCount": 1, "values": ["a"]}, None, "values"),
    ("POST", "/message/sendPoll", {"number": N, "name": "p", "selectableCount": 11, "values": ["a", "b"]}, None, "selectableCount"),
    ("POST", "/message/sendPoll", {"number": N, "name": "p", "selectableCount": 1, "values": ["a", "a"]}, None, "unique"),
    ("POST", "/message/sendList", {"number": N, "title": "t", "footerText": "f", "buttonText": "b", "sections": []}, None, "sections"),
    ("POST", "/message/sendButtons", {"number": N, "buttons": [{"type": "fax"}]}, None, "buttons.0.type"),
    ("POST", "/message/sendStatus", {"type": "text"}, None, '"content"'),
    ("POST", "/message/sendStatus", {"type": "text", "content": "x"}, None, "statusJidList"),
    ("POST", "/message/sendStatus", {"type": "text", "content": "x", "font": 9, "allContacts": True}, None, "font"),
    ("POST", "/chat/whatsappNumbers", {}, None, '"numbers"'),
    ("POST", "/chat/whatsappNumbers", {"numbers": []}, None, "numbers"),
    ("POST", "/chat/whatsappNumbers", {"numbers": [N, N]}, None, "unique"),
    ("POST", "/chat/markMessageAsRead", {"readMessages": [{"id": "x"}]}, None, '"fromMe"'),
    ("POST", "/chat/archiveChat", {"chat": N}, None, '"archive"'),
    ("POST", "/chat/archiveChat", {"archive": True}, None, "lastMessage or chat is required"),
    ("POST", "/chat/markChatUnread", {}, None, '"lastMessage"'),
    ("DELETE", "/chat/deleteMessageForEveryone", {"id": "x", "fromMe": True}, None, '"remoteJid"'),
    ("POST", "/chat/updateMessage", {"number": N, "key": {"id": "x", "remoteJid": N, "fromMe": True}, "text": " "}, None, "Text is required"),
    ("POST", "/chat/updateMessage", {"number": N, "key": {"id": "x", "remoteJid": N, "fromMe": False}, "text": "t"}, None, "others"),
    ("POST", "/chat/sendPresence", {"number": N, "presence": "dancing", "delay": 0}, None, "presence"),
    ("POST", "/chat/sendPresence", {"number": N, "presence": "paused"}, None, '"delay"'),
    ("POST", "/chat/updateBlockStatus", {"number": N, "status": "maybe"}, None, "status"),
    ("POST", "/chat/fetchProfilePictureUrl", {}, None, '"number"'),
    ("POST", "/chat/getBase64FromMediaMessage", {"message": {}}, None, '"key"'),
    ("POST", "/chat/findMessages", {"page": 0}, None, "page"),
    ("POST", "/chat/findMessages", {"offset": "10"}, None, "offset"),
    ("POST", "/chat/findMessages", {"where": {"messageTimestamp": {"gte": "yesterday"}}}, None, "messageTimestamp.gte"),
    ("POST", "/chat/findStatusMessage", {"where": {"id": 1}}, None, "where.id"),
    ("POST", "/chat/findContacts", {"where": "all"}, None, "where"),
    ("POST", "/chat/findChats", {"take": 0}, None, "take"),
    ("GET", "/chat/findChatByRemoteJid", None, None, "remoteJid is a required query parameter"),
    ("POST", "/chat/updateProfileName", {"name": ""}, None, "name"),
    ("POST", "/chat/updateProfileStatus", {}, None, '"status"'),
    ("POST", "/chat/updateProfilePicture", {"picture": "not a picture!"}, None, "Owned media"),
    ("POST", "/chat/updatePrivacySettings", {"readreceipts": "all"}, None, '"profile"'),
    ("POST", "/group/create", {"subject": "s", "participants": ["123"]}, None, "participants"),
    ("POST", "/group/create", {"participants": [N]}, None, '"subject"'),
    ("POST", "/group/updateGroupSubject", {"subject": "s"}, None, "The group id needs to be informed"),
    ("POST", "/group/updateGroupSubject", {"subject": "s"}, {"groupJid": "abc"}, "groupJid"),
    ("POST", "/group/updateGroupDescription", {}, {"groupJid": "1203"}, '"description"'),
    ("POST", "/group/updateGroupPicture", {}, {"groupJid": "1203"}, '"image"'),
    ("GET", "/group/findGroupInfos", None, None, "The group id needs to be informed"),
    ("GET", "/group/fetchAllGroups", None, None, "getParticipants"),
    ("GET", "/group/participants", None, None, "The group id"),
    ("GET", "/group/inviteCode", None, None, "The group id"),
    ("GET", "/group/inviteInfo", None, {"inviteCode": "!"}, "invite code"),
    ("GET", "/group/acceptInviteCode", None, None, "invite code"),
    ("POST", "/group/sendInvite", {"groupJid": "1203", "description": "d"}, None, '"numbers"'),
    ("POST", "/group/revokeInviteCode", None, None, "The group id"),
    ("POST", "/group/updateParticipant", {"action": "kick", "participants": [N]}, {"groupJid": "1"}, "action"),
    ("POST", "/group/updateSetting", {"action": "open"}, {"groupJid": "1"}, "action"),
    ("POST", "/group/toggleEphemeral", {"expiration": 5}, {"groupJid": "1"}, "expiration"),
    ("DELETE", "/group/leaveGroup", None, None, "The group id"),
    ("POST", "/label/handleLabel", {"number": N, "labelId": "1", "action": "toggle"}, None, "action"),
    ("POST", "/label/handleLabel", {"number": N, "action": "add"}, None, '"labelId"'),
]  # fmt: skip


def _text(body: dict[str, Any]) -> str:
    return str(body["response"]["message"])


async def test_bad_input_is_400_naming_the_field(sqlite_pair: Pair) -> None:
    """Every case of the table against one open instance (one app: the suite stays fast)."""
    c = sqlite_pair.h.client
    wrong: list[tuple[str, Any, Any, str]] = []
    for method, route, body, query, says in BAD:
        r = await c.request(method, f"{route}/{sqlite_pair.a}", json=body, params=query)
        envelope = r.json()
        if r.status_code != 400 or envelope.get("error") != "Bad Request":
            wrong.append((route, body, r.status_code, r.text))
        elif says not in _text(envelope):
            wrong.append((route, body, says, r.text))
    assert not wrong, wrong
    r = await c.post(
        f"/chat/getBase64FromMediaMessage/{sqlite_pair.a}",
        json={"message": {"key": {"id": "nope"}}},
    )
    assert r.status_code == 404 and "not found" in _text(r.json())


OPEN_ONLY: list[tuple[str, str, Any, dict[str, str] | None]] = [
    ("POST", "/message/sendText", {"number": N, "text": "x"}, None),
    ("POST", "/message/sendMedia", {"number": N, "mediatype": "image", "media": "http://127.0.0.1:9/x.png"}, None),
    ("POST", "/message/sendReaction", {"key": {"id": "x", "remoteJid": N, "fromMe": True}, "reaction": "👍"}, None),
    ("POST", "/chat/whatsappNumbers", {"numbers": [N]}, None),
    ("POST", "/chat/markMessageAsRead", {"readMessages": [{"id": "x", "fromMe": False, "remoteJid": N}]}, None),
    ("POST", "/chat/sendPresence", {"number": N, "presence": "paused", "delay": 0}, None),
    ("GET", "/chat/fetchPrivacySettings", None, None),
    ("POST", "/group/create", {"subject": "s", "participants": [N]}, None),
    ("GET", "/group/fetchAllGroups", None, {"getParticipants": "true"}),
    ("POST", "/label/handleLabel", {"number": N, "labelId": "1", "action": "add"}, None),
]  # fmt: skip


async def test_a_closed_instance_is_400_naming_its_state(sqlite_harness: Harness) -> None:
    h = sqlite_harness
    await h.create("shut")
    for method, route, body, query in OPEN_ONLY:
        r = await h.client.request(method, f"{route}/shut", json=body, params=query)
        assert r.status_code == 400, (route, r.text)
        assert _text(r.json()) == "['The \"shut\" instance is not connected (state: close)']"
    for route in ("/chat/findMessages", "/chat/findChats", "/chat/findContacts"):
        r = await h.client.post(f"{route}/shut", json={})
        assert r.status_code == 200, r.text
    r = await h.client.get("/label/findLabels/shut")
    assert r.status_code == 200 and r.json() == []
    r = await h.client.post("/chat/findMessages/nope", json={})
    assert r.status_code == 404


async def test_unknown_numbers_are_evolutions_exists_false(sqlite_pair: Pair) -> None:
    c = sqlite_pair.h.client
    r = await c.post(
        f"/message/sendText/{sqlite_pair.a}", json={"number": "5511900000000", "text": "x"}
    )
    assert r.status_code == 400
    assert r.json()["response"]["message"] == [
        {"jid": "5511900000000@s.whatsapp.net", "exists": False, "number": "5511900000000"}
    ]
    r = await c.post(
        f"/chat/whatsappNumbers/{sqlite_pair.a}", json={"numbers": [N, "5511900000000"]}
    )
    assert r.status_code == 200
    known, unknown = r.json()
    assert known["exists"] is True and known["lid"].endswith("@lid")
    assert unknown == {
        "jid": "5511900000000@s.whatsapp.net",
        "exists": False,
        "number": "5511900000000",
    }


async def test_brazil_ninth_digit_finds_the_registered_variant(sqlite_pair: Pair) -> None:
    c = sqlite_pair.h.client
    await c.post("/sim/contacts", json={"number": "553187654321"})  # registered without the 9
    r = await c.post(
        f"/message/sendText/{sqlite_pair.a}", json={"number": "5531987654321", "text": "oi"}
    )
    assert r.status_code == 201, r.text
    assert r.json()["key"]["remoteJid"] == "553187654321@s.whatsapp.net"


async def test_media_urls_are_bounded(sqlite_pair: Pair, files: FileServer) -> None:
    h = sqlite_pair.h
    st = h.gateway.settings
    h.gateway.settings = st.model_copy(
        update={"media_max_bytes": 100_000, "media_fetch_timeout": 0.5}
    )
    try:
        for path, says in (
            ("/big", "larger than the limit of 100000 bytes"),
            ("/slow", "did not answer within 0.5 s"),
            ("/missing", "answered HTTP 404"),
        ):
            r = await h.client.post(
                f"/message/sendMedia/{sqlite_pair.a}",
                json={"number": N, "mediatype": "image", "media": files.url(path)},
            )
            assert r.status_code == 400, r.text
            assert says in _text(r.json()), r.text
    finally:
        h.gateway.settings = st
