"""App-state patches for neonize's `send_app_state`: archive, mark a chat read or unread,
label a chat, edit a label. Each builder makes the mutations whatsmeow's `appstate` builders
make (appstate/encode.go: BuildArchive, BuildMarkChatAsRead, BuildLabelChat, BuildLabelEdit),
field by field, as neonize's `PatchInfo` protobuf; `plaintexts` gives what whatsmeow's
EncodePatch encrypts for each mutation, so tests can compare them byte for byte.

Not wired to the engine: neonize 0.5.2 loses a patch's collection on its way to Go (its
DecodePatchInfo compares the type by pointer, so every patch goes to a collection named "";
measured by tests/engines/neonize/test_appstate.py), so WhatsApp could apply none of them. The
engine answers 501 for these until a neonize release carries the type; then the host sends
these patches.

Loaded only where neonize is installed (a host process, the tests).
"""

from __future__ import annotations

import json
import time
from typing import Any

from neonize.proto.Neonize_pb2 import (  # type: ignore[import-untyped]
    MutationInfo,
    PatchInfo,
)
from neonize.proto.waCommon.WACommon_pb2 import MessageKey  # type: ignore[import-untyped]
from neonize.proto.waSyncAction.WAWebProtobufSyncAction_pb2 import (  # type: ignore[import-untyped]
    SyncActionData,
    SyncActionValue,
)

INDEX_ARCHIVE = "archive"
INDEX_PIN = "pin_v1"
INDEX_MARK_CHAT_AS_READ = "markChatAsRead"
INDEX_LABEL_CHAT = "label_jid"
INDEX_LABEL_EDIT = "label_edit"
COLLECTIONS = {
    PatchInfo.CRITICAL_BLOCK: "critical_block",
    PatchInfo.CRITICAL_UNBLOCK_LOW: "critical_unblock_low",
    PatchInfo.REGULAR_LOW: "regular_low",
    PatchInfo.REGULAR_HIGH: "regular_high",
    PatchInfo.REGULAR: "regular",
}
"""neonize's patch types as whatsmeow names the collections (appstate/keys.go)."""


def _now_ns() -> int:
    return time.time_ns()


def _message_range(last_timestamp: int | None, last_key: dict[str, Any] | None) -> Any:
    """whatsmeow's newMessageRange: the last message's time (seconds; now when unknown), and
    the message itself when its key is known."""
    stamp = last_timestamp if last_timestamp else int(time.time())
    out: dict[str, Any] = {"lastMessageTimestamp": stamp}
    if last_key is not None:
        key = MessageKey(
            remoteJID=str(last_key["remoteJid"]),
            fromMe=bool(last_key.get("fromMe")),
            ID=str(last_key["id"]),
        )
        if last_key.get("participant"):
            key.participant = str(last_key["participant"])
        out["messages"] = [{"key": key, "timestamp": stamp}]
    return out


def _pin(target: str, pin: bool) -> Any:
    return MutationInfo(
        Index=[INDEX_PIN, target], Version=5, Value=SyncActionValue(pinAction={"pinned": pin})
    )


def archive(
    target: str,
    archived: bool,
    last_timestamp: int | None = None,
    last_key: dict[str, Any] | None = None,
    *,
    now_ns: int | None = None,
) -> Any:
    """BuildArchive: archive (which also unpins) or unarchive a chat."""
    action = {"archived": archived, "messageRange": _message_range(last_timestamp, last_key)}
    mutations = [
        MutationInfo(
            Index=[INDEX_ARCHIVE, target],
            Version=3,
            Value=SyncActionValue(archiveChatAction=action),
        )
    ]
    if archived:
        mutations.append(_pin(target, False))
    return PatchInfo(
        Timestamp=now_ns or _now_ns(), Type=PatchInfo.REGULAR_LOW, Mutations=mutations
    )


def mark_chat_read(
    target: str,
    read: bool,
    last_timestamp: int | None = None,
    last_key: dict[str, Any] | None = None,
    *,
    now_ns: int | None = None,
) -> Any:
    """BuildMarkChatAsRead: mark a chat read, or unread (`read=False`)."""
    action = {"read": read, "messageRange": _message_range(last_timestamp, last_key)}
    mutation = MutationInfo(
        Index=[INDEX_MARK_CHAT_AS_READ, target],
        Version=3,
        Value=SyncActionValue(markChatAsReadAction=action),
    )
    return PatchInfo(
        Timestamp=now_ns or _now_ns(), Type=PatchInfo.REGULAR_LOW, Mutations=[mutation]
    )


def label_chat(target: str, label_id: str, labeled: bool, *, now_ns: int | None = None) -> Any:
    """BuildLabelChat: add a label to a chat, or take it off."""
    mutation = MutationInfo(
        Index=[INDEX_LABEL_CHAT, label_id, target],
        Version=3,
        Value=SyncActionValue(labelAssociationAction={"labeled": labeled}),
    )
    return PatchInfo(Timestamp=now_ns or _now_ns(), Type=PatchInfo.REGULAR, Mutations=[mutation])


def label_edit(
    label_id: str, name: str, color: int, deleted: bool, *, now_ns: int | None = None
) -> Any:
    """BuildLabelEdit: create, rename, recolour or delete a label."""
    mutation = MutationInfo(
        Index=[INDEX_LABEL_EDIT, label_id],
        Version=3,
        Value=SyncActionValue(labelEditAction={"name": name, "color": color, "deleted": deleted}),
    )
    return PatchInfo(Timestamp=now_ns or _now_ns(), Type=PatchInfo.REGULAR, Mutations=[mutation])


def go_json(index: list[str]) -> bytes:
    """A mutation's index as Go's json.Marshal writes a []string: no spaces, UTF-8 as is,
    and <, >, &, U+2028 and U+2029 escaped."""
    text = json.dumps(index, ensure_ascii=False, separators=(",", ":"))
    for char, escaped in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escaped)
    return text.encode()


def plaintexts(patch: Any) -> list[bytes]:
    """What whatsmeow's EncodePatch encrypts for each mutation of `patch` (neonize hands Go
    the timestamp in nanoseconds; the mutation carries it in milliseconds)."""
    out = []
    for mutation in patch.Mutations:
        value = SyncActionValue()
        value.CopyFrom(mutation.Value)
        value.timestamp = patch.Timestamp // 1_000_000
        data = SyncActionData(
            index=go_json(list(mutation.Index)),
            value=value,
            padding=b"",
            version=mutation.Version,
        )
        out.append(data.SerializeToString())
    return out
