"""The messaging half of the engine boundary: what a session can do with messages, contacts,
groups, profile and media, and the inbound events it reports.

Message content is WhatsApp's message proto in its JSON form (Baileys' camelCase:
`conversation`, `imageMessage{url,mimetype,caption,…}`, `protocolMessage{key,type}` …), so every
engine can translate it to its own library and the API can store and show it as Evolution does.
Deletes, edits and reactions are ordinary sends of a `protocolMessage` / `reactionMessage`.

A session that can message implements `Messaging`; `messaging_of` refuses the others with
`NotSupported`, so an engine can grow these calls one at a time.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from wagate.domain.errors import NotSupported

RECEIPT_STATUSES = ("SERVER_ACK", "DELIVERY_ACK", "READ", "PLAYED")
PRESENCES = ("unavailable", "available", "composing", "recording", "paused")
MEDIA_MEMBERS = (
    "imageMessage",
    "videoMessage",
    "audioMessage",
    "documentMessage",
    "stickerMessage",
    "ptvMessage",
)
"""The members of message content that carry downloadable media."""


def poll_option_hash(name: str) -> str:
    """A poll option as a vote names it (`pollUpdateMessage.vote.selectedOptions`): the
    SHA-256 of its name, base64 (the proto's bytes in JSON)."""
    return base64.b64encode(hashlib.sha256(name.encode()).digest()).decode()


@dataclass(frozen=True, slots=True)
class MessageKey:
    """Which message: the chat, who sent it, its id (Baileys' `WAMessageKey`)."""

    remote_jid: str
    from_me: bool
    id: str
    participant: str | None = None
    remote_jid_alt: str | None = None
    """The chat's other address (LID for a phone-number chat, and the reverse) when known."""
    participant_alt: str | None = None
    addressing_mode: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Evolution's `key` object (optional members only when known)."""
        out: dict[str, Any] = {"remoteJid": self.remote_jid, "fromMe": self.from_me, "id": self.id}
        if self.participant:
            out["participant"] = self.participant
        if self.remote_jid_alt:
            out["remoteJidAlt"] = self.remote_jid_alt
        if self.participant_alt:
            out["participantAlt"] = self.participant_alt
        if self.addressing_mode:
            out["addressingMode"] = self.addressing_mode
        return out


@dataclass(frozen=True, slots=True)
class Message:
    """A message arrived (or one of ours, sent from another device: `key.from_me`)."""

    epoch: int
    key: MessageKey
    content: dict[str, Any]
    timestamp: int
    push_name: str | None = None
    kind: str = "notify"
    """notify (live), append (our own from another device) or history (sync)."""
    status: str | None = None
    """Its last known status (a message of a history sync); None: the pipeline's default."""


@dataclass(frozen=True, slots=True)
class HistoryChat:
    """A conversation of the account's history (a Baileys `Chat`)."""

    jid: str
    name: str | None = None
    unread: int = 0
    timestamp: int = 0
    """Its last activity (seconds); 0 when unknown."""
    archived: bool = False
    jid_alt: str | None = None
    """The chat's other address (LID for a phone-number chat, and the reverse) when known."""


@dataclass(frozen=True, slots=True)
class HistoryContact:
    """Someone the account knows (a Baileys `Contact`): the name the account gave them, or
    their own push name (`notify`)."""

    jid: str
    name: str | None = None
    notify: str | None = None


@dataclass(frozen=True, slots=True)
class History:
    """One chunk of a history sync: what WhatsApp sends a newly paired device about the
    account's past (Baileys' `messaging-history.set`). Its messages have kind "history".
    A sync arrives as several chunks; `progress` (0-100) grows and the last chunk of the sync
    has `final` set."""

    epoch: int
    messages: tuple[Message, ...] = ()
    chats: tuple[HistoryChat, ...] = ()
    contacts: tuple[HistoryContact, ...] = ()
    progress: int | None = None
    final: bool = False
    sync_type: str = "full"
    """initial_bootstrap, recent, full, push_name or on_demand (WhatsApp's HistorySyncType)."""


@dataclass(frozen=True, slots=True)
class Receipt:
    """Messages changed status: SERVER_ACK, DELIVERY_ACK, READ or PLAYED."""

    epoch: int
    keys: tuple[MessageKey, ...]
    status: str


@dataclass(frozen=True, slots=True)
class Presence:
    """Someone's presence in a chat (available, composing, recording, paused …)."""

    epoch: int
    chat: str
    participant: str
    presence: str
    last_seen: int | None = None


@dataclass(frozen=True, slots=True)
class Call:
    """Someone calls the account: emitted for the offer (the call rings), the moment a
    reject answers. Not emitted for calls the account places, nor for the later states of a
    call (accepted, ended)."""

    epoch: int
    id: str
    caller: str
    """The caller's JID (phone number, or LID when WhatsApp gives only that)."""
    timestamp: int
    video: bool = False
    group: str | None = None
    """The group JID of a group call."""
    offline: bool = False
    """The offer waited on the server while the account was offline."""


@dataclass(frozen=True, slots=True)
class ContactUpdate:
    """A contact's name, LID or picture became known or changed."""

    epoch: int
    jid: str
    push_name: str | None = None
    lid: str | None = None
    picture_url: str | None = None
    picture_removed: bool = False
    """The contact removed its picture (`picture_url` None then means "none", not "unknown")."""


@dataclass(frozen=True, slots=True)
class ChatChange:
    """A chat was archived, marked unread or deleted (from any of the account's devices)."""

    epoch: int
    jid: str
    archived: bool | None = None
    unread: bool | None = None
    deleted: bool = False


@dataclass(frozen=True, slots=True)
class GroupParticipant:
    jid: str
    admin: str | None = None
    """None, 'admin' or 'superadmin'."""
    lid: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.jid, "admin": self.admin}
        if self.lid:
            out["lid"] = self.lid
        return out


