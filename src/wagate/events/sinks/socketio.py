"""The Socket.IO sink (Evolution's WEBSOCKET_*): live events on namespace `/<instance>`, and
every event on `/` in global mode (WEBSOCKET_GLOBAL_EVENTS=true).

The handshake needs `apikey` (auth payload, query or header): the global key, or for
`/<instance>` that instance's own token. Unlike Evolution, an instance token never opens
another instance's namespace or the global one (contract §8.5). Clients from
WEBSOCKET_ALLOWED_HOSTS skip the check, as in Evolution. Delivery is live only: a client that
is not connected misses the event (the durable path is the webhook outbox).
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import socketio  # type: ignore[import-untyped]
import structlog

from wagate.config import Settings
from wagate.events.catalogue import event_key

if TYPE_CHECKING:
    from wagate.gateway import Gateway

_log = structlog.get_logger("wagate.events.socketio")


class SocketIOSink:
    def __init__(self, settings: Settings, api_key: str) -> None:
        self._api_key = api_key
        self._global = settings.websocket_global_events
        self._allowed = {h.strip() for h in settings.websocket_allowed_hosts.split(",") if h}
        self._gw: Gateway | None = None
        self.sio = socketio.AsyncServer(
            async_mode="asgi",
            namespaces="*",
            cors_allowed_origins=settings.cors_origins or "*",
            logger=False,
            engineio_logger=False,
        )
        self.sio.on("connect", self._connect, namespace="*")

    def attach(self, gw: Gateway) -> None:
        """Start serving `gw`'s instances and events."""
        self._gw = gw
        gw.bus.subscribe(self.publish)

    def asgi(self, app: Any) -> Any:
        """The outermost ASGI app: Socket.IO at /socket.io, everything else (and the lifespan)
        to `app`."""
        return socketio.ASGIApp(self.sio, other_asgi_app=app)

    def _key(self, environ: dict[str, Any], auth: Any) -> str | None:
        if isinstance(auth, dict) and isinstance(auth.get("apikey"), str):
            return str(auth["apikey"])
        query = parse_qs(environ.get("QUERY_STRING", ""))
        if query.get("apikey"):
            return str(query["apikey"][0])
        header = environ.get("HTTP_APIKEY")
        return str(header) if header else None

    async def _connect(
        self, namespace: str, sid: str, environ: dict[str, Any], auth: Any = None
    ) -> bool:
        gw = self._gw
        if gw is None:
            raise socketio.exceptions.ConnectionRefusedError("starting")
        reg = None
        if namespace != "/":
            reg = gw.instances.get(namespace[1:])
            if reg is None:
                raise socketio.exceptions.ConnectionRefusedError("unknown instance")
        scope = environ.get("asgi.scope") or {}
        client = (scope.get("client") or ("", 0))[0]
        if client in self._allowed:
            return True
        key = self._key(environ, auth)
        if key is not None and hmac.compare_digest(key.encode(), self._api_key.encode()):
            return True
        if key is not None and reg is not None and reg.token_matches(key):
            return True
        raise socketio.exceptions.ConnectionRefusedError("Unauthorized")

    async def publish(self, env: dict[str, Any]) -> None:
        """Emit one event where it is wanted: the instance's namespace, and `/` if global."""
        gw = self._gw
        if gw is None or gw.bus.routes is None:
            return
        body = {k: v for k, v in env.items() if k != "destination"}
        event: str = env["event"]
        if self._global:
            await self.sio.emit(event, body, namespace="/")
        enabled, events = await gw.bus.routes.transport(env["instanceId"], "websocket")
        if enabled and event_key(event) in events:
            await self.sio.emit(event, body, namespace=f"/{env['instance']}")
