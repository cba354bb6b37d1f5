"""WAGATE_FETCH_PRIVATE_ADDRESSES=false: the address classifier, and media URLs and link
previews refused on the resolved address of every connection (the URL's, a name's, each
redirect's, a preview's image), with the connection made to the address checked."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import make_settings, start_harness, stop_harness
from tests.messaging.conftest import B_NUMBER, PNG, _pair
from tests.messaging.pages import jpeg, og_page
from wagate import egress
from wagate.config import load_settings
from wagate.domain.errors import BadRequest
from wagate.messaging.media import fetch
from wagate.messaging.preview import Previewer

METADATA = "http://169.254.169.254/latest/meta-data/iam/security-credentials/"


# --- the classifier ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "public"),
    [
        # IPv4
        ("8.8.8.8", True),
        ("93.184.216.34", True),
        ("172.32.0.1", True),  # just past 172.16.0.0/12
        ("100.128.0.1", True),  # just past 100.64.0.0/10
        ("127.0.0.1", False),
        ("127.255.255.254", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("172.31.255.255", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),  # cloud metadata
        ("100.64.0.1", False),  # CGNAT: refused (cloud-internal, never on the internet)
        ("100.100.100.200", False),  # a metadata service inside CGNAT space
        ("0.0.0.0", False),  # reaches the local host
        ("0.1.2.3", False),
        ("255.255.255.255", False),
        ("224.0.0.1", False),
        ("240.0.0.1", False),
        ("192.0.0.8", False),
        ("192.0.2.1", False),
        ("198.18.0.1", False),
        ("198.51.100.1", False),
        ("203.0.113.1", False),
        # IPv6
        ("2606:4700:4700::1111", True),
        ("2001:4860:4860::8888", True),
        ("::1", False),
        ("::", False),
        ("fe80::1", False),
        ("fe80::1%eth0", False),
        ("fc00::1", False),
        ("fd12:3456::1", False),  # ULA
        ("fec0::1", False),  # site-local (deprecated)
        ("ff02::1", False),  # multicast
        ("100::1", False),  # discard-only
        ("2001::1", False),  # Teredo
        ("2001:db8::1", False),
        ("3fff::1", False),
        ("::127.0.0.1", False),  # IPv4-compatible (deprecated)
        # IPv6 standing for IPv4: judged by the IPv4 address
        ("::ffff:127.0.0.1", False),
        ("::ffff:169.254.169.254", False),
        ("::ffff:10.0.0.1", False),
        ("::ffff:8.8.8.8", True),
        ("64:ff9b::7f00:1", False),  # NAT64 of 127.0.0.1
        ("64:ff9b::808:808", True),  # NAT64 of 8.8.8.8
        ("2002:a9fe:a9fe::1", False),  # 6to4 of 169.254.169.254
        ("2002:808:808::1", True),  # 6to4 of 8.8.8.8
    ],
)
def test_which_addresses_are_public(address: str, public: bool) -> None:
    assert egress.is_public(ipaddress.ip_address(address)) is public


# --- loopback servers and the seams --------------------------------------------------------


class Server:
    """A loopback HTTP server on `host`: GET <path> answers `routes[path]` (status, headers,
    body; 404 when unknown) and keeps each request's head."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.routes: dict[str, tuple[int, dict[str, str], bytes]] = {}
        self.heads: list[bytes] = []
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> Server:
        self.server = await asyncio.start_server(self._serve, self.host, 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    def url(self, path: str, host: str | None = None) -> str:
        return f"http://{host or self.host}:{self.port}{path}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            self.heads.append(head)
            path = head.split(b" ", 2)[1].decode().split("?", 1)[0]
            status, headers, body = self.routes.get(path, (404, {}, b"no"))
            lines = [f"HTTP/1.1 {status} X", f"content-length: {len(body)}", "connection: close"]
            lines += [f"{k}: {v}" for k, v in headers.items()]
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()


def _page(server: Server, path: str, image: str | None = "/image.jpg") -> None:
    server.routes[path] = (200, {"content-type": "text/html"}, og_page(image=image))


@pytest.fixture
async def web() -> AsyncIterator[Server]:
    server = await Server().start()
    server.routes["/png"] = (200, {"content-type": "image/png"}, PNG)
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def inner() -> AsyncIterator[Server]:
    """An 'internal' server on 127.0.0.2 that must never be reached."""
    server = await Server("127.0.0.2").start()
    server.routes["/secret"] = (200, {"content-type": "image/png"}, PNG)
    try:
        yield server
    finally:
        await server.stop()


def pretend_public(monkeypatch: pytest.MonkeyPatch, *addresses: str) -> None:
    """Treat these loopback addresses as public (the only way to have an allowed server
    without a network); every other address is judged as in production."""
    allowed = {ipaddress.ip_address(a) for a in addresses}
    real = egress.is_public
    monkeypatch.setattr(egress, "is_public", lambda ip: ip in allowed or real(ip))


def fake_dns(monkeypatch: pytest.MonkeyPatch, names: dict[str, list[str]]) -> list[str]:
    """Resolve these names (others as the system does); returns the names asked, in order."""
    asked: list[str] = []
    real = egress.resolve

    async def resolve(host: str, port: int) -> list[egress.IPAddress]:
        asked.append(host)
        if host in names:
            return [ipaddress.ip_address(a) for a in names[host]]
        return await real(host, port)

    monkeypatch.setattr(egress, "resolve", resolve)
    return asked


async def guarded(url: str, field: str = "media") -> str:
    """The 400's message of fetching `url` with private addresses refused."""
    with pytest.raises(BadRequest) as caught:
        await fetch(url, field, 1_000_000, 5.0, allow_private=False)
    return str(caught.value)


# --- media URLs ----------------------------------------------------------------------------


async def test_loopback_urls_are_refused_when_private_addresses_are(web: Server) -> None:
    for url, host in (
        (web.url("/png"), "127.0.0.1"),
        (f"http://[::1]:{web.port}/png", "::1"),
        (web.url("/png", "localhost"), "localhost"),
        (f"http://0.0.0.0:{web.port}/png", "0.0.0.0"),
        (f"http://[::ffff:127.0.0.1]:{web.port}/png", "::ffff:127.0.0.1"),
        (METADATA, "169.254.169.254"),
    ):
        said = await guarded(url)
        assert said == f"media: fetching from {host} is not allowed (not a public address)"
    assert web.heads == []  # nothing was connected to
    # allowed (the default): the same URL is fetched
    media = await fetch(web.url("/png"), "media", 1_000_000, 5.0)
    assert media.data == PNG and media.mimetype == "image/png"


async def test_a_name_that_resolves_to_a_private_address_is_refused(
    monkeypatch: pytest.MonkeyPatch, web: Server
) -> None:
    asked = fake_dns(monkeypatch, {"cdn.example": ["127.0.0.1"]})
    said = await guarded(web.url("/png", "cdn.example"), "picture")
    assert said == "picture: fetching from cdn.example is not allowed (not a public address)"
    assert asked == ["cdn.example"] and web.heads == []


async def test_a_name_with_any_private_address_is_refused_whole(
    monkeypatch: pytest.MonkeyPatch, web: Server, inner: Server
) -> None:
    pretend_public(monkeypatch, "127.0.0.1")
    fake_dns(monkeypatch, {"mixed.example": ["127.0.0.1", "127.0.0.2"]})
    assert "mixed.example is not allowed" in await guarded(web.url("/png", "mixed.example"))
    assert web.heads == [] and inner.heads == []


async def test_the_connection_goes_to_the_address_checked(
    monkeypatch: pytest.MonkeyPatch, web: Server
) -> None:
    """cdn.example exists only in the checked answer: were the name resolved again when
    connecting (the DNS rebinding window), the fetch would fail. The Host header keeps the
    URL's name; a first address that does not answer falls back to the next."""
    pretend_public(monkeypatch, "127.0.0.1", "127.0.0.3")
    asked = fake_dns(monkeypatch, {"cdn.example": ["127.0.0.3", "127.0.0.1"]})
    media = await fetch(
        web.url("/png", "cdn.example"), "media", 1_000_000, 5.0, allow_private=False
    )
    assert media.data == PNG
    assert asked == ["cdn.example"]
    assert f"host: cdn.example:{web.port}".encode() in web.heads[0].lower()


async def test_tls_names_the_url_host_not_the_address(monkeypatch: pytest.MonkeyPatch) -> None:
    """The TLS ClientHello carries the URL's name as SNI (the certificate is checked against
    it), though the connection goes to the pinned address."""
    hellos: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        hellos.append(await reader.read(4096))
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        pretend_public(monkeypatch, "127.0.0.1")
        fake_dns(monkeypatch, {"cdn.example": ["127.0.0.1"]})
        said = await guarded(f"https://cdn.example:{port}/png")
    finally:
        server.close()
    assert (
        said
        == "media: https://cdn.example:" + str(port) + "/png could not be fetched (ConnectError)"
    )
    assert hellos and hellos[0][:1] == b"\x16"  # a TLS handshake record
    assert b"cdn.example" in hellos[0] and b"127.0.0.1" not in hellos[0]


async def test_a_redirect_to_a_private_address_is_refused(
    monkeypatch: pytest.MonkeyPatch, web: Server, inner: Server
) -> None:
    pretend_public(monkeypatch, "127.0.0.1")
    fake_dns(monkeypatch, {"cdn.example": ["127.0.0.1"], "internal.example": ["127.0.0.2"]})
    web.routes["/to-inner"] = (302, {"location": inner.url("/secret")}, b"")
    web.routes["/to-name"] = (302, {"location": inner.url("/secret", "internal.example")}, b"")
    web.routes["/to-metadata"] = (301, {"location": METADATA}, b"")
    for path, refused in (
        ("/to-inner", "127.0.0.2"),
        ("/to-name", "internal.example"),
        ("/to-metadata", "169.254.169.254"),
    ):
        said = await guarded(web.url(path, "cdn.example"))
        assert said == f"media: fetching from {refused} is not allowed (not a public address)"
    assert len(web.heads) == 3 and inner.heads == []
    # the same redirect within allowed addresses is followed
    web.routes["/to-png"] = (302, {"location": "/png"}, b"")
    media = await fetch(
        web.url("/to-png", "cdn.example"), "m", 1_000_000, 5.0, allow_private=False
    )
    assert media.data == PNG


async def test_names_that_do_not_resolve_or_answer_are_the_usual_400(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pretend_public(monkeypatch, "127.0.0.3")
    fake_dns(monkeypatch, {"empty.example": [], "down.example": ["127.0.0.3"]})

    async def no_such_name(host: str, port: int) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    for url in ("http://empty.example/x", "http://down.example:9/x"):
        assert await guarded(url) == f"media: {url} could not be fetched (ConnectError)"
    monkeypatch.setattr(egress, "resolve", no_such_name)
    url = "http://nowhere.example/x"
    assert await guarded(url) == f"media: {url} could not be fetched (ConnectError)"


def _message(r: Any) -> str:
    body = r.json()
    assert r.status_code == 400 and body["status"] == 400 and body["error"] == "Bad Request"
    return str(body["response"]["message"])


async def test_with_the_setting_off_the_routes_refuse_private_urls(
    tmp_path: Path, web: Server
) -> None:
    """A server started with WAGATE_FETCH_PRIVATE_ADDRESSES=false: a media URL is a 400 naming
    the field (and not echoing the URL's secrets), a link is sent without a preview."""
    _page(web, "/page")
    h, ctx = await start_harness(make_settings(tmp_path, fetch_private_addresses=False))
    try:
        async for p in _pair(h):
            secret_url = f"http://user:hunter2@127.0.0.1:{web.port}/png?token=s3cret"
            r = await h.client.post(
                f"/message/sendMedia/{p.a}",
                json={"number": B_NUMBER, "mediatype": "image", "media": secret_url},
            )
            assert "media: fetching from 127.0.0.1 is not allowed" in _message(r)
            assert "hunter2" not in r.text and "s3cret" not in r.text
            r = await h.client.post(
                f"/message/sendWhatsAppAudio/{p.a}",
                json={"number": B_NUMBER, "audio": web.url("/png", "localhost")},
            )
            assert "audio: fetching from localhost is not allowed" in _message(r)
            r = await h.client.post(
                f"/chat/updateProfilePicture/{p.a}", json={"picture": web.url("/png")}
            )
            assert "picture: fetching from 127.0.0.1 is not allowed" in _message(r)

            text = f"look {web.url('/page')}"
            r = await h.client.post(
                f"/message/sendText/{p.a}", json={"number": B_NUMBER, "text": text}
            )
            assert r.status_code == 201, r.text
            assert r.json()["message"] == {"conversation": text}
    finally:
        await stop_harness(h, ctx)
    assert web.heads == []


def test_the_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.delenv("WAGATE_FETCH_PRIVATE_ADDRESSES", raising=False)
    assert load_settings().fetch_private_addresses is True
    monkeypatch.setenv("WAGATE_FETCH_PRIVATE_ADDRESSES", "false")
    assert load_settings().fetch_private_addresses is False


# --- link previews -------------------------------------------------------------------------


async def test_a_private_link_gives_no_preview(web: Server) -> None:
    _page(web, "/page")
    assert await Previewer(5.0, allow_private=False).preview(web.url("/page")) is None
    assert await Previewer(5.0, allow_private=False).preview(web.url("/page", "localhost")) is None
    assert web.heads == []
    fields = await Previewer(5.0).preview(web.url("/page"))  # the default previews it
    assert fields is not None and fields["title"] == "A page"


async def test_preview_redirects_and_images_are_checked(
    monkeypatch: pytest.MonkeyPatch, web: Server, inner: Server
) -> None:
    pretend_public(monkeypatch, "127.0.0.1")
    fake_dns(monkeypatch, {"news.example": ["127.0.0.1"]})
    web.routes["/image.jpg"] = (200, {"content-type": "image/jpeg"}, jpeg(64, 64))
    _page(web, "/page")
    _page(web, "/metadata-image", image=METADATA)
    _page(web, "/inner-image", image=inner.url("/secret"))
    web.routes["/to-inner"] = (302, {"location": inner.url("/page")}, b"")
    _page(inner, "/page")
    p = Previewer(5.0, allow_private=False)

    fields = await p.preview(web.url("/page", "news.example"))
    assert fields is not None and "jpegThumbnail" in fields  # allowed page and image
    # a refused image: the preview, without its thumbnail
    for path in ("/metadata-image", "/inner-image"):
        fields = await p.preview(web.url(path, "news.example"))
        assert fields is not None and fields["title"] == "A page", path
        assert "jpegThumbnail" not in fields, path
    # a redirect to a refused address: no preview
    assert await p.preview(web.url("/to-inner", "news.example")) is None
    assert inner.heads == []


async def test_the_allow_list_opens_media_and_previews_to_its_hosts_only(web: Server) -> None:
    """WAGATE_PRIVATE_ADDRESSES_ALLOWED acts on media URLs as on webhooks: an allowed host
    (or network) is fetched, another loopback name is still refused."""
    for entry in ("127.0.0.1", "127.0.0.0/8", f"127.0.0.1:{web.port}"):
        reach = egress.parse_allowed(entry)
        media = await fetch(web.url("/png"), "media", 1_000_000, 5.0, allow_private=reach)
        assert media.data == PNG
    reach = egress.parse_allowed(f"127.0.0.1:{web.port + 1}")
    with pytest.raises(BadRequest, match="not a public address"):
        await fetch(web.url("/png"), "media", 1_000_000, 5.0, allow_private=reach)
    reach = egress.parse_allowed("localhost")
    with pytest.raises(BadRequest, match="not a public address"):
        await fetch(web.url("/png"), "media", 1_000_000, 5.0, allow_private=reach)
