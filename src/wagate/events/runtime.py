"""Assemble the events layer from the settings: routes, outbox, bus, dispatcher and sinks.

Broker and Socket.IO libraries are imported only when their transport is enabled, so a default
start pays nothing for them.
"""

from __future__ import annotations

import random
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from wagate.config import Settings, SettingsError, parse_codes
from wagate.events.backoff import RetryPolicy
from wagate.events.bus import EventBus
from wagate.events.catalogue import NOT_SENT, env_flags
from wagate.events.dispatcher import Dispatcher
from wagate.events.routing import GlobalRoutes, Routes
from wagate.events.sinks.webhook import WebhookSink
from wagate.store.budget import PayloadBudget
from wagate.store.configs import SinkConfigs
from wagate.store.outbox import Outbox

_log = structlog.get_logger("wagate.events")


def retry_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(
        max_attempts=settings.webhook_retry_max_attempts,
        initial=settings.webhook_retry_initial,
        exponential=settings.webhook_retry_exponential,
        max_delay=settings.webhook_retry_max_delay,
        jitter=settings.webhook_retry_jitter,
        non_retryable=parse_codes(settings.webhook_non_retryable),
    )


def global_routes(settings: Settings) -> GlobalRoutes:
    routes = _global_routes(settings)
    refuse_unsent_switches(settings, routes)
    return routes


def refuse_unsent_switches(settings: Settings, routes: GlobalRoutes) -> None:
    """A global event switch set to true for an event nothing sends would do nothing: start-up
    refuses it, naming every such variable at once. Only the switches of a global route that
    is on are read (Evolution's .env.example sets some of them to true with the route off,
    where no switch does anything); `false` is always accepted."""
    live = (
        ("WEBHOOK_EVENTS_", routes.webhook_events, routes.webhook_url is not None),
        ("RABBITMQ_EVENTS_", routes.rabbitmq_events, routes.rabbitmq and routes.rabbitmq_global),
        ("NATS_EVENTS_", routes.nats_events, routes.nats and routes.nats_global),
        ("SQS_GLOBAL_", routes.sqs_events, routes.sqs and routes.sqs_global),
        ("PUSHER_EVENTS_", routes.pusher_events, routes.pusher_global is not None),
    )
    wrong = [
        f"{prefix}{key}=true ({NOT_SENT[key]})"
        for prefix, on, used in live
        if used
        for key in sorted(on)
        if key in NOT_SENT
    ]
    if wrong:
        raise SettingsError(
            "these event switches name events wagate never sends, so they would do nothing; "
            "set them to false or remove them: " + "; ".join(wrong)
        )


def _global_routes(settings: Settings) -> GlobalRoutes:
    return GlobalRoutes(
        webhook_url=settings.webhook_global_url if settings.webhook_global_enabled else None,
        webhook_by_events=settings.webhook_global_by_events,
        webhook_events=env_flags("WEBHOOK_EVENTS_", settings.event_flags("WEBHOOK_EVENTS_")),
        webhook_secret=settings.webhook_global_secret,
        webhook_base64=settings.webhook_global_base64,
        rabbitmq=settings.rabbitmq_enabled,
        rabbitmq_global=settings.rabbitmq_global_enabled,
        rabbitmq_exchange=settings.rabbitmq_exchange_name,
        rabbitmq_events=env_flags("RABBITMQ_EVENTS_", settings.event_flags("RABBITMQ_EVENTS_")),
        rabbitmq_prefix=settings.rabbitmq_prefix_key,
        nats=settings.nats_enabled,
        nats_global=settings.nats_global_enabled,
        nats_prefix=settings.nats_prefix_key,
        nats_events=env_flags("NATS_EVENTS_", settings.event_flags("NATS_EVENTS_")),
        sqs=settings.sqs_enabled,
        sqs_global=settings.sqs_global_enabled,
        sqs_prefix=settings.sqs_global_prefix_name,
        sqs_events=env_flags("SQS_GLOBAL_", settings.event_flags("SQS_GLOBAL_")),
        pusher=settings.pusher_enabled,
        pusher_global=_pusher_global(settings),
        pusher_events=env_flags("PUSHER_EVENTS_", settings.event_flags("PUSHER_EVENTS_")),
        pusher_host=settings.pusher_host,
    )


