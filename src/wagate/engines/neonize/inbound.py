"""whatsmeow's message, receipt, presence and group events as frames for the API process.

Runs in a host: each function takes one of neonize's event protobufs and returns the header
of the frame that reports it (None when there is nothing to report), in the shapes
`received.py` turns into typed inbound events. Keys use bare JIDs (no device part), as
Evolution's do; the other address of a chat or sender (LID for a phone number and the
reverse) travels as `remoteJidAlt` / `participantAlt`.
"""

from __future__ import annotations

import base64
import time
from typing import Any

import orjson

from wagate.domain.ids import bare_jid
from wagate.engines.neonize.content import to_json

# neonize's ReceiptType numbers -> Evolution's statuses; the rest (sender, retry, inactive,
# peer_msg, hist_sync, and server-error, which carries played-self in 0.5.2) are not statuses.
RECEIPTS = {1: "DELIVERY_ACK", 4: "READ", 5: "READ", 6: "PLAYED", 7: "PLAYED"}
ADDRESSING = {1: "pn", 2: "lid"}
COMPOSING, PAUSED = 1, 2
AUDIO = 2
_NOT_CONTENT = ("senderKeyDistributionMessage", "messageContextInfo")


def jid(j: Any) -> str:
    """A JID protobuf as a bare JID string ('' when unset)."""
    user, server = str(j.User), str(j.Server)
    if not server:
        return ""
    return f"{user}@{server}" if user else server


def _alt(j: Any) -> str | None:
    return jid(j) or None


def message(ev: Any) -> dict[str, Any] | None:
    """A MessageEv as a `message` frame; None for a message with no content to show."""
    info = ev.Info
    src = info.MessageSource
    chat, sender = jid(src.Chat), jid(src.Sender)
    content = to_json(ev.Message)
    if not any(k not in _NOT_CONTENT for k in content):
        return None
    key: dict[str, Any] = {"remoteJid": chat, "fromMe": bool(src.IsFromMe), "id": str(info.ID)}
    if src.IsGroup or chat.endswith("@broadcast"):
        key["participant"] = sender
        if alt := _alt(src.SenderAlt):
            key["participantAlt"] = alt
    else:
        alt = _alt(src.RecipientAlt) if src.IsFromMe else _alt(src.SenderAlt)
        if alt:
            key["remoteJidAlt"] = alt
    if src.HasField("AddressingMode") and (mode := ADDRESSING.get(int(src.AddressingMode))):
        key["addressingMode"] = mode
    return {
        "ev": "message",
        "key": key,
        "content": content,
        "timestamp": seconds(int(info.Timestamp)),
        "push_name": str(info.Pushname) or None,
        "kind": "append" if src.IsFromMe else "notify",
    }


def with_vote(frame: dict[str, Any], hashes: list[bytes]) -> dict[str, Any]:
    """A pollUpdateMessage frame with its vote in clear: the chosen options' SHA-256 hashes
    (base64, as the proto's JSON), in place of the encrypted payload."""
    content = dict(frame["content"])
    update = dict(content["pollUpdateMessage"])
    update["vote"] = {"selectedOptions": [base64.b64encode(h).decode() for h in hashes]}
    content["pollUpdateMessage"] = update
    return {**frame, "content": content}


def receipt(ev: Any) -> dict[str, Any] | None:
    """A ReceiptEv as a `receipt` frame: our messages delivered/read/played by someone, or
    someone's messages read by us on another device (the *-self receipts)."""
    status = RECEIPTS.get(int(ev.Type))
    if status is None or not ev.MessageIDs:
        return None
    src = ev.MessageSource
    chat, sender = jid(src.Chat), jid(src.Sender)
    ours = not src.IsFromMe  # a receipt from someone else is about a message of ours
    keys = []
    for msg_id in ev.MessageIDs:
        key: dict[str, Any] = {"remoteJid": chat, "fromMe": ours, "id": str(msg_id)}
        if src.IsGroup and sender:
            key["participant"] = sender
        keys.append(key)
    return {"ev": "receipt", "keys": keys, "status": status}


def presence(ev: Any) -> dict[str, Any] | None:
    """A PresenceEv (someone online or offline, with last seen) as a `presence` frame."""
    who = jid(ev.From)
    if not who:
        return None
    head: dict[str, Any] = {
        "ev": "presence",
        "chat": who,
        "participant": who,
        "presence": "unavailable" if ev.Unavailable else "available",
    }
    if int(ev.LastSeen) > 0:
        head["last_seen"] = seconds(int(ev.LastSeen))
    return head


