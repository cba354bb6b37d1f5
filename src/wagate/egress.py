"""Which addresses a client's URL may make the server connect to (WAGATE_PRIVATE_ADDRESSES,
also read as WAGATE_FETCH_PRIVATE_ADDRESSES, and WAGATE_PRIVATE_ADDRESSES_ALLOWED).

The server connects to URLs a client aims: the media URLs of the send routes and of the
profile and group picture routes, the page and image of a text's link preview, and webhook
receivers. By default, as in Evolution, any address the server can reach is connected to. With
WAGATE_PRIVATE_ADDRESSES=false these connect only to public addresses (`is_public`):
not to loopback, private networks (RFC 1918, IPv6 ULA), shared address space (CGNAT),
link-local addresses (cloud metadata at 169.254.169.254, fe80::/10), unspecified, multicast,
documentation, benchmarking or reserved addresses; `Reach` is that policy, with the operator's
allow-list (host names, host:port, addresses and networks whose receivers are internal).
The webhook client (events/sinks/keepalive.py) checks the same way in its own connect step.

Where the check is: on the address a connection is made to, in the step that connects. httpx2
hands each new connection to an httpcore2 connection pool, whose network backend opens the TCP
connection given the URL's host and port. `GuardedBackend` is that backend: it resolves the
host once (`loop.getaddrinfo`), refuses (`AddressNotAllowed`) when any address the name
resolves to is not public, and connects to the checked address itself, given as an IP literal,
so nothing resolves the name again: a DNS answer that changes between the check and the
connection (DNS rebinding) cannot move the connection. Every connection goes through it: the
first request, each redirect hop (httpx2 opens a connection for each new origin) and a
preview's image. The URL itself is not rewritten, so the Host header, TLS SNI and the
certificate's name check all still use the URL's host name.

Checking the URL before the request would miss redirects and names that resolve to a private
address, and checking a resolution before letting the HTTP client resolve again would leave the
rebinding window open; the connect step has neither gap.

Proxies: a guarded client is given its transport, so HTTP(S)_PROXY and ALL_PROXY from the
environment are not used for these fetches (a proxy would connect on the server's behalf to an
address this check cannot see). A deployment that prefers an egress proxy's policy keeps the
default and sets the proxy.

The one seam outside httpx2's public API: `AsyncHTTPTransport` takes no network backend, so
`GuardedTransport` replaces the connection pool it builds (`_pool`, the attribute its methods
use) with one that has `GuardedBackend`. The tests that see loopback refused would fail if an
httpx2 release moved it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Iterable
from typing import Any

import httpcore2
import httpx2

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_V4 = ipaddress.IPv4Network
_V6 = ipaddress.IPv6Network

# IPv4 addresses that are not public (IANA's special-purpose registry, and what clouds put there).
_V4_REFUSED = tuple(
    _V4(net)
    for net in (
        "0.0.0.0/8",  # "this network"; connecting to 0.0.0.0 reaches the local host
        "10.0.0.0/8",  # private (RFC 1918)
        "100.64.0.0/10",  # shared address space (CGNAT): clouds put services there
        "127.0.0.0/8",  # loopback
        "169.254.0.0/16",  # link-local, cloud metadata (169.254.169.254)
        "172.16.0.0/12",  # private (RFC 1918)
        "192.0.0.0/24",  # IETF protocol assignments
        "192.0.2.0/24",  # documentation (TEST-NET-1)
        "192.88.99.0/24",  # 6to4 relay anycast (deprecated)
        "192.168.0.0/16",  # private (RFC 1918)
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",  # documentation (TEST-NET-2)
        "203.0.113.0/24",  # documentation (TEST-NET-3)
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, and the broadcast address 255.255.255.255
    )
)
# IPv6: only global unicast (2000::/3) is public, less these parts of it. Everything else
# (::, ::1, IPv4-compatible ::/96, fc00::/7 ULA, fe80::/10 link-local, fec0::/10 site-local,
# ff00::/8 multicast, 100::/64 discard) is outside 2000::/3.
_V6_GLOBAL = _V6("2000::/3")
_V6_REFUSED = tuple(
    _V6(net)
    for net in (
        "2001::/23",  # IETF protocol assignments (Teredo among them)
        "2001:db8::/32",  # documentation
        "3fff::/20",  # documentation
    )
)
_V4_MAPPED = _V6("::ffff:0:0/96")
_NAT64 = _V6("64:ff9b::/96")
_SIX_TO_FOUR = _V6("2002::/16")


def _embedded_v4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for: IPv4-mapped (::ffff:a.b.c.d), NAT64's
    well-known prefix (64:ff9b::a.b.c.d) and 6to4 (2002:aabb:ccdd::)."""
    if ip in _V4_MAPPED or ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip in _SIX_TO_FOUR:
        return ip.sixtofour
    return None


