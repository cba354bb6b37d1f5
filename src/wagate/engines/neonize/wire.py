"""The framed pipe protocol between the API process and a neonize host.

A frame is `>II` (header length, body length), a JSON header, then the body bytes as they are
(media crosses the pipe here, never inside JSON). Headers:

    parent -> host   {"op": "start" | "stop" | "logout" | "presence" | "exit", "id": n, ...}
                     {"op": <a messaging call of calls.py: "send", "read", "group" …>, "id": n,
                      "sid": "...", "epoch": n, "deadline": s, ...} (+ media bytes as the body)
    host -> parent   {"re": n, "ok": true, ...} (+ downloaded bytes as the body)
                     | {"re": n, "ok": false, "error": "...", "kind": "unavailable" | "auth"
                        | "fatal" | "bad" | "not_found" | "forbidden" | "unsupported"}
                     {"ev": "ready" | "qr" | "pair_code" | "opened" | "closed" | "logged_out"
                      | "creds", "sid": "...", "epoch": n, ...}
                     {"ev": "message" | "receipt" | "presence" | "group" | "history", "sid": "...",
                      "epoch": n, ...} (inbound.py builds them, received.py reads them)
"""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass, field
from typing import Any

import orjson

PREFIX = struct.Struct(">II")
MAX_HEAD = 1 << 20
MAX_BODY = 64 << 20


class FrameError(Exception):
    """The peer sent something that is not a frame of this protocol."""


@dataclass(frozen=True, slots=True)
class Frame:
    head: dict[str, Any]
    body: bytes = field(default=b"", repr=False)


def encode(frame: Frame) -> bytes:
    """The bytes of one frame."""
    head = orjson.dumps(frame.head)
    if len(head) > MAX_HEAD or len(frame.body) > MAX_BODY:
        raise FrameError(f"frame too large: head {len(head)}, body {len(frame.body)}")
    return PREFIX.pack(len(head), len(frame.body)) + head + frame.body


def decode(data: bytes) -> tuple[Frame | None, bytes]:
    """One frame from the start of `data` (None while incomplete) and the bytes after it."""
    if len(data) < PREFIX.size:
        return None, data
    head_len, body_len = PREFIX.unpack_from(data)
    _check(head_len, body_len)
    end = PREFIX.size + head_len + body_len
    if len(data) < end:
        return None, data
    head = _head(data[PREFIX.size : PREFIX.size + head_len])
    return Frame(head, data[PREFIX.size + head_len : end]), data[end:]


async def read_frame(reader: asyncio.StreamReader) -> Frame | None:
    """The next frame, or None at a clean end of stream. Raises FrameError on garbage."""
    try:
        prefix = await reader.readexactly(PREFIX.size)
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise FrameError("stream ended inside a frame prefix") from None
        return None
    head_len, body_len = PREFIX.unpack(prefix)
    _check(head_len, body_len)
    try:
        head = await reader.readexactly(head_len)
        body = await reader.readexactly(body_len) if body_len else b""
    except asyncio.IncompleteReadError:
        raise FrameError("stream ended inside a frame") from None
    return Frame(_head(head), body)


def _check(head_len: int, body_len: int) -> None:
    if head_len > MAX_HEAD or body_len > MAX_BODY:
        raise FrameError(f"frame too large: head {head_len}, body {body_len}")


def _head(raw: bytes) -> dict[str, Any]:
    try:
        head = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise FrameError(f"frame header is not JSON: {exc}") from None
    if not isinstance(head, dict):
        raise FrameError("frame header is not an object")
    return head
