"""Close codes through the HTTP API: a 405 (client outdated) stops the instance for good, and
the causes Evolution reports as 428 (the QR limit, no route to WhatsApp, a connect deadline)
are told apart in the additive `lifecycle` block while `statusReason` stays 428."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

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


async def test_a_405_leaves_the_instance_closed_with_a_permanent_reason(
    virtual_harness: Harness,
) -> None:
    h = virtual_harness
    await h.create("outdated")
    await pair(h, "outdated", "5511900000401")
    attempts = (await sim_stats(h, "outdated"))["connectAttempts"]

    r = await h.client.post("/sim/outdated/disconnect", json={"code": 405})

    assert r.json() == {"disconnected": True, "code": 405, "state": "close"}
    state = await connection_state(h, "outdated")
    assert state["instance"] == {"instanceName": "outdated", "state": "close"}
    life = state["lifecycle"]
    assert (life["state"], life["reason"], life["cause"], life["action"]) == (
        "failed",
        405,
        "client_outdated",
        "upgrade",
    )
    assert life["message"] == "Stopped: WhatsApp rejected this client version."
    assert updates(h, "outdated")[-1] == ("close", 405)
    close = h.events_of("outdated", "connection.update")[-1]["data"]["lifecycle"]
    assert (close["state"], close["cause"]) == ("failed", "client_outdated")
    row = await stored(h, "outdated")
    assert (row["connectionStatus"], row["disconnectionReasonCode"]) == ("close", 405)

    await run_for(h, 3600.0)  # permanent: nothing reconnects on its own
    assert (await sim_stats(h, "outdated"))["connectAttempts"] == attempts
    assert (await connection_state(h, "outdated"))["lifecycle"]["state"] == "failed"
    # ...and the credentials stay: a connect (after an upgrade) opens without a new QR.
    r = await h.client.get("/instance/connect/outdated")
    assert r.json() == {"instance": {"instanceName": "outdated", "state": "open"}}


async def test_the_qr_limit_is_its_own_cause(make_harness: Callable[..., Any]) -> None:
    h = await make_harness(qrcode_limit=2)
    await h.create("limited")
    await h.client.get("/instance/connect/limited")

    await run_for(h, 20.0 * 2 + 5.0)

    assert updates(h, "limited") == [("connecting", 200), ("refused", 428), ("close", 428)]
    life = (await connection_state(h, "limited"))["lifecycle"]
    assert (life["state"], life["reason"], life["cause"], life["action"]) == (
        "idle",
        428,
        "qr_limit",
        "connect",
    )
    assert life["message"] == "The QR code limit was reached before a phone scanned it."
    assert life["transitions"][-1]["cause"] == "qr_limit"


async def test_no_route_to_whatsapp_is_its_own_cause(virtual_harness: Harness) -> None:
    h = virtual_harness
    await h.create("unrouted")
    await pair(h, "unrouted", "5511900000402")
    await h.client.post("/sim/network", json={"up": False})  # drops the session: 408, paired
    await settle(h)
    life = (await connection_state(h, "unrouted"))["lifecycle"]
    assert (life["state"], life["reason"], life["cause"]) == ("reconnecting", 408, "timed_out")

    await run_for(h, 1.5)  # the first reconnect finds no network

    life = (await connection_state(h, "unrouted"))["lifecycle"]
    assert (life["state"], life["reason"], life["cause"]) == ("reconnecting", 428, "no_route")
    assert "no route to whatsapp" in life["message"].lower() and life["action"] == "check_network"
    assert "network unreachable" in life["detail"]
    assert updates(h, "unrouted")[-1] == ("connecting", 408)  # nothing new on the wire


async def test_a_connect_deadline_is_its_own_cause(make_harness: Callable[..., Any]) -> None:
    h = await make_harness(engine_timeout=0.2)
    h.sim.connect_delay = 3600.0  # the engine never answers within the deadline
    await h.create("slow")

    r = await h.client.get("/instance/connect/slow")
    assert r.status_code == 200
    for _ in range(50):
        life = (await connection_state(h, "slow"))["lifecycle"]
        if life["state"] == "reconnecting":
            break
        await asyncio.sleep(0.05)
    h.sim.connect_delay = 0.0

    assert (life["state"], life["reason"], life["cause"]) == (
        "reconnecting",
        428,
        "connect_deadline",
    )
    assert "did not answer the connect in time" in life["message"]
    assert life["detail"] == "connect timed out"
    assert updates(h, "slow") == [("connecting", 200)]  # the wire says only connecting
