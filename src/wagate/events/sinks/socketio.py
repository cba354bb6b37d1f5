"""The Socket.IO sink (Evolution's WEBSOCKET_*): live events on namespace `/<instance>`, and
every event on `/` in global mode (WEBSOCKET_GLOBAL_EVENTS=true).

Who may connect is decided at the HTTP edge (api/socketio.py). Delivery is live only: a client
that is not connected misses the event (the durable path is the webhook outbox).
"""

from __future__ import annotations

from typing import Any

import socketio  # type: ignore[import-untyped]

from wagate.config import Settings
from wagate.events.bus import EventBus
from wagate.events.catalogue import event_key


class SocketIOSink:
    def __init__(self, settings: Settings) -> None:
        self._global = settings.websocket_global_events
        self._bus: EventBus | None = None
        self.sio = socketio.AsyncServer(
            async_mode="asgi",
            namespaces="*",
            cors_allowed_origins=settings.cors_origins or "*",
            logger=False,
            engineio_logger=False,
        )

    def attach(self, bus: EventBus) -> None:
        """Start emitting `bus`'s events."""
        self._bus = bus
        bus.subscribe(self.publish)

    def asgi(self, app: Any) -> Any:
        """The outermost ASGI app: Socket.IO at /socket.io, everything else (and the lifespan)
        to `app`."""
        return socketio.ASGIApp(self.sio, other_asgi_app=app)

    async def publish(self, env: dict[str, Any]) -> None:
        """Emit one event where it is wanted: the instance's namespace, and `/` if global."""
        bus = self._bus
        if bus is None or bus.routes is None:
            return
        body = {k: v for k, v in env.items() if k != "destination"}
        event: str = env["event"]
        if self._global:
            await self.sio.emit(event, body, namespace="/")
        enabled, events = await bus.routes.transport(env["instanceId"], "websocket")
        if enabled and event_key(event) in events:
            await self.sio.emit(event, body, namespace=f"/{env['instance']}")
