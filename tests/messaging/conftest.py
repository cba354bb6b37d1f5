"""Fixtures of the messaging tests: two open sim instances, each with a loopback webhook."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import Harness
from tests.events.receiver import Receiver
from tests.messaging.servers import LoopbackServer

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
A_NUMBER = "5511987650001"
B_NUMBER = "5511987650002"


@dataclass
class Pair:
    h: Harness
    a: str
    b: str
    hook_a: Receiver
    hook_b: Receiver

    async def events(self, hook: Receiver, event: str, count: int) -> list[dict[str, Any]]:
        """Wait until `hook` has received `count` envelopes of `event`; return them."""
        import asyncio
        import time

        deadline = time.monotonic() + 10
        while True:
            found = hook.bodies(event)
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(found)} of {count} {event} arrived: {hook.bodies()}")
            await asyncio.sleep(0.02)


async def open_instance(h: Harness, name: str, number: str, hook: Receiver | None) -> None:
    body: dict[str, Any] = {}
    if hook is not None:
        body["webhook"] = {"url": hook.url + "/hook", "events": [], "enabled": True}
    await h.create(name, **body)
    r = await h.client.get(f"/instance/connect/{name}")
    assert r.status_code == 200, r.text
    r = await h.client.post(f"/sim/{name}/scan", json={"number": number})
    assert r.json()["state"] == "open", r.text


async def _pair(h: Harness) -> AsyncIterator[Pair]:
    hook_a, hook_b = await Receiver().start(), await Receiver().start()
    try:
        await open_instance(h, "alice", A_NUMBER, hook_a)
        await open_instance(h, "bob", B_NUMBER, hook_b)
        yield Pair(h, "alice", "bob", hook_a, hook_b)
    finally:
        await hook_a.stop()
        await hook_b.stop()


@pytest.fixture
async def pair(harness: Harness) -> AsyncIterator[Pair]:
    """alice and bob, open, on every database."""
    async for p in _pair(harness):
        yield p


@pytest.fixture
async def sqlite_pair(sqlite_harness: Harness) -> AsyncIterator[Pair]:
    """alice and bob, open, on SQLite."""
    async for p in _pair(sqlite_harness):
        yield p


class FileServer(LoopbackServer):
    """A loopback HTTP server: GET /png (a PNG), /big (too large), /slow (never answers)."""

    async def answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        path = head.split(b" ", 2)[1].decode()
        if path == "/slow":
            await asyncio.sleep(30)
        body, status = (PNG, 200) if path == "/png" else (b"x" * 300_000, 200)
        if path == "/missing":
            body, status = b"no", 404
        writer.write(
            f"HTTP/1.1 {status} X\r\ncontent-type: image/png\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n".encode()
            + body
        )
        await writer.drain()


@pytest.fixture
async def files() -> AsyncIterator[FileServer]:
    server = await FileServer().start()
    try:
        yield server
    finally:
        await server.stop()
