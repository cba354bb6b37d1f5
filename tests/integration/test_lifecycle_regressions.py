"""One test per founding lifecycle bug (shared/reference/evolution-api-contract.md §2.10-2.11),
through the HTTP API, with the sim network and a virtual clock (backoff runs instantly)."""

from __future__ import annotations

import asyncio

from tests.conftest import Harness
from tests.integration.lifecycle_support import (
    connection_state,
    pair,
    run_for,
    settle,
    sim_stats,
    stored,
    updates,
)
from wagate.runtime.tasks import running

LOGGED_OUT = {"status": "SUCCESS", "error": False, "response": {"message": "Instance logged out"}}
TEN_MINUTES = 600.0


async def _assert_down_for_good(h: Harness, name: str) -> None:
    """Closed as 401 in memory and in the database, no session, no credentials, and nothing
    tries to connect again, however long we wait."""
    state = await connection_state(h, name)
    assert state["instance"]["state"] == "close"
    assert state["lifecycle"]["state"] == "logged_out" and state["lifecycle"]["reason"] == 401
    row = await stored(h, name)
    assert row["connectionStatus"] == "close" and row["disconnectionReasonCode"] == 401
    reg = h.gateway.get(name)
    assert await h.gateway.credentials.load(reg.id) is None
    before = await sim_stats(h, name)
    assert before["liveSessions"] == 0
    await run_for(h, TEN_MINUTES)
    assert await sim_stats(h, name) == before
    assert updates(h, name)[-1] == ("close", 401)


async def test_logout_with_the_socket_already_closed(virtual_harness: Harness) -> None:
    """Evolution: logout throws 'Connection Closed', the DB keeps saying open (§2.10.1-2)."""
    h = virtual_harness
    await h.create("dead-socket")
    await pair(h, "dead-socket", "5511900000101")
    r = await h.client.post("/sim/dead-socket/faults", json={"socketAlreadyClosed": True})
    assert r.status_code == 200

    r = await h.client.delete("/instance/logout/dead-socket")

    assert r.status_code == 200 and r.json() == LOGGED_OUT
    await _assert_down_for_good(h, "dead-socket")


async def test_logout_while_connecting(virtual_harness: Harness) -> None:
    """A QR is on screen: logout stops the session; no new QR series, no reconnect."""
    h = virtual_harness
    await h.create("pairing")
    qr = (await h.client.get("/instance/connect/pairing")).json()
    assert qr["code"] and (await connection_state(h, "pairing"))["instance"]["state"] == (
        "connecting"
    )

    r = await h.client.delete("/instance/logout/pairing")

    assert r.status_code == 200 and r.json() == LOGGED_OUT
    qrs = len(h.events_of("pairing", "qrcode.updated"))
    await _assert_down_for_good(h, "pairing")
    assert len(h.events_of("pairing", "qrcode.updated")) == qrs
    assert (await sim_stats(h, "pairing"))["connectAttempts"] == 1


async def test_logout_while_the_engine_is_still_starting(virtual_harness: Harness) -> None:
    """The engine takes its time to connect; a logout sent meanwhile waits for it, then wins."""
    h = virtual_harness
    h.sim.connect_delay = 3.0
    await h.create("slow")
    connect = asyncio.create_task(h.client.get("/instance/connect/slow"))
    await asyncio.sleep(0.05)
    logout = asyncio.create_task(h.client.delete("/instance/logout/slow"))
    await asyncio.sleep(0.05)
    assert not logout.done()  # serialized behind the connect in progress
    await h.clock.advance(3.0)
    r = await logout
    await connect
    h.sim.connect_delay = 0.0

    assert r.status_code == 200 and r.json() == LOGGED_OUT
    await _assert_down_for_good(h, "slow")


async def test_logout_when_the_engine_throws(virtual_harness: Harness) -> None:
    """The remote logout request fails: logged, credentials purged anyway, close/401."""
    h = virtual_harness
    await h.create("throws")
    await pair(h, "throws", "5511900000102")
    await h.client.post("/sim/throws/faults", json={"logoutFails": True})

    r = await h.client.delete("/instance/logout/throws")

    assert r.status_code == 200 and r.json() == LOGGED_OUT
    await _assert_down_for_good(h, "throws")


