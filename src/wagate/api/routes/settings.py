"""/settings/set and /settings/find."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from wagate.api.deps import GatewayDep, InstanceDep
from wagate.api.schemas.instance import SettingsBody
from wagate.domain.errors import BadRequest
from wagate.store.repos import SETTING_FIELDS, setting_view

WAVOIP_REFUSED = (
    "wavoipToken: calls through WavoIP are not available in this wagate build; leave it empty"
)


def refuse_wavoip(token: str | None) -> None:
    """A WavoIP token would be stored and never used: refused, naming it."""
    if token:
        raise BadRequest(WAVOIP_REFUSED)


router = APIRouter(prefix="/settings", tags=["settings"])


@router.post("/set/{instanceName}", status_code=201)
async def set_settings(
    request: Request, gw: GatewayDep, reg: InstanceDep, body: SettingsBody
) -> dict[str, Any]:
    given = body.model_dump(exclude_unset=True, include=set(SETTING_FIELDS))
    refuse_wavoip(given.get("wavoipToken"))
    row = await gw.store.set_settings(reg.id, given)
    request.app.state.behaviour.set(reg.id, setting_view(row))
    return {"settings": {"instanceName": reg.name, "settings": given}}


@router.get("/find/{instanceName}")
async def find_settings(gw: GatewayDep, reg: InstanceDep) -> dict[str, Any]:
    return setting_view(await gw.store.get_settings(reg.id))
