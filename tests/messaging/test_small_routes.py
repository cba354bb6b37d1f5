"""markMessageAsPlayed, getPollVote, updateMemberAddMode, findChannels, sendCarousel and
/call/offer through the API between two sim instances: each proven by its effect on the other
side or in the database, and each failure path answered in Evolution's envelope."""

from __future__ import annotations

from typing import Any

from tests.messaging.conftest import A_NUMBER, B_NUMBER, Pair, open_instance

A_JID = f"{A_NUMBER}@s.whatsapp.net"
B_JID = f"{B_NUMBER}@s.whatsapp.net"
C_NUMBER = "5511987650003"
C_JID = f"{C_NUMBER}@s.whatsapp.net"
CHANNEL = "120363025246125888@newsletter"


def _error(r: Any, status: int, words: str) -> None:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["status"] == status and body["error"], body
    assert words in str(body["response"]["message"]), body


async def test_played_receipts_reach_the_sender(sqlite_pair: Pair) -> None:
    p, c = sqlite_pair, sqlite_pair.h.client
    r = await c.post(f"/message/sendText/{p.a}", json={"number": B_NUMBER, "text": "listen"})
    key = r.json()["key"]
    await p.events(p.hook_b, "messages.upsert", 1)
    played = {"id": key["id"], "fromMe": False, "remoteJid": A_JID}
    r = await c.post(f"/chat/markMessageAsPlayed/{p.b}", json={"playedMessages": [played]})
    assert (r.status_code, r.json()) == (201, {"message": "Played messages", "played": "success"})
    updates = await p.events(p.hook_a, "messages.update", 3)
    assert [u["data"]["status"] for u in updates if u["data"]["keyId"] == key["id"]][-1] == (
        "PLAYED"
    )
    r = await c.post(f"/chat/findStatusMessage/{p.a}", json={"where": {"id": key["id"]}})
    assert "PLAYED" in [row["status"] for row in r.json()]
    # failure paths: nothing to mark, bad keys, a closed instance
    _error(await c.post(f"/chat/markMessageAsPlayed/{p.b}", json={"playedMessages": []}), 400, "")
    bad = {"playedMessages": [{"id": "", "fromMe": False, "remoteJid": A_JID}]}
    _error(await c.post(f"/chat/markMessageAsPlayed/{p.b}", json=bad), 400, "")
    await c.delete(f"/instance/logout/{p.b}")
    r = await c.post(f"/chat/markMessageAsPlayed/{p.b}", json={"playedMessages": [played]})
    _error(r, 400, "not connected")


async def test_poll_votes_are_stored_and_counted(sqlite_pair: Pair) -> None:
    p, h, c = sqlite_pair, sqlite_pair.h, sqlite_pair.h.client
    await open_instance(h, "carol", C_NUMBER, None)
    r = await c.post(
        f"/group/create/{p.a}",
        json={"subject": "Lunch", "participants": [B_NUMBER, C_NUMBER]},
    )
    group = r.json()["id"]
    poll = {"number": group, "name": "Where?", "selectableCount": 1, "values": ["Pizza", "Sushi"]}
    r = await c.post(f"/message/sendPoll/{p.a}", json=poll)
    assert r.status_code == 201, r.text
    poll_id = r.json()["key"]["id"]
    ask = {"message": {"key": {"id": poll_id}}, "remoteJid": group}

    r = await c.post(f"/chat/getPollVote/{p.a}", json=ask)
    assert r.status_code == 200, r.text
    assert r.json() == {
        "poll": {
            "name": "Where?",
            "totalVotes": 0,
            "results": {"Pizza": {"votes": 0, "voters": []}, "Sushi": {"votes": 0, "voters": []}},
        }
    }
    for voter, option in (("bob", "Pizza"), ("carol", "Pizza"), ("bob", "Sushi")):
        r = await h.client.post(f"/sim/{voter}/vote", json={"poll": poll_id, "options": [option]})
        assert r.status_code == 200, r.text
    await p.events(p.hook_a, "messages.upsert", 3)  # three votes (the poll is send.message)
    r = await c.post(f"/chat/getPollVote/{p.a}", json=ask)
    assert r.json()["poll"] == {
        "name": "Where?",
        "totalVotes": 2,
        "results": {
            "Pizza": {"votes": 1, "voters": [C_JID]},
            "Sushi": {"votes": 1, "voters": [B_JID]},  # bob changed his mind
        },
    }
    # a voter sees the same count: the poll, carol's vote and its own (from its phone)
    await p.events(p.hook_b, "messages.upsert", 4)
    r = await c.post(f"/chat/getPollVote/{p.b}", json=ask)
    assert r.json()["poll"]["results"]["Pizza"]["voters"] == [C_JID]
    # withdrawing a vote
    await c.post("/sim/carol/vote", json={"poll": poll_id, "options": []})
    await p.events(p.hook_a, "messages.upsert", 4)
    r = await c.post(f"/chat/getPollVote/{p.a}", json=ask)
    assert r.json()["poll"]["totalVotes"] == 1
    assert r.json()["poll"]["results"]["Pizza"] == {"votes": 0, "voters": []}
    # failure paths
    unknown = {"message": {"key": {"id": "3EB0FFFFFFFFFFFFFFFFFF"}}, "remoteJid": group}
    _error(await c.post(f"/chat/getPollVote/{p.a}", json=unknown), 404, "Poll creation")
    r = await c.post(f"/message/sendText/{p.a}", json={"number": group, "text": "not a poll"})
    text_id = r.json()["key"]["id"]
    not_poll = {"message": {"key": {"id": text_id}}, "remoteJid": group}
    _error(await c.post(f"/chat/getPollVote/{p.a}", json=not_poll), 404, "Poll creation")
    _error(await c.post(f"/chat/getPollVote/{p.a}", json={"remoteJid": group}), 400, "")
    r = await c.post("/sim/bob/vote", json={"poll": poll_id, "options": ["Tacos"]})
    _error(r, 400, "Tacos")
    r = await c.post("/sim/bob/vote", json={"poll": poll_id, "options": ["Pizza", "Sushi"]})
    _error(r, 400, "1 option")


