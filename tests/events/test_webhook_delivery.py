"""Webhook delivery through the durable outbox: headers, signature, byEvents, the global
webhook, retries and their limits, dead letters, replay, pruning, atomic writes."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from typing import Any

import pytest

from tests.conftest import Harness
from tests.events.conftest import Apps
from tests.events.receiver import Receiver


async def _hook(h: Harness, name: str, url: str, **extra: Any) -> None:
    body = {"enabled": True, "url": url, "events": extra.pop("events", [])} | extra
    r = await h.client.post(f"/webhook/set/{name}", json={"webhook": body})
    assert r.status_code == 201, r.text


async def _cycle(h: Harness, name: str) -> None:
    """connect (connecting + QR), scan (open), logout (close)."""
    assert (await h.client.get(f"/instance/connect/{name}")).status_code == 200
    assert (await h.client.post(f"/sim/{name}/scan", json={})).status_code == 200
    assert (await h.client.delete(f"/instance/logout/{name}")).status_code == 200


async def _deliveries(h: Harness, name: str, **query: Any) -> list[dict[str, Any]]:
    r = await h.client.get(f"/events/deliveries/{name}", params=query)
    assert r.status_code == 200, r.text
    return list(r.json())


async def _settle(h: Harness, name: str, timeout: float = 10.0) -> list[dict[str, Any]]:
    """Wait until none of the instance's deliveries is pending."""
    deadline = time.monotonic() + timeout
    while True:
        rows = await _deliveries(h, name)
        if rows and all(r["status"] != "pending" for r in rows):
            return rows
        assert time.monotonic() < deadline, rows
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("provider", ["sqlite", "postgresql", "mysql"])
async def test_events_arrive_in_order_with_headers(
    apps: Apps, receiver: Receiver, provider: str
) -> None:
    from tests.conftest import _server_uri

    if provider != "sqlite":
        _server_uri(provider)  # skips when the server is absent
    h = await apps.start(provider)
    created = await h.create("hooked")
    await _hook(
        h,
        "hooked",
        f"{receiver.url}/hook",
        headers={"X-Custom": "v", "jwt_key": "jwt-secret"},
        secret="sign-me",
        events=["CONNECTION_UPDATE", "QRCODE_UPDATED"],  # not the labels an open brings
    )
    await _cycle(h, "hooked")
    got = await receiver.wait_for(4)
    bodies = [r.json for r in got]
    kinds = [(b["event"], b["data"].get("state")) for b in bodies]
    assert kinds == [
        ("connection.update", "connecting"),
        ("qrcode.updated", None),
        ("connection.update", "open"),
        ("connection.update", "close"),
    ]
    ids = [b["id"] for b in bodies]
    assert ids == sorted(ids) and len(set(ids)) == 4
    for r in got:
        b = r.json
        assert r.path == "/hook"
        assert b["destination"] == f"{receiver.url}/hook"
        assert b["instance"] == "hooked" and b["server_url"] and "date_time" in b
        assert r.headers["x-event-id"] == b["id"]
        assert r.headers["x-instance-id"] == created["instance"]["instanceId"]
        assert r.headers["x-instance-name"] == "hooked"
        assert r.headers["x-event-type"] == b["event"]
        assert abs(int(r.headers["x-timestamp"]) - time.time() * 1000) < 60_000
        assert r.headers["x-custom"] == "v" and "jwt_key" not in r.headers
        mac = hmac.new(b"sign-me", r.body, hashlib.sha256).hexdigest()
        assert r.headers["x-signature-256"] == f"sha256={mac}"
        token = r.headers["authorization"].removeprefix("Bearer ")
        head, claims, sig = token.split(".")
        want = hmac.new(b"jwt-secret", f"{head}.{claims}".encode(), hashlib.sha256).digest()
        assert base64.urlsafe_b64decode(sig + "==") == want
        payload = json.loads(base64.urlsafe_b64decode(claims + "=="))
        assert payload["exp"] - payload["iat"] == 600 and payload["app"] == "evolution"
    assert bodies[2]["sender"] and bodies[2]["data"]["wuid"] == bodies[2]["sender"]
    rows = await _settle(h, "hooked")
    assert [r["status"] for r in rows] == ["delivered"] * 4
    assert all(r["attempts"] == 1 for r in rows)


async def test_by_events_suffix_and_subscription_filter(apps: Apps, receiver: Receiver) -> None:
    h = await apps.start()
    await h.create("byev")
    await _hook(h, "byev", f"{receiver.url}/byev", byEvents=True, events=["CONNECTION_UPDATE"])
    await _cycle(h, "byev")
    got = await receiver.wait_for(3)
    await asyncio.sleep(0.2)
    assert [r.path for r in receiver.received] == ["/byev/connection-update"] * 3
    assert got[0].json["destination"] == f"{receiver.url}/byev/connection-update"