def is_public(ip: IPAddress) -> bool:
    """Whether a fetch may connect to `ip` when private addresses are refused.

    An IPv6 address that stands for an IPv4 one (IPv4-mapped, NAT64, 6to4) is judged by that
    IPv4 address, so ::ffff:127.0.0.1 is loopback. 0.0.0.0/8 and 100.64.0.0/10 (CGNAT) are
    refused: the first reaches the local host, the second holds cloud-internal services (e.g.
    a metadata service at 100.100.100.200) and is never on the internet."""
    if isinstance(ip, ipaddress.IPv6Address):
        v4 = _embedded_v4(ip)
        if v4 is not None:
            return is_public(v4)
        return ip in _V6_GLOBAL and not any(ip in net for net in _V6_REFUSED)
    return not any(ip in net for net in _V4_REFUSED)


class Reach:
    """Where a connection a client aimed may go: anywhere (`private`), or public addresses
    plus the allow-list: `hosts` (names or IP literals, lower-case, any port), `origins`
    (host, port) pairs, and `networks`."""

    __slots__ = ("hosts", "networks", "origins", "private")

    def __init__(
        self,
        private: bool = True,
        hosts: Iterable[str] = (),
        origins: Iterable[tuple[str, int]] = (),
        networks: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network] = (),
    ) -> None:
        self.private = private
        self.hosts = frozenset(h.lower() for h in hosts)
        self.origins = frozenset((h.lower(), p) for h, p in origins)
        self.networks = tuple(networks)

    def names(self, host: str, port: int) -> bool:
        """Whether `host` (or host:port) is allowed whatever it resolves to."""
        host = host.lower().strip("[]")
        return self.private or host in self.hosts or (host, port) in self.origins

    def permits(self, host: str, port: int, addresses: Iterable[IPAddress]) -> bool:
        """Whether a connection to `host` that resolved to `addresses` may be made: every
        address is public or in an allowed network, or the host is allowed by name."""
        if self.names(host, port):
            return True
        return all(is_public(ip) or any(ip in net for net in self.networks) for ip in addresses)

    def trusting(self, url: str | None) -> Reach:
        """This policy, plus the host and port of `url` (an operator's own receiver, such as
        WEBHOOK_GLOBAL_URL: it is not a client's to aim)."""
        if self.private or not url:
            return self
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        if not parts.hostname:
            return self
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower(), 0)
        origins = self.origins | {(parts.hostname, port)}
        return Reach(False, self.hosts, origins, self.networks)


OPEN = Reach()
"""Any address (Evolution's way, and the default)."""
GUARDED = Reach(private=False)
"""Public addresses only, nothing allowed besides."""


def reach_of(policy: bool | Reach) -> Reach:
    """A `Reach` from the old boolean (True: any address) or itself."""
    if isinstance(policy, Reach):
        return policy
    return OPEN if policy else GUARDED