@dataclass(frozen=True, slots=True)
class GroupInfo:
    """A group's metadata (Baileys' `GroupMetadata`)."""

    jid: str
    subject: str
    owner: str | None
    creation: int
    participants: tuple[GroupParticipant, ...] = ()
    description: str | None = None
    subject_owner: str | None = None
    subject_time: int | None = None
    announce: bool = False
    restrict: bool = False
    ephemeral: int = 0
    picture_url: str | None = None

    def as_dict(self, *, participants: bool = True) -> dict[str, Any]:
        """Evolution's group object (findGroupInfos, fetchAllGroups, groups.upsert)."""
        out: dict[str, Any] = {
            "id": self.jid,
            "subject": self.subject,
            "subjectOwner": self.subject_owner or self.owner,
            "subjectTime": self.subject_time or self.creation,
            "pictureUrl": self.picture_url,
            "size": len(self.participants),
            "creation": self.creation,
            "owner": self.owner,
            "desc": self.description,
            "descId": None,
            "restrict": self.restrict,
            "announce": self.announce,
            "isCommunity": False,
            "isCommunityAnnounce": False,
            "linkedParent": None,
            "ephemeralDuration": self.ephemeral or None,
        }
        if participants:
            out["participants"] = [p.as_dict() for p in self.participants]
        return out


@dataclass(frozen=True, slots=True)
class GroupChange:
    """A group was created or joined (`create`), changed (`update`), or its participants
    changed (`add`, `remove`, `promote`, `demote` with `participants`)."""

    epoch: int
    group: GroupInfo
    action: str
    participants: tuple[str, ...] = ()
    author: str | None = None


@dataclass(frozen=True, slots=True)
class Label:
    id: str
    name: str
    color: int = 0
    predefined_id: str | None = None
    deleted: bool = False


@dataclass(frozen=True, slots=True)
class LabelChange:
    """A label was edited (`label`), or added to / removed from a chat (`chat`, `added`)."""

    epoch: int
    label: Label | None = None
    chat: str | None = None
    label_id: str | None = None
    added: bool | None = None


