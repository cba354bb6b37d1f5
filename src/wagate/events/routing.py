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
    pusher: bool = False
    pusher_global: dict[str, Any] | None = None
    """PUSHER_GLOBAL_* as a per-instance config's options, when global Pusher is on."""
    pusher_events: frozenset[str] = frozenset()
    pusher_host: str | None = None


@dataclass(slots=True)
class _Instance:
    webhook: WebhookTarget | None = None
    transports: dict[str, tuple[bool, frozenset[str]]] = field(default_factory=dict)
    options: dict[str, dict[str, Any]] = field(default_factory=dict)


def pusher_ready(app: dict[str, Any]) -> bool:
    """Whether a Pusher app config has what a request needs (Evolution's check)."""
    return all(app.get(k) for k in ("appId", "key", "secret", "cluster"))


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
        entry.options[t.transport] = dict(t.options or {})

    async def _entry(self, instance_id: str) -> _Instance:
        entry = self._known.get(instance_id)
        if entry is None:
            entry = _Instance()
            if self._configs is not None:
                rows = await self._configs.webhooks(instance_id)
                entry.webhook = WebhookTarget.of(rows[0]) if rows else None
                for t in await self._configs.transports(instance_id):
                    entry.transports[t.transport] = (t.enabled, frozenset(t.events or ()))
                    entry.options[t.transport] = dict(t.options or {})
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
        if g.pusher:
            enabled, listed = entry.transports.get("pusher", (False, frozenset()))
            own = entry.options.get("pusher") or {}
            if enabled and key in listed and pusher_ready(own):
                target, body, extra = self._pusher(env, own)
                add("pusher", "instance", target, body, **extra)
            if g.pusher_global is not None and key in g.pusher_events:
                target, body, extra = self._pusher(env, g.pusher_global)
                add("pusher", "global", target, body, **extra)
        return out

    def _pusher(self, env: Envelope, app: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
        """The events URL, Pusher's `{name, channel, data}` body and the signing credentials
        of one app. As in Evolution: channel the instance, event name the event's with dots,
        `destination` the app id, and no QR code PNG (it would not fit Pusher's limit)."""
        data = dict(env)
        data["destination"] = app["appId"]
        if env["event"] == "qrcode.updated" and isinstance(env.get("data"), dict):
            inner = dict(env["data"])
            qr = inner.get("qrcode")
            if isinstance(qr, dict):
                inner["qrcode"] = {k: v for k, v in qr.items() if k != "base64"}
            data["data"] = inner
        name = env["event"].replace("_", ".").lower()
        body = orjson.dumps(
            {
                "name": name,
                "channel": env["instance"],
                "data": orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS).decode(),
            }
        ).decode()
        host = self.globals.pusher_host
        if not host:
            scheme = "https" if app.get("useTLS") else "http"
            host = f"{scheme}://api-{app['cluster']}.pusher.com"
        target = f"{host.rstrip('/')}/apps/{app['appId']}/events"
        return target, body, {"headers": {"key": app["key"]}, "secret": app["secret"]}
