"""The instance's proxy, through HTTP only on the sim: sessions dial through it (the sim sees
it), media URLs are fetched through it, one that cannot be reached is a close naming it in
`lifecycle` (not a hang), create's proxy fields are saved as /proxy/set saves them, and
Evolution's PROXY_* is the fallback."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from tests.conftest import Harness, make_settings, start_harness, stop_harness
from tests.messaging.conftest import B_NUMBER, PNG, Pair, open_instance


class ForwardProxy:
    """An HTTP forward proxy on 127.0.0.1 that answers every absolute-form GET itself with a
    PNG (so the media host need not exist), and counts the connections it took."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.connections = 0
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self, port: int = 0) -> ForwardProxy:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", port)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            line = await reader.readline()
            if not line:
                return
            while (await reader.readline()) not in (b"\r\n", b""):
                pass
            self.requests.append(line.decode().strip())
            head = b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: %d\r\n"
            writer.write(head % len(PNG) + b"Connection: close\r\n\r\n" + PNG)
            await writer.drain()
        finally:
            writer.close()


async def _stats(h: Harness, name: str) -> dict[str, Any]:
    r = await h.client.get(f"/sim/{name}/stats")
    assert r.status_code == 200, r.text
    return dict(r.json())


async def _state(h: Harness, name: str) -> dict[str, Any]:
    return dict((await h.client.get(f"/instance/connectionState/{name}")).json())


async def test_sessions_and_media_go_through_the_instance_proxy(sqlite_pair: Pair) -> None:
    p, h = sqlite_pair, sqlite_pair.h
    proxy = await ForwardProxy().start()
    try:
        assert (await _stats(h, p.a))["proxy"] is None
        body = {"enabled": True, "host": "127.0.0.1", "port": str(proxy.port), "protocol": "http"}
        r = await h.client.post(f"/proxy/set/{p.a}", json=body | {"username": "u"})
        assert r.status_code == 201, r.text
        r = await h.client.post(f"/instance/restart/{p.a}")
        assert r.status_code == 200, r.text
        deadline = time.monotonic() + 10
        while (await _state(h, p.a))["instance"]["state"] != "open":
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)
        assert (await _stats(h, p.a))["proxy"] == f"http://u@127.0.0.1:{proxy.port}"
        assert proxy.connections >= 1  # the start dialed it

        # a media URL whose host does not exist is fetched through the proxy
        url = "http://media.wagate.invalid/pic.png"
        r = await h.client.post(
            f"/message/sendMedia/{p.a}",
            json={"number": B_NUMBER, "mediatype": "image", "media": url},
        )
        assert r.status_code == 201, r.text
        assert proxy.requests[-1] == f"GET {url} HTTP/1.1"
        # bob has no proxy: the same URL is not reachable for him
        r = await h.client.post(
            f"/message/sendMedia/{p.b}",
            json={"number": "5511987650001", "mediatype": "image", "media": url},
        )
        assert r.status_code == 400, r.text

        # the proxy goes away: the next start fails at once, naming it, and retries
        await proxy.stop()
        started = time.monotonic()
        r = await h.client.post(f"/instance/restart/{p.a}")
        assert r.status_code == 200, r.text
        deadline = time.monotonic() + 10
        while True:
            view = (await _state(h, p.a))["lifecycle"]
            if view["cause"] == "no_route":
                break
            assert time.monotonic() < deadline, view
            await asyncio.sleep(0.02)
        assert time.monotonic() - started < 8
        assert "proxy unreachable" in view["detail"] and str(proxy.port) in view["detail"]
        assert view["action"] == "check_network"

        # disabled: direct again
        r = await h.client.post(
            f"/proxy/set/{p.a}",
            json={"enabled": False, "host": "", "port": "", "protocol": ""},
        )
        assert r.status_code == 201
        await h.client.get(f"/instance/connect/{p.a}")
        deadline = time.monotonic() + 15
        while (await _state(h, p.a))["instance"]["state"] != "open":
            assert time.monotonic() < deadline, await _state(h, p.a)
            await h.client.get(f"/instance/connect/{p.a}")
            await asyncio.sleep(0.1)
        assert (await _stats(h, p.a))["proxy"] is None
    finally:
        if proxy.server is not None and proxy.server.is_serving():
            await proxy.stop()