@dataclass(frozen=True, slots=True)
class NumberCheck:
    """Whether a JID is a WhatsApp account (onWhatsApp)."""

    jid: str
    exists: bool
    lid: str | None = None


@dataclass(frozen=True, slots=True)
class Profile:
    jid: str
    exists: bool
    name: str | None = None
    status: str | None = None
    picture_url: str | None = None
    is_business: bool = False
    business: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message to send. `media` holds the bytes to upload for a media message: the engine
    fills the upload fields (url, directPath, mediaKey, fileSha256, fileLength) of the media
    member of `content`."""

    jid: str
    content: dict[str, Any]
    media: bytes | None = None
    message_id: str | None = None
    status_jids: tuple[str, ...] = ()
    """For status@broadcast: who may see it."""


@dataclass(frozen=True, slots=True)
class Sent:
    """What was sent: its key (with the chat's alternative address when known), the content
    as sent (upload fields filled) and the server timestamp (seconds)."""

    key: MessageKey
    content: dict[str, Any]
    timestamp: int


@runtime_checkable
class Messaging(Protocol):
    """Messaging calls of one live session. Each raises a classified EngineError when the
    engine cannot do it now, and is bounded by the caller's deadline."""

    async def send(self, out: Outgoing) -> Sent: ...

    async def read(self, keys: Sequence[MessageKey]) -> None: ...

    async def played(self, keys: Sequence[MessageKey]) -> None:
        """The voice notes (or videos) were played: their senders see PLAYED."""
        ...

    async def chat_presence(self, jid: str, presence: str) -> None: ...

    async def reject_call(self, call: Call) -> None:
        """Decline a ringing call: the caller's phone stops ringing."""
        ...

    async def check_numbers(self, jids: Sequence[str]) -> list[NumberCheck]:
        """One check per JID, in the order asked (callers pair them up by position)."""
        ...

    async def picture_url(self, jid: str) -> str | None: ...

    async def profile(self, jid: str | None) -> Profile: ...

    async def set_profile(
        self,
        *,
        name: str | None = None,
        status: str | None = None,
        picture: bytes | None = None,
        remove_picture: bool = False,
    ) -> None: ...

    async def privacy(self) -> dict[str, str]: ...

    async def set_privacy(self, values: dict[str, str]) -> None: ...

    async def block(self, jid: str, block: bool) -> None: ...

    async def download(self, media: dict[str, Any]) -> bytes: ...

    async def modify_chat(
        self, jid: str, *, archive: bool | None = None, unread: bool | None = None
    ) -> None: ...

    async def group_create(
        self, subject: str, participants: Sequence[str], description: str | None
    ) -> GroupInfo: ...

    async def group(self, jid: str) -> GroupInfo: ...

    async def groups(self) -> list[GroupInfo]: ...

    async def group_participants(
        self, jid: str, action: str, participants: Sequence[str]
    ) -> list[dict[str, Any]]: ...

    async def group_update(
        self,
        jid: str,
        *,
        subject: str | None = None,
        description: str | None = None,
        picture: bytes | None = None,
        setting: str | None = None,
        ephemeral: int | None = None,
    ) -> None: ...

    async def group_invite(self, jid: str, *, revoke: bool = False) -> str: ...

    async def group_member_add_mode(self, jid: str, mode: str) -> None:
        """Who may add participants: `admin_add` (admins only) or `all_member_add`."""
        ...

    async def invite_info(self, code: str) -> GroupInfo: ...

    async def join(self, code: str) -> str: ...

    async def leave(self, jid: str) -> None: ...

    async def labels(self) -> list[Label]: ...

    async def label_chat(self, jid: str, label_id: str, add: bool) -> None: ...


def messaging_of(session: object, engine: str) -> Messaging:
    """The session's messaging calls, or NotSupported for an engine that has none yet."""
    if isinstance(session, Messaging):
        return session
    raise NotSupported(f"the {engine} engine cannot send or query messages yet")
