"""A lean HTTP/1.1 client for webhook POSTs: pooled keep-alive connections, httptools parsing.

A general-purpose client spends most of a webhook's cost on machinery a POST to a receiver does
not need (middleware, auth flows, redirects, cookie jars, per-request socket checks); this one
writes the request in one call and parses the answer with httptools, so one delivery costs
tens of microseconds of CPU, over HTTP and HTTPS alike (bench/webhook_client.py measures it
against httpx2, which spends more than ten times as much per POST). Every request runs under one
deadline (connect, TLS handshake, send, answer).
A connection is reused only when the last answer allowed it; a request that fails on a reused
connection before any byte of its answer arrived is sent once more on a fresh connection (the
receiver closed the idle socket as the request left: delivery is at-least-once anyway).
Requests that need a proxy are not this client's: `needs_proxy` tells the caller.

HTTPS verifies the receiver's certificate and name (SNI is the URL's host) against the context
`client_ssl_context` builds; the handshake runs under the request's deadline, and a rejected
certificate is an `ssl.SSLError` (an OSError) that `describe` words for the delivery log.
"""

from __future__ import annotations

import asyncio
import ssl
import urllib.request
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

import httptools

if TYPE_CHECKING:
    from wagate.egress import Reach

_DEFAULT_PORT = {"http": 80, "https": 443}
SSL_SHUTDOWN_TIMEOUT = 2.0
_BAD_HEADER_CHARS = frozenset("\r\n\0")
_TOKEN = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


class InvalidRequest(ValueError):
    """The request cannot be written (a bad URL or header); sending it again cannot help."""


class ProtocolError(ConnectionError):
    """The receiver's answer was not valid HTTP/1.1."""


@dataclass(frozen=True, slots=True)
class Target:
    """A parsed URL: where to connect and what to write on the request line."""

    scheme: str
    host: str
    port: int
    path: bytes
    host_header: bytes

    @property
    def origin(self) -> tuple[str, str, int]:
        return (self.scheme, self.host, self.port)


def parse_target(url: str) -> Target:
    """'http://host:8080/a?b' -> Target; raises InvalidRequest for anything not http(s)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidRequest(f"invalid URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORT or not parts.hostname:
        raise InvalidRequest(f"invalid URL: {url[:200]!r}")
    host = parts.hostname
    port = port or _DEFAULT_PORT[scheme]
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    shown = f"[{host}]" if ":" in host else host
    if port != _DEFAULT_PORT[scheme]:
        shown = f"{shown}:{port}"
    try:
        return Target(scheme, host, port, path.encode("ascii"), shown.encode("idna"))
    except UnicodeError:
        raise InvalidRequest(f"invalid URL: {url[:200]!r}") from None


def client_ssl_context(extra_ca_file: str | None = None) -> ssl.SSLContext:
    """The context receivers' certificates are verified with: the system's CA store, as for
    every httpx2 client (SSL_CERT_FILE or SSL_CERT_DIR replace it), plus the CAs of
    `extra_ca_file` (PEM) when given. Raises OSError or ssl.SSLError for a file it cannot load."""
    import httpcore2  # the store and defaults httpx2 uses elsewhere

    context = httpcore2.default_ssl_context()
    if extra_ca_file:
        context.load_verify_locations(cafile=extra_ca_file)
    context.set_alpn_protocols(["http/1.1"])
    return context


def describe(exc: BaseException) -> str:
    """A failed request in a few words: 'TLS certificate rejected: certificate has expired'
    (also when a client wrapped the TLS error in its own)."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"TLS certificate rejected: {cause.verify_message or cause.reason}"
        if isinstance(cause, ssl.SSLError):
            return f"TLS failed: {cause.reason or cause}"
        cause = cause.__cause__ or cause.__context__
    return f"{type(exc).__name__}: {exc}"


def needs_proxy(target: Target) -> bool:
    """True when the environment (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, NO_PROXY) routes the
    request through a proxy."""
    proxies = urllib.request.getproxies()
    if not (proxies.get(target.scheme) or proxies.get("all")):
        return False
    return not urllib.request.proxy_bypass(target.host)


