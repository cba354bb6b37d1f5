"""Limits every request meets before wagate does any work for it (the outermost ASGI layer).

- At most `per_client` requests at once from one client address (429 beyond).
- With WAGATE_RATE_LIMIT_PER_KEY, at most that many requests a second per `apikey` (per client
  address for requests without one), and with WAGATE_RATE_LIMIT_SENDS_PER_INSTANCE that many
  sends a second per instance on the /message/send* routes: token buckets (a burst of
  WAGATE_RATE_LIMIT_BURST seconds' worth), answered 429 with `Retry-After` (ratelimit.py).
- A body larger than the route's cap is refused with 413: from its Content-Length before a byte
  is read, or as soon as the bytes read pass the cap. The media routes' cap follows
  WAGATE_MEDIA_MAX_BYTES (base64 of that much, plus an ordinary body); every other route's is
  WAGATE_MAX_BODY_BYTES.
- Whether the body is read at all is decided from the headers: a request whose `apikey` is
  neither the global key nor the token of the instance its path names never has its body read.
  The app sees an empty body and answers it as it answers every unauthorized request (its own
  404, then 401). Unknown paths never read the body either (the router answers 404 first).
- The whole body must arrive within `body_timeout` seconds of the request's start; a client
  that stalls is answered 408 and its connection closed. (The time to send the request line and
  headers is bounded in the HTTP server: api/server.py.)
- A JSON body nested deeper than any route needs is refused with 400 before it is parsed:
  parsing a body nested tens of thousands of levels deep exhausts Python's recursion limit
  inside the JSON decoder (and CPython 3.11 can be left unable to compile code afterwards). The
  scan runs on the size-capped body, once it is complete, in a worker thread when it is large.

A request refused before its body was read to the end is answered with `Connection: close`, so
the server never reads (or holds) the rest.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from starlette.exceptions import HTTPException

from wagate.api.deps import is_global_key
from wagate.api.errors import envelope
from wagate.api.ratelimit import RateLimits

MAX_DEPTH = 64
_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)
INLINE_SCAN_BYTES = 256 * 1024
"""Bodies up to this size are scanned for depth on the event loop; larger ones in a thread."""

MEDIA_ROUTES = (
    "/message/sendMedia/",
    "/message/sendPtv/",
    "/message/sendWhatsAppAudio/",
    "/message/sendSticker/",
    "/message/sendStatus/",
    "/chat/updateProfilePicture/",
    "/group/updateGroupPicture/",
    "/sim/",
)
"""Routes whose body may carry a media file (base64 or an upload): they take the media cap."""

PUBLIC_BODY_ROUTES: tuple[str, ...] = ()
"""Path prefixes whose body is read without an `apikey` (a route that authenticates from the
body itself, such as a signed webhook). tests/api/test_request_limits.py checks that every
other route taking a body requires the global key or the instance's token."""

