"""The Manager: a plain web UI at /manager, and the live event stream it (and the CLI) reads.

The page is static HTML/JS/CSS from src/wagate/manager/ (no build step); everything it shows
comes from the JSON API, authenticated with the `apikey` header like any other client.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from functools import cache
from importlib import resources
from typing import Annotated, Any

import anyio
import orjson
from fastapi import APIRouter, Query
from fastapi.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from wagate.api.deps import ApiKeyHeader, GatewayDep, is_global_key
from wagate.domain.errors import NotFound, Unauthorized
from wagate.events.bus import Envelope
from wagate.events.catalogue import SUBSCRIBABLE
from wagate.gateway import Gateway
from wagate.observability.metrics import STREAM_DROPPED
from wagate.store.repos import hash_token

router = APIRouter(prefix="/manager", tags=["manager"])

ASSETS = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
}
PAGE_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; img-src 'self' data: https:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-cache",
}
STREAM_QUEUE = 256
KEEP_ALIVE_SECONDS = 15.0
STREAM_MAX_SECONDS = 300.0
"""A stream ends after this long and the client reconnects (so shutdown is never held up)."""


@cache
def _asset(name: str) -> bytes:
    return resources.files("wagate").joinpath("manager", name).read_bytes()


def _serve(name: str) -> Response:
    return Response(_asset(name), media_type=ASSETS[name], headers=PAGE_HEADERS)


@router.get("", include_in_schema=False)
@router.get("/", include_in_schema=False)
async def page() -> Response:
    return _serve("index.html")


@router.get("/app.js", include_in_schema=False)
async def script() -> Response:
    return _serve("app.js")


@router.get("/style.css", include_in_schema=False)
async def style() -> Response:
    return _serve("style.css")


# --- who the key belongs to ----------------------------------------------------------------


def _visibility(gw: Gateway, apikey: str | None) -> Callable[[str], bool]:
    """Which instance names a key may see: all for the global key, else those whose token it
    is. Raises Unauthorized for a key that opens nothing."""
    if apikey is None:
        raise Unauthorized()
    if is_global_key(gw, apikey):
        return lambda _name: True
    digest = hash_token(apikey)
    if not any(r.token_hash == digest for r in gw.instances.values()):
        raise Unauthorized()

    def visible(name: str) -> bool:
        reg = gw.instances.get(name)
        return reg is not None and reg.token_hash == digest

    return visible


@router.get("/api/whoami", summary="What the given key may see")
async def whoami(gw: GatewayDep, apikey: ApiKeyHeader = None) -> dict[str, Any]:
    visible = _visibility(gw, apikey)
    if is_global_key(gw, apikey):
        return {"global": True, "instances": None, "events": SUBSCRIBABLE}
    names = sorted(n for n in gw.instances if visible(n))
    return {"global": False, "instances": names, "events": SUBSCRIBABLE}


# --- the live event stream -------------------------------------------------------------------


class EventStreamResponse(StreamingResponse):
    """A stream that also stops as soon as the client goes away, not at the next write."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async with anyio.create_task_group() as group:

            async def stream() -> None:
                try:
                    await self.stream_response(send)
                except OSError:
                    pass
                group.cancel_scope.cancel()

            group.start_soon(stream)
            await self.listen_for_disconnect(receive)
            group.cancel_scope.cancel()


def _frame(env: Envelope) -> bytes:
    return b"id: " + str(env["id"]).encode() + b"\ndata: " + orjson.dumps(env) + b"\n\n"


@router.get(
    "/api/events",
    summary="Server-Sent Events: the live events of visible instances",
    include_in_schema=False,  # endless by design: schema-driven clients and fuzzers would hang
)
async def events(
    gw: GatewayDep,
    apikey: ApiKeyHeader = None,
    instance: Annotated[str | None, Query(max_length=100)] = None,
) -> StreamingResponse:
    """Each event is one `data:` line holding the envelope webhooks receive. An instance token
    sees only its instances; a reader that falls behind loses events (counted), never blocks."""
    visible = _visibility(gw, apikey)
    if instance is not None:
        if instance not in gw.instances:
            raise NotFound(f'The "{instance}" instance does not exist')
        if not visible(instance):
            raise Unauthorized()
    queue: asyncio.Queue[Envelope] = asyncio.Queue(STREAM_QUEUE)
    seen: set[str] = set()  # instance ids already judged visible (kept after a delete)

    async def on_event(env: Envelope) -> None:
        name, instance_id = env["instance"], env.get("instanceId") or ""
        if instance is not None and name != instance:
            return
        if instance_id not in seen:
            if not visible(name):
                return
            seen.add(instance_id)
        try:
            queue.put_nowait(env)
        except asyncio.QueueFull:
            STREAM_DROPPED.inc()

    for name, reg in gw.instances.items():
        if visible(name):
            seen.add(reg.id)
    loop = asyncio.get_running_loop()

    async def frames() -> AsyncIterator[bytes]:
        # Subscribed here, not before: a stream that never starts leaves nothing behind.
        unsubscribe = gw.bus.subscribe(on_event)
        try:
            yield b"retry: 1000\n: connected\n\n"
            ends = loop.time() + STREAM_MAX_SECONDS
            while (left := ends - loop.time()) > 0:
                try:  # not wait_for: on 3.11 it can swallow a cancel that races the get
                    async with asyncio.timeout(min(KEEP_ALIVE_SECONDS, left)):
                        env = await queue.get()
                except TimeoutError:
                    yield b": keep-alive\n\n"
                    continue
                yield _frame(env)
        finally:
            unsubscribe()

    return EventStreamResponse(
        frames(),
        media_type="text/event-stream",
        headers={"cache-control": "no-store", "x-accel-buffering": "no"},
    )