async def test_a_one_to_one_poll_counts_the_contacts_vote(sqlite_pair: Pair) -> None:
    p, c = sqlite_pair, sqlite_pair.h.client
    poll = {"number": B_NUMBER, "name": "Ok?", "selectableCount": 0, "values": ["Yes", "No"]}
    poll_id = (await c.post(f"/message/sendPoll/{p.a}", json=poll)).json()["key"]["id"]
    await p.events(p.hook_b, "messages.upsert", 1)
    r = await c.post("/sim/bob/vote", json={"poll": poll_id, "options": ["Yes", "No"]})
    assert r.status_code == 200, r.text
    upserts = await p.events(p.hook_a, "messages.upsert", 1)
    assert upserts[-1]["data"]["messageType"] == "pollUpdateMessage"
    ask = {"message": {"key": {"id": poll_id}}, "remoteJid": B_JID}
    results = (await c.post(f"/chat/getPollVote/{p.a}", json=ask)).json()["poll"]["results"]
    assert results == {
        "Yes": {"votes": 1, "voters": [B_JID]},
        "No": {"votes": 1, "voters": [B_JID]},
    }
    # the sender voting on its own poll from its phone: its instance gets the vote too
    await c.post("/sim/alice/vote", json={"poll": poll_id, "options": ["No"]})
    await p.events(p.hook_a, "messages.upsert", 2)
    results = (await c.post(f"/chat/getPollVote/{p.a}", json=ask)).json()["poll"]["results"]
    assert results["No"] == {"votes": 2, "voters": [B_JID, A_JID]}


async def test_member_add_mode_lets_members_add(sqlite_pair: Pair) -> None:
    p, h, c = sqlite_pair, sqlite_pair.h, sqlite_pair.h.client
    await h.client.post("/sim/contacts", json={"number": C_NUMBER})
    r = await c.post(f"/group/create/{p.a}", json={"subject": "Club", "participants": [B_NUMBER]})
    group = r.json()["id"]
    add = {"action": "add", "participants": [C_NUMBER]}
    r = await c.post(f"/group/updateParticipant/{p.b}", params={"groupJid": group}, json=add)
    _error(r, 403, "admins")
    r = await c.post(
        f"/group/updateMemberAddMode/{p.b}",
        params={"groupJid": group},
        json={"mode": "all_member_add"},
    )
    _error(r, 403, "admins")
    r = await c.post(
        f"/group/updateMemberAddMode/{p.a}",
        params={"groupJid": group},
        json={"mode": "all_member_add"},
    )
    assert (r.status_code, r.json()) == (201, {"update": "success", "mode": "all_member_add"})
    r = await c.post(f"/group/updateParticipant/{p.b}", params={"groupJid": group}, json=add)
    assert r.status_code == 201, r.text
    assert r.json()["updateParticipants"] == [{"status": "200", "jid": C_JID}]
    r = await c.get(f"/group/participants/{p.a}", params={"groupJid": group})
    assert C_JID in [x["id"] for x in r.json()["participants"]]
    # back to admins only: a member cannot add any more
    await c.post(
        f"/group/updateMemberAddMode/{p.a}", params={"groupJid": group}, json={"mode": "admin_add"}
    )
    again = {"action": "remove", "participants": [C_NUMBER]}
    r = await c.post(f"/group/updateParticipant/{p.b}", params={"groupJid": group}, json=again)
    _error(r, 403, "admins")
    r = await c.post(
        f"/group/updateMemberAddMode/{p.a}", params={"groupJid": group}, json={"mode": "anyone"}
    )
    _error(r, 400, "")
    r = await c.post(f"/group/updateMemberAddMode/{p.a}", json={"mode": "admin_add"})
    _error(r, 400, "groupJid")


