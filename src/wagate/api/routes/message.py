"""The message router (Evolution's /message/send*): 201 with the stored messageRaw.

Media come as a URL (fetched with a deadline and a size cap), base64, or a multipart `file`.
Voice notes become Ogg/Opus and stickers WebP on the way (messaging/convert.py).
"""

from __future__ import annotations

import time
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.datastructures import UploadFile

from wagate.api.deps import InstanceDep
from wagate.api.json import JSONResponse
from wagate.api.schemas import message as s
from wagate.domain.errors import BadRequest, NotSupported
from wagate.gateway import Registered
from wagate.gateway.messenger import Messenger
from wagate.messaging import content as c
from wagate.messaging import convert as conv
from wagate.messaging import media as m

router = APIRouter(prefix="/message", tags=["message"])
M = TypeVar("M", bound=BaseModel)


def messenger(request: Request) -> Messenger:
    found: Messenger = request.app.state.messenger
    return found


MessengerDep = Annotated[Messenger, Depends(messenger)]


def _created(raw: dict[str, Any]) -> JSONResponse:
    return JSONResponse(raw, status_code=201)


async def _parse(request: Request, model: type[M], max_bytes: int) -> tuple[M, m.Media | None]:
    """A JSON body, or a multipart form whose `file` part holds the media."""
    ctype = request.headers.get("content-type", "")
    try:
        if ctype.startswith("multipart/form-data"):
            # the form's upload is a spooled temporary file: closed when this block ends
            async with request.form(max_files=1, max_fields=200) as form:
                fields = {k: v for k, v in form.multi_items() if isinstance(v, str)}
                upload = form.get("file")
                body = model.model_validate(fields, strict=False)
                if not isinstance(upload, UploadFile):
                    return body, None
                data = await upload.read(max_bytes + 1)
                if len(data) > max_bytes:
                    raise BadRequest(f"file is larger than the limit of {max_bytes} bytes")
                if not data:
                    raise BadRequest("file is empty")
                mime = (
                    upload.content_type
                    if upload.content_type != "application/octet-stream"
                    else None
                )
                return body, m.Media(data, mime or m.sniff(data), upload.filename)
        return model.model_validate_json(await request.body()), None
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False)) from None


async def _media(
    ms: Messenger, reg: Registered, value: str | None, upload: m.Media | None, field: str
) -> m.Media:
    """The media of a send, fetched or decoded only once the instance is known to be open."""
    ms.live(reg)
    if upload is not None:
        return upload
    if not value:
        raise BadRequest("Owned media must be a url or base64")
    return await ms.load_media(reg, value, field)


def _body_doc(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    schema.pop("$defs", None)
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": schema},
                "multipart/form-data": {"schema": {"type": "object"}},
            },
        }
    }


@router.post("/sendText/{instanceName}", status_code=201)
async def send_text(reg: InstanceDep, ms: MessengerDep, body: s.SendText) -> JSONResponse:
    if not body.text.strip():
        raise BadRequest("Text is required")
    link_preview = body.linkPreview is not False  # Evolution: omitted is a preview
    raw = await ms.send(
        reg, body.number, c.text(body.text), link_preview=link_preview, **body.options()
    )
    return _created(raw)


@router.post("/sendMedia/{instanceName}", status_code=201, openapi_extra=_body_doc(s.SendMedia))
async def send_media(reg: InstanceDep, ms: MessengerDep, request: Request) -> JSONResponse:
    body, upload = await _parse(request, s.SendMedia, ms.gw.settings.media_max_bytes)
    media = await _media(ms, reg, body.media, upload, "media")
    if body.mediatype == "document" and not (body.fileName or media.file_name):
        raise BadRequest("fileName is required for a document")
    content = c.media(
        body.mediatype,
        body.mimetype or media.mimetype,
        body.caption,
        body.fileName or media.file_name,
    )
    raw = await ms.send(reg, body.number, content, media=media.data, **body.options())
    return _created(raw)


@router.post("/sendPtv/{instanceName}", status_code=201, openapi_extra=_body_doc(s.SendPtv))
async def send_ptv(reg: InstanceDep, ms: MessengerDep, request: Request) -> JSONResponse:
    body, upload = await _parse(request, s.SendPtv, ms.gw.settings.media_max_bytes)
    media = await _media(ms, reg, body.video, upload, "video")
    content = c.ptv(media.mimetype)
    return _created(await ms.send(reg, body.number, content, media=media.data, **body.options()))


@router.post(
    "/sendWhatsAppAudio/{instanceName}", status_code=201, openapi_extra=_body_doc(s.SendAudio)
)
async def send_audio(reg: InstanceDep, ms: MessengerDep, request: Request) -> JSONResponse:
    body, upload = await _parse(request, s.SendAudio, ms.gw.settings.media_max_bytes)
    media = await _media(ms, reg, body.audio, upload, "audio")
    content, data = await conv.Converter.of(ms.gw.settings).voice_message(
        media, "audio", convert=body.encoding is not False
    )
    raw = await ms.send(
        reg, body.number, content, media=data, presence="recording", **body.options()
    )
    return _created(raw)


