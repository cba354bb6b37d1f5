"""The webhook client over HTTPS against loopback receivers with a throw-away CA (trustme):
one TLS connection carries many requests with the URL's host as SNI; an address in the URL is
checked against the certificate's addresses (and sends no SNI); an idle TLS socket the
receiver closed is replaced; an unknown CA, a wrong name, an expired certificate, a receiver
without TLS and a stalled handshake are classified failures within the request's deadline,
on asyncio's loop and on uvloop; the sink words them for the delivery log and keeps nothing."""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import trustme
import uvloop

from tests.events.conftest import Apps
from tests.events.receiver import Receiver
from wagate.events.backoff import RetryPolicy
from wagate.events.sinks.keepalive import (
    KeepAlivePool,
    client_ssl_context,
    describe,
    parse_target,
    render,
)
from wagate.events.sinks.webhook import WebhookSink
from wagate.store.models import utcnow
from wagate.store.outbox import Claimed

OK = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def server_context(
    ca: trustme.CA, name: str = "localhost", expired: bool = False
) -> ssl.SSLContext:
    now = dt.datetime.now(dt.UTC)
    if expired:
        cert = ca.issue_cert(
            name, not_before=now - dt.timedelta(days=30), not_after=now - dt.timedelta(days=1)
        )
    else:
        cert = ca.issue_cert(name)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    return context


def trusting(ca: trustme.CA) -> ssl.SSLContext:
    """The client's own context (system store) with the throw-away CA added."""
    context = client_ssl_context()
    ca.configure_trust(context)
    return context


@dataclass
class TlsReceiver:
    """Answers every request with `OK`; closes after each answer when `close_after`."""

    context: ssl.SSLContext | None
    close_after: bool = False
    connections: int = 0
    server_names: list[str | None] = field(default_factory=list)
    hosts: list[bytes] = field(default_factory=list)
    server: asyncio.Server | None = None
    handlers: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"https://localhost:{self.server.sockets[0].getsockname()[1]}/hook"

    async def start(self) -> TlsReceiver:
        if self.context is not None:
            self.context.sni_callback = lambda _obj, name, _ctx: self.server_names.append(name)
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.context)
        return self

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        assert task is not None
        self.handlers.add(task)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                await reader.readexactly(length)
                self.hosts.append(head.split(b"\r\nHost: ")[1].split(b"\r\n")[0])
                writer.write(OK)
                await writer.drain()
                if self.close_after:
                    return
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        except asyncio.CancelledError:
            pass  # stopped: the connection just ends
        finally:
            self.handlers.discard(task)
            writer.close()
            try:
                await writer.wait_closed()  # the TLS close exchange, so no socket outlives it
            except (ConnectionError, ssl.SSLError):
                pass

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()
        handlers = list(self.handlers)
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
        await drained(self.server)


async def drained(server: asyncio.Server) -> None:
    """Until the server's last socket is closed: Python 3.11's `wait_closed` does not wait for
    them (3.12's does), and a handshake the client just rejected is still being torn down."""
    for _ in range(200):
        if not getattr(server, "_active_count", 0):
            return
        await asyncio.sleep(0.01)


Start = Callable[..., Awaitable[TlsReceiver]]


@pytest.fixture
async def receive() -> AsyncIterator[Start]:
    started: list[TlsReceiver] = []

    async def start(context: ssl.SSLContext | None, close_after: bool = False) -> TlsReceiver:
        started.append(await TlsReceiver(context, close_after).start())
        return started[-1]

    yield start
    for r in started:
        await r.stop()


async def post(pool: KeepAlivePool, url: str, timeout: float = 2.0) -> int:
    target = parse_target(url)
    return await pool.post(target, render(target, b"{}", {"X-Event-Id": "e1"}), timeout)


async def test_one_tls_connection_carries_many_requests_with_sni(
    ca: trustme.CA, receive: Start
) -> None:
    r = await receive(server_context(ca))
    pool = KeepAlivePool(ssl_context=trusting(ca))
    assert [await post(pool, r.url) for _ in range(5)] == [200] * 5
    assert r.connections == 1
    assert r.server_names == ["localhost"]  # SNI: the URL's host, sent once
    port = r.url.split(":")[2].split("/")[0]
    assert r.hosts == [f"localhost:{port}".encode()] * 5
    await pool.close()


async def test_an_ip_address_url_is_verified_against_the_ip_in_the_certificate(
    ca: trustme.CA, receive: Start
) -> None:
    r = await receive(server_context(ca, "127.0.0.1"))
    pool = KeepAlivePool(ssl_context=trusting(ca))
    by_ip = r.url.replace("localhost", "127.0.0.1")
    assert await post(pool, by_ip) == 200
    assert r.server_names == [None]  # no SNI for an address (RFC 6066)
    with pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch"):
        await post(pool, r.url)  # the name is not in that certificate
    await pool.close()


async def test_an_idle_tls_socket_the_receiver_closed_is_replaced(
    ca: trustme.CA, receive: Start
) -> None:
    r = await receive(server_context(ca), close_after=True)
    pool = KeepAlivePool(ssl_context=trusting(ca))
    assert await post(pool, r.url) == 200
    await asyncio.sleep(0.05)
    assert await post(pool, r.url) == 200
    assert r.connections == 2
    await pool.close()


