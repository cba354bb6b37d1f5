"""Which destinations an event goes to: the per-instance configs and the global env switches.

Configs are read once (at boot, or on an instance's first event) and kept in memory; the set
routes update them, so routing an event costs no query.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from wagate.events.catalogue import event_kebab, event_key
from wagate.store.configs import SinkConfigs, TransportConfig
from wagate.store.models import Webhook
from wagate.store.outbox import Delivery

Envelope = dict[str, Any]
BROKERS = ("rabbitmq", "nats")
SINK_OF = {"rabbitmq": "amqp", "nats": "nats"}


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    url: str
    enabled: bool
    events: frozenset[str]
    by_events: bool
    headers: dict[str, Any]
    secret: str | None
    base64: bool = False

    @classmethod
    def of(cls, row: Webhook) -> WebhookTarget:
        return cls(
            row.url,
            row.enabled,
            frozenset(row.events or ()),
            row.by_events,
            dict(row.headers or {}),
            row.secret,
            bool(row.base64),
        )


@dataclass(frozen=True, slots=True)
class GlobalRoutes:
    """The env side: WEBHOOK_GLOBAL_*, RABBITMQ_*, NATS_*, SQS_*, WEBSOCKET_*."""

    webhook_url: str | None = None
    webhook_by_events: bool = False
    webhook_events: frozenset[str] = frozenset()
    webhook_secret: str | None = None
    webhook_base64: bool = False
    """WAGATE_WEBHOOK_GLOBAL_BASE64: every instance's media events carry `message.base64`."""
    rabbitmq: bool = False
    rabbitmq_global: bool = False
    rabbitmq_exchange: str = "evolution_exchange"
    rabbitmq_events: frozenset[str] = frozenset()
    nats: bool = False
    nats_global: bool = False
    nats_prefix: str | None = None
    nats_events: frozenset[str] = frozenset()
    rabbitmq_prefix: str | None = None
    sqs: bool = False
    sqs_global: bool = False
    sqs_prefix: str = "global"
    sqs_events: frozenset[str] = frozenset()


@dataclass(slots=True)
class _Instance:
    webhook: WebhookTarget | None = None
    transports: dict[str, tuple[bool, frozenset[str]]] = field(default_factory=dict)


def is_http(url: str) -> bool:
    return url.startswith(("http://", "https://"))


def payload(env: Envelope, destination: str | None) -> str:
    body = dict(env)
    if destination is not None:
        body["destination"] = destination
    return orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS).decode()


class Routes:
    def __init__(self, globals_: GlobalRoutes, configs: SinkConfigs | None) -> None:
        self.globals = globals_
        self._configs = configs
        self._known: dict[str, _Instance] = {}

    async def load(self) -> None:
        """Read every config (boot)."""
        if self._configs is None:
            return
        for row in await self._configs.webhooks():
            self._known.setdefault(row.instance_id, _Instance()).webhook = WebhookTarget.of(row)
        for t in await self._configs.transports():
            self._apply(t)

    def _apply(self, t: TransportConfig) -> None:
        entry = self._known.setdefault(t.instance_id, _Instance())
        entry.transports[t.transport] = (t.enabled, frozenset(t.events or ()))

    async def _entry(self, instance_id: str) -> _Instance:
        entry = self._known.get(instance_id)
        if entry is None:
            entry = _Instance()
            if self._configs is not None:
                rows = await self._configs.webhooks(instance_id)
                entry.webhook = WebhookTarget.of(rows[0]) if rows else None
                for t in await self._configs.transports(instance_id):
                    entry.transports[t.transport] = (t.enabled, frozenset(t.events or ()))
            self._known[instance_id] = entry
        return entry

    def set_webhook(self, instance_id: str, row: Webhook) -> None:
        self._known.setdefault(instance_id, _Instance()).webhook = WebhookTarget.of(row)

    def set_transport(self, row: TransportConfig) -> None:
        self._apply(row)

    def forget(self, instance_id: str) -> None:
        self._known.pop(instance_id, None)

    async def wants_base64(self, instance_id: str) -> bool:
        """Whether the instance's media events carry `message.base64`: its webhook is enabled
        with base64 on (Evolution's webhookBase64), or the global webhook is on with
        WAGATE_WEBHOOK_GLOBAL_BASE64. As in Evolution the payload is shared, so every
        destination of the event gets it; unlike Evolution a change applies at once."""
        g = self.globals
        if g.webhook_base64 and g.webhook_url and is_http(g.webhook_url):
            return True
        hook = (await self._entry(instance_id)).webhook
        return hook is not None and hook.enabled and hook.base64

    async def transport(self, instance_id: str, name: str) -> tuple[bool, frozenset[str]]:
        return (await self._entry(instance_id)).transports.get(name, (False, frozenset()))

    async def deliveries(self, env: Envelope) -> list[Delivery]:
        """The outbox rows for one event: instance and global webhook, then the brokers."""
        g = self.globals
        entry = await self._entry(env["instanceId"])
        event: str = env["event"]
        key = event_key(event)
        out: list[Delivery] = []

        def add(sink: str, scope: str, target: str, body: str, **extra: Any) -> None:
            lane = f"{env['instanceId']}|{sink}|{scope}"
            out.append(
                Delivery(
                    env["id"],
                    env["instanceId"],
                    env["instance"],
                    event,
                    lane,
                    sink,
                    scope,
                    target,
                    body,
                    **extra,
                )
            )

        hook = entry.webhook
        if hook is not None and hook.enabled and is_http(hook.url) and key in hook.events:
            url = f"{hook.url.rstrip('/')}/{event_kebab(event)}" if hook.by_events else hook.url
            add(
                "webhook",
                "instance",
                url,
                payload(env, url),
                headers=hook.headers or None,
                secret=hook.secret,
            )
        if g.webhook_url and is_http(g.webhook_url) and key in g.webhook_events:
            url = g.webhook_url
            if g.webhook_by_events:
                url = f"{url.rstrip('/')}/{event_kebab(event)}"
            add("webhook", "global", url, payload(env, url), secret=g.webhook_secret)
        broker_body: str | None = None
        for name, on, is_global, events, global_target in (
            ("rabbitmq", g.rabbitmq, g.rabbitmq_global, g.rabbitmq_events, g.rabbitmq_exchange),
            ("nats", g.nats, g.nats_global, g.nats_events, g.nats_prefix or ""),
        ):
            if not on:
                continue
            enabled, listed = entry.transports.get(name, (False, frozenset()))
            if enabled and key in listed:
                broker_body = broker_body or payload(env, None)
                add(SINK_OF[name], "instance", env["instance"], broker_body)
            if is_global and key in events:
                broker_body = broker_body or payload(env, None)
                add(SINK_OF[name], "global", global_target, broker_body)
        if g.sqs:  # as in Evolution, the global queues replace the instances' own
            if g.sqs_global:
                if key in g.sqs_events:
                    broker_body = broker_body or payload(env, None)
                    add("sqs", "global", g.sqs_prefix, broker_body)
            else:
                enabled, listed = entry.transports.get("sqs", (False, frozenset()))
                if enabled and key in listed:
                    broker_body = broker_body or payload(env, None)
                    add("sqs", "instance", env["instance"], broker_body)
        return out
