"""build_app(settings) -> the ASGI app; its lifespan opens the store, restores the instances
and shuts everything down in order."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import structlog
from fastapi import FastAPI

from wagate import __version__
from wagate.api import bodyguard, docs, errors
from wagate.api.hotpath import ConnectionStateFastPath
from wagate.api.json import JSONResponse
from wagate.api.routes import call as call_routes
from wagate.api.routes import chat as chat_routes
from wagate.api.routes import events as events_routes
from wagate.api.routes import group as group_routes
from wagate.api.routes import instance, manager, root
from wagate.api.routes import label as label_routes
from wagate.api.routes import message as message_routes
from wagate.api.routes import metrics as metrics_routes
from wagate.api.routes import proxy as proxy_routes
from wagate.api.routes import settings as settings_routes
from wagate.config import Settings, SettingsError, resolve_api_key
from wagate.engines.base import Engine
from wagate.engines.sim import SimEngine, SimNetwork
from wagate.events.errors import ErrorWebhook
from wagate.events.runtime import build_events
from wagate.gateway import Gateway
from wagate.gateway.behaviour import Behaviour
from wagate.gateway.messenger import Messenger
from wagate.messaging.pipeline import Pipeline
from wagate.messaging.senders import SendersOnWhatsapp
from wagate.observability.logging import configure as configure_logging
from wagate.runtime.clock import Clock, RealClock
from wagate.runtime.tasks import spawn
from wagate.store import migrate
from wagate.store.budget import PayloadBudget
from wagate.store.db import database_url, make_engine, make_sessionmaker
from wagate.store.messages import MessageStore
from wagate.store.onwhatsapp import OnWhatsappCache
from wagate.store.repos import Credentials, Store

_log = structlog.get_logger("wagate.app")


@dataclass(slots=True)
class Overrides:
    """Test seams: a clock, an rng, an engine or sim network of the caller's. A sim network
    selects the sim engine (and its /sim routes) whatever WAGATE_ENGINE says."""

    clock: Clock | None = None
    rng: random.Random | None = None
    sim: SimNetwork | None = None
    engine: Engine | None = None


def build_app(settings: Settings, overrides: Overrides | None = None) -> FastAPI:
    ov = overrides or Overrides()
    configure_logging(settings.log_level, settings.log_format)
    api_key, generated = resolve_api_key(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        url = database_url(settings.database_provider, settings.database_uri, settings.data_dir)
        db = make_engine(url)
        await migrate.upgrade(db)
        budget = PayloadBudget.of(db)
        await budget.read(db)
        sessions = make_sessionmaker(db)
        clock = ov.clock or RealClock()
        sim = ov.sim
        engine = ov.engine
        if engine is None and sim is None and settings.engine == "neonize":
            from wagate.engines.neonize import from_settings

            engine = from_settings(settings)
        if engine is None:
            sim = sim or SimNetwork(clock, qr_interval=settings.sim_qr_interval)
            engine = SimEngine(
                sim, device=(settings.session_phone_client, settings.session_phone_name)
            )
        events = build_events(settings, sessions, budget, ov.rng)
        app.state.events = events
        message_store = MessageStore(sessions, budget)
        pipeline = Pipeline(settings, events.bus, message_store)
        gw = Gateway(
            settings,
            store=Store(sessions),
            credentials=Credentials(sessions),
            bus=events.bus,
            engine=engine,
            clock=clock,
            api_key=api_key,
            faults=sim,
            rng=ov.rng,
            pipeline=pipeline,
        )
        app.state.gateway = gw
        numbers = (
            OnWhatsappCache(sessions, settings.save_is_on_whatsapp_days)
            if settings.save_is_on_whatsapp
            else None
        )
        if numbers is not None:
            pipeline.consumers.register(SendersOnWhatsapp(numbers))
        app.state.messenger = Messenger(gw, pipeline, message_store, numbers)
        if settings.webhook_errors:
            if not settings.webhook_errors_url:
                raise SettingsError(
                    "WEBHOOK_EVENTS_ERRORS=true needs WEBHOOK_EVENTS_ERRORS_WEBHOOK (the URL "
                    "the errors are sent to)"
                )
            app.state.error_webhook = ErrorWebhook(
                settings.webhook_errors_url,
                settings.public_url,
                settings.webhook_timeout_ms / 1000,
                settings.webhook_ca_file,
            )
        app.state.behaviour = Behaviour(gw, app.state.messenger)
        app.state.behaviour.attach()
        await app.state.behaviour.load()
        metrics_routes.attach(gw, observer)
        app.state.db = db
        if generated:
            _log.warning(
                "no AUTHENTICATION_API_KEY set: generated one and saved it",
                path=str(settings.data_dir / "api-key"),
                apikey=api_key,
            )
        await events.start()
        if settings.s3_enabled:
            from wagate.store.objects import ObjectStore

            pipeline.objects = ObjectStore(settings)
            await pipeline.objects.start()
        if socketio_sink is not None and handshake is not None:
            socketio_sink.attach(gw.bus)
            handshake.gw = gw
        await gw.boot()
        _log.info(
            "wagate ready",
            version=__version__,
            database=settings.database_provider,
            engine=engine.name,
            url=settings.public_url,
            manager=None if settings.disable_manager else f"{settings.public_url}/manager",
            docs=None if settings.disable_docs else f"{settings.public_url}/docs",
        )
        if engine.name == "neonize":
            spawn(_check_route(settings), name="check-whatsapp-route")
        try:
            yield
        finally:
            # Each step runs even if the one before it failed: no task or held connection
            # may outlive the app.
            try:
                await gw.shutdown()
                hook = getattr(app.state, "error_webhook", None)
                if hook is not None:
                    await hook.close()
                if pipeline.objects is not None:
                    await pipeline.objects.close()
            finally:
                try:
                    await events.stop()
                finally:
                    await db.dispose()

    app = FastAPI(
        title="wagate",
        version=__version__,
        lifespan=lifespan,
        default_response_class=JSONResponse,
        description=(
            "WhatsApp API gateway with Evolution API v2's HTTP contract. Press **Authorize** "
            "and give the `apikey` (the global key, or an instance's token) to try the routes."
        ),
        docs_url=None,
        redoc_url=None,
        openapi_url=None if settings.disable_docs else "/openapi.json",
    )
    errors.install(app)
    if not settings.disable_docs:
        docs.install(app)
    app.add_middleware(ConnectionStateFastPath)  # inside the metrics wrapper added next
    observer = metrics_routes.install(app, settings)
    if not settings.disable_manager:
        app.include_router(manager.router)
    app.include_router(root.router)
    app.include_router(instance.router)
    app.include_router(settings_routes.router)
    app.include_router(events_routes.router)
    app.include_router(proxy_routes.router)
    app.include_router(message_routes.router)
    app.include_router(chat_routes.router)
    app.include_router(group_routes.router)
    app.include_router(label_routes.router)
    app.include_router(call_routes.router)
    socketio_sink = None
    handshake = None
    if settings.websocket_enabled:
        from wagate.api.socketio import Handshake
        from wagate.events.sinks.socketio import SocketIOSink

        socketio_sink = SocketIOSink(settings)
        handshake = Handshake(settings, api_key, socketio_sink)
        app.state.socketio = socketio_sink
    if ov.sim is not None or (settings.engine == "sim" and ov.engine is None):
        from wagate.api.routes import sim as sim_routes

        app.include_router(sim_routes.router)
    # Request limits are checked before any other work (api/bodyguard.py).
    app.add_middleware(bodyguard.RequestGuard, limits=bodyguard.Limits.of(settings))
    origins = settings.cors_origins
    if origins is not None:  # outermost, so that every answer (errors too) carries the headers
        from starlette.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=settings.cors_methods.split(","),
            allow_headers=["*"],
            allow_credentials=settings.cors_credentials,
        )
    return app


async def _check_route(settings: Settings) -> None:
    """Say at start-up, once, when WhatsApp cannot be reached from here (and what to do)."""
    from wagate.console.doctor import FAIL, whatsapp

    found = await asyncio.to_thread(whatsapp, settings.neonize_proxy, "neonize")
    if found.status == FAIL:
        _log.warning(
            "no route to WhatsApp: instances cannot connect",
            problem=found.detail,
            hint="check DNS, firewall or WAGATE_NEONIZE_PROXY; "
            "to try wagate without WhatsApp, start it with WAGATE_ENGINE=sim",
        )


def asgi_app(settings: Settings) -> Any:
    """What the server runs: the app, with Socket.IO outermost when WEBSOCKET_ENABLED=true."""
    app = build_app(settings)
    sink = getattr(app.state, "socketio", None)
    return sink.asgi(app) if sink is not None else app