def call_offer(ev: Any) -> dict[str, Any] | None:
    """A CallOfferEv (someone calls the account) as a `call` frame; the later call events
    (accept, terminate) are not reported."""
    meta = ev.basicCallMeta
    caller = jid(meta.callCreator) or jid(getattr(meta, "from"))
    if not caller or not meta.callID:
        return None
    video = any(node.Tag == "video" for node in ev.data.Nodes)
    stamp = seconds(int(meta.timestamp)) or int(time.time())
    return {"ev": "call", "id": str(meta.callID), "caller": caller, "timestamp": stamp,
            "video": video}  # fmt: skip


def chat_presence(ev: Any) -> dict[str, Any] | None:
    """A ChatPresenceEv (typing, recording, paused in a chat) as a `presence` frame."""
    src = ev.MessageSource
    chat, sender = jid(src.Chat), jid(src.Sender)
    if not chat:
        return None
    if int(ev.State) == COMPOSING:
        what = "recording" if int(ev.Media) == AUDIO else "composing"
    else:
        what = "paused"
    return {"ev": "presence", "chat": chat, "participant": sender or chat, "presence": what}


def group(info: Any) -> dict[str, Any]:
    """A GroupInfo protobuf as the fields of engines.messaging.GroupInfo."""
    people = []
    for p in info.Participants:
        role = "superadmin" if p.IsSuperAdmin else "admin" if p.IsAdmin else None
        pn, lid = jid(p.PhoneNumber), jid(p.LID)
        member = jid(p.JID)
        people.append({"jid": pn if member.endswith("@lid") and pn else member, "admin": role,
                       "lid": lid or (member if member.endswith("@lid") else None)})  # fmt: skip
    owner = jid(info.OwnerPN) or jid(info.OwnerJID) or None
    return {
        "jid": jid(info.JID),
        "subject": str(info.GroupName.Name),
        "owner": owner,
        "creation": seconds(int(info.GroupCreated)),
        "participants": people,
        "description": str(info.GroupTopic.Topic) or None,
        "subject_owner": jid(info.GroupName.NameSetBy) or None,
        "subject_time": seconds(int(info.GroupName.NameSetAt)) or None,
        "announce": bool(info.GroupAnnounce.IsAnnounce),
        "restrict": bool(info.GroupLocked.isLocked),
        "ephemeral": int(info.GroupEphemeral.DisappearingTimer)
        if info.GroupEphemeral.IsEphemeral
        else 0,
    }


def joined(ev: Any) -> dict[str, Any]:
    """A JoinedGroupEv (we created or were added to a group) as a `group` frame."""
    return {
        "ev": "group",
        "action": "create",
        "group": group(ev.GroupInfo),
        "participants": [],
        "author": jid(ev.SenderPN) or jid(ev.Sender) or None,
    }


def group_changes(ev: Any) -> list[tuple[str, list[str]]]:
    """What a GroupInfoEv changed: (action, participants) per kind, `update` for metadata."""
    out: list[tuple[str, list[str]]] = []
    for action, people in (
        ("add", ev.Join),
        ("remove", ev.Leave),
        ("promote", ev.Promote),
        ("demote", ev.Demote),
    ):
        if people:
            out.append((action, [jid(p) for p in people]))
    touched = ("Name", "Topic", "Locked", "Announce", "Ephemeral", "Delete")
    if any(ev.HasField(f) for f in touched) or ev.NewInviteLink:
        out.append(("update", []))
    return out


def group_partial(ev: Any) -> dict[str, Any]:
    """The group as far as a GroupInfoEv tells (when its metadata cannot be fetched)."""
    return {
        "jid": jid(ev.JID),
        "subject": str(ev.Name.Name) if ev.HasField("Name") else "",
        "owner": None,
        "creation": 0,
        "participants": [],
        "description": str(ev.Topic.Topic) if ev.HasField("Topic") else None,
        "announce": bool(ev.Announce.IsAnnounce) if ev.HasField("Announce") else False,
        "restrict": bool(ev.Locked.isLocked) if ev.HasField("Locked") else False,
    }


def group_events(ev: Any, info: dict[str, Any]) -> list[dict[str, Any]]:
    """The `group` frames of a GroupInfoEv, given the group's metadata after the change."""
    author = jid(ev.Sender) or None
    return [
        {"ev": "group", "action": action, "group": info, "participants": people, "author": author}
        for action, people in group_changes(ev)
    ]


