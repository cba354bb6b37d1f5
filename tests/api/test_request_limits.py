"""Request limits before work (api/bodyguard.py), driven over ASGI: body caps (413, by the
declared length and by the bytes read), the media routes' own cap, bodies never read without
the key or on unknown paths, the body deadline (408), the per-client cap (429), and that every
route taking a body is behind a key."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute

from tests.conftest import API_KEY, Harness, make_settings, start_harness, stop_harness
from wagate.api import bodyguard

MAX_BODY = 4096
MEDIA_MAX = 16 * 1024
TIMEOUT = 0.5


@pytest.fixture
async def limited(tmp_path: Path) -> AsyncIterator[Harness]:
    settings = make_settings(
        tmp_path,
        max_body_bytes=MAX_BODY,
        media_max_bytes=MEDIA_MAX,
        body_timeout=TIMEOUT,
        max_requests_per_client=3,
    )
    h, ctx = await start_harness(settings)
    try:
        yield h
    finally:
        await stop_harness(h, ctx)


class Call:
    """One request straight into the ASGI app, with a body fed by `chunks` (None: stall)."""

    def __init__(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        chunks: list[bytes | None] | None = None,
        client: str = "10.0.0.1",
    ) -> None:
        self.scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": b"",
            "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
            "client": (client, 40000),
            "server": ("wagate.test", 80),
        }
        self.chunks = list(chunks or [])
        self.reads = 0
        self.status: int | None = None
        self.headers: dict[bytes, bytes] = {}
        self.body = b""

    async def receive(self) -> dict[str, Any]:
        if not self.chunks:
            await asyncio.sleep(3600)  # the client went quiet
        self.reads += 1
        chunk = self.chunks.pop(0)
        if chunk is None:
            await asyncio.sleep(3600)
        assert chunk is not None
        return {"type": "http.request", "body": chunk, "more_body": bool(self.chunks)}

    async def send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = dict(message.get("headers", []))
        elif message["type"] == "http.response.body":
            self.body += message.get("body", b"")

    async def run(self, app: Callable[..., Awaitable[None]]) -> Call:
        await app(self.scope, self.receive, self.send)
        return self

    @property
    def message(self) -> Any:
        import json

        return json.loads(self.body)["response"]["message"]


def _json(length: int | None = None, key: str | None = API_KEY) -> dict[str, str]:
    headers = {"content-type": "application/json"}
    if length is not None:
        headers["content-length"] = str(length)
    if key is not None:
        headers["apikey"] = key
    return headers


async def test_declared_length_over_the_cap_is_413_before_reading(limited: Harness) -> None:
    call = await Call(
        "POST", "/instance/create", headers=_json(100 * 1024 * 1024), chunks=[b"{}"]
    ).run(limited.app)
    assert call.status == 413
    assert call.message == [f"The request body is larger than {MAX_BODY} bytes"]
    assert call.reads == 0
    assert call.headers[b"connection"] == b"close"


async def test_chunked_body_over_the_cap_is_cut_at_the_cap(limited: Harness) -> None:
    chunks: list[bytes | None] = [b"x" * 1024] * 100
    headers = {**_json(), "transfer-encoding": "chunked"}
    call = await Call("POST", "/instance/create", headers=headers, chunks=chunks).run(limited.app)
    assert call.status == 413
    assert call.reads == MAX_BODY // 1024 + 1  # stopped reading right past the cap
    assert call.headers[b"connection"] == b"close"


async def test_media_routes_take_the_media_cap(limited: Harness) -> None:
    await limited.create("media")
    path = "/message/sendMedia/media"
    between = MAX_BODY * 2  # over the ordinary cap, under the media one
    body = b'{"number": "5511999990001", "mediatype": "image", "media": "' + b"A" * between
    body += b'"}'
    call = await Call("POST", path, headers=_json(len(body)), chunks=[body]).run(limited.app)
    assert call.status not in (413, 500), call.body
    media_cap = MEDIA_MAX * 4 // 3 + 65536
    call = await Call("POST", path, headers=_json(media_cap + 1), chunks=[b"{}"]).run(limited.app)
    assert (call.status, call.reads) == (413, 0)
    assert call.message == [f"The request body is larger than {media_cap} bytes"]


@pytest.mark.parametrize(
    ("method", "path", "key", "status"),
    [
        ("POST", "/instance/create", None, 401),  # no key
        ("POST", "/instance/create", "wrong-key-0123456789", 401),
        ("POST", "/message/sendText/nobody", None, 404),  # the guard's order: 404, then 401
        ("POST", "/message/sendText/known", "wrong-key-0123456789", 401),
        ("POST", "/no/such/route", None, 404),
        ("POST", "/no/such/route", API_KEY, 404),  # unknown path, even with the key
        ("PUT", "/instance/create", API_KEY, 404),
    ],
)
async def test_body_not_read_without_the_key_or_a_route(
    limited: Harness, method: str, path: str, key: str | None, status: int
) -> None:
    await limited.create("known")
    body = b'{"instanceName": "x", "number": "5511999990001", "text": "hi"}'
    call = await Call(method, path, headers=_json(len(body), key), chunks=[body]).run(limited.app)
    assert call.status == status, call.body
    assert call.reads == 0
    assert call.headers[b"connection"] == b"close"


async def test_instance_token_may_send_a_body(limited: Harness) -> None:
    token = (await limited.create("own"))["hash"]
    body = b'{"number": "5511999990001", "text": "hi"}'
    call = await Call(
        "POST", "/message/sendText/own", headers=_json(len(body), token), chunks=[body]
    ).run(limited.app)
    assert call.reads == 1
    assert call.status == 400, call.body  # read and answered by the route: not connected
    assert b"connection" not in call.headers


async def test_a_stalled_body_is_cut_at_the_deadline(limited: Harness) -> None:
    loop = asyncio.get_running_loop()
    began = loop.time()
    call = Call("POST", "/instance/create", headers=_json(MAX_BODY), chunks=[b'{"ins', None])
    await asyncio.wait_for(call.run(limited.app), TIMEOUT * 10)
    took = loop.time() - began
    assert call.status == 408
    assert call.message == [f"The request body did not arrive within {TIMEOUT:g} seconds"]
    assert call.headers[b"connection"] == b"close"
    assert TIMEOUT <= took < TIMEOUT * 5


async def test_concurrent_requests_per_client_are_capped(limited: Harness) -> None:
    stalled = [
        Call("POST", "/instance/create", headers=_json(1000), chunks=[None]) for _ in range(3)
    ]
    tasks = [asyncio.create_task(c.run(limited.app)) for c in stalled]
    await asyncio.sleep(0.05)
    over = await Call("GET", "/health").run(limited.app)
    assert over.status == 429
    assert over.message == ["More than 3 requests at once from one client"]
    other = await Call("GET", "/health", client="10.0.0.2").run(limited.app)
    assert other.status == 200
    await asyncio.gather(*tasks)  # cut at the body deadline: the slots are free again
    assert [c.status for c in stalled] == [408, 408, 408]
    again = await Call("GET", "/health").run(limited.app)
    assert again.status == 200


async def test_deep_json_is_refused_also_when_large(limited: Harness) -> None:
    """Over the inline size the depth scan runs in a thread, with the same answer."""
    deep = b'{"a": ' + b"[" * 2000 + b"]" * 2000 + b"}"
    call = await Call("POST", "/instance/create", headers=_json(len(deep)), chunks=[deep]).run(
        limited.app
    )
    assert call.status == 400
    assert call.message == [f"The JSON body is nested more than {bodyguard.MAX_DEPTH} levels"]
    small = bodyguard.INLINE_SCAN_BYTES
    bodyguard.INLINE_SCAN_BYTES = 16
    try:
        call = await Call("POST", "/instance/create", headers=_json(len(deep)), chunks=[deep]).run(
            limited.app
        )
    finally:
        bodyguard.INLINE_SCAN_BYTES = small
    assert call.status == 400


def _dependencies(dependant: Any) -> set[str]:
    out: set[str] = set()
    for dep in dependant.dependencies:
        if dep.call is not None:
            out.add(getattr(dep.call, "__name__", ""))
        out |= _dependencies(dep)
    return out


def _routes(routes: list[Any]) -> list[APIRoute]:
    out: list[APIRoute] = []
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            out += _routes(inner.routes)
        elif isinstance(route, APIRoute):
            out.append(route)
    return out


async def test_every_route_with_a_body_needs_a_key(sqlite_harness: Harness) -> None:
    """The guard reads a body only for the global key or the path's instance token: a route
    that takes a body without either must be listed in PUBLIC_BODY_ROUTES."""
    checked = 0
    for route in _routes(sqlite_harness.app.router.routes):
        assert route.methods is not None
        if route.methods <= {"GET", "HEAD"}:
            continue
        checked += 1
        deps = _dependencies(route.dependant)
        keyed = "require_global_key" in deps or "authorized_instance" in deps
        public = route.path.startswith(bodyguard.PUBLIC_BODY_ROUTES)
        assert keyed or public, route.path
        if "authorized_instance" in deps:
            assert route.path.endswith("/{instanceName}"), route.path
    assert checked > 50
