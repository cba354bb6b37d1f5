"""Message content (WhatsApp's proto JSON) for each send route, as Evolution builds it (pure)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

MEDIA_MEMBER = {
    "image": "imageMessage",
    "video": "videoMessage",
    "audio": "audioMessage",
    "document": "documentMessage",
}
BUTTON_FLOW = {
    "reply": "quick_reply",
    "copy": "cta_copy",
    "url": "cta_url",
    "call": "cta_call",
    "pix": "payment_info",
}


def text(body: str) -> dict[str, Any]:
    return {"conversation": body}


def with_preview(content: dict[str, Any], preview: dict[str, Any] | None) -> dict[str, Any]:
    """A text with its link preview (messaging/preview.py) becomes an extendedTextMessage."""
    if not preview or not isinstance(content.get("conversation"), str):
        return content
    rest = {k: v for k, v in content.items() if k != "conversation"}
    return {"extendedTextMessage": {"text": content["conversation"], **preview}, **rest}


def media(
    kind: str, mimetype: str | None, caption: str | None, file_name: str | None
) -> dict[str, Any]:
    member: dict[str, Any] = {"mimetype": mimetype or "application/octet-stream"}
    if caption:
        member["caption"] = caption
    if kind == "document":
        member["fileName"] = file_name or "file"
    return {MEDIA_MEMBER[kind]: member}


def voice(mimetype: str | None, seconds: int | None = None) -> dict[str, Any]:
    """A voice note (push-to-talk audio); `seconds` is its duration, when known."""
    member: dict[str, Any] = {"mimetype": mimetype or "audio/ogg; codecs=opus", "ptt": True}
    if seconds is not None:
        member["seconds"] = seconds
    return {"audioMessage": member}


def ptv(mimetype: str | None) -> dict[str, Any]:
    return {"ptvMessage": {"mimetype": mimetype or "video/mp4"}}


def sticker(
    mimetype: str | None,
    animated: bool | None = None,
    width: int | None = None,
    height: int | None = None,
) -> dict[str, Any]:
    member: dict[str, Any] = {"mimetype": mimetype or "image/webp"}
    if animated is not None:
        member["isAnimated"] = animated
    if width and height:
        member["width"], member["height"] = width, height
    return {"stickerMessage": member}


def location(lat: float, lng: float, name: str, address: str) -> dict[str, Any]:
    return {
        "locationMessage": {
            "degreesLatitude": lat,
            "degreesLongitude": lng,
            "name": name,
            "address": address,
        }
    }


def vcard(card: dict[str, Any]) -> str:
    """Evolution's vCard 3.0 of one contact."""
    phone = card["phoneNumber"]
    wuid = card.get("wuid") or "".join(ch for ch in phone if ch.isdigit())
    lines = ["BEGIN:VCARD", "VERSION:3.0", f"N:{card['fullName']}", f"FN:{card['fullName']}"]
    if card.get("organization"):
        lines.append(f"ORG:{card['organization']};")
    if card.get("email"):
        lines.append(f"EMAIL:{card['email']}")
    if card.get("url"):
        lines.append(f"URL:{card['url']}")
    lines += [f"item1.TEL;waid={wuid}:{phone}", "item1.X-ABLabel:Celular", "END:VCARD"]
    return "\n".join(lines)


def contacts(cards: Sequence[dict[str, Any]]) -> dict[str, Any]:
    items = [{"displayName": c["fullName"], "vcard": vcard(c)} for c in cards]
    if len(items) == 1:
        return {"contactMessage": items[0]}
    return {"contactsArrayMessage": {"displayName": f"{len(items)} contacts", "contacts": items}}


def reaction(key: dict[str, Any], emoji: str, now_ms: int) -> dict[str, Any]:
    return {"reactionMessage": {"key": key, "text": emoji, "senderTimestampMs": str(now_ms)}}


def poll(name: str, selectable: int, values: Sequence[str]) -> dict[str, Any]:
    return {
        "pollCreationMessageV3": {
            "name": name,
            "options": [{"optionName": v} for v in values],
            "selectableOptionsCount": selectable,
        }
    }


def list_message(body: dict[str, Any]) -> dict[str, Any]:
    return {
        "listMessage": {
            "title": body["title"],
            "description": body.get("description") or "",
            "buttonText": body["buttonText"],
            "footerText": body["footerText"],
            "listType": "SINGLE_SELECT",
            "sections": [
                {
                    "title": s["title"],
                    "rows": [
                        {
                            "title": r["title"],
                            "description": r.get("description") or "",
                            "rowId": r["rowId"],
                        }
                        for r in s["rows"]
                    ],
                }
                for s in body["sections"]
            ],
        }
    }


def flow_buttons(buttons: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Buttons as nativeFlowMessage buttons (a name and its parameters as JSON)."""
    flow = []
    for b in buttons:
        params = {k: v for k, v in b.items() if k != "type" and v is not None}
        flow.append(
            {
                "name": BUTTON_FLOW[b["type"]],
                "buttonParamsJson": json.dumps(params, sort_keys=True),
            }
        )
    return flow


def carousel(body: str, cards: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Evolution's sendCarousel: one card becomes a plain interactive message, several a
    carousel of interactive cards (cards without images)."""

    def card(c: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "body": {"text": c["body"]},
            "nativeFlowMessage": {"buttons": flow_buttons(c["buttons"])},
        }
        if c.get("title"):
            out["header"] = {"title": c["title"], "hasMediaAttachment": False}
        if c.get("footer"):
            out["footer"] = {"text": c["footer"]}
        return out

    if len(cards) == 1:
        return {"interactiveMessage": card(cards[0])}
    return {
        "interactiveMessage": {
            "body": {"text": body},
            "carouselMessage": {"cards": [card(c) for c in cards], "messageVersion": 1},
        }
    }


def buttons(body: dict[str, Any]) -> dict[str, Any]:
    flow = flow_buttons(body["buttons"])
    return {
        "interactiveMessage": {
            "header": {"title": body.get("title") or "", "hasMediaAttachment": False},
            "body": {"text": body.get("description") or ""},
            "footer": {"text": body.get("footer") or ""},
            "nativeFlowMessage": {"buttons": flow},
        }
    }


def status_text(content: str, background: str | None, font: int | None) -> dict[str, Any]:
    member: dict[str, Any] = {"text": content}
    if background:
        member["backgroundArgb"] = background
    if font is not None:
        member["font"] = font
    return {"extendedTextMessage": member}


def revoke(key: dict[str, Any]) -> dict[str, Any]:
    return {"protocolMessage": {"key": key, "type": "REVOKE"}}


def edit(key: dict[str, Any], new_text: str, now_ms: int) -> dict[str, Any]:
    return {
        "protocolMessage": {
            "key": key,
            "type": "MESSAGE_EDIT",
            "editedMessage": {"conversation": new_text},
            "timestampMs": str(now_ms),
        }
    }