def _header_bytes(name: str, value: str) -> bytes:
    if not name or not _TOKEN.issuperset(name):
        raise InvalidRequest(f"invalid header name {name[:100]!r}")
    if not _BAD_HEADER_CHARS.isdisjoint(value):
        raise InvalidRequest(f"invalid value for header {name!r}")
    try:
        encoded = value.encode("latin-1")
    except UnicodeEncodeError:
        encoded = value.encode()
    return name.encode("ascii") + b": " + encoded.strip() + b"\r\n"


def render(target: Target, body: bytes, headers: dict[str, str]) -> bytes:
    """The whole request, head and body, as one buffer."""
    head = [b"POST ", target.path, b" HTTP/1.1\r\nHost: ", target.host_header, b"\r\n"]
    for name, value in headers.items():
        lowered = name.lower()
        if lowered in ("host", "content-length", "transfer-encoding", "connection"):
            continue
        head.append(_header_bytes(name, value))
    head.append(b"Content-Length: %d\r\n\r\n" % len(body))
    head.append(body)
    return b"".join(head)


class _Connection(asyncio.Protocol):
    """One socket; one request at a time; the answer's status and whether it may be reused."""

    def __init__(self) -> None:
        self._transport: asyncio.Transport | None = None
        self.lost = asyncio.get_running_loop().create_future()  # done at connection_lost
        self._parser = httptools.HttpResponseParser(self)
        self._answer: asyncio.Future[int] | None = None
        self._got_bytes = False
        self._framed = False  # the answer declared its length (or chunks)
        self._status: int | None = None  # once the answer's head was read
        self.closed = False
        self.reusable = False

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self._got_bytes = True
        if self._answer is None or self._answer.done():
            self.close()  # bytes nobody asked for: this socket is not reusable
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(ProtocolError("the receiver upgraded the connection"))
        except httptools.HttpParserError as exc:
            self._fail(ProtocolError(f"invalid HTTP answer: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.reusable = False
        if not self.lost.done():
            self.lost.set_result(None)
        if self._answer is not None and not self._answer.done():
            if self._status is not None and not self._framed:
                self._answer.set_result(self._status)  # an answer ended by the close
            else:
                self._answer.set_exception(
                    ConnectionResetError("the receiver closed the connection")
                )

    # httptools callbacks
    def on_header(self, name: bytes, _value: bytes) -> None:
        if name.lower() in (b"content-length", b"transfer-encoding"):
            self._framed = True

    def on_headers_complete(self) -> None:
        self._status = self._parser.get_status_code()

    def on_message_complete(self) -> None:
        self.reusable = bool(self._parser.should_keep_alive()) and not self.closed
        if self._answer is not None and not self._answer.done():
            self._answer.set_result(self._parser.get_status_code())

    # the request
    @property
    def fresh_failure(self) -> bool:
        """The last request failed before any byte of its answer arrived."""
        return not self._got_bytes

    async def request(self, data: bytes) -> int:
        assert self._transport is not None
        self._answer = asyncio.get_running_loop().create_future()
        self._got_bytes = False
        self._framed = False
        self._status = None
        self.reusable = False
        self._transport.write(data)
        return await self._answer

    def _fail(self, exc: Exception) -> None:
        if self._answer is not None and not self._answer.done():
            self._answer.set_exception(exc)
        self.close()

    def close(self) -> None:
        self.reusable = False
        if not self.closed:
            self.closed = True
            if self._transport is not None:
                self._transport.close()

    def abort(self) -> None:
        """Drop the socket at once (no TLS close_notify exchange)."""
        self.close()
        if self._transport is not None and not self.lost.done():
            self._transport.abort()


class KeepAlivePool:
    """Idle connections per origin, at most `max_idle` in all (the oldest closed first).

    A new connection goes only where `reach` permits (egress.py; default: anywhere): the
    receiver's name is resolved once, every address checked, and a checked address connected
    to, with the URL's host kept for TLS. The client follows no redirects.

    HTTPS connections verify with `ssl_context`, else with `client_ssl_context(ca_file)`,
    built at the first HTTPS request (loading a CA store costs tens of milliseconds)."""

    def __init__(
        self,
        max_idle: int = 100,
        ssl_context: ssl.SSLContext | None = None,
        ca_file: str | None = None,
        reach: Reach | None = None,
    ) -> None:
        from wagate.egress import OPEN

        self._reach = reach or OPEN
        self._max_idle = max_idle
        self._ca_file = ca_file
        self._idle: dict[tuple[str, str, int], deque[_Connection]] = {}
        self._count = 0
        self._ssl = ssl_context
        self._live: set[_Connection] = set()

    @property
    def ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = client_ssl_context(self._ca_file)
        return self._ssl

    async def _connect(self, target: Target) -> _Connection:
        loop = asyncio.get_running_loop()
        kwargs: dict[str, Any] = {}
        if target.scheme == "https":
            kwargs = {
                "ssl": self.ssl_context,
                "server_hostname": target.host,
                # the request's deadline bounds the handshake; this bounds a close_notify
                # exchange with a receiver that stopped answering
                "ssl_shutdown_timeout": SSL_SHUTDOWN_TIMEOUT,
            }
        if self._reach.names(target.host, target.port):
            _, conn = await loop.create_connection(_Connection, target.host, target.port, **kwargs)
        else:
            conn = await self._connect_checked(target, kwargs)
        self._live.add(conn)
        return conn

    async def _connect_checked(self, target: Target, kwargs: dict[str, Any]) -> _Connection:
        """Resolve once, refuse unless `reach` permits every address, then connect to a
        checked address itself (a second lookup cannot move the connection: egress.py)."""
        from wagate import egress

        loop = asyncio.get_running_loop()
        addresses = await egress.resolve(target.host, target.port)
        if not addresses:
            raise OSError(f"{target.host} has no address")
        if not self._reach.permits(target.host, target.port, addresses):
            raise egress.AddressNotAllowed(target.host)
        last: OSError | None = None
        for ip in addresses:
            try:
                _, conn = await loop.create_connection(_Connection, str(ip), target.port, **kwargs)
            except OSError as exc:
                last = exc
            else:
                return conn
        assert last is not None
        raise last

    def _take(self, target: Target) -> _Connection | None:
        idle = self._idle.get(target.origin)
        while idle:
            conn = idle.pop()
            self._count -= 1
            if not conn.closed:
                return conn
            self._live.discard(conn)
        return None

    def _give_back(self, target: Target, conn: _Connection) -> None:
        if not conn.reusable:
            conn.close()
            self._live.discard(conn)
            return
        self._idle.setdefault(target.origin, deque()).append(conn)
        self._count += 1
        while self._count > self._max_idle:
            oldest = max(self._idle.values(), key=len)
            old = oldest.popleft()
            self._count -= 1
            old.close()
            self._live.discard(old)

    async def post(self, target: Target, data: bytes, timeout: float) -> int:
        """Send a rendered request; the answer's status. Raises TimeoutError, OSError
        (ConnectionError for a broken answer, ssl.SSLError for a failed handshake)."""
        async with asyncio.timeout(timeout):
            conn = self._take(target)
            if conn is not None:
                try:
                    status = await conn.request(data)
                except ConnectionError:
                    self._drop(conn)
                    if not conn.fresh_failure:
                        raise
                    conn = None  # a stale idle socket: once more on a new one
                except BaseException:
                    self._drop(conn)
                    raise
                else:
                    self._give_back(target, conn)
                    return status
            conn = await self._connect(target)
            try:
                status = await conn.request(data)
            except BaseException:
                self._drop(conn)
                raise
            self._give_back(target, conn)
            return status

    def _drop(self, conn: _Connection) -> None:
        """A connection a request failed on: its socket goes at once."""
        conn.abort()
        self._live.discard(conn)

    async def close(self, grace: float = 1.0) -> None:
        """Close every connection and wait (`grace` seconds at most, then drop the rest) until
        their sockets are released."""
        conns = list(self._live)
        self._live.clear()
        self._idle.clear()
        self._count = 0
        for conn in conns:
            conn.close()
        pending = [conn.lost for conn in conns if not conn.lost.done()]
        if pending:
            await asyncio.wait(pending, timeout=grace)
        for conn in conns:
            conn.abort()
