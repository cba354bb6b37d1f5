"""The webhook sink's HTTP/1.1 client against scripted loopback servers: connection reuse,
an idle socket the receiver closed, answers delimited by length, chunks or the end of the
connection, timeouts, refusals, broken answers, and requests that cannot be written."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest

from wagate.events.backoff import RetryPolicy
from wagate.events.sinks.keepalive import (
    InvalidRequest,
    KeepAlivePool,
    needs_proxy,
    parse_target,
    render,
)
from wagate.events.sinks.webhook import WebhookSink
from wagate.store.models import utcnow
from wagate.store.outbox import Claimed

OK = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"
Script = Callable[[int, asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@dataclass
class Scripted:
    """A server whose `script(request_no, reader, writer)` answers each request."""

    script: Script
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)
    server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/hook?x=1"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                self.requests.append(head + await reader.readexactly(length))
                await self.script(len(self.requests), reader, writer)
                if writer.is_closing():
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


Serve = Callable[[Script], Awaitable[Scripted]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    started: list[Scripted] = []

    async def start(script: Script) -> Scripted:
        s = Scripted(script)
        s.server = await asyncio.start_server(s._serve, "127.0.0.1", 0)
        started.append(s)
        return s

    yield start
    for s in started:
        assert s.server is not None
        s.server.close()


async def post(pool: KeepAlivePool, url: str, body: bytes = b"{}", timeout: float = 2.0) -> int:
    target = parse_target(url)
    return await pool.post(target, render(target, body, {"X-Event-Id": "e1"}), timeout)


async def test_one_connection_carries_many_requests_and_chunked_answers(serve: Serve) -> None:
    async def script(n: int, _r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        if n % 2:
            w.write(OK)
        else:
            w.write(
                b"HTTP/1.1 201 Created\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"
            )
        await w.drain()

    s = await serve(script)
    pool = KeepAlivePool()
    assert [await post(pool, s.url, b'{"n":%d}' % k) for k in range(4)] == [200, 201, 200, 201]
    assert s.connections == 1
    head, body = s.requests[0].split(b"\r\n\r\n")
    assert head.startswith(b"POST /hook?x=1 HTTP/1.1\r\nHost: 127.0.0.1:")
    assert b"X-Event-Id: e1" in head and b"Content-Length: 7" in head and body == b'{"n":0}'
    await pool.close()


async def test_an_idle_socket_the_receiver_closed_is_replaced(serve: Serve) -> None:
    async def script(n: int, _r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write(OK)
        await w.drain()
        w.close()  # no "connection: close": the client learns it on its next request

    s = await serve(script)
    pool = KeepAlivePool()
    assert await post(pool, s.url) == 200
    await asyncio.sleep(0.05)
    assert await post(pool, s.url) == 200
    assert s.connections == 2
    await pool.close()


async def test_an_answer_ended_by_closing_and_connection_close(serve: Serve) -> None:
    async def script(n: int, _r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        if n == 1:
            w.write(b"HTTP/1.0 204 No Content\r\n\r\n")
        else:
            w.write(b"HTTP/1.1 503 Busy\r\nconnection: close\r\n\r\nbusy")
        await w.drain()
        w.close()

    s = await serve(script)
    pool = KeepAlivePool()
    assert await post(pool, s.url) == 204
    assert await post(pool, s.url) == 503
    assert s.connections == 2
    await pool.close()


async def test_timeouts_refusals_and_broken_answers_raise(serve: Serve) -> None:
    async def silent(n: int, r: asyncio.StreamReader, _w: asyncio.StreamWriter) -> None:
        await r.read()  # never answers

    async def garbage(n: int, _r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write(b"SMTP ready\r\n\r\n")
        await w.drain()

    async def hangs_up(n: int, _r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nok")
        await w.drain()
        w.close()

    pool = KeepAlivePool()
    with pytest.raises(TimeoutError):
        await post(pool, (await serve(silent)).url, timeout=0.1)
    with pytest.raises(ConnectionError, match="invalid HTTP answer"):
        await post(pool, (await serve(garbage)).url)
    with pytest.raises(ConnectionError, match="closed the connection"):
        await post(pool, (await serve(hangs_up)).url)
    closed = await serve(silent)
    url = closed.url
    assert closed.server is not None
    closed.server.close()
    await closed.server.wait_closed()
    with pytest.raises(OSError):
        await post(pool, url)
    assert not pool._live  # nothing half-used is kept
    await pool.close()


def test_urls_and_headers_that_cannot_be_written() -> None:
    assert parse_target("https://h.example/").host_header == b"h.example"
    assert parse_target("http://[::1]:8080").host_header == b"[::1]:8080"
    assert parse_target("http://h:80").path == b"/"
    for bad in ("ftp://h/", "http://", "http://h:99999/", "mailto:x@y"):
        with pytest.raises(InvalidRequest):
            parse_target(bad)
    target = parse_target("http://h/")
    with pytest.raises(InvalidRequest, match="value for header 'X-Bad'"):
        render(target, b"", {"X-Bad": "a\r\nInjected: 1"})
    with pytest.raises(InvalidRequest, match="header name"):
        render(target, b"", {"Bad Name": "v"})
    wire = render(target, b"{}", {"Content-Length": "99", "Host": "evil", "X-Name": "José"})
    assert wire.count(b"Content-Length") == 1 and b"evil" not in wire
    assert "X-Name: José".encode("latin-1") in wire


def test_proxy_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    assert not needs_proxy(parse_target("http://h.example/"))
    monkeypatch.setenv("HTTP_PROXY", "http://proxy:3128")
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
    assert needs_proxy(parse_target("http://h.example/"))
    assert not needs_proxy(parse_target("https://h.example/"))
    assert not needs_proxy(parse_target("http://127.0.0.1:9/"))


async def test_the_sink_dead_letters_a_request_that_cannot_be_written() -> None:
    sink = WebhookSink(RetryPolicy(), 1.0)
    row = Claimed(
        1, "e" * 26, "iid", "inst", "call", "iid|webhook|instance", "webhook", "instance",
        "http://127.0.0.1:9/h", {"X-Bad": "a\nb"}, None, "{}", 0, utcnow(),
    )  # fmt: skip
    result = await sink.deliver(row)
    assert not result.ok and not result.retryable and "X-Bad" in (result.error or "")
    await sink.close()