def _pusher_global(settings: Settings) -> dict[str, Any] | None:
    """PUSHER_GLOBAL_* as an app config, when global Pusher is on and complete."""
    if not (settings.pusher_enabled and settings.pusher_global_enabled):
        return None
    app = {
        "appId": settings.pusher_global_app_id,
        "key": settings.pusher_global_key,
        "secret": settings.pusher_global_secret,
        "cluster": settings.pusher_global_cluster,
        "useTLS": settings.pusher_global_use_tls,
    }
    names = {"appId": "APP_ID", "key": "KEY", "secret": "SECRET", "cluster": "CLUSTER"}
    missing = [f"PUSHER_GLOBAL_{v}" for k, v in names.items() if not app[k]]
    if missing:
        raise SettingsError(f"PUSHER_GLOBAL_ENABLED=true needs {', '.join(missing)}")
    return app


async def _try_connect(setting: str, connecting: Coroutine[Any, Any, None]) -> None:
    """A broker that is down at start is not fatal: its rows wait in the outbox and the sink
    connects again on the next delivery."""
    try:
        await connecting
    except Exception as exc:
        _log.warning("broker unreachable at start; will retry", setting=setting, error=repr(exc))


@dataclass(slots=True)
class Events:
    """The running events layer."""

    settings: Settings
    outbox: Outbox
    configs: SinkConfigs
    routes: Routes
    bus: EventBus
    dispatcher: Dispatcher
    live: list[Any] = field(default_factory=list)
    sqs: Any = None
    """The SQS sink when SQS_ENABLED (/sqs/set creates an instance's queues through it)."""

    async def start(self) -> None:
        """Load the configs, connect the enabled brokers and start delivering."""
        await self.routes.load()
        s = self.settings
        if s.rabbitmq_enabled:
            from wagate.events.sinks.amqp import AmqpSink

            amqp = AmqpSink(s.rabbitmq_uri or "amqp://guest:guest@127.0.0.1:5672/", s)
            await _try_connect("RABBITMQ_URI", amqp.connect())
            self.dispatcher.add_sink("amqp", amqp)
        if s.nats_enabled:
            from wagate.events.sinks.nats import NatsSink

            nats = NatsSink(s.nats_uri or "nats://127.0.0.1:4222")
            await _try_connect("NATS_URI", nats.connect())
            self.dispatcher.add_sink("nats", nats)
        if s.pusher_enabled:
            from wagate.events.sinks.pusher import PusherSink

            self.dispatcher.add_sink(
                "pusher", PusherSink(retry_policy(s), s.webhook_timeout_ms / 1000)
            )
        if s.sqs_enabled:
            from wagate.events.sinks.sqs import SqsSink

            sqs = SqsSink(s)
            await sqs.connect()
            self.dispatcher.add_sink("sqs", sqs)
            self.sqs = sqs
        self.dispatcher.start()

    async def stop(self) -> None:
        await self.dispatcher.stop()
        await self.outbox.close()


def build_events(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    budget: PayloadBudget,
    rng: random.Random | None = None,
) -> Events:
    """The events layer over the database (`budget`: the statement size it takes, read at
    start-up)."""
    outbox = Outbox(sessions, budget)
    configs = SinkConfigs(sessions)
    routes = Routes(global_routes(settings), configs)
    bus = EventBus(settings.public_url, routes=routes, outbox=outbox)
    policy = retry_policy(settings)
    dispatcher = Dispatcher(
        outbox,
        {
            "webhook": WebhookSink(
                policy,
                settings.webhook_timeout_ms / 1000,
                ca_file=settings.webhook_ca_file,
                # the operator's global webhook is theirs, not a client's: never refused
                reach=settings.reach.trusting(
                    settings.webhook_global_url if settings.webhook_global_enabled else None
                ),
            )
        },
        policy,
        batch=settings.events_batch,
        max_lanes=settings.events_lanes,
        keep_delivered_hours=settings.events_keep_hours,
        keep_dead_hours=settings.events_keep_dead_hours,
        rng=rng,
    )
    bus.on_written(dispatcher.wake)
    return Events(settings, outbox, configs, routes, bus, dispatcher)
