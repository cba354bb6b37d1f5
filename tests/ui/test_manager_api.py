"""The Manager's routes: its static page, who a key is, and the live event stream (over a real
server, and in process for the stream's clean-up when the client goes away)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import orjson

from tests.conftest import API_KEY, Harness
from tests.live import LiveServer

BAILEYS = {"integration": "WHATSAPP-BAILEYS"}


async def test_page_and_assets(sqlite_harness: Harness) -> None:
    c = sqlite_harness.client
    for path, kind in (
        ("/manager", "text/html"),
        ("/manager/", "text/html"),
        ("/manager/app.js", "text/javascript"),
        ("/manager/style.css", "text/css"),
    ):
        r = await c.get(path, headers={"apikey": ""})
        assert r.status_code == 200, path
        assert r.headers["content-type"].startswith(kind)
        assert "script-src 'self'" in r.headers["content-security-policy"]
        assert r.headers["x-content-type-options"] == "nosniff"
    page = (await c.get("/manager")).text
    assert '<script src="/manager/app.js" defer></script>' in page
    assert '<label for="apikey">' in page
    r = await c.get("/manager/nothing-here.js")
    assert r.status_code == 404
    assert r.json()["response"]["message"] == ["Cannot GET /manager/nothing-here.js"]


async def test_whoami(sqlite_harness: Harness) -> None:
    h = sqlite_harness
    mine = await h.create("who-mine")
    await h.create("who-other")
    r = await h.client.get("/manager/api/whoami")
    assert r.json()["global"] is True
    assert "CONNECTION_UPDATE" in r.json()["events"]
    r = await h.client.get("/manager/api/whoami", headers={"apikey": mine["hash"]})
    assert r.json()["global"] is False
    assert r.json()["instances"] == ["who-mine"]
    for headers in ({"apikey": "wrong-key-wrong-key"}, {}):
        client = httpx2.AsyncClient(transport=h.client._transport, base_url="http://wagate.test")
        async with client:
            r = await client.get("/manager/api/whoami", headers=headers)
        assert r.status_code == 401
        assert r.json() == {
            "status": 401,
            "error": "Unauthorized",
            "response": {"message": "Unauthorized"},
        }


async def _events(lines: AsyncIterator[str]) -> AsyncIterator[dict[str, Any]]:
    """Envelopes from an SSE body (after its `: connected` comment)."""
    async for line in lines:
        if line.startswith("data: "):
            yield orjson.loads(line[6:])


async def _open(client: httpx2.AsyncClient, key: str, **params: str) -> Any:
    cm = client.stream("GET", "/manager/api/events", headers={"apikey": key}, params=params)
    res = await cm.__aenter__()
    assert res.status_code == 200
    assert res.headers["content-type"].startswith("text/event-stream")
    lines = res.aiter_lines()
    assert (await anext(lines)) == "retry: 1000"
    assert (await anext(lines)) == ": connected"
    return cm, lines


async def test_stream_over_a_real_server(live: LiveServer) -> None:
    async with httpx2.AsyncClient(base_url=live.url, timeout=10) as c:
        api = {"apikey": API_KEY}
        everything, all_lines = await _open(c, API_KEY)
        r = await c.post("/instance/create", json={"instanceName": "s-a", **BAILEYS}, headers=api)
        token_a = r.json()["hash"]
        await c.post("/instance/create", json={"instanceName": "s-b", **BAILEYS}, headers=api)
        mine, my_lines = await _open(c, token_a)
        only_a, a_lines = await _open(c, API_KEY, instance="s-a")
        try:
            await c.get("/instance/connect/s-b", headers=api)
            await c.get("/instance/connect/s-a", headers=api)
            r = await c.post("/sim/s-a/scan", json={"number": "5511999990055"}, headers=api)
            assert r.json()["state"] == "open"

            async def until_open(lines: AsyncIterator[str]) -> list[tuple[str, str]]:
                seen = []
                async for env in _events(lines):
                    seen.append((env["instance"], env["event"]))
                    if env["event"] == "connection.update" and env["data"]["state"] == "open":
                        return seen
                raise AssertionError("stream ended")

            got_all = await asyncio.wait_for(until_open(all_lines), 10)
            got_mine = await asyncio.wait_for(until_open(my_lines), 10)
            got_a = await asyncio.wait_for(until_open(a_lines), 10)
            assert ("s-a", "instance.create") in got_all and ("s-b", "qrcode.updated") in got_all
            assert {name for name, _ in got_mine} == {"s-a"}
            assert got_mine == got_a
            assert ("s-a", "qrcode.updated") in got_mine
        finally:
            for cm in (everything, mine, only_a):
                await cm.__aexit__(None, None, None)
            for name in ("s-a", "s-b"):
                await c.delete(f"/instance/delete/{name}", headers=api)


async def test_stream_refusals(live: LiveServer) -> None:
    async with httpx2.AsyncClient(base_url=live.url, timeout=10) as c:
        api = {"apikey": API_KEY}
        r = await c.post("/instance/create", json={"instanceName": "r-a", **BAILEYS}, headers=api)
        token = r.json()["hash"]
        await c.post("/instance/create", json={"instanceName": "r-b", **BAILEYS}, headers=api)
        try:
            cases = [
                ({}, {}, 401),
                ({"apikey": "not-a-key-not-a-key"}, {}, 401),
                (api, {"instance": "nobody"}, 404),
                ({"apikey": token}, {"instance": "r-b"}, 401),
                (api, {"instance": "x" * 101}, 400),
            ]
            for headers, params, status in cases:
                r = await c.get("/manager/api/events", headers=headers, params=params)
                assert r.status_code == status, (headers, params, r.text)
                assert r.json()["status"] == status
        finally:
            for name in ("r-a", "r-b"):
                await c.delete(f"/instance/delete/{name}", headers=api)


async def test_stream_lets_go_when_the_client_leaves(sqlite_harness: Harness) -> None:
    """In process: the subscriber is removed as soon as the client disconnects."""
    h = sqlite_harness
    bus = h.gateway.bus
    before = len(bus._subscribers)
    gone = asyncio.Event()
    sent: list[dict[str, Any]] = []
    requested = False

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if b"instance.create" in message.get("body", b""):
            gone.set()

    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/manager/api/events",
        "raw_path": b"/manager/api/events",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"apikey", API_KEY.encode()), (b"host", b"wagate.test")],
        "client": ("127.0.0.1", 50000),
        "server": ("wagate.test", 80),
    }
    call = asyncio.ensure_future(h.app(scope, receive, send))
    for _ in range(100):
        if len(bus._subscribers) > before:
            break
        await asyncio.sleep(0.01)
    assert len(bus._subscribers) == before + 1
    await h.create("leaving")
    await asyncio.wait_for(call, 5)
    assert len(bus._subscribers) == before
    assert sent[0]["status"] == 200