@router.post(
    "/sendSticker/{instanceName}", status_code=201, openapi_extra=_body_doc(s.SendSticker)
)
async def send_sticker(reg: InstanceDep, ms: MessengerDep, request: Request) -> JSONResponse:
    body, upload = await _parse(request, s.SendSticker, ms.gw.settings.media_max_bytes)
    media = await _media(ms, reg, body.sticker, upload, "sticker")
    content, data = await conv.Converter.of(ms.gw.settings).sticker_message(
        media, "sticker", convert=not body.notConvertSticker
    )
    return _created(await ms.send(reg, body.number, content, media=data, **body.options()))


@router.post("/sendLocation/{instanceName}", status_code=201)
async def send_location(reg: InstanceDep, ms: MessengerDep, body: s.SendLocation) -> JSONResponse:
    content = c.location(body.latitude, body.longitude, body.name, body.address)
    return _created(await ms.send(reg, body.number, content, **body.options()))


@router.post("/sendContact/{instanceName}", status_code=201)
async def send_contact(reg: InstanceDep, ms: MessengerDep, body: s.SendContact) -> JSONResponse:
    cards = [card.model_dump() for card in body.contact]
    return _created(await ms.send(reg, body.number, c.contacts(cards), **body.options()))


def _single_emoji(text: str) -> bool:
    joiners = "\u200d\ufe0f\ufe0e"
    return 0 < len(text) <= 16 and all(ord(ch) >= 0x2000 or ch in joiners for ch in text)


@router.post("/sendReaction/{instanceName}", status_code=201)
async def send_reaction(reg: InstanceDep, ms: MessengerDep, body: s.SendReaction) -> JSONResponse:
    if body.reaction and not _single_emoji(body.reaction):
        raise BadRequest('reaction must be a single emoji (or "" to remove the reaction)')
    jid = ms.jid(body.key.remoteJid, "key.remoteJid")
    key = body.key.model_dump(exclude_none=True)
    content = c.reaction(key, body.reaction, int(time.time() * 1000))
    return _created(await ms.send(reg, jid, content, jid=jid))


@router.post("/sendPoll/{instanceName}", status_code=201)
async def send_poll(reg: InstanceDep, ms: MessengerDep, body: s.SendPoll) -> JSONResponse:
    content = c.poll(body.name, body.selectableCount, body.values)
    return _created(await ms.send(reg, body.number, content, **body.options()))


@router.post("/sendList/{instanceName}", status_code=201)
async def send_list(reg: InstanceDep, ms: MessengerDep, body: s.SendList) -> JSONResponse:
    content = c.list_message(body.model_dump())
    return _created(await ms.send(reg, body.number, content, **body.options()))


@router.post("/sendButtons/{instanceName}", status_code=201)
async def send_buttons(reg: InstanceDep, ms: MessengerDep, body: s.SendButtons) -> JSONResponse:
    if body.thumbnailUrl:
        raise BadRequest(
            "thumbnailUrl: a thumbnail on a buttons message is not sent yet by wagate; "
            "leave it out (send the image with /message/sendMedia)"
        )
    content = c.buttons(body.model_dump())
    return _created(await ms.send(reg, body.number, content, **body.options()))


@router.post("/sendCarousel/{instanceName}", status_code=201)
async def send_carousel(reg: InstanceDep, ms: MessengerDep, body: s.SendCarousel) -> JSONResponse:
    for i, card in enumerate(body.cards):
        if any(b.type == "pix" for b in card.buttons):
            raise BadRequest(f"cards[{i}]: PIX buttons are not supported in carousel")
        if card.imageUrl:
            raise NotSupported(
                f"cards[{i}].imageUrl: card images are not sent yet (each card's image needs "
                "its own upload; wagate's engines upload one media per message)"
            )
    content = c.carousel(body.body, [card.model_dump() for card in body.cards])
    return _created(await ms.send(reg, body.number, content, **body.options()))


@router.post("/sendStatus/{instanceName}", status_code=201)
async def send_status(reg: InstanceDep, ms: MessengerDep, body: s.SendStatus) -> JSONResponse:
    if body.allContacts:
        jids = await ms.store.contact_jids(reg.id)
    elif body.statusJidList:
        jids = [ms.jid(n, f"statusJidList[{i}]") for i, n in enumerate(body.statusJidList)]
    else:
        raise BadRequest("statusJidList is required (or allContacts: true)")
    data: bytes | None = None
    if body.type == "text":
        if not body.content.strip():
            raise BadRequest("content is required")
        content = c.status_text(body.content, body.backgroundColor, body.font)
    else:
        media = await _media(ms, reg, body.content, None, "content")
        data = media.data
        if body.type == "audio":  # a voice note, converted as sendWhatsAppAudio's
            converter = conv.Converter.of(ms.gw.settings)
            content, data = await converter.voice_message(media, "content")
        else:
            content = c.media(body.type, media.mimetype, body.caption, None)
    jid = "status@broadcast"
    raw = await ms.send(reg, jid, content, media=data, status_jids=jids, jid=jid)
    return _created(raw)


@router.post("/sendTemplate/{instanceName}", status_code=201)
async def send_template(reg: InstanceDep) -> JSONResponse:
    raise BadRequest("Method not available in the Baileys service (templates are Cloud API only)")
