"""The inbound durability proof, shared by tests/integration/test_inbound_durability.py (small)
and bench/inbound_durability.py (2,000 messages, 5 kills).

A real server (`python -m wagate serve`, SQLite or PostgreSQL) in a subprocess; sim instances
open on its simulated network; simulated contacts write N messages to them through
`POST /sim/{instance}/inbound` from many concurrent clients, while the server is killed with
SIGKILL at random points and restarted. The clients play WhatsApp's offline queue: a message
whose 200 never came (the server died, or answered an error) is delivered again, with the same
id, once the server is back, until it is acknowledged. Then: every acknowledged message is
stored and announced (webhook messages.upsert); one event id per message; webhook deliveries
repeated under the same id (at-least-once) are counted apart.
"""

from __future__ import annotations

import asyncio
import os
import random
import sqlite3
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx2

from tests.events.receiver import Receiver
from tests.integration.durability import FAST_RETRY, Server, create_hooked


@dataclass
class Report:
    messages: int = 0
    instances: int = 0
    kills: int = 0
    acknowledged: int = 0
    """Messages answered with 200 (every message, once redelivery is done)."""
    redeliveries: int = 0
    """Deliveries of a message again after a failed or unanswered attempt."""
    stored: int = 0
    announced: int = 0
    lost: int = 0
    """Acknowledged messages not stored, or never announced."""
    stored_twice: int = 0
    """Messages with more than one row."""
    announced_under_two_event_ids: int = 0
    """Messages announced by more than one event (distinct envelope ids)."""
    event_id_duplicates: int = 0
    """Webhook deliveries of an event id already received (at-least-once delivery after a
    kill); each carries the same bytes."""
    mismatched_duplicates: int = 0
    acknowledged_per_s: float = 0.0
    """Messages acknowledged per second, from the first delivery to the last 200 (kills and
    restarts included)."""
    server_cpu_ms_per_message: float = 0.0
    """CPU time (user + system) of the last server process per message it acknowledged."""
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            self.messages > 0
            and self.acknowledged == self.messages
            and self.lost == 0
            and self.stored_twice == 0
            and self.announced_under_two_event_ids == 0
            and self.mismatched_duplicates == 0
        )