async def test_logout_of_a_closed_instance_succeeds(virtual_harness: Harness) -> None:
    """Evolution answers 400 for a logout of a closed instance; wagate: idempotent success."""
    h = virtual_harness
    await h.create("closed")
    for _ in range(2):
        r = await h.client.delete("/instance/logout/closed")
        assert r.status_code == 200
        assert r.json()["response"]["message"] == "Instance was already disconnected"
    assert updates(h, "closed") == []


async def test_open_before_identity(virtual_harness: Harness) -> None:
    """Evolution crashes reading client.user.id and never announces open (§2.10.3)."""
    h = virtual_harness
    await h.create("anon")
    await h.client.post("/sim/anon/faults", json={"openWithoutIdentity": True})

    state = await pair(h, "anon", "5511900000103")

    assert state["lifecycle"]["state"] == "open"
    hops = [(t["from"], t["to"]) for t in state["lifecycle"]["transitions"]]
    assert ("awaiting_pairing", "awaiting_identity") in hops
    assert ("awaiting_identity", "open") in hops
    assert updates(h, "anon") == [("connecting", 200), ("open", 200)]
    opened = h.events_of("anon", "connection.update")[-1]
    assert opened["data"]["wuid"] == "5511900000103@s.whatsapp.net"
    row = await stored(h, "anon")
    assert row["connectionStatus"] == "open"
    assert row["ownerJid"] == "5511900000103@s.whatsapp.net"


async def test_408_before_login_is_an_expired_qr(virtual_harness: Harness) -> None:
    """Unpaired: 408 means the QR expired. Terminal: no reconnect loop (§2.10.4)."""
    h = virtual_harness
    await h.create("expired")
    await h.client.get("/instance/connect/expired")

    r = await h.client.post("/sim/expired/disconnect", json={"code": 408})

    assert r.json()["state"] == "close"
    state = await connection_state(h, "expired")
    assert state["lifecycle"]["state"] == "idle" and state["lifecycle"]["reason"] == 408
    assert state["lifecycle"]["action"] == "connect"
    await run_for(h, TEN_MINUTES)
    assert (await sim_stats(h, "expired"))["connectAttempts"] == 1
    assert updates(h, "expired") == [("connecting", 200), ("close", 408)]


async def test_408_after_login_is_a_lost_connection(virtual_harness: Harness) -> None:
    """Paired: 408 is a lost connection. Transient: it reconnects with the same credentials
    (Evolution 2.4.0-rc2 made it terminal and wiped them, PR #2612)."""
    h = virtual_harness
    await h.create("lost")
    await pair(h, "lost", "5511900000104")
    reg = h.gateway.get("lost")

    r = await h.client.post("/sim/lost/disconnect", json={"code": 408})

    assert r.json()["state"] == "connecting"
    assert (await connection_state(h, "lost"))["lifecycle"]["state"] == "reconnecting"
    assert await h.gateway.credentials.load(reg.id) is not None
    await run_for(h, 1.0)  # first backoff: 1 s (jitter off in this harness)
    assert (await connection_state(h, "lost"))["instance"]["state"] == "open"
    assert (await sim_stats(h, "lost"))["connectAttempts"] == 2
    assert updates(h, "lost") == [("connecting", 200), ("open", 200), ("connecting", 408)] + [
        ("open", 200)
    ]


async def test_delete_while_reconnecting_leaves_no_zombie(virtual_harness: Harness) -> None:
    """Evolution's deleted instances keep reconnecting (§2.11.11). Zero attempts after delete."""
    h = virtual_harness
    created = await h.create("zombie")
    await pair(h, "zombie", "5511900000105")
    await h.client.post("/sim/network", json={"up": False})
    await settle(h)
    await run_for(h, 5.0)
    assert (await connection_state(h, "zombie"))["lifecycle"]["state"] == "reconnecting"
    attempts = (await sim_stats(h, "zombie"))["connectAttempts"]
    assert attempts >= 3

    r = await h.client.delete("/instance/delete/zombie")

    assert r.status_code == 200
    events = len(h.events)
    await run_for(h, TEN_MINUTES / 2)
    await h.client.post("/sim/network", json={"up": True})
    await run_for(h, TEN_MINUTES / 2)
    assert await sim_stats(h, "zombie") == {"connectAttempts": attempts, "liveSessions": 0}
    assert (await h.client.get("/instance/connectionState/zombie")).status_code == 404
    assert h.events[events:] == []  # nothing from the deleted instance afterwards
    iid = created["instance"]["instanceId"]
    assert await h.gateway.store.rows_owned(iid) == 0
    assert running("timer:") == [] and running("supervisor:zombie") == []


