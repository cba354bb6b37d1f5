"""The chat router (Evolution's /chat/*): receipts, presence, chat state, profile and privacy
through the live session; find* from the database with Evolution's filters and paging."""

from __future__ import annotations

import base64
import math
import time
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query

from wagate.api.deps import InstanceDep
from wagate.api.json import JSONResponse
from wagate.api.routes.message import MessengerDep
from wagate.api.schemas import chat as s
from wagate.api.times import epoch_seconds
from wagate.domain.errors import BadRequest, NotFound
from wagate.domain.ids import bare_jid
from wagate.engines.messaging import MessageKey, poll_option_hash
from wagate.messaging import content as c
from wagate.messaging import media as m
from wagate.messaging.raw import content_type, record_of
from wagate.store.messages import MessageFilter

router = APIRouter(prefix="/chat", tags=["chat"])
MEDIA_TYPES = {
    "imageMessage": "image",
    "videoMessage": "video",
    "audioMessage": "audio",
    "documentMessage": "document",
    "stickerMessage": "sticker",
    "ptvMessage": "video",
}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="milliseconds") + "Z" if value is not None else None


@router.post("/whatsappNumbers/{instanceName}")
async def whatsapp_numbers(reg: InstanceDep, ms: MessengerDep, body: s.WhatsAppNumbers) -> Any:
    return await ms.whatsapp_numbers(reg, body.numbers)


@router.post("/markMessageAsRead/{instanceName}", status_code=201)
async def mark_read(reg: InstanceDep, ms: MessengerDep, body: s.MarkRead) -> dict[str, Any]:
    keys = [
        MessageKey(
            ms.jid(k.remoteJid, f"readMessages[{i}].remoteJid"), k.fromMe, k.id, k.participant
        )
        for i, k in enumerate(body.readMessages)
    ]
    await ms.read(reg, keys)
    return {"message": "Read messages", "read": "success"}


@router.post("/markMessageAsPlayed/{instanceName}", status_code=201)
async def mark_played(reg: InstanceDep, ms: MessengerDep, body: s.MarkPlayed) -> dict[str, Any]:
    keys = [
        MessageKey(ms.jid(k.remoteJid, f"playedMessages[{i}].remoteJid"), k.fromMe, k.id)
        for i, k in enumerate(body.playedMessages)
    ]
    # as Evolution: only chats with a phone number or groups get played receipts
    keys = [k for k in keys if k.remote_jid.endswith(("@s.whatsapp.net", "@g.us"))]
    if keys:
        await ms.call(reg, lambda m: m.played(keys))
    return {"message": "Played messages", "played": "success"}


POLLS = ("pollCreationMessage", "pollCreationMessageV2", "pollCreationMessageV3")


@router.post("/getPollVote/{instanceName}")
async def poll_vote(reg: InstanceDep, ms: MessengerDep, body: s.PollVote) -> Any:
    """The votes on a poll the instance sent or received, counted from the votes stored:
    each voter's latest vote counts (an empty one withdraws it)."""
    ms.jid(body.remoteJid, "remoteJid")
    poll_id = body.message.key.id
    row = await ms.store.message_by_key(reg.id, poll_id)
    poll = next((row.message[k] for k in POLLS if row and k in row.message), None)
    if row is None or not isinstance(poll, dict):
        raise NotFound("Poll creation message not found")
    names = [str(o.get("optionName", "")) for o in poll.get("options") or ()]
    if not names:
        raise NotFound("Poll options not found")
    by_hash = {poll_option_hash(n): n for n in names}
    latest: dict[str, list[str]] = {}
    me = reg.supervisor.inst.jid
    for vote in await ms.store.poll_votes(reg.id, poll_id):
        chosen = (
            (vote.message["pollUpdateMessage"].get("vote") or {}).get("selectedOptions")
        ) or []
        voter = (me if vote.from_me else vote.participant or vote.remote_jid) or "unknown"
        picked = [by_hash.get(str(o), str(o)) for o in chosen]
        latest[bare_jid(voter)] = [n for n in dict.fromkeys(picked) if n in names]
    voters: dict[str, list[str]] = {n: [] for n in names}
    for voter, picked in latest.items():
        for name in picked:
            voters[name].append(voter)
    results = {n: {"votes": len(who), "voters": who} for n, who in voters.items()}
    return {
        "poll": {
            "name": poll.get("name") or "",
            "totalVotes": sum(1 for picked in latest.values() if picked),
            "results": results,
        }
    }


