"""Evolution's `messageRaw`: the stored and announced shape of a message (pure)."""

from __future__ import annotations

import re
from typing import Any

from wagate.engines.messaging import MEDIA_MEMBERS, MessageKey
from wagate.store.messages import sortable_id
from wagate.store.models import utcnow

_SKIP = ("senderKeyDistributionMessage", "messageContextInfo")
PREVIEW_FIELDS = ("matchedText", "title", "description", "jpegThumbnail", "thumbnailDirectPath")
_DEVICES = (
    (re.compile(r"^3A.{18}$"), "ios"),
    (re.compile(r"^3E.{20}$"), "web"),
    (re.compile(r"^(.{21}|.{32})$"), "android"),
    (re.compile(r"^(3F|.{18}$)"), "desktop"),
)


def content_type(content: dict[str, Any]) -> str:
    """The message's kind: its first member (Baileys' getContentType)."""
    return next((k for k in content if k not in _SKIP), "unknown")


def media_member(content: dict[str, Any]) -> dict[str, Any] | None:
    """The downloadable part of a media message (a captioned document's inner document),
    None for any other message."""
    for name in MEDIA_MEMBERS:
        member = content.get(name)
        if isinstance(member, dict):
            return member
    wrapped = content.get("documentWithCaptionMessage")
    inner = wrapped.get("message") if isinstance(wrapped, dict) else None
    document = inner.get("documentMessage") if isinstance(inner, dict) else None
    return document if isinstance(document, dict) else None


def media_type(content: dict[str, Any]) -> str:
    """The media message's type as Evolution names its folder (`imageMessage`, …)."""
    for name in MEDIA_MEMBERS:
        if isinstance(content.get(name), dict):
            return name
    return "documentMessage"


def device_of(message_id: str) -> str:
    """Which kind of device sent a message, guessed from its id (Baileys' getDevice)."""
    for pattern, device in _DEVICES:
        if pattern.match(message_id):
            return device
    return "unknown"


def message_raw(
    instance_id: str,
    key: MessageKey,
    content: dict[str, Any],
    timestamp: int,
    push_name: str | None,
    status: str | None,
) -> dict[str, Any]:
    """The messageRaw of Evolution's prepareMessage: text as `conversation`, a captioned
    document as `documentMessage`, contextInfo lifted to the top. A text with a link preview
    keeps its extendedTextMessage too (Evolution loses the preview)."""
    kind = content_type(content)
    member = content.get(kind)
    context = member.get("contextInfo") if isinstance(member, dict) else None
    message = dict(content)
    if "extendedTextMessage" in message:
        kind = "conversation"
        extended = message.pop("extendedTextMessage") or {}
        message["conversation"] = extended.get("text", "")
        if any(extended.get(f) for f in PREVIEW_FIELDS):
            # Evolution drops it (and the preview with it); kept next to `conversation`
            message["extendedTextMessage"] = extended
    if "documentWithCaptionMessage" in message:
        kind = "documentMessage"
        wrapped = message.pop("documentWithCaptionMessage") or {}
        message["documentMessage"] = (wrapped.get("message") or {}).get("documentMessage")
    return {
        "key": key.as_dict(),
        "pushName": push_name,
        "status": status,
        "message": message,
        "contextInfo": context,
        "messageType": kind,
        "messageTimestamp": timestamp,
        "instanceId": instance_id,
        "source": device_of(key.id),
    }


def row_of(raw: dict[str, Any]) -> dict[str, Any]:
    """The `messages` row of a messageRaw."""
    key = raw["key"]
    return {
        "id": sortable_id(),
        "instance_id": raw["instanceId"],
        "key_id": key["id"],
        "remote_jid": key["remoteJid"],
        "remote_jid_alt": key.get("remoteJidAlt"),
        "from_me": bool(key["fromMe"]),
        "participant": key.get("participant"),
        "key": key,
        "push_name": raw["pushName"],
        "message_type": raw["messageType"],
        "message": raw["message"],
        "context_info": raw["contextInfo"],
        "source": raw["source"],
        "message_timestamp": raw["messageTimestamp"],
        "status": raw["status"],
        "created_at": utcnow(),
    }


def record_of(row: Any, statuses: list[str]) -> dict[str, Any]:
    """A findMessages record of a stored row."""
    return {
        "id": row.id,
        "key": row.key,
        "pushName": row.push_name,
        "messageType": row.message_type,
        "message": row.message,
        "messageTimestamp": row.message_timestamp,
        "instanceId": row.instance_id,
        "source": row.source,
        "contextInfo": row.context_info,
        "status": row.status,
        "MessageUpdate": [{"status": s} for s in statuses],
    }
