"""Request bodies of the /chat router, mirroring Evolution's chat schemas."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StrictBool, StrictInt, StrictStr, field_validator

from wagate.api.schemas.instance import Body

Jid = Annotated[StrictStr, Field(min_length=1, max_length=128)]
Page = Annotated[StrictInt, Field(ge=1, le=1_000_000)]
PerPage = Annotated[StrictInt, Field(ge=1, le=1000)]
Privacy = Literal["all", "contacts", "contact_blacklist", "none"]


class WhatsAppNumbers(Body):
    numbers: Annotated[
        list[Annotated[StrictStr, Field(max_length=128)]], Field(min_length=1, max_length=500)
    ]

    @field_validator("numbers")
    @classmethod
    def _unique(cls, values: list[str]) -> list[str]:
        if len(set(values)) != len(values):
            raise ValueError("numbers must be unique")
        return values


class ReadKey(Body):
    id: StrictStr
    fromMe: StrictBool
    remoteJid: Jid
    participant: StrictStr | None = None


class MarkRead(Body):
    readMessages: Annotated[list[ReadKey], Field(min_length=1, max_length=1000)]


class PlayedKey(Body):
    id: Annotated[StrictStr, Field(min_length=1)]
    fromMe: StrictBool
    remoteJid: Jid


class MarkPlayed(Body):
    playedMessages: Annotated[list[PlayedKey], Field(min_length=1, max_length=1000)]


class PollKey(Body):
    id: Annotated[StrictStr, Field(min_length=1, max_length=128)]


class PollMessage(Body):
    key: PollKey


class PollVote(Body):
    """getPollVote: the poll's key id and its chat."""

    message: PollMessage
    remoteJid: Jid


class FindChannels(Body):
    page: Page | None = None
    limit: PerPage | None = None
    rows: PerPage | None = None


class LastMessageKey(Body):
    id: StrictStr | None = None
    fromMe: StrictBool | None = None
    remoteJid: Jid


class LastMessage(Body):
    key: LastMessageKey
    messageTimestamp: StrictInt | StrictStr | None = None


class ArchiveChat(Body):
    archive: StrictBool
    lastMessage: LastMessage | None = None
    chat: Jid | None = None


class MarkUnread(Body):
    lastMessage: LastMessage
    chat: Jid | None = None


class DeleteMessage(Body):
    id: StrictStr
    fromMe: StrictBool
    remoteJid: Jid
    participant: StrictStr | None = None


class UpdateMessageKey(Body):
    id: StrictStr
    remoteJid: Jid
    fromMe: StrictBool


class UpdateMessage(Body):
    number: Jid
    key: UpdateMessageKey
    text: StrictStr


class SendPresence(Body):
    number: Jid
    presence: Literal["unavailable", "available", "composing", "recording", "paused"]
    delay: Annotated[StrictInt | float, Field(ge=0, le=300_000)]


class BlockStatus(Body):
    number: Jid
    status: Literal["block", "unblock"]


class NumberBody(Body):
    number: Jid


class OptionalNumber(Body):
    number: Jid | None = None


class MediaKeyRef(Body):
    id: StrictStr


class MediaMessageRef(Body):
    key: MediaKeyRef
    message: dict[str, Any] | None = None


class Base64Media(Body):
    message: MediaMessageRef
    convertToMp4: StrictBool | None = None


class TimestampRange(Body):
    gte: StrictStr | StrictInt | None = None
    lte: StrictStr | StrictInt | None = None


class MessageKeyWhere(Body):
    id: StrictStr | None = None
    fromMe: StrictBool | None = None
    remoteJid: StrictStr | None = None
    participants: StrictStr | None = None
    participant: StrictStr | None = None


class MessageWhere(Body):
    id: StrictStr | None = None
    source: StrictStr | None = None
    messageType: StrictStr | None = None
    key: MessageKeyWhere | None = None
    messageTimestamp: TimestampRange | None = None


class FindMessages(Body):
    where: MessageWhere | None = None
    page: Page | None = None
    offset: PerPage | None = None


class StatusWhere(Body):
    remoteJid: StrictStr | None = None
    id: StrictStr | None = None


class FindStatus(Body):
    where: StatusWhere | None = None
    page: Page | None = None
    offset: PerPage | None = None


class ContactWhere(Body):
    id: StrictStr | None = None
    remoteJid: StrictStr | None = None
    pushName: StrictStr | None = None


class FindContacts(Body):
    where: ContactWhere | None = None
    page: Page | None = None
    offset: PerPage | None = None


class ChatWhere(Body):
    remoteJid: StrictStr | None = None
    messageTimestamp: TimestampRange | None = None


class FindChats(Body):
    where: ChatWhere | None = None
    take: PerPage | None = None
    skip: Annotated[StrictInt, Field(ge=0, le=10_000_000)] | None = None


class ProfileName(Body):
    name: Annotated[StrictStr, Field(min_length=1, max_length=25)]


class ProfileStatus(Body):
    status: Annotated[StrictStr, Field(max_length=139)]


class ProfilePicture(Body):
    picture: StrictStr


class PrivacySettings(Body):
    readreceipts: Literal["all", "none"]
    profile: Privacy
    status: Privacy
    online: Literal["all", "match_last_seen"]
    last: Privacy
    groupadd: Privacy