async def test_global_webhook_from_env(apps: Apps, receiver: Receiver) -> None:
    h = await apps.start(
        webhook_global_enabled=True,
        webhook_global_url=f"{receiver.url}/global",
        webhook_global_by_events=True,
        event_switches={
            "WEBHOOK_EVENTS_INSTANCE_CREATE": True,
            "WEBHOOK_EVENTS_REMOVE_INSTANCE": True,
            "WEBHOOK_EVENTS_CONNECTION_UPDATE": False,
        },
    )
    await h.create("g1", webhook={"url": f"{receiver.url}/own", "events": ["INSTANCE_CREATE"]})
    await h.client.get("/instance/connect/g1")
    assert (await h.client.delete("/instance/delete/g1")).status_code == 200
    await receiver.wait_for(3)
    await asyncio.sleep(0.2)
    paths = sorted(r.path for r in receiver.received)
    assert paths == ["/global/instance-create", "/global/remove-instance", "/own"]
    by_path = {r.path: r for r in receiver.received}
    glob = by_path["/global/instance-create"]
    assert "x-instance-id" not in glob.headers and glob.headers["x-event-id"]
    # one event, two destinations: the same id
    assert glob.json["id"] == by_path["/own"].json["id"]


async def test_non_retryable_status_is_dead_lettered_and_lane_goes_on(
    apps: Apps, receiver: Receiver
) -> None:
    receiver.answer = lambda path, body: 422 if b"qrcode.updated" in body else 200
    h = await apps.start()
    await h.create("nr")
    await _hook(h, "nr", f"{receiver.url}/nr")
    await _cycle(h, "nr")
    rows = await _settle(h, "nr")
    dead = [r for r in rows if r["status"] == "dead"]
    assert len(dead) == 1 and dead[0]["event"] == "qrcode.updated"
    assert dead[0]["attempts"] == 1 and dead[0]["lastCode"] == 422
    assert dead[0]["lastError"] == "HTTP 422"
    assert len(await _deliveries(h, "nr", status="dead")) == 1
    assert [r["status"] for r in rows if r["event"] == "connection.update"] == ["delivered"] * 3


async def test_retryable_failures_are_retried_with_the_same_id(
    apps: Apps, receiver: Receiver
) -> None:
    fails = {"left": 3}

    def answer(path: str, body: bytes) -> int:
        if fails["left"]:
            fails["left"] -= 1
            return 503
        return 200

    receiver.answer = answer
    h = await apps.start()
    await h.create("rt")
    await _hook(h, "rt", f"{receiver.url}/rt", events=["CONNECTION_UPDATE"])
    assert (await h.client.get("/instance/connect/rt")).status_code == 200
    await receiver.wait_for(4)
    ids = {r.json["id"] for r in receiver.received}
    assert len(ids) == 1  # three 503s and one 200, one event
    rows = await _settle(h, "rt")
    assert rows[0]["status"] == "delivered" and rows[0]["attempts"] == 4


async def test_retry_budget_ends_in_dead_letter(apps: Apps, receiver: Receiver) -> None:
    receiver.answer = lambda path, body: 500
    h = await apps.start(webhook_retry_max_attempts=3)
    await h.create("budget")
    await _hook(h, "budget", f"{receiver.url}/b", events=["CONNECTION_UPDATE"])
    await h.client.get("/instance/connect/budget")
    rows = await _settle(h, "budget")
    assert rows[0]["status"] == "dead" and rows[0]["attempts"] == 3
    assert rows[0]["lastCode"] == 500
    assert len(receiver.received) == 3


async def test_timeout_and_refused_connections_are_retried(apps: Apps) -> None:
    slow = await Receiver(delay=1.0).start()
    try:
        h = await apps.start(webhook_timeout_ms=100, webhook_retry_max_attempts=2)
        await h.create("slow")
        await _hook(h, "slow", f"{slow.url}/s", events=["CONNECTION_UPDATE"])
        started = time.monotonic()
        assert (await h.client.get("/instance/connect/slow")).status_code == 200
        assert time.monotonic() - started < 1.0  # the instance never waits for its receiver
        rows = await _settle(h, "slow")
        assert rows[0]["status"] == "dead" and rows[0]["lastError"] == "timed out"
        await slow.refuse()
        await h.client.delete("/instance/logout/slow")
        rows = await _settle(h, "slow")
        assert rows[0]["status"] == "dead" and "Connect" in rows[0]["lastError"]
    finally:
        await slow.stop()


