"""Fixtures for proofs against the real neonize library, offline.

The library only ever runs in host subprocesses (and in the seeding subprocess): a Go abort
can never take the test process down. Loopback stands in for the network: a closed port is a
proxy that refuses at once, and a listener that accepts and never answers is a hanging one.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest

from tests.conftest import API_KEY, _reset_server_db, make_settings
from wagate.app import Overrides, build_app
from wagate.engines.neonize import HostConfig, NeonizeConfig, NeonizeEngine, available

if not available():  # pragma: no cover - the dependency is locked
    pytest.skip("neonize is not installed", allow_module_level=True)

SEED = Path(__file__).with_name("seed_store.py")
FULL = os.environ.get("WAGATE_NEONIZE_FULL_PROOFS") == "1"


def seed_paired_store(db: Path, number: str) -> str:
    """A whatsmeow store holding a paired device (in a subprocess: it loads Go)."""
    db.parent.mkdir(parents=True, exist_ok=True)
    out = subprocess.run(
        [sys.executable, str(SEED), str(db), number],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.strip().splitlines()[-1]


@pytest.fixture
def refused_proxy() -> str:
    """A loopback proxy address whose port refuses connections."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def blackhole_proxy() -> Iterator[str]:
    """A loopback proxy that accepts connections and never answers (a hanging network)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(128)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                held.append(conn)
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(2)
        for conn in held:
            conn.close()
        server.close()


@dataclass
class NeonizeHarness:
    """The app in-process with the neonize engine; hosts are real subprocesses."""

    client: httpx2.AsyncClient
    app: Any
    engine: NeonizeEngine

    @property
    def gateway(self) -> Any:
        return self.app.state.gateway

    async def create(self, name: str) -> str:
        r = await self.client.post(
            "/instance/create", json={"instanceName": name, "integration": "WHATSAPP-BAILEYS"}
        )
        assert r.status_code == 201, r.text
        return str(r.json()["instance"]["instanceId"])

    async def connect(self, name: str) -> dict[str, Any]:
        r = await self.client.get(f"/instance/connect/{name}")
        # a connect whose first dial fails inside the wait answers 503 naming the cause
        assert r.status_code == 200 or (
            r.status_code == 503 and r.json()["lifecycle"]["cause"] == "no_route"
        ), r.text
        return dict(r.json())

    async def lifecycle(self, name: str) -> dict[str, Any]:
        r = await self.client.get(f"/instance/connectionState/{name}")
        assert r.status_code == 200, r.text
        return dict(r.json()["lifecycle"])

    def host_of(self, instance_id: str) -> Any:
        return self.engine.pool.bound.get(instance_id)

    async def until(
        self, check: Callable[[], Awaitable[bool]], timeout: float, what: str
    ) -> float:
        """Poll `check` until true; returns the seconds it took."""
        t0 = time.monotonic()
        while not await check():
            if time.monotonic() - t0 > timeout:
                raise AssertionError(f"timed out after {timeout} s waiting for {what}")
            await asyncio.sleep(0.05)
        return time.monotonic() - t0


Factory = Callable[..., Awaitable[NeonizeHarness]]


@pytest.fixture
async def neonize_app(tmp_path: Path) -> AsyncIterator[Factory]:
    """Start the app with a neonize engine configured by the test; stopped at teardown."""
    started: list[tuple[NeonizeHarness, Any]] = []

    async def start(
        provider: str = "sqlite", *, host: HostConfig | None = None, **config: Any
    ) -> NeonizeHarness:
        settings = make_settings(
            tmp_path,
            provider,
            engine="neonize",
            reconnect_initial=0.3,
            reconnect_max=1.0,
            reconnect_jitter=0.0,
            reconnect_max_failures=1000,
        )
        if settings.database_uri:
            await _reset_server_db(provider, settings.database_uri)
        cfg = NeonizeConfig(
            stop_deadline=2.0, host=host or HostConfig(connect_grace=0.3), **config
        )
        postgres = settings.database_uri if provider == "postgresql" else None
        engine = NeonizeEngine.for_data_dir(settings.data_dir, cfg, postgres_uri=postgres)
        app = build_app(settings, Overrides(engine=engine))
        ctx = app.router.lifespan_context(app)
        await ctx.__aenter__()
        client = httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=app),
            base_url="http://wagate.test",
            headers={"apikey": API_KEY},
        )
        h = NeonizeHarness(client, app, engine)
        started.append((h, ctx))
        return h

    yield start
    for h, ctx in started:
        await h.client.aclose()
        await ctx.__aexit__(None, None, None)
        for host in list(h.engine.pool.hosts):  # shutdown must leave no host behind
            assert not host.alive, f"host {host.pid} still running after shutdown"
