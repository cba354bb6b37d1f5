"""Request bodies of the /message router, mirroring Evolution's message schemas."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StrictBool, StrictInt, StrictStr, field_validator

from wagate.api.schemas.instance import Body

MAX_DELAY_MS = 300_000
Delay = Annotated[StrictInt, Field(ge=0, le=MAX_DELAY_MS)]


class QuotedKey(Body):
    id: StrictStr
    remoteJid: StrictStr | None = None
    fromMe: StrictBool | None = None
    participant: StrictStr | None = None


class Quoted(Body):
    key: QuotedKey
    message: dict[str, Any] | None = None


class Common(Body):
    number: Annotated[StrictStr, Field(max_length=128)]
    delay: Delay | None = None
    quoted: Quoted | None = None
    linkPreview: StrictBool | None = None
    mentionsEveryOne: StrictBool | None = None
    mentioned: (
        Annotated[list[Annotated[StrictStr, Field(max_length=64)]], Field(max_length=1024)] | None
    ) = None

    def options(self) -> dict[str, Any]:
        return {
            "delay": self.delay,
            "quoted": self.quoted.model_dump(exclude_none=True) if self.quoted else None,
            "mentioned": self.mentioned,
            "everyone": bool(self.mentionsEveryOne),
        }


class SendText(Common):
    text: StrictStr


class SendMedia(Common):
    mediatype: Literal["image", "document", "video", "audio"]
    mimetype: StrictStr | None = None
    caption: StrictStr | None = None
    fileName: StrictStr | None = None
    media: StrictStr | None = None


class SendPtv(Common):
    video: StrictStr | None = None


class SendAudio(Common):
    audio: StrictStr | None = None
    encoding: StrictBool | None = None


class SendSticker(Common):
    sticker: StrictStr | None = None
    notConvertSticker: StrictBool | None = None


class SendLocation(Common):
    latitude: Annotated[float, Field(ge=-90, le=90)]
    longitude: Annotated[float, Field(ge=-180, le=180)]
    name: StrictStr
    address: StrictStr


class ContactCard(Body):
    fullName: StrictStr
    phoneNumber: Annotated[StrictStr, Field(min_length=10, max_length=32)]
    wuid: Annotated[StrictStr, Field(pattern=r"^\d{10,}$")] | None = None
    organization: StrictStr | None = None
    email: StrictStr | None = None
    url: StrictStr | None = None


class SendContact(Common):
    contact: Annotated[list[ContactCard], Field(min_length=1, max_length=256)]


class ReactionKey(Body):
    id: StrictStr
    remoteJid: StrictStr
    fromMe: StrictBool
    participant: StrictStr | None = None


class SendReaction(Body):
    key: ReactionKey
    reaction: StrictStr


class SendPoll(Common):
    name: StrictStr
    selectableCount: Annotated[StrictInt, Field(ge=0, le=10)]
    values: Annotated[list[StrictStr], Field(min_length=2, max_length=10)]

    @field_validator("values")
    @classmethod
    def _unique(cls, values: list[str]) -> list[str]:
        if len(set(values)) != len(values):
            raise ValueError("values must be unique")
        return values


class ListRow(Body):
    title: StrictStr
    rowId: StrictStr
    description: StrictStr | None = None


class ListSection(Body):
    title: StrictStr
    rows: Annotated[list[ListRow], Field(min_length=1)]


class SendList(Common):
    title: StrictStr
    description: StrictStr | None = None
    footerText: StrictStr
    buttonText: StrictStr
    sections: Annotated[list[ListSection], Field(min_length=1)]


class Button(Body):
    type: Literal["reply", "copy", "url", "call", "pix"]
    displayText: StrictStr | None = None
    id: StrictStr | None = None
    url: StrictStr | None = None
    phoneNumber: StrictStr | None = None
    copyCode: StrictStr | None = None
    currency: StrictStr | None = None
    name: StrictStr | None = None
    keyType: Literal["phone", "email", "cpf", "cnpj", "random"] | None = None
    key: StrictStr | None = None


class SendButtons(Common):
    title: StrictStr | None = None
    description: StrictStr | None = None
    footer: StrictStr | None = None
    thumbnailUrl: StrictStr | None = None
    buttons: Annotated[list[Button], Field(min_length=1, max_length=10)]


class CarouselCard(Body):
    title: StrictStr | None = None
    body: Annotated[StrictStr, Field(min_length=1)]
    footer: StrictStr | None = None
    imageUrl: StrictStr | None = None
    buttons: Annotated[list[Button], Field(min_length=1, max_length=3)]


class SendCarousel(Common):
    body: StrictStr = ""
    cards: Annotated[list[CarouselCard], Field(min_length=1, max_length=10)]


class SendStatus(Body):
    type: Literal["text", "image", "video", "audio"]
    content: StrictStr
    caption: StrictStr | None = None
    backgroundColor: StrictStr | None = None
    font: Annotated[StrictInt, Field(ge=0, le=5)] | None = None
    statusJidList: list[StrictStr] | None = None
    allContacts: StrictBool | None = None