async def test_a_dead_receiver_blocks_only_its_own_lane(apps: Apps, receiver: Receiver) -> None:
    receiver.answer = lambda path, body: 500 if path == "/down" else 200
    h = await apps.start(webhook_retry_initial=30.0)
    await h.create("down")
    await h.create("up")
    await _hook(h, "down", f"{receiver.url}/down", events=["CONNECTION_UPDATE"])
    await _hook(h, "up", f"{receiver.url}/up", events=["CONNECTION_UPDATE"])
    await _cycle(h, "down")
    await _cycle(h, "up")
    await asyncio.sleep(0.5)
    assert [r.path for r in receiver.received].count("/up") == 3
    assert [r.path for r in receiver.received].count("/down") == 1  # the head, waiting 30 s
    rows = await _deliveries(h, "down")
    assert [r["status"] for r in rows] == ["pending"] * 3
    head = min(rows, key=lambda r: r["seq"])
    assert head["attempts"] == 1 and head["nextAttemptAt"] is not None


async def test_redeliver_since_time_or_id(apps: Apps, receiver: Receiver) -> None:
    h = await apps.start()
    await h.create("replay")
    await _hook(h, "replay", f"{receiver.url}/r", events=["CONNECTION_UPDATE"])
    await _cycle(h, "replay")
    first = [r.json["id"] for r in await receiver.wait_for(3)]
    await _settle(h, "replay")
    r = await h.client.post("/events/redeliver/replay", json={"fromId": first[1]})
    assert r.json() == {"instanceName": "replay", "redelivered": 2}
    again = [x.json["id"] for x in (await receiver.wait_for(5))[3:]]
    assert again == first[1:]
    await _settle(h, "replay")
    r = await h.client.post("/events/redeliver/replay", json={"since": "2000-01-01T00:00:00Z"})
    assert r.json()["redelivered"] == 3
    assert [x.json["id"] for x in (await receiver.wait_for(8))[5:]] == first
    for bad in ({}, {"since": "yesterday"}, {"fromId": "short"}):
        r = await h.client.post("/events/redeliver/replay", json=bad)
        assert r.status_code == 400, bad
    assert (await h.client.get("/events/deliveries/replay?status=bogus")).status_code == 400


async def test_old_delivered_rows_are_pruned(apps: Apps, receiver: Receiver) -> None:
    from sqlalchemy import update

    from wagate.store.outbox import OutboxRow

    h = await apps.start()
    await h.create("prune")
    await _hook(h, "prune", f"{receiver.url}/p", events=["CONNECTION_UPDATE"])
    await _cycle(h, "prune")
    await _settle(h, "prune")
    events = h.app.state.events
    assert await events.dispatcher.prune() == 0  # young rows stay
    from datetime import datetime

    async with h.app.state.db.begin() as conn:
        await conn.execute(update(OutboxRow).values(done_at=datetime(2000, 1, 1)))
    assert await events.dispatcher.prune() == 3
    assert await _deliveries(h, "prune") == []


async def test_status_and_its_events_are_written_atomically(apps: Apps) -> None:
    """A failing outbox insert rolls back the status row written in the same transaction."""
    from sqlalchemy.exc import IntegrityError

    from wagate.core.ports import StatusSnapshot
    from wagate.store.outbox import Delivery

    h = await apps.start()
    created = await h.create("atomic")
    iid = created["instance"]["instanceId"]
    snap = StatusSnapshot("open", "open", 200, "", "1@s.whatsapp.net", None, None)
    broken = Delivery("0" * 26, iid, "atomic", "x", "l", "webhook", "instance", "u", None)  # type: ignore[arg-type]
    with pytest.raises(IntegrityError):
        status = h.gateway.store.status_write(iid, snap)
        await h.app.state.events.outbox.write_with(status, [broken])
    rows = (await h.client.get("/instance/fetchInstances")).json()
    assert rows[0]["connectionStatus"] == "close"


async def test_persist_retry_writes_each_event_once(apps: Apps, receiver: Receiver) -> None:
    """The sim's persistFailsOnce: the state write is retried, its event is not duplicated."""
    h = await apps.start()
    await h.create("retry")
    await _hook(h, "retry", f"{receiver.url}/x", events=["CONNECTION_UPDATE"])
    await h.client.get("/instance/connect/retry")
    r = await h.client.post("/sim/retry/faults", json={"persistFailsOnce": True})
    assert r.status_code == 200
    await h.client.post("/sim/retry/scan", json={})
    await receiver.wait_for(2)
    await _settle(h, "retry")
    states = [b["data"]["state"] for b in receiver.bodies()]
    assert states == ["connecting", "open"]
    rows = (await h.client.get("/instance/fetchInstances")).json()
    assert rows[0]["connectionStatus"] == "open"
