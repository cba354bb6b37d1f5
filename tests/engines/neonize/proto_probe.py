"""Run in a subprocess (it loads the Go library): our JSON content through neonize's real
protobufs, and real whatsmeow event protobufs through a host's event handler.

Prints one JSON object; test_messaging.py asserts on it. Nothing here touches the network.
"""

from __future__ import annotations

import asyncio
import base64
import inspect
import json
import logging
import sys
from typing import Any

logging.basicConfig(level=logging.ERROR)

from neonize.aioze.client import NewAClient  # type: ignore[import-untyped]  # noqa: E402
from neonize.proto import Neonize_pb2 as N  # type: ignore[import-untyped]  # noqa: E402

from wagate.engines.neonize import calls, content  # noqa: E402
from wagate.engines.neonize.host import Host, Slot, _load_neonize  # noqa: E402
from wagate.engines.neonize.hostconfig import HostConfig  # noqa: E402
from wagate.gateway.messenger import with_context  # noqa: E402
from wagate.messaging import content as mc  # noqa: E402

KEY = {"remoteJid": "5511999990001@s.whatsapp.net", "fromMe": True, "id": "3EB0ABCDEF0123456789"}
CARD = {"fullName": "Ana Lima", "phoneNumber": "+55 11 99999-0001", "organization": "ACME"}
PREVIEW = {
    "matchedText": "https://example.org/a",
    "title": "Example",
    "description": "About",
    "previewType": "VIDEO",
    "jpegThumbnail": base64.b64encode(b"\xff\xd8\xffjpeg").decode(),
}
QUOTE = {"stanzaId": "3EB0QUOTED", "participant": KEY["remoteJid"],
         "quotedMessage": {"conversation": "the quoted text"}}  # fmt: skip


def kinds() -> dict[str, tuple[dict[str, Any], bool]]:
    """Every content the send routes build (messaging/content.py), with media or not."""
    return {
        "text": (mc.text("hello"), False),
        "text_quoted_mentions": (
            with_context(
                mc.text("hi @5511999990002"),
                {**QUOTE, "mentionedJid": ["5511999990002@s.whatsapp.net"]},
            ),  # fmt: skip
            False,
        ),
        "text_preview": (
            with_context(mc.with_preview(mc.text("see https://example.org/a"), PREVIEW), QUOTE),
            False,
        ),
        "image": (mc.media("image", "image/png", "a caption", None), True),
        "video": (mc.media("video", "video/mp4", None, None), True),
        "audio": (mc.media("audio", "audio/mpeg", None, None), True),
        "document": (mc.media("document", "application/pdf", "doc", "report.pdf"), True),
        "image_quoted": (with_context(mc.media("image", "image/jpeg", "c", None), QUOTE), True),
        "voice": (mc.voice("audio/ogg; codecs=opus", 7), True),
        "ptv": (mc.ptv(None), True),
        "sticker": (mc.sticker("image/webp", True, 512, 512), True),
        "location": (mc.location(-23.55, -46.63, "Paulista", "Av. Paulista 1000"), False),
        "contact": (mc.contacts([CARD]), False),
        "contacts": (mc.contacts([CARD, {**CARD, "fullName": "Bia", "wuid": "5511"}]), False),
        "reaction": (mc.reaction(KEY, "👍", 1_700_000_000_000), False),
        "reaction_removed": (mc.reaction(KEY, "", 1_700_000_000_000), False),
        "poll": (mc.poll("Lunch?", 1, ["pizza", "sushi", "salad"]), False),
        "list": (
            mc.list_message(
                {
                    "title": "Menu",
                    "description": "d",
                    "buttonText": "open",
                    "footerText": "f",
                    "sections": [
                        {"title": "S", "rows": [{"title": "r1", "description": "x", "rowId": "1"}]}
                    ],
                }
            ),
            False,
        ),  # fmt: skip
        "buttons": (
            mc.buttons(
                {
                    "title": "T",
                    "description": "D",
                    "footer": "F",
                    "buttons": [
                        {"type": "reply", "displayText": "Yes", "id": "y"},
                        {"type": "url", "displayText": "Site", "url": "https://example.org"},
                    ],
                }
            ),
            False,
        ),  # fmt: skip
        "status": (mc.status_text("news", "#008000", 1), False),
        "revoke": (mc.revoke(KEY), False),
        "edit": (mc.edit(KEY, "fixed", 1_700_000_000_000), False),
    }


