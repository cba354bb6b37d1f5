"""`wagate doctor`'s WhatsApp check, with the resolver and dialer injected (this machine has no
route to WhatsApp, so both outcomes are made here), and through real loopback proxies."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from wagate.console.doctor import FAIL, OK, WARN, whatsapp


def _resolves(*addresses: str) -> Callable[[str, int], list[str]]:
    def resolve(host: str, port: int) -> list[str]:
        assert (host, port) == ("web.whatsapp.com", 443)
        return list(addresses)

    return resolve


def _no_dns(host: str, port: int) -> list[str]:
    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")


def _connects(host: str, port: int, timeout: float) -> socket.socket:
    assert (host, port) == ("157.240.0.53", 443) and timeout == 3.0
    a, b = socket.socketpair()
    b.close()
    return a


def _refuses(host: str, port: int, timeout: float) -> socket.socket:
    raise ConnectionRefusedError(111, "Connection refused")


def test_reachable() -> None:
    found = whatsapp(None, "neonize", resolve=_resolves("157.240.0.53"), dial=_connects)
    assert found.status == OK and found.detail == "web.whatsapp.com:443 answers"


def test_no_dns_fails_the_real_engine_and_warns_the_sim() -> None:
    found = whatsapp(None, "neonize", resolve=_no_dns, dial=_connects)
    assert found.status == FAIL
    assert found.detail == (
        "no route to WhatsApp: DNS lookup of web.whatsapp.com failed (Name or service not known)"
    )
    assert "WAGATE_ENGINE=sim" in found.fix
    sim = whatsapp(None, "sim", resolve=_no_dns, dial=_connects)
    assert sim.status == WARN and "the sim engine does not need it" in sim.detail


def test_a_resolver_that_hangs_is_cut_short() -> None:
    def hangs(host: str, port: int) -> list[str]:
        time.sleep(2)
        return ["157.240.0.53"]

    t0 = time.monotonic()
    found = whatsapp(None, "neonize", resolve=hangs, dial=_connects, timeout=0.3)
    assert found.status == FAIL and "no answer in 0.3 s" in found.detail
    assert time.monotonic() - t0 < 2.5


def test_refused_and_empty_answers() -> None:
    found = whatsapp(None, "neonize", resolve=_resolves("157.240.0.53"), dial=_refuses)
    assert found.status == FAIL
    assert "did not accept a connection on 443 (Connection refused)" in found.detail
    empty = whatsapp(None, "neonize", resolve=_resolves(), dial=_connects)
    assert empty.status == FAIL and "found no address" in empty.detail


@pytest.fixture
def http_proxy() -> Iterator[tuple[str, list[bytes]]]:
    """A loopback HTTP proxy that answers CONNECT to web.whatsapp.com with 200, else 403."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    asked: list[bytes] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                request = conn.recv(1024)
                asked.append(request)
                ok = request.startswith(b"CONNECT web.whatsapp.com:443 ")
                conn.sendall(
                    b"HTTP/1.1 200 Connection established\r\n\r\n"
                    if ok
                    else b"HTTP/1.1 403 Forbidden\r\n\r\n"
                )

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield f"http://user:secret@127.0.0.1:{server.getsockname()[1]}", asked
    finally:
        server.close()


def test_through_a_proxy(http_proxy: tuple[str, list[bytes]]) -> None:
    url, asked = http_proxy
    found = whatsapp(url, "neonize", resolve=_no_dns)  # the proxy resolves, not this machine
    assert found.status == OK, found
    assert "through the proxy http://user:***@127.0.0.1:" in found.detail
    assert asked[0].startswith(b"CONNECT web.whatsapp.com:443 HTTP/1.1\r\n")


def test_a_proxy_that_refuses() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    found = whatsapp(f"http://127.0.0.1:{port}", "neonize")
    assert found.status == FAIL
    assert f"the proxy 127.0.0.1:{port} does not answer" in found.detail
