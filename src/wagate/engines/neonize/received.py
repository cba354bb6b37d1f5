"""Frames a host sent about messages, receipts, presence and groups as typed inbound events
(the API process's half of inbound.py), and the typed values the messaging calls return."""

from __future__ import annotations

from typing import Any

from wagate.engines.base import InboundEvent
from wagate.engines.messaging import (
    Call,
    ContactUpdate,
    GroupChange,
    GroupInfo,
    GroupParticipant,
    History,
    HistoryChat,
    HistoryContact,
    Message,
    MessageKey,
    Presence,
    Receipt,
)


def key_of(d: dict[str, Any]) -> MessageKey:
    """A message key from its Evolution shape."""
    return MessageKey(
        remote_jid=str(d["remoteJid"]),
        from_me=bool(d.get("fromMe")),
        id=str(d["id"]),
        participant=d.get("participant") or None,
        remote_jid_alt=d.get("remoteJidAlt") or None,
        participant_alt=d.get("participantAlt") or None,
        addressing_mode=d.get("addressingMode") or None,
    )


def group_of(d: dict[str, Any]) -> GroupInfo:
    """A group's metadata from its frame fields."""
    people = tuple(
        GroupParticipant(str(p["jid"]), p.get("admin") or None, p.get("lid") or None)
        for p in d.get("participants") or ()
    )
    return GroupInfo(
        jid=str(d["jid"]),
        subject=str(d.get("subject") or ""),
        owner=d.get("owner") or None,
        creation=int(d.get("creation") or 0),
        participants=people,
        description=d.get("description") or None,
        subject_owner=d.get("subject_owner") or None,
        subject_time=d.get("subject_time") or None,
        announce=bool(d.get("announce")),
        restrict=bool(d.get("restrict")),
        ephemeral=int(d.get("ephemeral") or 0),
        picture_url=d.get("picture_url") or None,
    )


def inbound_event(epoch: int, head: dict[str, Any]) -> InboundEvent | None:
    """The typed event of a host frame; None for frames that are not inbound events."""
    match head.get("ev"):
        case "message":
            return Message(
                epoch,
                key_of(head["key"]),
                dict(head["content"]),
                int(head.get("timestamp") or 0),
                head.get("push_name") or None,
                str(head.get("kind") or "notify"),
            )
        case "receipt":
            keys = tuple(key_of(k) for k in head.get("keys") or ())
            return Receipt(epoch, keys, str(head["status"])) if keys else None
        case "presence":
            last = head.get("last_seen")
            return Presence(
                epoch,
                str(head["chat"]),
                str(head["participant"]),
                str(head["presence"]),
                int(last) if last is not None else None,
            )
        case "history":
            return history_of(epoch, head)
        case "contact":
            return ContactUpdate(
                epoch,
                str(head["jid"]),
                picture_url=head.get("picture_url") or None,
                picture_removed=bool(head.get("removed")),
            )
        case "call":
            return Call(
                epoch,
                str(head["id"]),
                str(head["caller"]),
                int(head.get("timestamp") or 0),
                bool(head.get("video")),
            )
        case "group":
            return GroupChange(
                epoch,
                group_of(head["group"]),
                str(head["action"]),
                tuple(str(p) for p in head.get("participants") or ()),
                head.get("author") or None,
            )
    return None


def history_of(epoch: int, head: dict[str, Any]) -> History:
    """A `history` frame (one part of a history sync blob) as a History chunk."""
    messages = tuple(
        Message(
            epoch,
            key_of(m["key"]),
            dict(m["content"]),
            int(m.get("timestamp") or 0),
            m.get("push_name") or None,
            "history",
            m.get("status") or None,
        )
        for m in head.get("messages") or ()
    )
    chats = tuple(
        HistoryChat(
            str(c["jid"]),
            c.get("name") or None,
            int(c.get("unread") or 0),
            int(c.get("timestamp") or 0),
            bool(c.get("archived")),
            c.get("jid_alt") or None,
        )
        for c in head.get("chats") or ()
    )
    contacts = tuple(
        HistoryContact(str(c["jid"]), c.get("name") or None, c.get("notify") or None)
        for c in head.get("contacts") or ()
    )
    progress = head.get("progress")
    return History(
        epoch,
        messages,
        chats,
        contacts,
        int(progress) if progress is not None else None,
        bool(head.get("final")),
        str(head.get("sync_type") or "full"),
    )