async def test_find_channels_lists_newsletter_chats(sqlite_pair: Pair) -> None:
    p, c = sqlite_pair, sqlite_pair.h.client
    r = await c.post(f"/chat/findChannels/{p.a}", json={})
    assert r.json() == {"total": 0, "pages": 0, "currentPage": 1, "limit": 50, "records": []}
    other = "120363000000000001@newsletter"
    for jid, text in ((CHANNEL, "first"), (other, "second"), (CHANNEL, "third")):
        r = await c.post(f"/message/sendText/{p.a}", json={"number": jid, "text": text})
        assert r.status_code == 201, r.text
    await c.post(f"/message/sendText/{p.a}", json={"number": B_NUMBER, "text": "not a channel"})
    r = await c.post(f"/chat/findChannels/{p.a}", json={"page": 1, "limit": 1})
    body = r.json()
    assert (body["total"], body["pages"], body["currentPage"], body["limit"]) == (2, 2, 1, 1)
    (first,) = body["records"]
    assert first["remoteJid"] in (CHANNEL, other) and first["lastMessageTimestamp"] > 0
    r = await c.post(f"/chat/findChannels/{p.a}", json={"page": 2, "rows": 1})
    (second,) = r.json()["records"]
    assert {first["remoteJid"], second["remoteJid"]} == {CHANNEL, other}
    _error(await c.post(f"/chat/findChannels/{p.a}", json={"page": 0}), 400, "")


async def test_carousel_reaches_the_other_side(sqlite_pair: Pair) -> None:
    p, c = sqlite_pair, sqlite_pair.h.client
    button = {"type": "reply", "displayText": "Buy", "id": "buy-1"}
    cards = [
        {"title": "Red", "body": "A red shirt", "footer": "$10", "buttons": [button]},
        {
            "body": "A blue shirt",
            "buttons": [{"type": "url", "displayText": "See", "url": "https://x.example"}],
        },
    ]
    r = await c.post(
        f"/message/sendCarousel/{p.a}", json={"number": B_NUMBER, "body": "Shirts", "cards": cards}
    )
    assert r.status_code == 201, r.text
    (upsert,) = await p.events(p.hook_b, "messages.upsert", 1)
    interactive = upsert["data"]["message"]["interactiveMessage"]
    assert interactive["body"] == {"text": "Shirts"}
    got = interactive["carouselMessage"]["cards"]
    assert [x["body"]["text"] for x in got] == ["A red shirt", "A blue shirt"]
    assert got[0]["header"]["title"] == "Red" and got[0]["footer"] == {"text": "$10"}
    assert got[0]["nativeFlowMessage"]["buttons"][0]["name"] == "quick_reply"
    # one card: a plain interactive message
    r = await c.post(f"/message/sendCarousel/{p.a}", json={"number": B_NUMBER, "cards": cards[:1]})
    assert "carouselMessage" not in r.json()["message"]["interactiveMessage"]
    # failure paths
    send = f"/message/sendCarousel/{p.a}"
    _error(await c.post(send, json={"number": B_NUMBER, "cards": []}), 400, "")
    four = {**cards[0], "buttons": [button] * 4}
    _error(await c.post(send, json={"number": B_NUMBER, "cards": [four]}), 400, "")
    pix = {**cards[0], "buttons": [{"type": "pix", "key": "k", "keyType": "random"}]}
    _error(await c.post(send, json={"number": B_NUMBER, "cards": [pix]}), 400, "PIX")
    image = {**cards[0], "imageUrl": "https://x.example/a.png"}
    _error(await c.post(send, json={"number": B_NUMBER, "cards": [image]}), 501, "imageUrl")


async def test_call_offer_is_refused_saying_why(sqlite_pair: Pair) -> None:
    p, c = sqlite_pair, sqlite_pair.h.client
    r = await c.post(f"/call/offer/{p.a}", json={"number": B_NUMBER, "callDuration": 5})
    _error(r, 501, "places no calls")
    r = await c.post(f"/call/offer/{p.a}", json={"number": B_NUMBER, "callDuration": 99})
    _error(r, 400, "")
    r = await c.post("/call/offer/nobody", json={"number": B_NUMBER, "callDuration": 5})
    assert r.status_code == 404
