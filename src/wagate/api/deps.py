"""Request dependencies: the gateway, and the guards (existence, then API key)."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Header, Path, Request

from wagate.domain.errors import Unauthorized
from wagate.gateway import Gateway, Registered


async def gateway(request: Request) -> Gateway:
    gw: Gateway = request.app.state.gateway
    return gw


GatewayDep = Annotated[Gateway, Depends(gateway)]
ApiKeyHeader = Annotated[str | None, Header(alias="apikey", include_in_schema=False)]


def is_global_key(gw: Gateway, key: str | None) -> bool:
    return key is not None and hmac.compare_digest(key.encode(), gw.api_key.encode())


async def require_global_key(gw: GatewayDep, apikey: ApiKeyHeader = None) -> None:
    """Admin routes: the global key only; an instance token never passes."""
    if not is_global_key(gw, apikey):
        raise Unauthorized()


async def authorized_instance(
    gw: GatewayDep,
    instance_name: Annotated[str, Path(alias="instanceName")],
    apikey: ApiKeyHeader = None,
) -> Registered:
    """Evolution's guard order: the instance must exist (404), then the key must be the global
    key or this instance's token (401). The path names the instance; the query never does."""
    return instance_guard(gw, instance_name, apikey)


def instance_guard(gw: Gateway, instance_name: str, apikey: str | None) -> Registered:
    """The instance named in the path if `apikey` may act on it (404, then 401)."""
    reg = gw.get(instance_name)
    if apikey is None:
        raise Unauthorized()
    if is_global_key(gw, apikey) or reg.token_matches(apikey):
        return reg
    raise Unauthorized()


GlobalKey = Depends(require_global_key)
InstanceDep = Annotated[Registered, Depends(authorized_instance)]