def build(nz: Any) -> dict[str, Any]:
    """Each kind as a protobuf (checked fields), its wire bytes parsed back, and JSON again."""
    out: dict[str, Any] = {}
    for name, (body, media) in kinds().items():
        msg, member = calls.outgoing(nz, body, media)
        if member is not None:
            upload = N.UploadResponse(
                url="https://mmg.whatsapp.net/v/x.enc?p=1", DirectPath="/v/x.enc",
                MediaKey=b"k" * 32, FileEncSHA256=b"e" * 32, FileSHA256=b"s" * 32,
                FileLength=1234,
            )  # fmt: skip
            calls.fill_upload(msg, member, upload, 1_700_000_000)
        wire = msg.SerializeToString()
        again = nz.Message.FromString(wire)
        out[name] = {
            "member": member,
            "poll_secret": calls.is_poll(body),
            "bytes": len(wire),
            "json": content.to_json(again),
            "input": body,
            "fields": fields(again),
        }
    return out


def fields(m: Any) -> dict[str, Any]:
    """A few fields read the protobuf way (whatsmeow's names), to prove the mapping."""
    f: dict[str, Any] = {"set": [d.name for d, _ in m.ListFields()]}
    if m.HasField("extendedTextMessage"):
        ctx = m.extendedTextMessage.contextInfo
        f["stanzaID"] = ctx.stanzaID
        f["quoted"] = ctx.quotedMessage.conversation
        f["mentionedJID"] = list(ctx.mentionedJID)
        f["backgroundArgb"] = m.extendedTextMessage.backgroundArgb
        e = m.extendedTextMessage
        f["preview"] = [e.text, e.matchedText, e.title, e.description, e.previewType,
                        base64.b64encode(e.JPEGThumbnail).decode()]  # fmt: skip
    for member in ("imageMessage", "audioMessage", "documentMessage", "stickerMessage"):
        if m.HasField(member):
            b = getattr(m, member)
            f["URL"] = b.URL
            f["fileSHA256"] = base64.b64encode(b.fileSHA256).decode()
            f["fileLength"] = b.fileLength
            f["mimetype"] = b.mimetype
            if member == "audioMessage":
                f["PTT"] = b.PTT
                f["seconds"] = b.seconds
            if member == "stickerMessage":
                f["isAnimated"] = b.isAnimated
                f["size"] = [b.width, b.height]
            if member == "imageMessage":
                f["ctx_stanzaID"] = b.contextInfo.stanzaID
    if m.HasField("locationMessage"):
        f["lat"] = m.locationMessage.degreesLatitude
    if m.HasField("reactionMessage"):
        r = m.reactionMessage
        f["reaction"] = [r.key.remoteJID, r.key.fromMe, r.key.ID, r.text, r.senderTimestampMS]
    if m.HasField("protocolMessage"):
        p = m.protocolMessage
        f["protocol"] = [p.key.ID, p.type, p.editedMessage.conversation, p.timestampMS]
    if m.HasField("pollCreationMessageV3"):
        p = m.pollCreationMessageV3
        f["poll"] = [p.name, [o.optionName for o in p.options], p.selectableOptionsCount]
    if m.HasField("contactsArrayMessage"):
        f["vcards"] = [c.vcard for c in m.contactsArrayMessage.contacts]
    return f


def bad(nz: Any) -> dict[str, str]:
    """Content whatsmeow cannot send fails as `bad` (a 400), before any call."""
    out = {}
    for name, body, media in (
        ("empty", {}, False),
        ("unknown_member", {"fooMessage": {"x": 1}}, False),
        ("wrong_type", {"locationMessage": {"degreesLatitude": "north"}}, False),
        ("media_without_member", {"conversation": "x"}, True),
    ):
        try:
            calls.outgoing(nz, body, media)
            out[name] = "accepted"
        except calls.CallFailed as exc:
            out[name] = f"{exc.kind}: {exc}"
    return out


