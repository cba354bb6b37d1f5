"""The simulator's control API (only mounted with WAGATE_ENGINE=sim; global key only).

These names and bodies are a contract: external checks drive the simulator through them.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import Field, StrictBool

from wagate.api.deps import GatewayDep, GlobalKey
from wagate.api.schemas.instance import Body
from wagate.domain.errors import Conflict, NotFound
from wagate.engines.sim import SimNetwork
from wagate.gateway import Gateway

router = APIRouter(prefix="/sim", tags=["sim"], dependencies=[GlobalKey])
InstancePath = Annotated[str, Path(alias="instance")]


class ScanBody(Body):
    number: Annotated[str, Field(pattern=r"^\+?\d{6,20}$")] | None = None


class DisconnectBody(Body):
    """Close codes are HTTP-like (401, 408, 428, 440, 515 …)."""

    code: Annotated[int, Field(ge=100, le=999)] = 428


class NetworkBody(Body):
    up: StrictBool


class FaultsBody(Body):
    logoutFails: StrictBool | None = None  # noqa: N815
    socketAlreadyClosed: StrictBool | None = None  # noqa: N815
    openWithoutIdentity: StrictBool | None = None  # noqa: N815
    persistFailsOnce: StrictBool | None = None  # noqa: N815


def _net(gw: Gateway) -> SimNetwork:
    assert gw.sim is not None  # the router is mounted only with the sim engine
    return gw.sim


@router.post("/network")
async def network(gw: GatewayDep, body: NetworkBody) -> dict[str, Any]:
    _net(gw).set_up(body.up)
    return {"up": body.up}


@router.post("/{instance}/scan")
async def scan(
    gw: GatewayDep, instance: InstancePath, body: ScanBody | None = None
) -> dict[str, Any]:
    reg = gw.get(instance)
    try:
        jid = _net(gw).scan(instance, body.number if body else None)
    except LookupError as exc:
        raise Conflict(f'The "{instance}" instance has no QR code to scan: {exc}') from None
    await reg.supervisor.wait_quiescent()
    return {"scanned": True, "jid": jid, "state": reg.supervisor.external_state}


@router.post("/{instance}/disconnect")
async def disconnect(
    gw: GatewayDep, instance: InstancePath, body: DisconnectBody | None = None
) -> dict[str, Any]:
    reg = gw.get(instance)
    code = body.code if body else 428
    dropped = _net(gw).disconnect(instance, code)
    await reg.supervisor.wait_quiescent()
    return {"disconnected": dropped, "code": code, "state": reg.supervisor.external_state}


@router.post("/{instance}/faults")
async def faults(gw: GatewayDep, instance: InstancePath, body: FaultsBody) -> dict[str, Any]:
    if instance not in gw.instances:
        raise NotFound(f'The "{instance}" instance does not exist')
    current = _net(gw).faults_of(instance)
    for key, value in body.model_dump(
        exclude_none=True, include=set(FaultsBody.model_fields)
    ).items():
        setattr(current, key, value)
    return {name: getattr(current, name) for name in FaultsBody.model_fields}


@router.get("/{instance}/stats")
async def stats(gw: GatewayDep, instance: InstancePath) -> dict[str, Any]:
    s = _net(gw).stats_of(instance)
    return {"connectAttempts": s.connect_attempts, "liveSessions": s.live_sessions}
