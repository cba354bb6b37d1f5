"""Request bodies of the event-config routers (webhook, websocket, rabbitmq, nats, sqs) and
proxy."""

from __future__ import annotations

from typing import Any

from pydantic import StrictBool, StrictStr

from wagate.api.schemas.instance import Body, PusherFields, Text

__all__ = ["PusherFields"]


class WebhookFields(Body):
    enabled: StrictBool
    url: StrictStr
    headers: dict[str, Any] | None = None
    byEvents: StrictBool | None = None
    base64: StrictBool | None = None
    events: list[StrictStr] | None = None
    secret: StrictStr | None = None
    """wagate: sign each delivery with HMAC-SHA256 (X-Signature-256); "" removes it."""


class WebhookBody(Body):
    webhook: WebhookFields


class TransportFields(Body):
    enabled: StrictBool
    events: list[StrictStr] | None = None


class WebsocketBody(Body):
    websocket: TransportFields


class RabbitmqBody(Body):
    rabbitmq: TransportFields


class NatsBody(Body):
    nats: TransportFields


class SqsBody(Body):
    sqs: TransportFields


class PusherBody(Body):
    pusher: PusherFields


class ProxyBody(Body):
    enabled: StrictBool
    host: Text
    port: Text
    protocol: Text
    username: Text | None = None
    password: Text | None = None


class RedeliverBody(Body):
    since: StrictStr | None = None
    """ISO 8601 time: every event of the instance created at or after it."""
    fromId: StrictStr | None = None
    """An event id: that event and every later one."""
