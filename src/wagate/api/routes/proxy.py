"""/proxy/set and /proxy/find (Evolution's shapes). The instance's sessions dial WhatsApp
through the proxy from their next start (gateway `proxy_of`, the sim and neonize), and its
media fetches go through it. As Evolution, a proxy is tried before it is stored: one that
cannot be reached is a 400 `Invalid proxy` saying why (Evolution fetches icanhazip.com
through it; wagate makes no outbound request but a TCP dial to the proxy)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter

from wagate.api.deps import GatewayDep, InstanceDep
from wagate.api.json import JSONResponse
from wagate.api.schemas.events import ProxyBody
from wagate.domain.errors import BadRequest
from wagate.egress import OPEN, Reach, resolve
from wagate.runtime.dial import dial
from wagate.store.models import Proxy

router = APIRouter(prefix="/proxy", tags=["proxy"])
PROTOCOLS = ("http", "https", "socks4", "socks5")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="milliseconds") + "Z" if value is not None else None


def proxy_view(row: Proxy) -> dict[str, Any]:
    return {
        "id": row.id,
        "enabled": row.enabled,
        "host": row.host,
        "port": row.port,
        "protocol": row.protocol,
        "username": row.username,
        "password": row.password,
        "createdAt": _iso(row.created_at),
        "updatedAt": _iso(row.updated_at),
        "instanceId": row.instance_id,
    }


PROXY_DIAL_SECONDS = 5.0


async def validated(body: ProxyBody, reach: Reach = OPEN) -> dict[str, Any]:
    """The proxy row to store, or a 400 `Invalid proxy` naming what is wrong. The proxy is a
    connection the client aims, so it passes the private-address guard (`reach`) first."""
    values = _checked(body)
    if values["enabled"]:
        host, port = values["host"], int(values["port"])
        if not reach.names(host, port):
            try:
                addresses = await resolve(host, port)
            except OSError as exc:
                raise BadRequest("Invalid proxy", f"{host} does not resolve: {exc}") from exc
            if not reach.permits(host, port, addresses):
                raise BadRequest(
                    "Invalid proxy",
                    f"{host} does not resolve to a public address "
                    "(WAGATE_PRIVATE_ADDRESSES=false)",
                )
        problem = await dial(host, port, PROXY_DIAL_SECONDS)
        if problem is not None:
            raise BadRequest("Invalid proxy", f"the proxy cannot be reached: {problem}")
    return values


def _checked(body: ProxyBody) -> dict[str, Any]:
    """Disabled: every field blanked (as Evolution). Enabled: a usable host, port, protocol."""
    if not body.enabled:
        return dict(enabled=False, host="", port="", protocol="", username="", password="")
    problems = []
    if not body.host.strip() or any(c in body.host for c in " /@"):
        problems.append(f'host "{body.host}" is not a host name or address')
    if not body.port.isdigit() or not 1 <= int(body.port) <= 65535:
        problems.append(f'port "{body.port}" is not a port number (1-65535)')
    if body.protocol not in PROTOCOLS:
        problems.append(f'protocol "{body.protocol}" is not one of {", ".join(PROTOCOLS)}')
    if problems:
        raise BadRequest("Invalid proxy", *problems)
    return dict(
        enabled=True,
        host=body.host.strip(),
        port=body.port,
        protocol=body.protocol,
        username=body.username or "",
        password=body.password or "",
    )


@router.post("/set/{instanceName}", status_code=201)
async def set_proxy(gw: GatewayDep, reg: InstanceDep, body: ProxyBody) -> dict[str, Any]:
    values = await validated(body, gw.settings.reach)
    await gw.store.set_proxy(reg.id, values)
    return {"proxy": {"instanceName": reg.name, "proxy": values}}


@router.get("/find/{instanceName}")
async def find_proxy(gw: GatewayDep, reg: InstanceDep) -> JSONResponse:
    row = await gw.store.get_proxy(reg.id)
    return JSONResponse(proxy_view(row) if row is not None else None)