def jid(user: str, server: str = "s.whatsapp.net", device: int = 0) -> Any:
    return N.JID(User=user, Server=server, Device=device, RawAgent=0, Integrator=0,
                 IsEmpty=False)  # fmt: skip


def source(chat: Any, sender: Any, **kw: Any) -> Any:
    return N.MessageSource(Chat=chat, Sender=sender, **kw)


def events(nz: Any) -> list[tuple[str, Any]]:
    """Real neonize event protobufs, as whatsmeow would deliver them."""
    alice, alice_lid = jid("5511999990002", device=3), jid("123456789", "lid")
    me, group = jid("5511999990001"), jid("120363012345678901", "g.us")
    image = content.to_proto(
        {"imageMessage": {"url": "https://mmg.whatsapp.net/v/y.enc", "mimetype": "image/jpeg",
                          "caption": "look", "fileSha256": "c2hh", "fileLength": "99",
                          "mediaKey": "a2V5", "directPath": "/v/y.enc"}}, nz.Message,
    )  # fmt: skip
    info = N.GroupInfo(
        JID=group, OwnerJID=me,
        GroupName=N.GroupName(Name="Team", NameSetAt=1_700_000_100, NameSetBy=me),
        GroupTopic=N.GroupTopic(Topic="about", TopicID="t1"),
        GroupAnnounce=N.GroupAnnounce(IsAnnounce=True),
        GroupLocked=N.GroupLocked(isLocked=False),
        GroupEphemeral=N.GroupEphemeral(IsEphemeral=True, DisappearingTimer=86400),
        GroupCreated=1_700_000_000,
        Participants=[N.GroupParticipant(JID=me, IsSuperAdmin=True, IsAdmin=True),
                      N.GroupParticipant(JID=alice_lid, PhoneNumber=alice, LID=alice_lid)],
    )  # fmt: skip
    return [
        ("message", nz.MessageEv(
            Info=N.MessageInfo(ID="ABCD1234", Pushname="Alice", Timestamp=1_700_000_200,
                               MessageSource=source(jid("5511999990002"), alice,
                                                    SenderAlt=alice_lid, AddressingMode=1)),
            Message=nz.Message(conversation="hi there"))),
        ("message", nz.MessageEv(
            Info=N.MessageInfo(ID="GRP1", Pushname="Alice", Timestamp=1_700_000_300_000,
                               MessageSource=source(group, alice_lid, IsGroup=True,
                                                    SenderAlt=alice, AddressingMode=2)),
            Message=image)),
        ("message", nz.MessageEv(
            Info=N.MessageInfo(ID="MINE1", Timestamp=1_700_000_400,
                               MessageSource=source(jid("5511999990002"), me, IsFromMe=True,
                                                    RecipientAlt=alice_lid)),
            Message=nz.Message(extendedTextMessage={"text": "sent elsewhere"}))),
        ("message", nz.MessageEv(  # a vote: not connected, so it cannot be decrypted here
            Info=N.MessageInfo(ID="VOTE1", Timestamp=1_700_000_450,
                               MessageSource=source(group, alice, IsGroup=True)),
            Message=nz.Message(pollUpdateMessage={
                "pollCreationMessageKey": {"remoteJID": group.User + "@g.us", "ID": "POLL1",
                                           "fromMe": True},
                "vote": {"encPayload": b"\x01\x02", "encIV": b"\x03"}}))),
        ("message", nz.MessageEv(  # key distribution only: nothing to show
            Info=N.MessageInfo(ID="SKD1", MessageSource=source(group, alice, IsGroup=True)),
            Message=nz.Message(senderKeyDistributionMessage={"groupID": "x"}))),
        ("receipt", nz.ReceiptEv(MessageSource=source(group, alice, IsGroup=True),
                                 MessageIDs=["M1", "M2"], Timestamp=1_700_000_500, Type=4)),
        ("receipt", nz.ReceiptEv(MessageSource=source(jid("5511999990002"), alice),
                                 MessageIDs=["M3"], Type=1)),
        ("receipt", nz.ReceiptEv(MessageSource=source(jid("5511999990002"), me, IsFromMe=True),
                                 MessageIDs=["IN1"], Type=5)),
        ("receipt", nz.ReceiptEv(MessageSource=source(jid("5511999990002"), alice),
                                 MessageIDs=["M4"], Type=2)),  # sender: not a status
        ("presence", nz.PresenceEv(From=alice, Unavailable=True, LastSeen=1_700_000_600)),
        ("presence", nz.PresenceEv(From=alice)),
        ("chat_presence", nz.ChatPresenceEv(MessageSource=source(group, alice, IsGroup=True),
                                            State=1, Media=2)),
        ("chat_presence", nz.ChatPresenceEv(MessageSource=source(alice, alice), State=2,
                                            Media=1)),
        ("joined_group", nz.JoinedGroupEv(Reason="invite", GroupInfo=info, Sender=me)),
        ("group_info", nz.GroupInfoEv(JID=group, Sender=me, Join=[alice], Promote=[alice],
                                      Name=N.GroupName(Name="Renamed"))),
        ("group_info", nz.GroupInfoEv(JID=group, Sender=me)),  # nothing we report
        ("call_offer", nz.CallOfferEv(
            basicCallMeta=N.BasicCallMeta(**{"from": alice, "timestamp": 1_700_000_700,
                                             "callCreator": alice, "callID": "CALL1"}),
            data=N.Node(Tag="offer", Nodes=[N.Node(Tag="audio"), N.Node(Tag="video")]))),
        ("call_offer", nz.CallOfferEv(  # no call id: nothing to reject, not reported
            basicCallMeta=N.BasicCallMeta(callCreator=alice))),
        *history_events(nz),
    ]  # fmt: skip


