"""GET /instance/connectionState/{instanceName}, the path clients poll, answered ahead of the
router.

On this route FastAPI's routing (every included router is matched, twice) and dependency
solving cost about three times the answer itself. This ASGI wrapper answers only the route's
success case, exactly as the route does: a GET of /instance/connectionState/<name> (no root
path, a name without "/") for a registered instance, with the global key or that instance's
token in `apikey`; the body is the route's own (`instance.connection_state_body`), in the
route's response class. Any other request, error answers included, goes through the app as
before. `scope["route"]` is set to the route, so the HTTP metrics label it by its template.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.routing import BaseRoute

from wagate.api.deps import is_global_key
from wagate.api.json import JSONResponse
from wagate.api.routes.instance import connection_state_body
from wagate.api.routes.instance import router as instance_router
from wagate.gateway import Gateway

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

PREFIX = "/instance/connectionState/"
TEMPLATE = PREFIX + "{instanceName}"


def _route() -> BaseRoute:
    for route in instance_router.routes:
        if getattr(route, "path", None) == TEMPLATE:
            return route
    raise LookupError(TEMPLATE)  # the route and this module must name the same path


class ConnectionStateFastPath:
    """The ASGI wrapper (installed inside the app's middleware, so errors still become 500s
    and the HTTP metrics still count every answer)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._route = _route()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            path: str = scope["path"]
            if path.startswith(PREFIX) and not scope.get("root_path"):
                response = self._answer(scope, path[len(PREFIX) :])
                if response is not None:
                    scope["route"] = self._route
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)

    def _answer(self, scope: Scope, name: str) -> JSONResponse | None:
        """The route's answer when the request is its success case, else None."""
        if not name or "/" in name:
            return None
        gw: Gateway | None = getattr(scope["app"].state, "gateway", None)
        reg = gw.instances.get(name) if gw is not None else None
        if gw is None or reg is None:
            return None
        key = _header(scope, b"apikey")
        if key is None or not (is_global_key(gw, key) or reg.token_matches(key)):
            return None
        return JSONResponse(connection_state_body(reg))


def _header(scope: Scope, name: bytes) -> str | None:
    """The first value of a header, decoded as Starlette's Headers would."""
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None