async def test_certificate_errors_are_classified(ca: trustme.CA, receive: Start) -> None:
    """Unknown CA, wrong name, expired: an ssl error each, worded, and no socket kept."""
    pool = KeepAlivePool(ssl_context=trusting(ca))
    untrusting = KeepAlivePool()  # the system store only: the throw-away CA is unknown there
    cases = [
        (untrusting, server_context(ca), "unable to get local issuer certificate"),
        (pool, server_context(ca, "other.example"), "Hostname mismatch"),
        (pool, server_context(ca, expired=True), "certificate has expired"),
    ]
    for client, context, words in cases:
        r = await receive(context)
        with pytest.raises(ssl.SSLCertVerificationError) as caught:
            await post(client, r.url)
        assert describe(caught.value).startswith("TLS certificate rejected: ")
        assert words in describe(caught.value)
        assert not client._live
    await pool.close()
    await untrusting.close()


async def test_a_receiver_without_tls_and_a_stalled_handshake(ca: trustme.CA) -> None:
    pool = KeepAlivePool(ssl_context=trusting(ca))

    async def plain(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1)  # the ClientHello, answered in HTTP
        writer.write(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # takes the ClientHello, never answers it
        writer.close()

    servers = [await asyncio.start_server(s, "127.0.0.1", 0) for s in (plain, silent)]
    http, stalled = (f"https://localhost:{s.sockets[0].getsockname()[1]}/" for s in servers)
    with pytest.raises(ssl.SSLError) as caught:
        await post(pool, http)
    assert describe(caught.value).startswith("TLS failed: ")
    with pytest.raises(TimeoutError):
        await post(pool, stalled, timeout=0.2)  # the handshake counts against the deadline
    assert not pool._live
    await pool.close()
    for server in servers:
        server.close()
        await server.wait_closed()
        await drained(server)


def test_tls_over_uvloop(ca: trustme.CA) -> None:
    """Production runs uvloop, whose TLS transport is its own: reuse and rejection there."""

    async def scenario() -> None:
        good = await TlsReceiver(server_context(ca)).start()
        expired = await TlsReceiver(server_context(ca, expired=True)).start()
        pool = KeepAlivePool(ssl_context=trusting(ca))
        assert [await post(pool, good.url) for _ in range(3)] == [200] * 3
        assert good.connections == 1 and good.server_names == ["localhost"]
        with pytest.raises(ssl.SSLCertVerificationError, match="certificate has expired"):
            await post(pool, expired.url)
        await pool.close()
        await good.stop()
        await expired.stop()

    uvloop.run(scenario())


def _row(url: str) -> Claimed:
    return Claimed(
        1, "e" * 26, "iid", "inst", "call", "iid|webhook|instance", "webhook", "instance",
        url, {}, None, "{}", 0, utcnow(),
    )  # fmt: skip


async def test_the_sink_trusts_a_ca_file_and_retries_a_rejected_certificate(
    ca: trustme.CA, receive: Start, tmp_path: Path
) -> None:
    pem = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(pem))
    good = await receive(server_context(ca))
    expired = await receive(server_context(ca, expired=True))
    sink = WebhookSink(RetryPolicy(), 1.0, ca_file=str(pem))
    assert (await sink.deliver(_row(good.url))).ok
    failed = await sink.deliver(_row(expired.url))
    assert not failed.ok and failed.retryable and failed.code is None
    assert failed.error == "TLS certificate rejected: certificate has expired"
    await sink.close()
    plain = WebhookSink(RetryPolicy(), 1.0)  # no CA file: the throw-away CA is unknown
    failed = await plain.deliver(_row(good.url))
    assert not failed.ok and failed.retryable
    assert failed.error == "TLS certificate rejected: unable to get local issuer certificate"
    await plain.close()


async def test_the_app_delivers_over_https_with_its_ca_file(
    ca: trustme.CA, apps: Apps, tmp_path: Path
) -> None:
    """WAGATE_WEBHOOK_CA_FILE reaches the sink; an expired receiver's rows retry, then die with
    the reason in the delivery log, while the good receiver's keep arriving."""
    pem = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(pem))
    good = await Receiver(tls=server_context(ca)).start()
    expired = await Receiver(tls=server_context(ca, expired=True)).start()
    try:
        h = await apps.start(webhook_ca_file=str(pem), webhook_retry_max_attempts=2)
        for name, url in (("good", good.url), ("expired", expired.url)):
            await h.create(name)
            body = {"enabled": True, "url": f"{url}/{name}", "events": ["CONNECTION_UPDATE"]}
            r = await h.client.post(f"/webhook/set/{name}", json={"webhook": body})
            assert r.status_code == 201, r.text
            assert (await h.client.get(f"/instance/connect/{name}")).status_code == 200
        got = await good.wait_for(1)
        assert got[0].path == "/good" and got[0].json["event"] == "connection.update"
        deadline = asyncio.get_running_loop().time() + 10
        while True:
            rows = (await h.client.get("/events/deliveries/expired")).json()
            if rows and rows[0]["status"] == "dead":
                break
            assert asyncio.get_running_loop().time() < deadline, rows
            await asyncio.sleep(0.05)
        assert rows[0]["attempts"] == 2 and rows[0]["lastCode"] is None
        assert rows[0]["lastError"] == "TLS certificate rejected: certificate has expired"
        assert not expired.received
    finally:
        await good.stop()
        await expired.stop()
