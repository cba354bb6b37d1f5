"""The instance router (Evolution's /instance/*)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Request

from wagate.api.deps import (
    GatewayDep,
    GlobalKey,
    InstanceDep,
    instance_guard,
    is_global_key,
)
from wagate.api.explain import lifecycle_view
from wagate.api.json import JSONResponse
from wagate.api.routes.events import (
    TRANSPORTS,
    checked_events,
    checked_pusher,
    checked_transport,
    checked_webhook,
    make_queues,
    save_pusher,
    save_transport,
)
from wagate.api.routes.proxy import validated
from wagate.api.routes.settings import refuse_wavoip
from wagate.api.schemas.events import ProxyBody
from wagate.api.schemas.instance import INTEGRATIONS, CreateInstance, SetPresence
from wagate.core.lifecycle import Reply
from wagate.core.status import Action
from wagate.domain.errors import BadRequest, NotFound, Unauthorized
from wagate.domain.names import name_problem
from wagate.gateway import Gateway, Registered
from wagate.store.repos import (
    Counts,
    FetchedRow,
    InstanceRecord,
    SettingRecord,
    hash_token,
    setting_view,
)
from wagate.store.tokens import TokenBox

router = APIRouter(prefix="/instance", tags=["instance"])


def _state_body(reg: Registered) -> dict[str, Any]:
    return {"instance": {"instanceName": reg.name, "state": reg.supervisor.external_state}}


def _code_body(reg: Registered) -> dict[str, Any]:
    code = reg.supervisor.code
    return {
        "pairingCode": code.pairing_code,
        "code": code.code,
        "base64": code.base64,
        "count": code.count,
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="milliseconds") + "Z" if value is not None else None


@router.post("/create", status_code=201, dependencies=[GlobalKey])
async def create(
    request: Request, gw: GatewayDep, body: Annotated[CreateInstance | None, Body()] = None
) -> JSONResponse:
    body = body or CreateInstance()
    name = body.instanceName
    if name is None:
        raise BadRequest('The "instanceName" is required')
    if name == "" or not name.strip():
        raise BadRequest(['The "instanceName" cannot be empty'])
    if (problem := name_problem(name)) is not None:
        raise BadRequest(problem)
    if body.integration not in INTEGRATIONS:
        raise BadRequest("Invalid integration")
    if body.integration == "WHATSAPP-BUSINESS" and not body.token:
        raise BadRequest("token is required")
    if body.integration != "WHATSAPP-BAILEYS":
        raise BadRequest(
            f"integration {body.integration} is not available in this wagate build; "
            "use WHATSAPP-BAILEYS"
        )
    proxy = None
    if body.wants_proxy:  # tried before anything is created, as /proxy/set
        proxy = await validated(
            ProxyBody(
                enabled=True,
                host=body.proxyHost or "",
                port=body.proxyPort or "",
                protocol=body.proxyProtocol or "",
                username=body.proxyUsername,
                password=body.proxyPassword,
            ),
            gw.settings.reach,
        )
    elif body.proxyHost or body.proxyPort or body.proxyProtocol:
        raise BadRequest(
            "Invalid proxy", "proxyHost, proxyPort and proxyProtocol are needed together"
        )
    if unbuilt := body.unbuilt_integrations():
        raise BadRequest(
            *(
                f"{field}: {integration} is not supported yet by wagate; leave the field out "
                "(nothing would act on it)"
                for field, integration in unbuilt
            )
        )
    webhook_row = None
    webhook_echo: dict[str, Any] = {}
    if body.webhook is not None:
        wh = body.webhook
        enabled = True if wh.enabled is None else wh.enabled
        checked_webhook(enabled, wh.url, wh.headers)
        webhook_row = {  # as /webhook/set stores it
            "url": wh.url,
            "enabled": enabled,
            "events": checked_events("webhook", enabled, wh.events),
            "headers": wh.headers or {},
            "by_events": bool(wh.byEvents),
            "base64": bool(wh.base64),
        }
        webhook_echo["webhookUrl"] = wh.url
        if wh.headers is not None:
            webhook_echo["webhookHeaders"] = wh.headers
        if wh.byEvents is not None:
            webhook_echo["webhookByEvents"] = wh.byEvents
        if wh.base64 is not None:
            webhook_echo["webhookBase64"] = wh.base64
    refuse_wavoip(body.wavoipToken)
    events = request.app.state.events
    transports: dict[str, tuple[bool, list[str]]] = {}
    for transport in TRANSPORTS:
        block = getattr(body, transport)
        if block is not None:
            on = True if block.enabled is None else block.enabled
            checked = checked_transport(events, transport, on, block.events, name)
            transports[transport] = (on, checked)
    pusher = None
    if body.pusher is not None:  # tried before anything is created, as /pusher/set
        pusher = (body.pusher.enabled, *checked_pusher(events, body.pusher, name))
    settings = {
        k: getattr(body, k)
        for k in (
            "rejectCall",
            "msgCall",
            "groupsIgnore",
            "alwaysOnline",
            "readMessages",
            "readStatus",
            "syncFullHistory",
            "wavoipToken",
        )
    }
    reg, token = await gw.create(
        name=name,
        integration=body.integration,
        token=body.token,
        number=body.number,
        business_id=body.businessId,
        settings=settings,
        webhook=webhook_row,
    )
    if proxy is not None:
        await gw.store.set_proxy(reg.id, proxy)
    for transport, (on, names) in transports.items():  # as /<transport>/set saves them
        await save_transport(events, reg.id, transport, on, names)
        if transport == "sqs":
            make_queues(events, name, on, names)
    if pusher is not None:
        await save_pusher(events, reg.id, *pusher)
    stored = setting_view(await gw.store.get_settings(reg.id))
    request.app.state.behaviour.set(reg.id, stored)
    result: dict[str, Any] = {
        "instance": {
            "instanceName": name,
            "instanceId": reg.id,
            "integration": body.integration,
            "webhookWaBusiness": None,
            "accessTokenWaBusiness": "",
            "status": reg.supervisor.external_state,
        },
        "hash": token,
        "webhook": webhook_echo,
        **{t: {"enabled": transports[t][0]} if t in transports else {} for t in TRANSPORTS},
        "settings": stored,
    }
    if body.qrcode:
        await gw.connect(name, body.number, reg)
        result["qrcode"] = _code_body(reg)
        result["instance"]["status"] = reg.supervisor.external_state
    return JSONResponse(result, status_code=201)


@router.get("/connect/{instanceName}")
async def connect(
    gw: GatewayDep,
    reg: InstanceDep,
    number: Annotated[str | None, Query(pattern=r"^\+?\d{6,20}$")] = None,
) -> Any:
    await gw.connect(reg.name, number, reg)
    if number is not None:
        await _pairing_settled(gw, reg)
    if reg.supervisor.external_state == "open":
        return _state_body(reg)
    body = _code_body(reg)
    if not (body["code"] or body["pairingCode"]):  # no code to show: say why
        view = lifecycle_view(reg.supervisor, history=False)
        if (
            view["action"] == Action.CHECK_NETWORK
        ):  # WhatsApp cannot be reached: not a 200 of nulls
            failed = {"status": 503, "error": "Service Unavailable"}
            body = {**failed, "response": {"message": [view["message"]]}, "lifecycle": view}
            return JSONResponse(body, status_code=503)
        body["lifecycle"] = view
    return body


async def _pairing_settled(gw: Gateway, reg: Registered) -> None:
    """With ?number= the answer carries both codes, as Evolution's (the pairing code can come
    a moment before the first QR code): wait for the QR, within the connect wait."""
    sup = reg.supervisor
    loop = asyncio.get_running_loop()
    deadline = loop.time() + gw.settings.connect_wait
    while sup.external_state == "connecting" and sup.code.pairing_code and not sup.code.code:
        left = deadline - loop.time()
        if left <= 0:
            return
        await sup.wait_changed(min(left, 0.25))


@router.get("/connectionState/{instanceName}", response_model=dict[str, Any])
async def connection_state(
    request: Request, instance_name: Annotated[str, Path(alias="instanceName")]
) -> JSONResponse:
    # A hot path: the guard without sub-dependencies, the body rendered once by orjson. Its
    # success case is answered ahead of the router (api/hotpath.py), with this same body.
    reg = instance_guard(request.app.state.gateway, instance_name, request.headers.get("apikey"))
    return JSONResponse(connection_state_body(reg))


def connection_state_body(reg: Registered) -> dict[str, Any]:
    body = _state_body(reg)
    body["lifecycle"] = lifecycle_view(reg.supervisor)
    return body


@router.post("/restart/{instanceName}")
async def restart(gw: GatewayDep, reg: InstanceDep) -> dict[str, Any]:
    await gw.restart(reg.name, reg)
    return _state_body(reg)


@router.post("/setPresence/{instanceName}", status_code=201)
async def set_presence(gw: GatewayDep, reg: InstanceDep, body: SetPresence) -> dict[str, Any]:
    await gw.set_presence(reg.name, body.presence)
    return {"presence": body.presence}


@router.delete("/logout/{instanceName}")
async def logout(gw: GatewayDep, reg: InstanceDep) -> dict[str, Any]:
    outcome = await gw.logout(reg.name, reg)
    message = (
        "Instance logged out"
        if outcome is Reply.LOGGED_OUT
        else "Instance was already disconnected"
    )
    return {"status": "SUCCESS", "error": False, "response": {"message": message}}


@router.delete("/delete/{instanceName}")
async def delete(gw: GatewayDep, reg: InstanceDep) -> dict[str, Any]:
    await gw.delete(reg.name, reg)
    return {"status": "SUCCESS", "error": False, "response": {"message": "Instance deleted"}}


@router.get("/fetchInstances")
async def fetch_instances(
    request: Request,
    instance_name: Annotated[str | None, Query(alias="instanceName")] = None,
    instance_id: Annotated[str | None, Query(alias="instanceId")] = None,
    number: str | None = None,
) -> JSONResponse:
    # A hot path: the gateway and the key read from the request, without sub-dependencies.
    gw: Gateway = request.app.state.gateway
    apikey = request.headers.get("apikey")
    if apikey is None:
        raise Unauthorized()
    regs: list[Registered]
    if is_global_key(gw, apikey):
        regs = list(gw.instances.values())
    else:
        digest = hash_token(apikey)
        regs = [r for r in gw.instances.values() if r.token_hash == digest]
        if not regs:
            raise Unauthorized()
    if instance_name:
        picked = [r for r in regs if r.name == instance_name]
        if not picked:
            if instance_name in gw.instances:
                raise Unauthorized()
            raise NotFound(f'Instance "{instance_name}" not found')
        regs = picked
    if instance_id:
        picked = [r for r in regs if r.id == instance_id]
        if not picked:
            if instance_id in gw.by_id:
                raise Unauthorized()
            raise NotFound(f'Instance "{instance_id}" not found')
        regs = picked
    if number:
        regs = [r for r in regs if r.number == number]
    if not regs:
        return JSONResponse([])
    wanted = None if len(regs) == len(gw.instances) else [r.id for r in regs]
    rows = await gw.store.fetch_instances(gw.settings.client_name, wanted)
    return JSONResponse([_instance_row(gw, fetched) for fetched in rows])


def _instance_row(gw: Gateway, fetched: FetchedRow) -> dict[str, Any]:
    row = _stored_row(fetched, gw.tokens if gw.settings.expose_in_fetch else None)
    reg = gw.by_id.get(fetched[0].id)
    if reg is None:
        return dict(row)
    return {**row, "lifecycle": lifecycle_view(reg.supervisor, history=False)}


_STORED_ROWS: dict[tuple[FetchedRow, TokenBox | None], dict[str, Any]] = {}


def _stored_row(fetched: FetchedRow, tokens: TokenBox | None) -> dict[str, Any]:
    """The part of a row read from the database, built once per distinct stored row (a hot
    path; the nested objects are shared between answers and never changed). `tokens`: the
    box to open the tokens with when they are shown (AUTHENTICATION_EXPOSE_IN_FETCH_INSTANCES)."""
    key = (fetched, tokens)
    row = _STORED_ROWS.get(key)
    if row is None:
        if len(_STORED_ROWS) >= 1024:
            _STORED_ROWS.clear()
        row = _STORED_ROWS[key] = _build_stored_row(*fetched, tokens)
    return row


def _build_stored_row(
    inst: InstanceRecord, setting: SettingRecord | None, counts: Counts, tokens: TokenBox | None
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": inst.id,
        "name": inst.name,
        "connectionStatus": inst.connection_status,
        "ownerJid": inst.owner_jid,
        "profileName": inst.profile_name,
        "profilePicUrl": inst.profile_pic_url,
        "integration": inst.integration,
        "number": inst.number,
        "businessId": inst.business_id,
        "clientName": inst.client_name,
        "disconnectionReasonCode": inst.disconnection_reason_code,
        "disconnectionObject": inst.disconnection_object,
        "disconnectionAt": _iso(inst.disconnection_at),
        "createdAt": _iso(inst.created_at),
        "updatedAt": _iso(inst.updated_at),
        "Chatwoot": None,
        "Proxy": None,
        "Rabbitmq": None,
        "Nats": None,
        "Sqs": None,
        "Websocket": None,
        "Setting": None,
        "_count": {
            "Message": counts.messages,
            "Contact": counts.contacts,
            "Chat": counts.chats,
        },
    }
    if tokens is not None:
        # null only for a token that cannot be recovered (created before tokens were kept
        # sealed, or sealed under another key); without exposure the field is left out
        row["token"] = tokens.open(inst.token_sealed)
    if setting is not None:
        row["Setting"] = {
            "id": setting.id,
            **setting_view(setting),
            "createdAt": _iso(setting.created_at),
            "updatedAt": _iso(setting.updated_at),
            "instanceId": inst.id,
        }
    return row
