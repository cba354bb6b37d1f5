"""/settings/set and /settings/find."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from wagate.api.deps import GatewayDep, InstanceDep
from wagate.api.schemas.instance import SettingsBody
from wagate.store.repos import SETTING_FIELDS, setting_view

router = APIRouter(prefix="/settings", tags=["settings"])


@router.post("/set/{instanceName}", status_code=201)
async def set_settings(gw: GatewayDep, reg: InstanceDep, body: SettingsBody) -> dict[str, Any]:
    given = body.model_dump(exclude_unset=True, include=set(SETTING_FIELDS))
    await gw.store.set_settings(reg.id, given)
    return {"settings": {"instanceName": reg.name, "settings": given}}


@router.get("/find/{instanceName}")
async def find_settings(gw: GatewayDep, reg: InstanceDep) -> dict[str, Any]:
    return setting_view(await gw.store.get_settings(reg.id))
