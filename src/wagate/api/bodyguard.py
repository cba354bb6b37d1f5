"""Refuse JSON bodies nested deeper than any wagate route needs, before they are parsed.

Parsing a body nested tens of thousands of levels deep exhausts Python's recursion limit inside
the JSON decoder; besides the failed request, CPython 3.11 can be left unable to compile code
afterwards ("AST constructor recursion depth mismatch"). So the depth is measured first, in C
speed for ordinary bodies, and a body that is too deep gets a 400 in Evolution's envelope.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson

MAX_DEPTH = 64
_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)

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


def _is_json(scope: Scope) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            kind = value.split(b";", 1)[0].strip().lower()
            return bool(kind == b"application/json" or kind.endswith(b"+json"))
    return True  # no content type: FastAPI parses the body as JSON


class DepthGuard:
    """ASGI middleware: a JSON body (never on GET/HEAD) is read once, refused if too deep, else
    replayed to the app unchanged. GET and HEAD requests pass straight through."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        app = self.app
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD") or not _is_json(scope):
            await app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                await app(scope, receive, send)  # disconnected: let the route see it
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if too_deep(body):
            payload = orjson.dumps({
                "status": 400,
                "error": "Bad Request",
                "response": {"message": [f"The JSON body is nested more than {MAX_DEPTH} levels"]},
            })  # fmt: skip
            headers = [(b"content-type", b"application/json"),
                       (b"content-length", str(len(payload)).encode())]  # fmt: skip
            await send({"type": "http.response.start", "status": 400, "headers": headers})
            await send({"type": "http.response.body", "body": payload})
            return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await app(scope, replay, send)
