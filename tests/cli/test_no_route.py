"""The real (neonize) engine on a machine that cannot reach WhatsApp: connect answers with the
cause and the action (not a 200 of nulls), and connectionState and `wagate instances state`
say the same. The proxy case runs anywhere (a loopback port that refuses); the DNS case runs
where web.whatsapp.com does not resolve (as on this project's machines)."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator

import pytest

from tests.live import WAGATE, LiveServer, free_port, run_server
from wagate.engines.neonize import available

if not available():  # pragma: no cover - the dependency is locked
    pytest.skip("neonize is not installed", allow_module_level=True)


def _resolves(host: str) -> bool:
    try:
        socket.getaddrinfo(host, 443)
    except OSError:
        return False
    return True


def _real(tmp: pytest.TempPathFactory, **extra: str) -> Iterator[LiveServer]:
    yield from run_server(
        tmp.mktemp("no-route"),
        WAGATE_ENGINE="neonize",
        WAGATE_CONNECT_WAIT_SECONDS="25",  # the first connect also starts a host process
        WAGATE_RECONNECT_INITIAL_SECONDS="0.5",
        WAGATE_RECONNECT_MAX_SECONDS="2",
        **extra,
    )


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    yield from _real(tmp_path_factory)


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Every connection through a proxy whose loopback port refuses."""
    yield from _real(tmp_path_factory, WAGATE_NEONIZE_PROXY=f"http://127.0.0.1:{free_port()}")


def cli(live: LiveServer, *args: str) -> tuple[int, str]:
    done = subprocess.run(
        [WAGATE, "instances", *args, "--url", live.url],
        env=live.env,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    return done.returncode, done.stdout + done.stderr


def _create(live: LiveServer, name: str) -> None:
    live.call(
        "POST", "/instance/create", json={"instanceName": name, "integration": "WHATSAPP-BAILEYS"}
    )


def test_an_unreachable_proxy_is_named_in_connect_state_and_the_cli(proxied: LiveServer) -> None:
    real = proxied
    _create(real, "via-proxy")
    with real.client() as c:
        r = c.get("/instance/connect/via-proxy", timeout=60)
    assert r.status_code == 503, r.text
    got = r.json()
    assert got["status"] == 503 and got["error"] == "Service Unavailable"
    assert got["response"]["message"][0].startswith("No route to WhatsApp: proxy unreachable (")
    assert "connection refused" in got["response"]["message"][0]
    assert got["lifecycle"]["action"] == "check_network"
    assert got["lifecycle"]["cause"] == "no_route"

    state = real.call("GET", "/instance/connectionState/via-proxy")
    assert state["instance"]["state"] == "connecting"  # Evolution's view: it keeps retrying
    assert state["lifecycle"]["message"].startswith("No route to WhatsApp: proxy unreachable")
    assert "retries with backoff" in state["lifecycle"]["message"]
    assert state["lifecycle"]["action"] == "check_network"

    code, out = cli(real, "state", "via-proxy")
    assert code == 0, out
    assert "No route to WhatsApp: proxy unreachable" in out
    assert "What to do: check that this machine reaches web.whatsapp.com" in out
    assert "WAGATE_ENGINE=sim" in out
    assert "wait: wagate is working on it" not in out

    code, out = cli(real, "connect", "via-proxy", "--timeout", "20")
    assert code == 1, out
    assert "via-proxy cannot connect: No route to WhatsApp: proxy unreachable" in out
    assert "WAGATE_ENGINE=sim" in out
    assert "base64" not in out and "null" not in out
    real.call("DELETE", "/instance/delete/via-proxy")


@pytest.mark.skipif(_resolves("web.whatsapp.com"), reason="this machine can resolve WhatsApp")
def test_no_dns_is_named_as_such(real: LiveServer) -> None:
    _create(real, "no-dns")
    with real.client() as c:
        r = c.get("/instance/connect/no-dns", timeout=60)
    assert r.status_code == 503, r.text
    message = r.json()["response"]["message"][0]
    assert message.startswith("No route to WhatsApp: DNS lookup failed ("), message
    assert "web.whatsapp.com" in message
    code, out = cli(real, "state", "no-dns")
    assert "No route to WhatsApp: DNS lookup failed" in out and code == 0
    instances = real.call("GET", "/instance/fetchInstances", params={"instanceName": "no-dns"})
    assert instances[0]["lifecycle"]["cause"] == "no_route"
    real.call("DELETE", "/instance/delete/no-dns")
