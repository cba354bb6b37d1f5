"""The Socket.IO handshake's key check, at the HTTP edge like every other key check.

The handshake needs `apikey` (auth payload, query or header): the global key, or for
`/<instance>` that instance's own token. Unlike Evolution, an instance token never opens
another instance's namespace or the global one (contract §8.5). Clients from
WEBSOCKET_ALLOWED_HOSTS skip the check, as in Evolution. The sink it guards
(events/sinks/socketio.py) only emits.
"""

from __future__ import annotations

import hmac
from typing import Any
from urllib.parse import parse_qs

import socketio  # type: ignore[import-untyped]

from wagate.config import Settings
from wagate.events.sinks.socketio import SocketIOSink
from wagate.gateway import Gateway


class Handshake:
    """Admits or refuses each Socket.IO connection to `sink`; refuses all until `gw` is set."""

    def __init__(self, settings: Settings, api_key: str, sink: SocketIOSink) -> None:
        self._api_key = api_key
        self._allowed = {h.strip() for h in settings.websocket_allowed_hosts.split(",") if h}
        self.gw: Gateway | None = None
        sink.sio.on("connect", self._connect, namespace="*")

    @staticmethod
    def _key(environ: dict[str, Any], auth: Any) -> str | None:
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
        gw = self.gw
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
