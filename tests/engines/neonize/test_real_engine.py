"""Proofs against the real neonize 0.5.2, offline (shared/reference/neonize.md §9.3).

Every piece of Go runs in a subprocess: the hosts, and the seeding script.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.engines.neonize.conftest import FULL, Factory, seed_paired_store
from wagate.engines.neonize import HostConfig

CONSTRUCT = r"""
import logging, os
logging.basicConfig(level=logging.ERROR)
from neonize.aioze.client import NewAClient
clients = [NewAClient(f"{os.environ['DB_DIR']}/c{i}.db", uuid=f"c-{i}") for i in range(50)]
for c in clients:
    c._stop_finalizer.detach()
def target(fd):
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return ""
sockets = [f for f in os.listdir("/proc/self/fd") if target(f).startswith("socket:")]
print(len(clients), len(sockets), len(os.listdir(os.environ["DB_DIR"])))
"""


def test_import_and_construct_touch_no_network(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-c", CONSTRUCT],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "DB_DIR": str(tmp_path)},
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    # 50 clients, not one socket opened, and nothing written: Go is not touched before connect.
    assert out.stdout.split() == ["50", "0", "0"]


async def test_refused_proxy_fails_at_once_as_a_transient_close(
    neonize_app: Factory, refused_proxy: str
) -> None:
    h = await neonize_app(proxy=refused_proxy)
    await h.create("fast")
    await h.connect("fast")

    async def closed() -> bool:
        return bool((await h.lifecycle("fast"))["state"] == "reconnecting")

    await h.until(closed, 30, "the first close")  # includes the host's start-up
    life = await h.lifecycle("fast")
    assert life["reason"] == 428 and "connection refused" in life["detail"]
    assert "no route to WhatsApp" in life["detail"]
    # The dial itself failed at once: from the host's start command to the close.
    tr = life["transitions"]
    assert tr[0]["to"] == "connecting" and tr[1]["to"] == "reconnecting"

    # The lifecycle's backoff takes over: attempts keep coming, spaced, never a tight loop.
    async def retried() -> bool:
        attempts = [
            t for t in (await h.lifecycle("fast"))["transitions"] if t["to"] == "connecting"
        ]
        return len(attempts) >= 3

    await h.until(retried, 15, "two reconnects")
    starts = [
        t["at"] for t in (await h.lifecycle("fast"))["transitions"] if t["to"] == "connecting"
    ]
    gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    assert all(g >= 0.25 for g in gaps), gaps
    r = await h.client.get("/health")
    assert r.status_code == 200 and r.json()["live"] is True
    # One host served every attempt (it is recycled only after its connect budget).
    assert h.engine.pool.spawned == 1


async def test_logout_of_a_paired_offline_store_ends_logged_out(
    neonize_app: Factory, refused_proxy: str
) -> None:
    h = await neonize_app(proxy=refused_proxy)
    instance_id = await h.create("seed")
    db = Path(h.engine.store.location(instance_id))
    jid = seed_paired_store(db, "5511999990001")
    await h.connect("seed")

    async def adopted_and_failing() -> bool:
        life = await h.lifecycle("seed")
        return bool(life["state"] == "reconnecting")

    await h.until(adopted_and_failing, 30, "the paired session to fail offline")
    creds = await h.gateway.credentials.load(instance_id)
    assert creds == {"engine": "neonize", "jid": jid}  # the paired store was adopted

    r = await h.client.delete("/instance/logout/seed")
    assert r.status_code == 200, r.text
    assert r.json() == {
        "status": "SUCCESS",
        "error": False,
        "response": {"message": "Instance logged out"},
    }
    # The device is gone from whatsmeow's store, the gateway's creds too, the DB says close.
    assert not await asyncio.to_thread(db.parent.exists)
    assert await h.gateway.credentials.load(instance_id) is None
    rows = await h.gateway.store.all_instances(h.gateway.settings.client_name)
    row = next(r for r in rows if r.id == instance_id)
    assert row.connection_status == "close"
    life = await h.lifecycle("seed")
    assert (life["state"], life["reason"]) == ("logged_out", 401)

    # No reconnect follows: nothing new after several backoff periods, no host kept for it.
    before = len(life["transitions"])
    await asyncio.sleep(2.0)
    life = await h.lifecycle("seed")
    assert len(life["transitions"]) == before and life["state"] == "logged_out"
    assert h.host_of(instance_id) is None
    assert not any(instance_id in host.live for host in h.engine.pool.hosts)


async def test_a_seeded_store_really_is_paired(tmp_path: Path) -> None:
    """The seeding helper does what the logout proof relies on."""
    db = tmp_path / "s" / "whatsmeow.db"
    jid = seed_paired_store(db, "5511999990002")
    con = sqlite3.connect(db)
    assert con.execute("SELECT jid FROM whatsmeow_device").fetchall() == [(jid,)]
    con.close()


@pytest.mark.postgres
async def test_postgres_store_is_a_schema_per_instance_and_logout_drops_it(
    neonize_app: Factory, refused_proxy: str
) -> None:
    from tests.conftest import _reachable

    if not _reachable(5432):
        pytest.skip("PostgreSQL is not running on 127.0.0.1:5432")
    h = await neonize_app("postgresql", proxy=refused_proxy)
    instance_id = await h.create("pg")
    schema = h.engine.store.schema(instance_id)  # type: ignore[attr-defined]
    await h.connect("pg")

    async def tables() -> int:
        rows = await h.engine.store._execute(  # type: ignore[attr-defined]
            "SELECT count(*) FROM information_schema.tables "
            f"WHERE table_schema = '{schema}' AND table_name LIKE 'whatsmeow%'"
        )
        return int(rows[0][0])

    async def created() -> bool:
        return await tables() > 5

    await h.until(created, 30, "whatsmeow's tables in the instance's schema")
    r = await h.client.delete("/instance/logout/pg")
    assert r.status_code == 200, r.text
    assert await tables() == 0
    gone = await h.engine.store._execute(  # type: ignore[attr-defined]
        f"SELECT count(*) FROM information_schema.schemata WHERE schema_name = '{schema}'"
    )
    assert gone[0][0] == 0


async def test_killed_hosts_close_their_instance_which_comes_back(
    neonize_app: Factory, blackhole_proxy: str
) -> None:
    """SIGKILL, then SIGABRT (Go's abort) on the victim's host; the bystander's host lives on."""
    h = await neonize_app(proxy=blackhole_proxy, host=HostConfig(connect_deadline=120.0))
    ids = {name: await h.create(name) for name in ("victim", "bystander")}
    for name in ids:
        await h.connect(name)

    def dialing(instance_id: str) -> bool:
        host = h.host_of(instance_id)
        return host is not None and host.ready.done() and instance_id in host.live

    async def both_dialing() -> bool:
        return all(dialing(i) for i in ids.values())

    await h.until(both_dialing, 30, "both sessions dialing on their own hosts")
    bystander = h.host_of(ids["bystander"])
    before = len((await h.lifecycle("bystander"))["transitions"])
    for sig, expected in ((signal.SIGKILL, "SIGKILL"), (signal.SIGABRT, "SIGABRT")):
        victim = h.host_of(ids["victim"])
        assert victim is not bystander and victim.pid != bystander.pid
        await asyncio.sleep(0.5)  # let the start command land
        seen = len((await h.lifecycle("victim"))["transitions"])
        os.kill(victim.pid, sig)

        async def closed(seen: int = seen, expected: str = expected) -> bool:
            tr = (await h.lifecycle("victim"))["transitions"][seen:]
            return any(t["reason"] == 500 and expected in t["detail"] for t in tr)

        await h.until(closed, 10, f"the victim's close after {expected}")

        async def back(old: int = victim.pid) -> bool:
            host = h.host_of(ids["victim"])
            return (
                host is not None
                and host.pid not in (None, old)
                and dialing(ids["victim"])
                and (await h.lifecycle("victim"))["state"] == "connecting"
            )

        await h.until(back, 20, f"the victim on a new host after {expected}")
    # The bystander never noticed: same host process, same session, no transition.
    assert h.host_of(ids["bystander"]) is bystander and bystander.alive
    assert ids["bystander"] in bystander.live
    assert len((await h.lifecycle("bystander"))["transitions"]) == before
    assert (await h.lifecycle("bystander"))["state"] == "connecting"


async def test_a_stop_past_its_deadline_kills_the_host(
    neonize_app: Factory, blackhole_proxy: str
) -> None:
    """While a dial hangs, Go's stop blocks for ~60 s: the deadline kills the host instead."""
    h = await neonize_app(proxy=blackhole_proxy, host=HostConfig(connect_deadline=120.0))
    instance_id = await h.create("stuck")
    await h.connect("stuck")

    async def dialing() -> bool:
        host = h.host_of(instance_id)
        return host is not None and host.ready.done() and instance_id in host.live

    await h.until(dialing, 30, "the session dialing")
    host = h.host_of(instance_id)
    await asyncio.sleep(0.5)
    t0 = time.monotonic()
    r = await h.client.delete("/instance/logout/stuck")
    took = time.monotonic() - t0
    assert r.status_code == 200, r.text
    assert took < 8, took  # the stop deadline (2 s here), not Go's 60 s dial
    await asyncio.wait_for(asyncio.shield(host.exited), 5)
    assert host.kill_reason is not None and "deadline" in host.kill_reason
    assert (await h.lifecycle("stuck"))["state"] == "logged_out"


@pytest.mark.slow
async def test_many_instances_connecting_at_once_crash_nothing(
    neonize_app: Factory, refused_proxy: str
) -> None:
    """The Go map race: 50 at once (20 in the short profile), ten per host."""
    count = 50 if FULL else 20
    h = await neonize_app(proxy=refused_proxy, shard_size=10, recycle_after=1000)
    names = [f"m{i:02d}" for i in range(count)]
    for name in names:
        await h.create(name)
    await asyncio.gather(*(h.connect(n) for n in names))

    async def all_failed_twice() -> bool:
        lives = await asyncio.gather(*(h.lifecycle(n) for n in names))
        return all(
            sum(1 for t in life["transitions"] if t["to"] == "reconnecting") >= 2 for life in lives
        )

    await h.until(all_failed_twice, 90, "every instance to fail and retry")
    assert h.engine.pool.crashes == 0
    assert h.engine.pool.spawned == -(-count // 10)
    assert all(host.alive for host in h.engine.pool.hosts)
    lives = await asyncio.gather(*(h.lifecycle(n) for n in names))
    closes = [t for life in lives for t in life["transitions"] if t["to"] == "reconnecting"]
    assert len(closes) >= 2 * count
    assert all(t["reason"] == 428 and "connection refused" in t["detail"] for t in closes)


async def test_hosts_are_recycled_after_their_connect_budget(
    neonize_app: Factory, refused_proxy: str
) -> None:
    """whatsmeow leaks a store handle per connect: a host serves K connects, then retires."""
    h = await neonize_app(proxy=refused_proxy, recycle_after=2)
    instance_id = await h.create("leaky")
    await h.connect("leaky")
    pids: list[int] = []

    async def three_hosts() -> bool:
        host = h.host_of(instance_id)
        if host is not None and host.pid is not None and host.pid not in pids:
            pids.append(host.pid)
        return len(pids) >= 3

    await h.until(three_hosts, 30, "two recycles")
    assert h.engine.pool.crashes == 0
    retired = [p for p in pids[:-1]]
    await asyncio.sleep(0.5)
    alive = [host.pid for host in h.engine.pool.hosts if host.alive]
    assert not set(retired) & set(alive)  # retired hosts exited, they were not leaked
    life = await h.lifecycle("leaky")
    assert not any("engine host" in t["detail"] for t in life["transitions"])


async def test_an_instance_proxy_is_what_its_sessions_dial(neonize_app: Factory) -> None:
    """/proxy/set's proxy (tried when set) is what the next session dials through: gone by
    then, the connect fails at once naming it."""
    h = await neonize_app()
    await h.create("px")
    listening = await asyncio.start_server(lambda _r, w: w.close(), "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    body = {"enabled": True, "host": "127.0.0.1", "port": str(port), "protocol": "socks5"}
    r = await h.client.post("/proxy/set/px", json=body)
    assert r.status_code == 201, r.text
    listening.close()
    await listening.wait_closed()
    await h.connect("px")

    async def closed() -> bool:
        return bool((await h.lifecycle("px"))["state"] == "reconnecting")

    await h.until(closed, 30, "the first close")
    life = await h.lifecycle("px")
    assert life["cause"] == "no_route" and f"127.0.0.1:{port}" in life["detail"]
    assert "socks connect" in life["detail"]