def history_events(nz: Any) -> list[tuple[str, Any]]:
    """Two blobs of a history sync, as whatsmeow delivers them: a 1:1 chat and a group with
    their messages (a system stub among them), then push names and the end (progress 100)."""
    from neonize.proto.waCommon.WACommon_pb2 import MessageKey as Key  # type: ignore[import-untyped]
    from neonize.proto.waHistorySync import (  # type: ignore[import-untyped]
        WAWebProtobufsHistorySync_pb2 as HS,
    )
    from neonize.proto.waWeb.WAWebProtobufsWeb_pb2 import (  # type: ignore[import-untyped]
        WebMessageInfo as WMI,
    )

    alice, grp = "5511999990002@s.whatsapp.net", "120363012345678901@g.us"
    image = content.to_proto(
        {"imageMessage": {"url": "https://mmg.whatsapp.net/v/h.enc", "mimetype": "image/jpeg",
                          "fileLength": "12", "directPath": "/v/h.enc", "mediaKey": "a2V5"}},
        nz.Message,
    )  # fmt: skip
    direct = HS.Conversation(
        ID=alice,
        lidJID="123456789@lid",
        unreadCount=2,
        conversationTimestamp=1_690_000_300,
        messages=[
            HS.HistorySyncMsg(
                message=WMI(
                    key=Key(remoteJID=alice, fromMe=False, ID="H1"),
                    messageTimestamp=1_690_000_100,
                    pushName="Alice",
                    status=4,
                    message=nz.Message(conversation="old hello"),
                )
            ),
            HS.HistorySyncMsg(
                message=WMI(
                    key=Key(remoteJID=alice, fromMe=True, ID="H2"),
                    messageTimestamp=1_690_000_200,
                    status=3,
                    message=nz.Message(extendedTextMessage={"text": "old reply"}),
                )
            ),
            HS.HistorySyncMsg(
                message=WMI(  # a system stub: no content
                    key=Key(remoteJID=alice, fromMe=False, ID="H3"),
                    messageTimestamp=1_690_000_250,
                    messageStubType=1,
                )
            ),
        ],
    )
    team = HS.Conversation(
        ID=grp,
        name="Team",
        archived=True,
        lastMsgTimestamp=1_690_000_400_000,
        messages=[
            HS.HistorySyncMsg(
                message=WMI(
                    key=Key(
                        remoteJID=grp,
                        fromMe=False,
                        ID="H4",
                        participant="5511999990002:7@s.whatsapp.net",
                    ),
                    messageTimestamp=1_690_000_400,
                    message=image,
                )
            )
        ],
    )
    first = HS.HistorySync(
        syncType=HS.HistorySync.RECENT, progress=40, chunkOrder=1, conversations=[direct, team]
    )
    last = HS.HistorySync(
        syncType=HS.HistorySync.PUSH_NAME,
        progress=100,
        chunkOrder=2,
        pushnames=[HS.Pushname(ID=alice, pushname="Alice A."), HS.Pushname(ID="x@s.whatsapp.net")],
    )
    return [("history", nz.HistorySyncEv(Data=first)), ("history", nz.HistorySyncEv(Data=last))]