@router.post("/findChannels/{instanceName}")
async def find_channels(
    reg: InstanceDep, ms: MessengerDep, body: s.FindChannels | None = None
) -> Any:
    """The channels (@newsletter chats) the instance has messages in, latest first."""
    body = body or s.FindChannels()
    page, limit = body.page or 1, body.limit or body.rows or 50
    total, rows = await ms.store.channels(reg.id, page, limit)
    return {
        "total": total,
        "pages": math.ceil(total / limit),
        "currentPage": page,
        "limit": limit,
        "records": [{"remoteJid": jid, "lastMessageTimestamp": ts} for jid, ts in rows],
    }


def _chat_of(ms: Any, chat: str | None, last: s.LastMessage | None) -> str:
    if chat:
        return str(ms.jid(chat, "chat"))
    if last is not None:
        epoch_seconds(last.messageTimestamp, "lastMessage.messageTimestamp")  # checked only
        return str(ms.jid(last.key.remoteJid, "lastMessage.key.remoteJid"))
    raise BadRequest("lastMessage or chat is required")


@router.post("/archiveChat/{instanceName}", status_code=201)
async def archive_chat(reg: InstanceDep, ms: MessengerDep, body: s.ArchiveChat) -> dict[str, Any]:
    jid = _chat_of(ms, body.chat, body.lastMessage)
    await ms.call(reg, lambda m: m.modify_chat(jid, archive=body.archive))
    return {"chatId": jid, "archived": True}


@router.post("/markChatUnread/{instanceName}", status_code=201)
async def mark_unread(reg: InstanceDep, ms: MessengerDep, body: s.MarkUnread) -> dict[str, Any]:
    jid = _chat_of(ms, body.chat, body.lastMessage)
    await ms.call(reg, lambda m: m.modify_chat(jid, unread=True))
    return {"chatId": jid, "markedChatUnread": True}


@router.delete("/deleteMessageForEveryone/{instanceName}", status_code=201)
async def delete_for_everyone(
    reg: InstanceDep, ms: MessengerDep, body: s.DeleteMessage
) -> JSONResponse:
    jid = ms.jid(body.remoteJid, "remoteJid")
    key = body.model_dump(exclude_none=True)
    key["remoteJid"] = jid
    raw = await ms.send(reg, jid, c.revoke(key), jid=jid, event="messages.delete", store=False)
    await ms.forget_message(reg, body.id)
    return JSONResponse(raw, status_code=201)


@router.post("/updateMessage/{instanceName}")
async def update_message(reg: InstanceDep, ms: MessengerDep, body: s.UpdateMessage) -> Any:
    if not body.text.strip():
        raise BadRequest("Text is required")
    if not body.key.fromMe:
        raise BadRequest("You cannot edit others messages")
    jid = ms.jid(body.key.remoteJid, "key.remoteJid")
    key = body.key.model_dump()
    key["remoteJid"] = jid
    content = c.edit(key, body.text, int(time.time() * 1000))
    raw = await ms.send(reg, jid, content, jid=jid, event="send.message.update", store=False)
    await ms.edited(reg, body.key.id, {"conversation": body.text})
    return raw


@router.post("/sendPresence/{instanceName}", status_code=201)
async def send_presence(reg: InstanceDep, ms: MessengerDep, body: s.SendPresence) -> Any:
    jid = await ms.recipient(reg, body.number)
    await ms.call(reg, lambda m: m.chat_presence(jid, body.presence))
    if body.delay:
        await ms.gw.clock.sleep(min(float(body.delay), 300_000) / 1000)
        if body.presence in ("composing", "recording"):
            await ms.call(reg, lambda m: m.chat_presence(jid, "paused"))
    return {"presence": body.presence}


@router.post("/updateBlockStatus/{instanceName}", status_code=201)
async def block_status(reg: InstanceDep, ms: MessengerDep, body: s.BlockStatus) -> Any:
    jid = ms.jid(body.number)
    await ms.call(reg, lambda m: m.block(jid, body.status == "block"))
    return {"block": "success"}


@router.post("/fetchProfilePictureUrl/{instanceName}")
async def picture_url(reg: InstanceDep, ms: MessengerDep, body: s.NumberBody) -> Any:
    jid = ms.jid(body.number)
    url = await ms.call(reg, lambda m: m.picture_url(jid))
    return {"wuid": jid, "profilePictureUrl": url}


