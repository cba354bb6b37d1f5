"""The call router (Evolution's /call/*)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import Field, StrictBool, StrictInt, StrictStr

from wagate.api.deps import InstanceDep
from wagate.api.routes.message import MessengerDep
from wagate.api.schemas.instance import Body
from wagate.domain.errors import NotSupported

router = APIRouter(prefix="/call", tags=["call"])


class OfferCall(Body):
    number: Annotated[StrictStr, Field(min_length=1, max_length=128)]
    callDuration: Annotated[StrictInt, Field(ge=1, le=15)]
    isVideo: StrictBool = False


@router.post("/offer/{instanceName}", status_code=201)
async def offer(reg: InstanceDep, ms: MessengerDep, body: OfferCall) -> Any:
    """Refused on every engine: Evolution answers 201 and places no call (a stub); wagate says
    so rather than answer a call id for a call that never rings."""
    ms.jid(body.number)
    raise NotSupported(
        "wagate places no calls: WhatsApp calls need the VoIP stack of a phone or WhatsApp "
        "Web's, which neither engine has (whatsmeow can only reject calls), and Evolution's "
        "own /call/offer is a stub that places none"
    )