def seconds(value: int) -> int:
    """A timestamp in seconds (neonize gives milliseconds for some events)."""
    return value // 1000 if value > 10**11 else value


# --- history sync ---------------------------------------------------------------------------

HISTORY_FRAME_BYTES = 512 * 1024
"""Each history frame's items stay under this (a frame header may not pass 1 MiB)."""
HISTORY_FRAME_ITEMS = 500
MESSAGE_STATUS = ("ERROR", "PENDING", "SERVER_ACK", "DELIVERY_ACK", "READ", "PLAYED")


def history(ev: Any) -> list[dict[str, Any]]:
    """A HistorySyncEv (one blob of WhatsApp's history sync) as `history` frames: its chats,
    messages and contacts, split so that no frame header grows too large. Progress and `final`
    (the sync reached 100 %) ride on the last frame of the blob."""
    data = ev.Data
    chats: list[dict[str, Any]] = []
    messages: list[dict[str, Any]] = []
    contacts: list[dict[str, Any]] = []
    for conv in data.conversations:
        chat = bare_jid(str(conv.ID))
        if not chat:
            continue
        alts = (bare_jid(str(j)) for j in (conv.pnJID, conv.lidJID))
        alt = next((a for a in alts if a and a != chat), None)
        stamp = int(conv.conversationTimestamp) or int(conv.lastMsgTimestamp)
        name = str(conv.name) or str(conv.displayName) or None
        chats.append({"jid": chat, "name": name, "unread": int(conv.unreadCount),
                      "timestamp": seconds(stamp), "archived": bool(conv.archived),
                      "jid_alt": alt})  # fmt: skip
        contacts.append({"jid": chat, "name": name})
        for item in conv.messages:
            head = _past_message(item.message, chat, alt)
            if head is not None:
                messages.append(head)
    for p in data.pushnames:
        if p.ID and p.pushname:
            contacts.append({"jid": bare_jid(str(p.ID)), "notify": str(p.pushname)})
    progress = int(data.progress) if data.HasField("progress") else None
    kind = type(data).HistorySyncType.Name(int(data.syncType)).lower()
    return _frames(chats, messages, contacts, progress, kind)


def _past_message(info: Any, chat: str, alt: str | None) -> dict[str, Any] | None:
    """A WebMessageInfo of a history conversation as a message of a `history` frame."""
    content = to_json(info.message)
    msg_id = str(info.key.ID)
    if not msg_id or not any(k not in _NOT_CONTENT for k in content):
        return None  # system stubs, key distributions: nothing to show
    key: dict[str, Any] = {"remoteJid": bare_jid(str(info.key.remoteJID)) or chat,
                           "fromMe": bool(info.key.fromMe), "id": msg_id}  # fmt: skip
    participant = str(info.key.participant) or str(info.participant)
    if participant:
        key["participant"] = bare_jid(participant)
    elif alt:
        key["remoteJidAlt"] = alt
    status = int(info.status) if info.HasField("status") else None
    return {
        "key": key,
        "content": content,
        "timestamp": seconds(int(info.messageTimestamp)),
        "push_name": str(info.pushName) or None,
        "status": MESSAGE_STATUS[status] if status is not None and status < 6 else None,
    }


def _frames(
    chats: list[dict[str, Any]],
    messages: list[dict[str, Any]],
    contacts: list[dict[str, Any]],
    progress: int | None,
    kind: str,
) -> list[dict[str, Any]]:
    frames: list[dict[str, Any]] = []
    frame: dict[str, list[dict[str, Any]]] = {"chats": [], "messages": [], "contacts": []}
    size = count = 0
    for field, items in (("chats", chats), ("messages", messages), ("contacts", contacts)):
        for item in items:
            n = len(orjson.dumps(item))
            if n > HISTORY_FRAME_BYTES:
                continue  # a single item no frame can carry (never seen in practice)
            if count and (size + n > HISTORY_FRAME_BYTES or count >= HISTORY_FRAME_ITEMS):
                frames.append({"ev": "history", **frame})
                frame = {"chats": [], "messages": [], "contacts": []}
                size = count = 0
            frame[field].append(item)
            size, count = size + n, count + 1
    frames.append({"ev": "history", **frame})
    for head in frames:
        head.update(progress=progress, final=False, sync_type=kind)
    frames[-1]["final"] = progress == 100
    return frames