class AddressNotAllowed(Exception):
    """A connection to `host` was refused: it is, or resolves to, an address that is not
    public. The message names the host only (never the URL, which may carry secrets)."""

    def __init__(self, host: str) -> None:
        super().__init__(f"{host} does not resolve to a public address")
        self.host = host


async def resolve(host: str, port: int) -> list[IPAddress]:
    """The addresses of `host` in the order the system prefers them (an IP literal is itself)."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    found: list[IPAddress] = []
    for family, _, _, _, sockaddr in infos:
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        ip = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if ip not in found:
            found.append(ip)
    return found


class GuardedBackend(httpcore2.AsyncNetworkBackend):
    """httpcore2's default backend, connecting only to addresses it resolved itself and
    `reach` permits (public ones, and the allow-list's)."""

    def __init__(self, reach: Reach = GUARDED) -> None:
        self._inner = httpcore2.AnyIOBackend()
        self._reach = reach

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                addresses = await resolve(host, port)
        except TimeoutError:
            raise httpcore2.ConnectTimeout(f"resolving {host} timed out") from None
        except (OSError, UnicodeError) as exc:
            raise httpcore2.ConnectError(f"{host}: {exc}") from None
        if not addresses:
            raise httpcore2.ConnectError(f"{host} has no address")
        if not self._reach.permits(host, port, addresses):
            # a name with any non-public address is refused whole: its answers are the
            # attacker's to order, and a mix is what a rebinding attempt looks like
            raise AddressNotAllowed(host)
        last: Exception | None = None
        for ip in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(ip),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore2.ConnectError, httpcore2.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        raise httpcore2.ConnectError("a guarded fetch does not connect to Unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx2.AsyncHTTPTransport):
    """An httpx2 transport whose every connection goes through `GuardedBackend` (no proxy)."""

    def __init__(self, ssl_context: ssl.SSLContext, reach: Reach = GUARDED) -> None:
        super().__init__(verify=ssl_context, trust_env=False)
        self._pool = httpcore2.AsyncConnectionPool(
            ssl_context=ssl_context, network_backend=GuardedBackend(reach)
        )


def transport(
    allow_private: bool | Reach, ssl_context: ssl.SSLContext | None = None
) -> httpx2.AsyncHTTPTransport | None:
    """The transport of a client-driven fetch: None (httpx2's own) when any address is
    allowed, else a guarded one."""
    reach = reach_of(allow_private)
    if reach.private:
        return None
    return GuardedTransport(ssl_context or httpx2.create_ssl_context(), reach)


def parse_allowed(text: str) -> Reach:
    """WAGATE_PRIVATE_ADDRESSES_ALLOWED, comma-separated: a host name or IP (any port),
    host:port or [v6]:port, a URL (its host and port), or a network (10.0.0.0/8).
    Raises ValueError naming the entry it cannot read."""
    from urllib.parse import urlsplit

    hosts: list[str] = []
    origins: list[tuple[str, int]] = []
    networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    for raw in text.split(","):
        entry = raw.strip()
        if not entry:
            continue
        try:
            if any(ch.isspace() for ch in entry):
                raise ValueError("whitespace")
            if "/" in entry and "://" not in entry:
                networks.append(ipaddress.ip_network(entry, strict=False))
                continue
            try:
                ipaddress.ip_address(entry)
                hosts.append(entry)
                continue
            except ValueError:
                pass
            parts = urlsplit(entry if "://" in entry else f"//{entry}")
            if not parts.hostname or parts.path not in ("", "/"):
                raise ValueError("no host")
            port = parts.port
            if port is None and "://" in entry:
                port = {"http": 80, "https": 443}.get(parts.scheme.lower())
            if port is None:
                hosts.append(parts.hostname)
            else:
                origins.append((parts.hostname, port))
        except ValueError:
            raise ValueError(
                f"{entry!r} is not a host, host:port, URL, address or network"
            ) from None
    return Reach(False, hosts, origins, networks)