@router.post("/getBase64FromMediaMessage/{instanceName}", status_code=201)
async def media_base64(reg: InstanceDep, ms: MessengerDep, body: s.Base64Media) -> Any:
    message = body.message.message
    if not message:
        row = await ms.store.message_by_key(reg.id, body.message.key.id)
        if row is None:
            raise NotFound(f'Message "{body.message.key.id}" not found')
        message = row.message
    kind = content_type(message)
    member = message.get(kind)
    if kind not in MEDIA_TYPES or not isinstance(member, dict):
        raise BadRequest("The message is not a media message")
    data = await ms.call(reg, lambda m: m.download(member))
    mime = member.get("mimetype") or m.sniff(data)
    return {
        "mediaType": MEDIA_TYPES[kind],
        "fileName": member.get("fileName"),
        "caption": member.get("caption"),
        "size": {
            "fileLength": member.get("fileLength", str(len(data))),
            "height": member.get("height"),
            "width": member.get("width"),
        },
        "mimetype": mime,
        "base64": base64.b64encode(data).decode(),
        "buffer": None,
    }


@router.post("/findMessages/{instanceName}")
async def find_messages(
    reg: InstanceDep, ms: MessengerDep, body: s.FindMessages | None = None
) -> Any:
    body = body or s.FindMessages()
    where = body.where or s.MessageWhere()
    key = where.key or s.MessageKeyWhere()
    ts = where.messageTimestamp or s.TimestampRange()
    f = MessageFilter(
        id=where.id,
        source=where.source,
        message_type=where.messageType,
        key_id=key.id,
        from_me=key.fromMe,
        remote_jid=key.remoteJid,
        participant=key.participants or key.participant,
        since=epoch_seconds(ts.gte, "where.messageTimestamp.gte"),
        until=epoch_seconds(ts.lte, "where.messageTimestamp.lte"),
    )
    page, per_page = body.page or 1, body.offset or 50
    total, rows, statuses = await ms.store.find_messages(reg.id, f, page, per_page)
    return {
        "messages": {
            "total": total,
            "pages": math.ceil(total / per_page),
            "currentPage": page,
            "records": [record_of(r, statuses.get(r.id, [])) for r in rows],
        }
    }


@router.post("/findStatusMessage/{instanceName}")
async def find_status(reg: InstanceDep, ms: MessengerDep, body: s.FindStatus | None = None) -> Any:
    body = body or s.FindStatus()
    where = body.where or s.StatusWhere()
    rows = await ms.store.find_updates(
        reg.id, where.remoteJid, where.id, body.page or 1, body.offset or 50
    )
    return [
        {
            "id": r.id,
            "keyId": r.key_id,
            "remoteJid": r.remote_jid,
            "fromMe": r.from_me,
            "participant": r.participant,
            "status": r.status,
            "pollUpdates": r.poll_updates,
            "instanceId": r.instance_id,
            "messageId": r.message_id,
        }
        for r in rows
    ]


@router.post("/findContacts/{instanceName}")
async def find_contacts(
    reg: InstanceDep, ms: MessengerDep, body: s.FindContacts | None = None
) -> Any:
    body = body or s.FindContacts()
    where = body.where or s.ContactWhere()
    rows = await ms.store.find_contacts(
        reg.id,
        id=where.id,
        remote_jid=where.remoteJid,
        push_name=where.pushName,
        page=body.page,
        per_page=body.offset,
    )
    out = []
    for r in rows:
        group = r.remote_jid.endswith("@g.us")
        out.append(
            {
                "id": r.id,
                "remoteJid": r.remote_jid,
                "pushName": r.push_name,
                "profilePicUrl": r.profile_pic_url,
                "createdAt": _iso(r.created_at),
                "updatedAt": _iso(r.updated_at),
                "instanceId": r.instance_id,
                "isGroup": group,
                "isSaved": True,
                "type": "group" if group else "contact",
            }
        )
    return out


