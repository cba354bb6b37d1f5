"""Shared fixtures: settings on a fresh database (SQLite, PostgreSQL, MariaDB), the app driven
in-process over ASGI, a virtual clock, and the sim network."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import random
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import pytest

from wagate.app import Overrides, build_app
from wagate.config import Settings, load_settings
from wagate.engines.sim import SimNetwork
from wagate.runtime.clock import VirtualClock

API_KEY = "test-global-key-0123456789abcdef"
PG_URI = os.environ.get("WAGATE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
MYSQL_URI = os.environ.get("WAGATE_TEST_MYSQL", "mysql://root@127.0.0.1:3306/test")


def _reachable(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


DB_PARAMS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
    pytest.param("mysql", id="mysql", marks=pytest.mark.mysql),
]


_SESSION_DBS: dict[str, str] = {}
_CREATED: list[tuple[str, str, str]] = []


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    for provider, server, name in _CREATED:
        try:
            asyncio.run(_admin(provider, server, "drop", name))
        except Exception:
            pass


def _server_uri(provider: str) -> str:
    if provider == "postgresql":
        if not _reachable(5432):
            pytest.skip("PostgreSQL is not running on 127.0.0.1:5432")
        return PG_URI
    if not _reachable(3306):
        pytest.skip("MariaDB/MySQL is not running on 127.0.0.1:3306")
    return MYSQL_URI


def _run_sync(coro: Any) -> None:
    """Run a coroutine to completion from sync code, even inside a running event loop."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, coro).result()


def _fresh_uri(provider: str) -> str | None:
    """A database of this test process's own on the server (several test runs may share the
    server at once), created on first use and dropped when the process ends."""
    if provider == "sqlite":
        return None
    if provider not in _SESSION_DBS:
        from sqlalchemy.engine import make_url

        server = _server_uri(provider)
        name = f"wagate_t{os.getpid()}"
        _run_sync(_admin(provider, server, "drop", name))
        _run_sync(_admin(provider, server, "create", name))
        _SESSION_DBS[provider] = make_url(server).set(database=name).render_as_string(False)
        _CREATED.append((provider, server, name))
    return _SESSION_DBS[provider]


async def _admin(provider: str, server_uri: str, verb: str, name: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    from wagate.store.db import database_url

    q = '"' if provider == "postgresql" else "`"
    sql = (
        f"DROP DATABASE IF EXISTS {q}{name}{q}"
        if verb == "drop"
        else f"CREATE DATABASE {q}{name}{q}"
    )
    url = database_url(provider, server_uri, Path("."))
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(sql))
    finally:
        await engine.dispose()


async def _reset_server_db(provider: str, uri: str) -> None:
    """Drop wagate's tables so each test starts from an empty, freshly migrated database."""
    from sqlalchemy import text

    from wagate.store.db import database_url, make_engine

    engine = make_engine(database_url(provider, uri, Path(".")))
    try:
        async with engine.begin() as conn:
            if provider == "postgresql":
                await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
                await conn.execute(text("CREATE SCHEMA public"))
            else:
                rows = await conn.execute(text("SHOW TABLES"))
                names = [r[0] for r in rows]
                await conn.execute(text("SET FOREIGN_KEY_CHECKS=0"))
                for table in names:
                    await conn.execute(text(f"DROP TABLE IF EXISTS `{table}`"))
                await conn.execute(text("SET FOREIGN_KEY_CHECKS=1"))
    finally:
        await engine.dispose()


def make_settings(tmp_path: Path, provider: str = "sqlite", **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "api_key": API_KEY,
        "data_dir": tmp_path / "data",
        "database_provider": provider,
        "database_uri": _fresh_uri(provider),
        "connect_wait": 0.5,
        "log_level": "WARNING",
    }
    values.update(extra)
    return load_settings(**values)


@dataclass
class Harness:
    """A running app with its seams: HTTP client, gateway, sim network, clock, events seen."""

    client: httpx2.AsyncClient
    app: Any
    sim: SimNetwork
    clock: Any
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def gateway(self) -> Any:
        return self.app.state.gateway

    async def create(self, name: str | None = None, **body: Any) -> dict[str, Any]:
        name = name or f"i-{uuid.uuid4().hex[:8]}"
        r = await self.client.post(
            "/instance/create",
            json={"instanceName": name, "integration": "WHATSAPP-BAILEYS", **body},
        )
        assert r.status_code == 201, r.text
        return dict(r.json())

    def events_of(self, name: str, event: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["instance"] == name and e["event"] == event]


async def start_harness(
    settings: Settings, *, virtual: bool = False, seed: int = 0
) -> tuple[Harness, Any]:
    clock: Any = VirtualClock() if virtual else None
    from wagate.runtime.clock import RealClock

    sim = SimNetwork(clock or RealClock(), qr_interval=settings.sim_qr_interval)
    app = build_app(settings, Overrides(clock=clock, rng=random.Random(seed), sim=sim))
    ctx = app.router.lifespan_context(app)
    await ctx.__aenter__()
    transport = httpx2.ASGITransport(app=app)
    client = httpx2.AsyncClient(
        transport=transport, base_url="http://wagate.test", headers={"apikey": API_KEY}
    )
    h = Harness(client, app, sim, clock)

    async def record(env: dict[str, Any]) -> None:
        h.events.append(env)

    app.state.gateway.bus.subscribe(record)
    return h, ctx


async def stop_harness(h: Harness, ctx: Any) -> None:
    await h.client.aclose()
    await ctx.__aexit__(None, None, None)


@pytest.fixture(params=DB_PARAMS)
def provider(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def harness(tmp_path: Path, provider: str) -> AsyncIterator[Harness]:
    """The app on each database (SQLite, PostgreSQL, MariaDB), real clock."""
    settings = make_settings(tmp_path, provider)
    if settings.database_uri:
        await _reset_server_db(provider, settings.database_uri)
    h, ctx = await start_harness(settings)
    try:
        yield h
    finally:
        await stop_harness(h, ctx)


@pytest.fixture
async def sqlite_harness(tmp_path: Path) -> AsyncIterator[Harness]:
    """The app on SQLite only (for tests whose subject is not the database)."""
    h, ctx = await start_harness(make_settings(tmp_path))
    try:
        yield h
    finally:
        await stop_harness(h, ctx)


@pytest.fixture
async def virtual_harness(tmp_path: Path) -> AsyncIterator[Harness]:
    """SQLite with a virtual clock: reconnect backoff and QR rotation run instantly."""
    h, ctx = await start_harness(make_settings(tmp_path, reconnect_jitter=0.0), virtual=True)
    try:
        yield h
    finally:
        await stop_harness(h, ctx)