async def test_create_saves_its_proxy_fields_after_trying_them(sqlite_harness: Harness) -> None:
    h = sqlite_harness
    proxy = await ForwardProxy().start()
    try:
        fields = {
            "proxyHost": "127.0.0.1",
            "proxyPort": str(proxy.port),
            "proxyProtocol": "http",
            "proxyUsername": "user",
            "proxyPassword": "p@ss",
        }
        await h.create("px", **fields)
        found = (await h.client.get("/proxy/find/px")).json()
        assert (found["enabled"], found["host"], found["port"], found["protocol"]) == (
            True,
            "127.0.0.1",
            str(proxy.port),
            "http",
        )
        assert (found["username"], found["password"]) == ("user", "p@ss")
        await h.client.get("/instance/connect/px")
        assert (await _stats(h, "px"))["proxy"] == f"http://user:p%40ss@127.0.0.1:{proxy.port}"
    finally:
        await proxy.stop()
    base = {"instanceName": "px2", "integration": "WHATSAPP-BAILEYS"}
    r = await h.client.post("/instance/create", json=base | fields)
    assert r.status_code == 400
    msgs = r.json()["response"]["message"]
    assert msgs[0] == "Invalid proxy" and "cannot be reached" in msgs[1]
    r = await h.client.post("/instance/create", json=base | {"proxyHost": "127.0.0.1"})
    assert r.status_code == 400 and "needed together" in r.text
    r = await h.client.post("/instance/create", json=base | fields | {"proxyProtocol": "ftp"})
    assert r.status_code == 400 and "ftp" in r.text
    assert (await h.client.get("/instance/connectionState/px2")).status_code == 404


async def test_evolutions_global_proxy_is_the_fallback(tmp_path: Path) -> None:
    proxy = await ForwardProxy().start()
    settings = make_settings(
        tmp_path, engine="sim", proxy_host="127.0.0.1", proxy_port=str(proxy.port)
    )
    assert settings.global_proxy == f"http://127.0.0.1:{proxy.port}"
    h, ctx = await start_harness(settings)
    try:
        await open_instance(h, "g", "5511987650009", None)
        assert (await _stats(h, "g"))["proxy"] == f"http://127.0.0.1:{proxy.port}"
        assert proxy.connections >= 1
    finally:
        await stop_harness(h, ctx)
        await proxy.stop()


async def test_a_proxy_on_a_private_address_is_refused_under_the_guard(tmp_path: Path) -> None:
    """With WAGATE_PRIVATE_ADDRESSES=false the proxy is one more connection a client aims: a
    loopback proxy is refused before it is dialled or stored, unless it is allowed."""
    proxy = await ForwardProxy().start()
    settings = make_settings(tmp_path, engine="sim", fetch_private_addresses=False)
    h, ctx = await start_harness(settings)
    try:
        await h.create("guarded")
        body = {"enabled": True, "host": "127.0.0.1", "port": str(proxy.port), "protocol": "http"}
        r = await h.client.post("/proxy/set/guarded", json=body)
        assert r.status_code == 400, r.text
        assert "does not resolve to a public address" in r.text
        assert (await h.client.get("/proxy/find/guarded")).json() is None
        assert proxy.connections == 0
        create = {
            "instanceName": "guarded2",
            "integration": "WHATSAPP-BAILEYS",
            "proxyHost": "127.0.0.1",
            "proxyPort": str(proxy.port),
            "proxyProtocol": "http",
        }
        r = await h.client.post("/instance/create", json=create)
        assert r.status_code == 400 and "public address" in r.text
        assert (await h.client.get("/instance/connectionState/guarded2")).status_code == 404
    finally:
        await stop_harness(h, ctx)

    allowed = make_settings(
        tmp_path,
        engine="sim",
        fetch_private_addresses=False,
        private_addresses_allowed=f"127.0.0.1:{proxy.port}",
    )
    h, ctx = await start_harness(allowed)
    try:
        await h.create("allowed")
        r = await h.client.post("/proxy/set/allowed", json=body)
        assert r.status_code == 201, r.text
    finally:
        await stop_harness(h, ctx)
        await proxy.stop()
