"""The durability proof, shared by tests/integration/test_events_durability.py (small) and
bench/events_durability.py (10,000 events).

A real server (`python -m wagate serve`, SQLite or PostgreSQL) in a subprocess; a loopback
receiver; instances cycling connect -> scan -> logout through the /sim routes (connection.update
and qrcode.updated); the server killed with SIGKILL and restarted, and the receiver refusing
connections for a while. Then: every event the outbox holds arrived at least once, duplicates
are byte-identical (same id), and per instance the first arrivals come in outbox order.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2

from tests.events.receiver import Receiver

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """`python -m wagate serve` in a subprocess, restartable on the same data."""

    data_dir: Path
    env_extra: dict[str, str]
    port: int = field(default_factory=free_port)
    key: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    proc: subprocess.Popen[bytes] | None = None
    log: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, timeout: float = 60.0) -> float:
        env = {
            **os.environ,
            "AUTHENTICATION_API_KEY": self.key,
            "WAGATE_DATA_DIR": str(self.data_dir),
            "SERVER_PORT": str(self.port),
            "SERVER_HOST": "127.0.0.1",
            "LOG_LEVEL": "WARNING",
            "WAGATE_ENGINE": "sim",  # driven through the /sim routes
            "WAGATE_SIM_QR_INTERVAL_SECONDS": "600",
            **self.env_extra,
        }
        began = time.monotonic()
        self._spawn(env)
        assert self.proc is not None
        async with httpx2.AsyncClient(timeout=2.0) as c:
            while time.monotonic() - began < timeout:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"server exited: see {self.log}")
                try:
                    if (await c.get(f"{self.url}/health")).status_code == 200:
                        return time.monotonic() - began
                except httpx2.HTTPError:
                    pass
                await asyncio.sleep(0.05)
        raise RuntimeError(f"server did not start in {timeout}s: see {self.log}")

    def _spawn(self, env: dict[str, str]) -> None:
        self.log = self.data_dir / "server.log"
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "wagate", "serve"],
                cwd=self.data_dir,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


FAST_RETRY = {
    "WEBHOOK_RETRY_INITIAL_DELAY_SECONDS": "0.2",
    "WEBHOOK_RETRY_MAX_DELAY_SECONDS": "1",
    "WEBHOOK_RETRY_MAX_ATTEMPTS": "1000",
}
"""Webhook retries quick and unbounded enough to outlast every kill and refusal of a run."""


async def create_hooked(
    c: httpx2.AsyncClient, name: str, receiver: Receiver, events: list[str]
) -> None:
    """Create the sim-driven instance `name` with a webhook for `events` to `receiver`."""
    r = await c.post(
        "/instance/create", json={"instanceName": name, "integration": "WHATSAPP-BAILEYS"}
    )
    assert r.status_code == 201, r.text
    hook = {"enabled": True, "url": f"{receiver.url}/{name}", "events": events}
    r = await c.post(f"/webhook/set/{name}", json={"webhook": hook})
    assert r.status_code == 201, r.text


@dataclass
class Report:
    events: int = 0
    received: int = 0
    duplicates: int = 0
    missing: int = 0
    out_of_order: int = 0
    mismatched_duplicates: int = 0
    kills: int = 0
    refused_seconds: float = 0.0
    seconds: float = 0.0
    acknowledged_opens: int = 0
    opens_seen: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            self.events > 0
            and self.missing == 0
            and self.out_of_order == 0
            and self.mismatched_duplicates == 0
            and self.opens_seen >= self.acknowledged_opens
        )


async def _cycle(c: httpx2.AsyncClient, name: str) -> bool:
    """One connect -> scan -> logout. Returns whether the scan was acknowledged."""
    r = await c.get(f"/instance/connect/{name}")
    if r.status_code != 200:
        return False
    state = r.json().get("instance", {}).get("state")
    if state == "open":
        await c.delete(f"/instance/logout/{name}")
        return False
    opened = (await c.post(f"/sim/{name}/scan", json={})).status_code == 200
    await c.delete(f"/instance/logout/{name}")
    return opened


async def run(
    *,
    data_dir: Path,
    instances: int,
    target_events: int,
    kills: int = 2,
    refuse_seconds: float = 5.0,
    env: dict[str, str] | None = None,
    settle_timeout: float = 120.0,
) -> Report:
    """Produce about `target_events` events while killing the server `kills` times and making
    the receiver refuse for `refuse_seconds`; then check what arrived."""
    rep = Report(refused_seconds=refuse_seconds)
    receiver = await Receiver().start()
    server = Server(data_dir, {**FAST_RETRY, **(env or {})})
    began = time.monotonic()
    await server.start()
    names = [f"dur-{i}" for i in range(instances)]
    headers = {"apikey": server.key}
    async with httpx2.AsyncClient(base_url=server.url, headers=headers, timeout=30) as c:
        for name in names:
            await create_hooked(c, name, receiver, ["CONNECTION_UPDATE", "QRCODE_UPDATED"])

    produced = 0  # estimate: 4 events per cycle
    up = asyncio.Event()
    up.set()
    acknowledged: dict[str, int] = dict.fromkeys(names, 0)

    async def drive(name: str) -> None:
        nonlocal produced
        async with httpx2.AsyncClient(base_url=server.url, headers=headers, timeout=30) as c:
            while produced < target_events:
                await up.wait()
                try:
                    if await _cycle(c, name):
                        acknowledged[name] += 1
                    produced += 4
                except httpx2.HTTPError:
                    await asyncio.sleep(0.05)

    async def chaos() -> None:
        marks = [target_events * (k + 1) / (kills + 2) for k in range(kills)]
        refuse_at = target_events * (kills + 1) / (kills + 2) * 0.5
        refused = False
        for mark in marks:
            while produced < mark:
                if not refused and produced >= refuse_at:
                    refused = True
                    spawn_refusal()
                await asyncio.sleep(0.02)
            up.clear()
            server.kill()
            rep.kills += 1
            await server.start()
            up.set()
        if not refused:
            spawn_refusal()

    refusal: list[asyncio.Task[None]] = []

    def spawn_refusal() -> None:
        async def refuse() -> None:
            await receiver.refuse()
            await asyncio.sleep(refuse_seconds)
            await receiver.start()

        refusal.append(asyncio.create_task(refuse()))

    await asyncio.gather(chaos(), *(drive(n) for n in names))
    await asyncio.gather(*refusal)

    # Let the outbox drain, then compare what it holds with what arrived.
    rows: dict[str, list[dict[str, Any]]] = {}
    deadline = time.monotonic() + settle_timeout
    async with httpx2.AsyncClient(base_url=server.url, headers=headers, timeout=30) as c:
        while True:
            pending = 0
            for name in names:
                r = await c.get(f"/events/deliveries/{name}", params={"limit": 1000})
                got = r.json()
                rows[name] = sorted(got, key=lambda x: x["seq"])
                pending += sum(1 for x in got if x["status"] != "delivered")
            if pending == 0 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.25)
    server.stop()
    await receiver.stop()
    rep.seconds = time.monotonic() - began

    by_id: dict[str, bytes] = {}
    first_order: dict[str, list[str]] = {n: [] for n in names}
    for rec in receiver.received:
        body = rec.json
        if body["id"] in by_id:
            rep.duplicates += 1
            if by_id[body["id"]] != rec.body:
                rep.mismatched_duplicates += 1
            continue
        by_id[body["id"]] = rec.body
        first_order[body["instance"]].append(body["id"])
        if body["event"] == "connection.update" and body["data"]["state"] == "open":
            rep.opens_seen += 1
    rep.received = len(receiver.received)
    for name in names:
        expected = [x["id"] for x in rows[name]]
        rep.events += len(expected)
        rep.missing += sum(1 for i in expected if i not in by_id)
        seen = first_order[name]
        rank = {i: k for k, i in enumerate(expected)}
        ranks = [rank[i] for i in seen if i in rank]
        rep.out_of_order += sum(1 for a, b in zip(ranks, ranks[1:], strict=False) if b < a)
        if len(rows[name]) >= 1000:
            rep.notes.append(f"{name}: more than 1000 rows; only the newest 1000 were checked")
    rep.acknowledged_opens = sum(acknowledged.values())
    return rep