def big_history(nz: Any) -> list[dict[str, Any]]:
    """A blob too large for one frame: 1,500 messages with 1 KiB of text each."""
    from neonize.proto.waCommon.WACommon_pb2 import MessageKey as Key
    from neonize.proto.waHistorySync import (
        WAWebProtobufsHistorySync_pb2 as HS,
    )
    from neonize.proto.waWeb.WAWebProtobufsWeb_pb2 import (
        WebMessageInfo as WMI,
    )

    chat = "5511999990003@s.whatsapp.net"
    msgs = [HS.HistorySyncMsg(message=WMI(key=Key(remoteJID=chat, fromMe=i % 2 == 0, ID=f"B{i}"),
                                          messageTimestamp=1_690_000_000 + i,
                                          message=nz.Message(conversation="z" * 1024)))
            for i in range(1_500)]  # fmt: skip
    blob = HS.HistorySync(
        syncType=HS.HistorySync.FULL,
        progress=100,
        conversations=[HS.Conversation(ID=chat, messages=msgs)],
    )
    from wagate.engines.neonize import inbound

    frames = inbound.history(nz.HistorySyncEv(Data=blob))
    return [{"messages": len(f["messages"]), "chats": len(f["chats"]), "final": f["final"],
             "bytes": len(json.dumps(f))} for f in frames]  # fmt: skip


async def through_host(nz: Any) -> list[dict[str, Any]]:
    """Feed the events to a host's real handler; collect the frames it would send."""
    host = Host(HostConfig(), proto_fd=-1)
    host.nz = nz
    sent: list[dict[str, Any]] = []
    host.send = lambda head, body=b"": sent.append(head)  # type: ignore[method-assign]
    slot = Slot("inst-1", 7, None)  # not connected: the group metadata fetch fails fast
    for kind, ev in events(nz):
        await host._handle(slot, kind, ev)
    return sent


def signatures() -> dict[str, list[str]]:
    """The neonize methods calls.py uses, with their real parameter names (0.5.2)."""
    used = ("send_message", "upload", "mark_read", "send_chat_presence", "send_presence",
            "is_on_whatsapp", "get_profile_picture", "get_user_info", "set_profile_name",
            "set_status_message", "set_profile_photo", "get_privacy_settings",
            "set_privacy_setting", "update_blocklist", "download_any", "create_group",
            "set_group_topic", "get_group_info", "get_joined_groups",
            "update_group_participants", "set_group_name", "set_group_photo",
            "set_group_announce", "set_group_locked", "set_disappearing_timer",
            "get_group_invite_link", "get_group_info_from_link", "join_group_with_link",
            "leave_group", "get_me", "decrypt_poll_vote", "reject_call")  # fmt: skip
    return {name: list(inspect.signature(getattr(NewAClient, name)).parameters) for name in used}


def main() -> None:
    nz = _load_neonize()
    result = {
        "kinds": build(nz),
        "bad": bad(nz),
        "frames": asyncio.run(through_host(nz)),
        "signatures": signatures(),
        "big_history": big_history(nz),
        "full_sync_props": nz.DeviceProps(requireFullSync=True).requireFullSync,
    }
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
