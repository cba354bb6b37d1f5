"""Message content between WhatsApp's JSON form and whatsmeow's protobufs (in a host).

Both are the same message proto (waE2E.Message). whatsmeow spells acronyms in capitals (`URL`,
`fileSHA256`, `remoteJID`, `stanzaID`, `PTT`, `senderTimestampMS`, `JPEGThumbnail`) where the
JSON form that Baileys and Evolution store writes them as words (`url`, `fileSha256`,
`remoteJid`, `stanzaId`, `ptt`, `senderTimestampMs`, `jpegThumbnail`). On the way in, fields
are matched case-insensitively; on the way out, they are renamed. Values follow protobuf's JSON
mapping both ways: bytes as base64, 64-bit integers as strings, enums by name.

Pure over the descriptors of the classes passed in: importing this loads nothing of neonize.
"""

from __future__ import annotations

import re
from typing import Any

from google.protobuf import json_format  # type: ignore[import-untyped]

Descriptor = Any  # google.protobuf ships no type stubs here
FieldDescriptor = Any
_ACRONYM = re.compile(r"[A-Z]{2,}(?![a-z])")
_SKIP = ("senderKeyDistributionMessage", "messageContextInfo")
MEDIA_TYPES = {
    # member -> neonize MediaType name (the HKDF info whatsmeow encrypts with)
    "imageMessage": "MediaImage",
    "stickerMessage": "MediaImage",
    "videoMessage": "MediaVideo",
    "ptvMessage": "MediaVideo",
    "audioMessage": "MediaAudio",
    "documentMessage": "MediaDocument",
}


class ContentError(ValueError):
    """The JSON is not a message whatsmeow can send."""


def json_name(proto_name: str) -> str:
    """whatsmeow's field name as the JSON form spells it (fileSHA256 -> fileSha256)."""

    def word(m: re.Match[str]) -> str:
        run = m.group(0)
        return run.lower() if m.start() == 0 else run[0] + run[1:].lower()

    return _ACRONYM.sub(word, proto_name)


def to_proto(content: dict[str, Any], cls: Any) -> Any:
    """The protobuf of a JSON message; ContentError when nothing in it can be sent."""
    if not isinstance(content, dict) or not content:
        raise ContentError("the message content is empty")
    renamed, dropped = _rename_in(content, cls.DESCRIPTOR, "")
    if not any(k not in _SKIP for k in renamed):
        raise ContentError(
            f"the message has no member whatsmeow knows ({', '.join(dropped) or 'none'})"
        )
    msg = cls()
    try:
        json_format.ParseDict(renamed, msg)
    except json_format.ParseError as exc:
        raise ContentError(f"the message content is not valid: {exc}") from None
    return msg


def to_json(msg: Any) -> dict[str, Any]:
    """The JSON form of a protobuf message (only the fields that are set)."""
    raw = json_format.MessageToDict(msg, preserving_proto_field_name=True)
    out = _rename_out(raw, msg.DESCRIPTOR)
    assert isinstance(out, dict)
    return out


def member_of(content: dict[str, Any]) -> str | None:
    """The media member of a JSON message (imageMessage …), if it has one."""
    return next((k for k in content if k in MEDIA_TYPES), None)


def download_member(media: dict[str, Any]) -> str:
    """Which member a bare media object belongs to (its keys are derived per kind)."""
    if "fileName" in media or "title" in media and "pageCount" in media:
        return "documentMessage"
    mime = str(media.get("mimetype") or "")
    if media.get("ptt") or mime.startswith("audio/"):
        return "audioMessage"
    if mime.startswith("video/"):
        return "videoMessage"
    if mime == "image/webp" and media.get("isAnimated") is not None:
        return "stickerMessage"
    if mime.startswith("image/"):
        return "imageMessage"
    return "documentMessage"


def argb(value: Any) -> Any:
    """A '#RRGGBB' or '#AARRGGBB' colour as the ARGB integer the proto holds."""
    if isinstance(value, str) and re.fullmatch(r"#?([0-9a-fA-F]{6}|[0-9a-fA-F]{8})", value):
        digits = value.lstrip("#")
        return int(digits if len(digits) == 8 else "FF" + digits, 16)
    return value


def _field_map(descriptor: Descriptor) -> dict[str, FieldDescriptor]:
    fields: dict[str, FieldDescriptor] = {}
    for f in descriptor.fields:
        fields.setdefault(f.name.lower(), f)
    for f in descriptor.fields:
        fields[f.name] = f
    return fields


def _is_map(f: FieldDescriptor) -> bool:
    return f.message_type is not None and f.message_type.GetOptions().map_entry


def _rename_in(
    value: dict[str, Any], descriptor: Descriptor, path: str
) -> tuple[dict[str, Any], list[str]]:
    """Keys as the proto names them; unknown ones dropped (and listed)."""
    fields = _field_map(descriptor)
    out: dict[str, Any] = {}
    dropped: list[str] = []
    for key, item in value.items():
        f = fields.get(key) or fields.get(key.lower())
        if f is None or item is None:
            if f is None:
                dropped.append(f"{path}{key}")
            continue
        if f.name.lower().endswith("argb"):
            item = argb(item)
        if f.message_type is not None and not _is_map(f):
            sub = f.message_type
            if f.is_repeated and isinstance(item, list):
                renamed = [
                    _rename_in(v, sub, f"{path}{key}.")[0] for v in item if isinstance(v, dict)
                ]
                out[f.name] = renamed
                continue
            if isinstance(item, dict):
                item, lost = _rename_in(item, sub, f"{path}{key}.")
                dropped.extend(lost)
        out[f.name] = item
    return out, dropped


def _rename_out(value: Any, descriptor: Descriptor) -> Any:
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        f = descriptor.fields_by_name.get(key)
        if f is None:
            out[key] = item
            continue
        if f.message_type is not None and not _is_map(f):
            sub = f.message_type
            item = [_rename_out(v, sub) for v in item] if f.is_repeated else _rename_out(item, sub)
        out[json_name(key)] = item
    return out