_BODY_HEADERS = (b"content-length", b"transfer-encoding")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def too_deep(body: bytes, limit: int = MAX_DEPTH) -> bool:
    """True when the JSON text nests arrays/objects more than `limit` levels (strings skipped)."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    depth = 0
    for match in _TOKENS.finditer(body):
        token = match.group()
        if token in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        elif token in (b"]", b"}"):
            depth -= 1
    return False


@dataclass(frozen=True, slots=True)
class Limits:
    max_body: int
    """Bytes of body any route accepts (WAGATE_MAX_BODY_BYTES)."""
    media_body: int
    """Bytes of body the media routes accept."""
    body_timeout: float
    """Seconds from the request's start by which its whole body must have arrived."""
    per_client: int
    """Requests at once from one client address; 0 for no cap."""
    rates: RateLimits | None = None
    """Requests a second per key and sends per instance (None: not limited)."""

    @classmethod
    def of(cls, settings: Any) -> Limits:
        return cls(
            max_body=settings.max_body_bytes,
            media_body=max(settings.max_body_bytes, settings.media_max_bytes * 4 // 3 + 65536),
            body_timeout=settings.body_timeout,
            per_client=settings.max_requests_per_client,
            rates=RateLimits.of(settings),
        )


class Refused(HTTPException):
    """Raised from `receive` into the app, which answers it in Evolution's envelope (FastAPI
    passes HTTPExceptions through its body parsing unchanged); answered here if it escapes."""


@dataclass(slots=True)
class _Request:
    """What the guard reads from a request's headers, in one pass."""

    length: int | None = None
    chunked: bool = False
    json: bool = True  # no content type: FastAPI parses the body as JSON
    apikey: str | None = None

    @classmethod
    def of(cls, headers: Any) -> _Request:
        out = cls()
        for name, value in headers:
            if name == b"content-length":
                try:
                    out.length = int(value)
                except ValueError:
                    out.length = None
            elif name == b"transfer-encoding":
                out.chunked = True
            elif name == b"content-type":
                kind = value.split(b";", 1)[0].strip().lower()
                out.json = kind == b"application/json" or kind.endswith(b"+json")
            elif name == b"apikey":
                out.apikey = value.decode("latin-1")
        return out

    @property
    def has_body(self) -> bool:
        return self.chunked or bool(self.length)


def may_read_body(scope: Scope, apikey: str | None) -> bool:
    """Whether the headers authorize the request: the global key, or the token of the
    instance the path names (its last segment, as every instance route's path ends)."""
    path: str = scope["path"]
    if path.startswith(PUBLIC_BODY_ROUTES):
        return True
    gw = getattr(scope["app"].state, "gateway", None)
    if gw is None or apikey is None:
        return False
    if is_global_key(gw, apikey):
        return True
    reg = gw.instances.get(path.rsplit("/", 1)[-1])
    return reg is not None and bool(reg.token_matches(apikey))


async def _answer(scope: Scope, receive: Receive, send: Send, status: int, text: str) -> None:
    response = envelope(status, [text])
    response.headers["connection"] = "close"
    await response(scope, receive, send)


async def _too_fast(scope: Scope, receive: Receive, send: Send, why: tuple[str, int]) -> None:
    text, retry_after = why
    response = envelope(429, [text])
    response.headers["retry-after"] = str(retry_after)
    if any(name in _BODY_HEADERS for name, _ in scope["headers"]):
        response.headers["connection"] = "close"  # its body is never read
    await response(scope, receive, send)


class RequestGuard:
    """The ASGI middleware; see the module's docstring."""

    def __init__(self, app: ASGIApp, limits: Limits) -> None:
        self.app = app
        self.limits = limits
        self._inflight: dict[str, int] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        who = client[0] if client else ""
        busy = self._inflight.get(who, 0)
        cap = self.limits.per_client
        if cap and busy >= cap:
            await _answer(
                scope, receive, send, 429, f"More than {cap} requests at once from one client"
            )
            return
        rates = self.limits.rates
        if rates is not None and (wait := rates.take(scope, who)) is not None:
            await _too_fast(scope, receive, send, wait)
            return
        self._inflight[who] = busy + 1
        try:
            headers = scope["headers"]
            for name, _ in headers:
                if name in _BODY_HEADERS:
                    req = _Request.of(headers)
                    if req.has_body:
                        await self._with_body(scope, receive, send, req)
                        return
                    break
            await self.app(scope, receive, send)
        finally:
            left = self._inflight[who] - 1
            if left:
                self._inflight[who] = left
            else:
                del self._inflight[who]

    async def _with_body(self, scope: Scope, receive: Receive, send: Send, req: _Request) -> None:
        limits = self.limits
        path: str = scope["path"]
        cap = limits.media_body if path.startswith(MEDIA_ROUTES) else limits.max_body
        if req.length is not None and req.length > cap:
            await _answer(
                scope, receive, send, 413, f"The request body is larger than {cap} bytes"
            )
            return
        body = _Body(receive, send, cap, limits.body_timeout, req.json)
        if not may_read_body(scope, req.apikey):
            body.withheld = True
        try:
            await self.app(scope, body.receive, body.send)
        except Refused as exc:
            if body.started:
                raise
            await _answer(scope, receive, send, exc.status_code, str(exc.detail))


class _Body:
    """The request's receive channel under the limits, and a send that closes the connection
    when the body was not read to its end."""

    def __init__(self, receive: Receive, send: Send, cap: int, timeout: float, json: bool):
        self._receive = receive
        self._send = send
        self.cap = cap
        self.json = json
        loop = asyncio.get_running_loop()
        self.loop = loop
        self.deadline = loop.time() + timeout
        self.timeout = timeout
        self.withheld = False
        self.done = False
        self.started = False
        self.size = 0
        self.chunks: list[bytes] = []

    async def receive(self) -> Message:
        if self.done:  # after the body: only the disconnect is left to hear
            return await self._receive()
        if self.withheld:
            self.done = True
            return {"type": "http.request", "body": b"", "more_body": False}
        while True:
            try:
                async with asyncio.timeout_at(self.deadline):
                    message = await self._receive()
            except TimeoutError:
                raise Refused(
                    408, f"The request body did not arrive within {self.timeout:g} seconds"
                ) from None
            if message["type"] != "http.request":
                self.done = True
                return message  # disconnected: the app sees it
            chunk: bytes = message.get("body", b"")
            self.size += len(chunk)
            if self.size > self.cap:
                raise Refused(413, f"The request body is larger than {self.cap} bytes")
            more = message.get("more_body", False)
            if not self.json:
                self.done = not more
                return message
            self.chunks.append(chunk)
            if more:
                continue
            self.done = True
            whole = b"".join(self.chunks)
            self.chunks = []
            deep = (
                too_deep(whole)
                if len(whole) <= INLINE_SCAN_BYTES
                else await asyncio.to_thread(too_deep, whole)
            )
            if deep:
                raise Refused(400, f"The JSON body is nested more than {MAX_DEPTH} levels")
            return {"type": "http.request", "body": whole, "more_body": False}

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
            if not self.done or self.withheld:
                message = dict(message)
                message["headers"] = [*message.get("headers", ()), (b"connection", b"close")]
        await self._send(message)