async def test_two_concurrent_connects_one_live_session(virtual_harness: Harness) -> None:
    """Evolution's two concurrent /connect calls create two sockets (§2.11.4a)."""
    h = virtual_harness
    await h.create("twice")

    first, second = await asyncio.gather(
        h.client.get("/instance/connect/twice"), h.client.get("/instance/connect/twice")
    )

    assert first.status_code == second.status_code == 200
    assert first.json()["code"] == second.json()["code"]
    assert await sim_stats(h, "twice") == {"connectAttempts": 1, "liveSessions": 1}
    await h.client.post("/sim/twice/scan", json={"number": "5511900000106"})
    await settle(h)
    await asyncio.gather(*(h.client.get("/instance/connect/twice") for _ in range(5)))
    assert await sim_stats(h, "twice") == {"connectAttempts": 1, "liveSessions": 1}
    assert updates(h, "twice") == [("connecting", 200), ("open", 200)]


async def test_concurrent_connect_logout_delete_restart(virtual_harness: Harness) -> None:
    """Every mix of intents at once ends in one consistent, quiet state."""
    h = virtual_harness
    await h.create("storm")
    await pair(h, "storm", "5511900000107")
    c = h.client

    answers = await asyncio.gather(
        c.get("/instance/connect/storm"),
        c.post("/instance/restart/storm"),
        c.delete("/instance/logout/storm"),
        c.get("/instance/connect/storm"),
        c.delete("/instance/delete/storm"),
        c.delete("/instance/logout/storm"),
    )

    assert all(r.status_code in (200, 201, 404) for r in answers), [r.text for r in answers]
    assert answers[4].status_code == 200
    attempts = (await sim_stats(h, "storm"))["connectAttempts"]
    await run_for(h, 120.0)
    assert await sim_stats(h, "storm") == {"connectAttempts": attempts, "liveSessions": 0}
    states = [s for s, _ in updates(h, "storm")]
    assert all(a != b for a, b in zip(states, states[1:], strict=False)), states
    assert states[-1] == "close"


async def test_logout_when_the_database_write_fails_once(virtual_harness: Harness) -> None:
    """The state write is retried (and logged), not swallowed: the store ends up saying close."""
    h = virtual_harness
    await h.create("flaky-db")
    await pair(h, "flaky-db", "5511900000108")
    await h.client.post("/sim/flaky-db/faults", json={"persistFailsOnce": True})

    r = await h.client.delete("/instance/logout/flaky-db")

    assert r.status_code == 200 and r.json() == LOGGED_OUT
    assert h.sim.faults_of("flaky-db").persistFailsOnce is False  # the fault did fire
    await _assert_down_for_good(h, "flaky-db")


async def test_delete_when_the_socket_is_gone_and_logout_throws(virtual_harness: Harness) -> None:
    h = virtual_harness
    created = await h.create("wreck")
    await pair(h, "wreck", "5511900000109")
    await h.client.post(
        "/sim/wreck/faults", json={"socketAlreadyClosed": True, "logoutFails": True}
    )

    r = await h.client.delete("/instance/delete/wreck")

    assert r.status_code == 200
    assert r.json()["response"]["message"] == "Instance deleted"
    assert await h.gateway.store.rows_owned(created["instance"]["instanceId"]) == 0
    assert await sim_stats(h, "wreck") == {"connectAttempts": 1, "liveSessions": 0}
    assert updates(h, "wreck")[-1] == ("close", 401)
    assert [e["event"] for e in h.events if e["instance"] == "wreck"][-2:] == [
        "instance.delete",
        "remove.instance",
    ]