async def _open(c: httpx2.AsyncClient, name: str, timeout: float = 60.0) -> None:
    """Wait until the instance is open again (a restart reconnects it from its credentials)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            r = await c.get(f"/instance/connectionState/{name}")
            if r.status_code == 200 and r.json()["instance"]["state"] == "open":
                return
        except httpx2.HTTPError:
            pass
        await asyncio.sleep(0.05)
    raise RuntimeError(f"{name} did not open again within {timeout}s")


async def run(
    *,
    data_dir: Path,
    messages: int,
    instances: int = 4,
    kills: int = 3,
    concurrency: int = 32,
    seed: int | None = None,
    env: dict[str, str] | None = None,
    settle_timeout: float = 120.0,
) -> Report:
    """Write `messages` inbound messages while killing the server `kills` times at random
    points; then check what was stored and announced."""
    rng = random.Random(seed)
    rep = Report(messages=messages, instances=instances)
    receiver = await Receiver().start()
    server = Server(data_dir, {**FAST_RETRY, **(env or {})})
    began = time.monotonic()
    await server.start()
    names = [f"in-{i}" for i in range(instances)]
    headers = {"apikey": server.key}
    async with httpx2.AsyncClient(base_url=server.url, headers=headers, timeout=30) as c:
        for name in names:
            await create_hooked(c, name, receiver, ["MESSAGES_UPSERT"])
            assert (await c.get(f"/instance/connect/{name}")).status_code == 200
            r = await c.post(f"/sim/{name}/scan", json={"number": f"55119{i_of(name):07d}"})
            assert r.status_code == 200, r.text
            await _open(c, name)

    # Message k: instance k % instances, a fixed id (kept when delivered again), unique text.
    queue: asyncio.Queue[int] = asyncio.Queue()
    for k in range(messages):
        queue.put_nowait(k)
    acked: set[int] = set()
    attempts: Counter[int] = Counter()
    up = asyncio.Event()
    up.set()
    done = asyncio.Event()
    last_acked = 0  # acknowledged before the last restart

    async def client() -> None:
        async with httpx2.AsyncClient(base_url=server.url, headers=headers, timeout=30) as c:
            while not done.is_set():
                try:
                    k = await asyncio.wait_for(queue.get(), 0.2)
                except TimeoutError:
                    continue
                await up.wait()
                attempts[k] += 1
                body = {
                    "from": f"55219{k % 97:07d}",
                    "text": f"durable message {k}",
                    "id": message_id(k),
                }
                try:
                    r = await c.post(f"/sim/{names[k % instances]}/inbound", json=body)
                    ok = r.status_code == 200
                except httpx2.HTTPError:
                    ok = False
                if ok:
                    acked.add(k)
                    if len(acked) == messages:
                        done.set()
                else:  # no acknowledgement: the network delivers it again later
                    await asyncio.sleep(0.05)
                    queue.put_nowait(k)

    async def chaos() -> None:
        nonlocal last_acked
        low, high = max(1, messages // 10), max(2, messages * 9 // 10)
        marks = sorted(rng.randint(low, high) for _ in range(kills))
        for mark in marks:
            while len(acked) < mark and not done.is_set():
                await asyncio.sleep(0.005)
            await asyncio.sleep(rng.random() * 0.05)  # somewhere inside a batch
            if done.is_set():
                rep.notes.append("every message was acknowledged before a kill's mark")
                return
            up.clear()
            server.kill()
            last_acked = len(acked)
            rep.kills += 1
            await server.start()
            async with httpx2.AsyncClient(base_url=server.url, headers=headers, timeout=30) as c:
                for name in names:
                    await _open(c, name)
            up.set()

    sending = time.monotonic()
    await asyncio.gather(chaos(), *(client() for _ in range(concurrency)))
    rep.acknowledged = len(acked)
    last_acked = len(acked) - last_acked
    rep.acknowledged_per_s = round(len(acked) / (time.monotonic() - sending), 1)
    rep.redeliveries = sum(n - 1 for n in attempts.values())

    # Let the outbox drain.
    deadline = time.monotonic() + settle_timeout
    async with httpx2.AsyncClient(base_url=server.url, headers=headers, timeout=30) as c:
        while time.monotonic() < deadline:
            pending = 0
            for name in names:
                r = await c.get(f"/events/deliveries/{name}", params={"limit": 1000})
                pending += sum(1 for x in r.json() if x["status"] != "delivered")
            if pending == 0:
                break
            await asyncio.sleep(0.25)
        else:
            rep.notes.append(f"the outbox still held events after {settle_timeout}s")
    rep.server_cpu_ms_per_message = round(_cpu_seconds(server) * 1000 / max(1, last_acked), 2)
    server.stop()
    await receiver.stop()
    rep.seconds = time.monotonic() - began

    rows = _stored_keys(data_dir / "wagate.db") if not env else None
    events: dict[str, set[str]] = {}
    bodies: dict[str, bytes] = {}
    for rec in receiver.received:
        body = rec.json
        if body["event"] != "messages.upsert":
            continue
        if body["id"] in bodies:
            rep.event_id_duplicates += 1
            if bodies[body["id"]] != rec.body:
                rep.mismatched_duplicates += 1
            continue
        bodies[body["id"]] = rec.body
        events.setdefault(body["data"]["key"]["id"], set()).add(body["id"])
    for k in acked:
        key = message_id(k)
        announced = len(events.get(key, ()))
        rep.announced += announced > 0
        rep.announced_under_two_event_ids += announced > 1
        if rows is not None:
            rep.stored += rows[key] > 0
            rep.stored_twice += rows[key] > 1
        lost = announced == 0 or (rows is not None and rows[key] == 0)
        rep.lost += lost
    if rows is None:
        rep.notes.append("rows not counted (not SQLite)")
    return rep


def i_of(name: str) -> int:
    return int(name.rsplit("-", 1)[1])


def message_id(k: int) -> str:
    return f"3EB0DUR{k:010d}"


def _cpu_seconds(server: Server) -> float:
    """User + system CPU time the server process has used (Linux /proc)."""
    assert server.proc is not None
    fields = Path(f"/proc/{server.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _stored_keys(path: Path) -> Counter[str]:
    with sqlite3.connect(path) as db:
        return Counter(key for (key,) in db.execute("SELECT key_id FROM messages"))