@router.post("/findChats/{instanceName}")
async def find_chats(reg: InstanceDep, ms: MessengerDep, body: s.FindChats | None = None) -> Any:
    body = body or s.FindChats()
    where = body.where or s.ChatWhere()
    ts = where.messageTimestamp or s.TimestampRange()
    rows = await ms.store.find_chats(
        reg.id,
        remote_jid=where.remoteJid,
        since=epoch_seconds(ts.gte, "where.messageTimestamp.gte"),
        until=epoch_seconds(ts.lte, "where.messageTimestamp.lte"),
        skip=body.skip or 0,
        take=body.take,
    )
    return [
        {
            "id": contact.id if contact else None,
            "remoteJid": chat.remote_jid,
            "pushName": contact.push_name if contact else chat.name,
            "profilePicUrl": contact.profile_pic_url if contact else None,
            "updatedAt": _iso(chat.updated_at),
            "windowStart": None,
            "windowExpires": None,
            "windowActive": False,
            "lastMessage": record_of(last, []) if last else None,
            "unreadCount": max(chat.unread_messages, 0),
            "archived": chat.archived,
            "labels": chat.labels or [],
            "isSaved": contact is not None,
        }
        for chat, contact, last in rows
    ]


@router.get("/findChatByRemoteJid/{instanceName}")
async def find_chat(
    reg: InstanceDep, ms: MessengerDep, remote_jid: str | None = Query(None, alias="remoteJid")
) -> Any:
    if not remote_jid:
        raise BadRequest("remoteJid is a required query parameter")
    row = await ms.store.chat(reg.id, remote_jid)
    if row is None:
        return JSONResponse(None)
    return {
        "id": row.id,
        "remoteJid": row.remote_jid,
        "name": row.name,
        "labels": row.labels or [],
        "unreadMessages": row.unread_messages,
        "archived": row.archived,
        "createdAt": _iso(row.created_at),
        "updatedAt": _iso(row.updated_at),
        "instanceId": row.instance_id,
    }


# --- profile and privacy ------------------------------------------------------------------


@router.post("/fetchProfile/{instanceName}")
async def fetch_profile(
    reg: InstanceDep, ms: MessengerDep, body: s.OptionalNumber | None = None
) -> Any:
    jid = ms.jid(body.number) if body and body.number else None
    p = await ms.call(reg, lambda m: m.profile(jid))
    return {
        "wuid": p.jid,
        "name": p.name,
        "numberExists": p.exists,
        "picture": p.picture_url,
        "status": {"status": p.status} if p.status is not None else None,
        "isBusiness": p.is_business,
        "email": p.business.get("email"),
        "description": p.business.get("description"),
        "website": p.business.get("website", []),
    }


@router.post("/fetchBusinessProfile/{instanceName}")
async def fetch_business(reg: InstanceDep, ms: MessengerDep, body: s.NumberBody) -> Any:
    jid = ms.jid(body.number)
    p = await ms.call(reg, lambda m: m.profile(jid))
    if not p.is_business:
        return {"isBusiness": False, "message": "Not is business profile", "wuid": p.jid}
    return {"isBusiness": True, "wuid": p.jid, **p.business}


@router.post("/updateProfileName/{instanceName}")
async def profile_name(reg: InstanceDep, ms: MessengerDep, body: s.ProfileName) -> Any:
    await ms.call(reg, lambda m: m.set_profile(name=body.name))
    reg.supervisor.profile_name = body.name
    return {"update": "success"}


@router.post("/updateProfileStatus/{instanceName}")
async def profile_status(reg: InstanceDep, ms: MessengerDep, body: s.ProfileStatus) -> Any:
    await ms.call(reg, lambda m: m.set_profile(status=body.status))
    return {"update": "success"}


@router.post("/updateProfilePicture/{instanceName}")
async def profile_picture(reg: InstanceDep, ms: MessengerDep, body: s.ProfilePicture) -> Any:
    media = await ms.load_media(reg, body.picture, "picture")
    await ms.call(reg, lambda x: x.set_profile(picture=media.data))
    return {"update": "success"}


@router.delete("/removeProfilePicture/{instanceName}")
async def remove_picture(reg: InstanceDep, ms: MessengerDep) -> Any:
    await ms.call(reg, lambda m: m.set_profile(remove_picture=True))
    return {"update": "success"}


@router.get("/fetchPrivacySettings/{instanceName}")
async def privacy(reg: InstanceDep, ms: MessengerDep) -> Any:
    return await ms.call(reg, lambda m: m.privacy())


@router.post("/updatePrivacySettings/{instanceName}", status_code=201)
async def update_privacy(reg: InstanceDep, ms: MessengerDep, body: s.PrivacySettings) -> Any:
    values = body.model_dump(include=set(s.PrivacySettings.model_fields))
    await ms.call(reg, lambda m: m.set_privacy(values))
    return {"update": "success", "data": values}
