"""Event-config routers: /webhook, /websocket, /rabbitmq, /nats, /sqs set|find, and wagate's
delivery inspection and replay (/events/deliveries, /events/redeliver)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from wagate.api.deps import InstanceDep
from wagate.api.json import JSONResponse
from wagate.api.schemas.events import (
    NatsBody,
    PusherBody,
    PusherFields,
    RabbitmqBody,
    RedeliverBody,
    SqsBody,
    TransportFields,
    WebhookBody,
    WebsocketBody,
)
from wagate.api.times import lower_bound
from wagate.domain.endpoints import header_problem, url_problem
from wagate.domain.errors import BadRequest
from wagate.events.catalogue import NOT_SENT, SENT, SUBSCRIBABLE
from wagate.events.runtime import Events
from wagate.events.sinks.sqs import bad_queue_name
from wagate.gateway import Registered
from wagate.runtime.tasks import spawn
from wagate.store.configs import TransportConfig
from wagate.store.models import Webhook
from wagate.store.outbox import DEAD, DELIVERED, PENDING, OutboxRow

router = APIRouter(tags=["events"])
_ENUM = ",".join(SUBSCRIBABLE)


def _events(request: Request) -> Events:
    events: Events = request.app.state.events
    return events


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="milliseconds") + "Z" if value is not None else None


def checked_events(field: str, enabled: bool, events: list[str] | None) -> list[str]:
    """Evolution's rule: disabled stores [], enabled with [] stores every name; an unknown
    name is a 400 that names it."""
    if events is None:
        if enabled:
            raise BadRequest([f"{field}.events is required when {field}.enabled is true"])
        events = []
    bad = [
        f'{field}.events[{i}] "{name}" is not one of enum values: {_ENUM}'
        for i, name in enumerate(events)
        if name not in SUBSCRIBABLE
    ]
    bad += [
        f'{field}.events[{i}] "{name}" is never sent by this wagate build: {NOT_SENT[name]}'
        for i, name in enumerate(events)
        if name in NOT_SENT
    ]
    if bad:
        raise BadRequest(bad)
    if not enabled:
        return []
    return list(dict.fromkeys(events)) or list(SENT)


def checked_webhook(enabled: bool, url: str, headers: dict[str, Any] | None) -> None:
    """A 400 naming `webhook.url` or `webhook.headers` when the server could not send to
    them. A disabled webhook may keep an empty URL (it is never sent to)."""
    problems = []
    if (enabled or url) and (why := url_problem(url, "webhook.url")) is not None:
        problems.append(why)
    if headers and (why := header_problem(headers, "webhook.headers")) is not None:
        problems.append(why)
    if problems:
        raise BadRequest(problems)


def webhook_view(row: Webhook) -> dict[str, Any]:
    return {
        "id": row.id,
        "url": row.url,
        "headers": row.headers or None,
        "enabled": row.enabled,
        "events": list(row.events or []),
        "webhookByEvents": row.by_events,
        "webhookBase64": row.base64,
        "createdAt": _iso(row.created_at),
        "updatedAt": _iso(row.updated_at),
        "instanceId": row.instance_id,
    }


def transport_view(row: TransportConfig) -> dict[str, Any]:
    return {
        "id": row.id,
        "enabled": row.enabled,
        "events": list(row.events or []),
        "createdAt": _iso(row.created_at),
        "updatedAt": _iso(row.updated_at),
        "instanceId": row.instance_id,
    }


# --- webhook ---------------------------------------------------------------------------------


@router.post("/webhook/set/{instanceName}", status_code=201)
async def set_webhook(request: Request, reg: InstanceDep, body: WebhookBody) -> JSONResponse:
    wh = body.webhook
    events = checked_events("webhook", wh.enabled, wh.events)
    checked_webhook(wh.enabled, wh.url, wh.headers)
    values: dict[str, Any] = {
        "url": wh.url,
        "enabled": wh.enabled,
        "events": events,
        "headers": wh.headers or {},
        "by_events": bool(wh.byEvents),
        "base64": bool(wh.base64),
    }
    if wh.secret is not None:
        values["secret"] = wh.secret or None
    ev = _events(request)
    row = await ev.configs.set_webhook(reg.id, values)
    ev.routes.set_webhook(reg.id, row)
    return JSONResponse(webhook_view(row), status_code=201)


@router.get("/webhook/find/{instanceName}")
async def find_webhook(request: Request, reg: InstanceDep) -> JSONResponse:
    rows = await _events(request).configs.webhooks(reg.id)
    return JSONResponse(webhook_view(rows[0]) if rows else None)


# --- websocket / rabbitmq / nats --------------------------------------------------------------


TRANSPORTS = ("websocket", "rabbitmq", "nats", "sqs")
"""The event transports an instance can switch on, each behind its env switch."""


def transport_off(events: Events, name: str) -> str | None:
    """Why `name` cannot be configured on this server, or None when it can. Evolution stores
    nothing and answers an empty 201 while the transport is off in the env; wagate says so."""
    s = events.settings
    on = {
        "websocket": s.websocket_enabled,
        "rabbitmq": s.rabbitmq_enabled,
        "nats": s.nats_enabled,
        "sqs": s.sqs_enabled,
        "pusher": s.pusher_enabled,
    }
    if not on[name]:
        return (
            f"{name} is off on this server ({name.upper()}_ENABLED is not true): "
            "its config would be stored and never used"
        )
    if name == "sqs" and s.sqs_global_enabled:
        return (
            "SQS_GLOBAL_ENABLED is true: every instance's events go to the global queues, so "
            "an instance's own sqs config would be stored and never used"
        )
    return None


def checked_transport(
    events: Events, name: str, enabled: bool, names: list[str] | None, instance: str
) -> list[str]:
    """The events a transport config stores, or a 400 naming what is wrong with it."""
    stored = checked_events(name, enabled, names)
    if (why := transport_off(events, name)) is not None:
        raise BadRequest(why)
    if name == "sqs" and (why := bad_queue_name(instance, stored)) is not None:
        raise BadRequest(why)
    return stored


async def save_transport(
    events: Events, instance_id: str, name: str, enabled: bool, names: list[str]
) -> TransportConfig:
    row = await events.configs.set_transport(instance_id, name, enabled, names)
    events.routes.set_transport(row)
    return row


def make_queues(events: Events, instance: str, enabled: bool, names: list[str]) -> None:
    """Create an enabled sqs config's queues in the background, as Evolution's /sqs/set does
    (a consumer can subscribe before the first event)."""
    if enabled and events.sqs is not None:
        spawn(events.sqs.ensure_queues(instance, names), name=f"sqs:queues:{instance}")


async def _set_transport(
    request: Request, reg: Registered, name: str, fields: TransportFields
) -> Response:
    ev = _events(request)
    events = checked_transport(ev, name, fields.enabled, fields.events, reg.name)
    row = await save_transport(ev, reg.id, name, fields.enabled, events)
    if name == "sqs":
        make_queues(ev, reg.name, fields.enabled, events)
    return JSONResponse(transport_view(row), status_code=201)


async def _find_transport(request: Request, reg: Registered, name: str) -> Response:
    rows = await _events(request).configs.transports(reg.id, name)
    return JSONResponse(transport_view(rows[0]) if rows else None)


@router.post("/websocket/set/{instanceName}", status_code=201)
async def set_websocket(request: Request, reg: InstanceDep, body: WebsocketBody) -> Response:
    return await _set_transport(request, reg, "websocket", body.websocket)


@router.get("/websocket/find/{instanceName}")
async def find_websocket(request: Request, reg: InstanceDep) -> Response:
    return await _find_transport(request, reg, "websocket")


@router.post("/rabbitmq/set/{instanceName}", status_code=201)
async def set_rabbitmq(request: Request, reg: InstanceDep, body: RabbitmqBody) -> Response:
    return await _set_transport(request, reg, "rabbitmq", body.rabbitmq)


@router.get("/rabbitmq/find/{instanceName}")
async def find_rabbitmq(request: Request, reg: InstanceDep) -> Response:
    return await _find_transport(request, reg, "rabbitmq")


@router.post("/nats/set/{instanceName}", status_code=201)
async def set_nats(request: Request, reg: InstanceDep, body: NatsBody) -> Response:
    return await _set_transport(request, reg, "nats", body.nats)


@router.get("/nats/find/{instanceName}")
async def find_nats(request: Request, reg: InstanceDep) -> Response:
    return await _find_transport(request, reg, "nats")


@router.post("/sqs/set/{instanceName}", status_code=201)
async def set_sqs(request: Request, reg: InstanceDep, body: SqsBody) -> Response:
    return await _set_transport(request, reg, "sqs", body.sqs)


@router.get("/sqs/find/{instanceName}")
async def find_sqs(request: Request, reg: InstanceDep) -> Response:
    return await _find_transport(request, reg, "sqs")


PUSHER_FIELDS = ("appId", "key", "secret", "cluster")


def pusher_view(row: TransportConfig) -> dict[str, Any]:
    """Evolution's Pusher row: the app's settings beside the switch and events."""
    app = row.options or {}
    view = transport_view(row)
    return {
        "id": view.pop("id"),
        "enabled": view.pop("enabled"),
        "appId": app.get("appId", ""),
        "key": app.get("key", ""),
        "secret": app.get("secret", ""),
        "cluster": app.get("cluster", ""),
        "useTLS": bool(app.get("useTLS", False)),
        **view,
    }


@router.post("/pusher/set/{instanceName}", status_code=201)
async def set_pusher(request: Request, reg: InstanceDep, body: PusherBody) -> Response:
    ev = _events(request)
    events, options = checked_pusher(ev, body.pusher, reg.name)
    row = await save_pusher(ev, reg.id, body.pusher.enabled, events, options)
    return JSONResponse(pusher_view(row), status_code=201)


def checked_pusher(ev: Events, p: PusherFields, name: str) -> tuple[list[str], dict[str, Any]]:
    """The events and app options of a Pusher block (/pusher/set's, or create's), or a 400."""
    events = checked_transport(ev, "pusher", p.enabled, p.events, name)
    app = {k: (getattr(p, k) or "").strip() for k in PUSHER_FIELDS}
    if p.enabled:
        missing = [f"pusher.{k} is required when pusher.enabled is true" for k in PUSHER_FIELDS
                   if not app[k]]  # fmt: skip
        if missing:
            raise BadRequest(missing)
    return events, {**app, "useTLS": bool(p.useTLS)}


async def save_pusher(
    ev: Events, instance_id: str, enabled: bool, events: list[str], options: dict[str, Any]
) -> TransportConfig:
    row = await ev.configs.set_transport(instance_id, "pusher", enabled, events, options)
    ev.routes.set_transport(row)
    return row


@router.get("/pusher/find/{instanceName}")
async def find_pusher(request: Request, reg: InstanceDep) -> Response:
    rows = await _events(request).configs.transports(reg.id, "pusher")
    return JSONResponse(pusher_view(rows[0]) if rows else None)


# --- inspection and replay (wagate's additions) ----------------------------------------------


def delivery_view(row: OutboxRow) -> dict[str, Any]:
    return {
        "id": row.event_id,
        "seq": row.seq,
        "event": row.event,
        "sink": row.sink,
        "scope": row.scope,
        "target": row.target,
        "status": row.status,
        "attempts": row.attempts,
        "lastCode": row.last_code,
        "lastError": row.last_error,
        "createdAt": _iso(row.created_at),
        "nextAttemptAt": _iso(row.next_at) if row.status == PENDING else None,
        "doneAt": _iso(row.done_at),
    }


@router.get("/events/deliveries/{instanceName}")
async def deliveries(
    request: Request,
    reg: InstanceDep,
    status: Annotated[str | None, Query(pattern=f"^({PENDING}|{DELIVERED}|{DEAD})$")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    """The instance's most recent deliveries, newest first, with status and attempts."""
    rows = await _events(request).outbox.recent(reg.id, limit, status)
    return [delivery_view(r) for r in rows]


@router.post("/events/redeliver/{instanceName}")
async def redeliver(request: Request, reg: InstanceDep, body: RedeliverBody) -> dict[str, Any]:
    """Deliver the instance's events again, from a time or an event id on (still kept ones)."""
    if body.since is None and body.fromId is None:
        raise BadRequest(['give "since" (an ISO 8601 time) or "fromId" (an event id)'])
    since = lower_bound(body.since, "since") if body.since is not None else None
    if body.fromId is not None and len(body.fromId) != 26:
        raise BadRequest([f'fromId "{body.fromId}" is not an event id'])
    ev = _events(request)
    count = await ev.outbox.redeliver(reg.id, since, body.fromId)
    ev.dispatcher.wake()
    return {"instanceName": reg.name, "redelivered": count}
