"""The reconnect policy and DEL_INSTANCE, through the HTTP API on a virtual clock: capped
exponential backoff (1 s doubling to 60 s), reset after a stable open, a failed status after
N consecutive failures and silence until a new connect; every number configurable."""

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


async def _attempt_times(h: Harness, name: str, seconds: float) -> list[float]:
    """Virtual times (since now) of every connect attempt the instance makes in `seconds`."""
    start = h.clock.now()
    stats = h.sim.stats_of(name)
    seen = stats.connect_attempts
    times: list[float] = []

    async def watch() -> None:
        nonlocal seen
        await settle(h)
        while stats.connect_attempts > seen:
            seen += 1
            times.append(round(h.clock.now() - start, 6))

    await h.clock.advance(seconds, idle=watch)
    return times


async def test_backoff_doubles_to_the_cap_then_fails_and_stops(virtual_harness: Harness) -> None:
    h = virtual_harness
    await h.create("offline")
    await pair(h, "offline", "5511900000201")
    await h.client.post("/sim/network", json={"up": False})  # drops the session: 408, paired
    await settle(h)

    times = await _attempt_times(h, "offline", 600.0)

    gaps = [b - a for a, b in zip([0.0, *times], times, strict=False)]
    assert gaps == [1, 2, 4, 8, 16, 32, 60, 60, 60]  # nine retries: ten failures in a row
    state = await connection_state(h, "offline")
    assert state["instance"]["state"] == "close"
    life = state["lifecycle"]
    assert life["state"] == "failed" and life["failures"] == 10
    assert life["action"] == "check_network"  # the last failure found no route
    assert "gave up after 10 consecutive failures" in life["detail"]
    assert (await stored(h, "offline"))["connectionStatus"] == "close"
    # One update into the outage and one when giving up: no flood.
    assert [s for s, _ in updates(h, "offline")] == ["connecting", "open", "connecting", "close"]

    # ...and it stays quiet until someone connects again.
    assert await _attempt_times(h, "offline", 3600.0) == []
    await h.client.post("/sim/network", json={"up": True})
    r = await h.client.get("/instance/connect/offline")
    assert r.json() == {"instance": {"instanceName": "offline", "state": "open"}}
    assert (await connection_state(h, "offline"))["lifecycle"]["failures"] == 0


async def test_a_stable_open_resets_the_backoff(virtual_harness: Harness) -> None:
    h = virtual_harness
    await h.create("flaky")
    await pair(h, "flaky", "5511900000202")

    async def drop_and_time() -> float:
        await h.client.post("/sim/flaky/disconnect", json={"code": 428})
        times = await _attempt_times(h, "flaky", 10.0)
        assert (await connection_state(h, "flaky"))["instance"]["state"] == "open"
        return times[0]

    assert await drop_and_time() == 1.0
    assert await drop_and_time() == 2.0  # reopened, but not for long: the streak goes on
    assert await drop_and_time() == 4.0
    await run_for(h, 60.0)  # open and stable for a minute
    assert (await connection_state(h, "flaky"))["lifecycle"]["failures"] == 0
    assert await drop_and_time() == 1.0


async def test_every_number_of_the_policy_is_configurable(
    make_harness: Callable[..., Any],
) -> None:
    h = await make_harness(
        reconnect_initial=0.5,
        reconnect_max=1.5,
        reconnect_jitter=0.0,
        reconnect_max_failures=4,
        stable_after=5.0,
    )
    await h.create("tuned")
    await pair(h, "tuned", "5511900000203")
    await h.client.post("/sim/network", json={"up": False})
    await settle(h)

    times = await _attempt_times(h, "tuned", 60.0)

    assert [b - a for a, b in zip([0.0, *times], times, strict=False)] == [0.5, 1.0, 1.5]
    assert (await connection_state(h, "tuned"))["lifecycle"]["state"] == "failed"


async def test_jitter_spreads_reconnects_within_its_band(
    make_harness: Callable[..., Any],
) -> None:
    h = await make_harness(reconnect_jitter=0.2, reconnect_max_failures=50)
    names = [f"j{i}" for i in range(6)]
    for i, name in enumerate(names):
        await h.create(name)
        await pair(h, name, f"55119000003{i:02d}")
    await h.client.post("/sim/network", json={"up": False})
    await settle(h)

    firsts = [(await _attempt_times(h, name, 0.0)) for name in names]  # nothing at once
    assert firsts == [[] for _ in names]
    await h.clock.advance(1.25, idle=lambda: settle(h))
    assert all(h.sim.stats_of(n).connect_attempts == 2 for n in names)  # all within 0.8-1.2 s
    later = await _attempt_times(h, names[0], 600.0)
    gaps = [b - a for a, b in zip(later, later[1:], strict=False)]
    assert all(gap <= 60.0 + 1e-6 for gap in gaps) and max(gaps) >= 48.0, gaps  # capped


async def test_del_instance_deletes_what_did_not_connect_in_time(
    make_harness: Callable[..., Any],
) -> None:
    h = await make_harness(del_instance=2, reconnect_jitter=0.0)
    lazy = await h.create("lazy")
    await h.create("diligent")
    await h.client.get("/instance/connect/lazy")  # connecting, never scanned
    await pair(h, "diligent", "5511900000204")

    await run_for(h, 119.0)
    assert (await h.client.get("/instance/connectionState/lazy")).status_code == 200
    await run_for(h, 2.0)
    for _ in range(200):  # the expiry task deletes on its own; give it real time to finish
        if "lazy" not in h.gateway.instances:
            break
        await asyncio.sleep(0.01)

    assert (await h.client.get("/instance/connectionState/lazy")).status_code == 404
    assert (await connection_state(h, "diligent"))["instance"]["state"] == "open"
    assert h.events_of("lazy", "instance.delete") != []
    assert await h.gateway.store.rows_owned(lazy["instance"]["instanceId"]) == 0
    assert (await sim_stats(h, "lazy"))["liveSessions"] == 0
    attempts = (await sim_stats(h, "lazy"))["connectAttempts"]
    await run_for(h, 600.0)
    assert (await sim_stats(h, "lazy"))["connectAttempts"] == attempts


async def test_qr_limit_sends_refused_then_close(make_harness: Callable[..., Any]) -> None:
    """Evolution's QRCODE_LIMIT: the limit message, `refused`, then the instance is closed
    (Evolution leaves the database at `connecting`, §2.11.8; here it says close)."""
    h = await make_harness(qrcode_limit=3, reconnect_jitter=0.0)
    await h.create("unscanned")
    await h.client.get("/instance/connect/unscanned")

    await run_for(h, 20.0 * 3)  # the sim rotates the QR every 20 s

    qrs = h.events_of("unscanned", "qrcode.updated")
    assert [bool(e["data"].get("qrcode")) for e in qrs] == [True, True, True, False]
    assert qrs[-1]["data"] == {
        "message": "QR code limit reached, please login again",
        "statusCode": 500,
    }
    updates_ = h.events_of("unscanned", "connection.update")
    assert [(e["data"]["state"], e["data"]["statusReason"]) for e in updates_] == [
        ("connecting", 200),
        ("refused", 428),
        ("close", 428),
    ]
    assert {"wuid", "profileName", "profilePictureUrl"} <= set(updates_[1]["data"])
    assert (await stored(h, "unscanned"))["connectionStatus"] == "close"
    life = (await connection_state(h, "unscanned"))["lifecycle"]
    assert (life["state"], life["reason"], life["action"]) == ("idle", 428, "connect")
    assert await sim_stats(h, "unscanned") == {"connectAttempts": 1, "liveSessions": 0}
    await run_for(h, 600.0)
    assert (await sim_stats(h, "unscanned"))["connectAttempts"] == 1


async def test_515_once_the_qr_limit_is_used_up_restarts_then_refused(
    make_harness: Callable[..., Any],
) -> None:
    """The server asks for a restart (515) while the last QR of the limit is on screen: the
    restart happens at once, and its first QR is refused, because the limit counts every QR
    of a pairing attempt across automatic reconnects (only a connect starts a new count).
    One refusal, the store says close/428, and nothing reconnects until the next connect."""
    h = await make_harness(qrcode_limit=3, reconnect_jitter=0.0)
    await h.create("restarted")
    await h.client.get("/instance/connect/restarted")
    await run_for(h, 20.0 * 2 + 5.0)  # three QR codes shown, none scanned
    assert len(h.events_of("restarted", "qrcode.updated")) == 3

    r = await h.client.post("/sim/restarted/disconnect", json={"code": 515})

    assert r.json() == {"disconnected": True, "code": 515, "state": "close"}
    qrs = h.events_of("restarted", "qrcode.updated")
    assert [bool(e["data"].get("qrcode")) for e in qrs] == [True, True, True, False]
    assert updates(h, "restarted") == [("connecting", 200), ("refused", 428), ("close", 428)]
    life = (await connection_state(h, "restarted"))["lifecycle"]
    assert (life["state"], life["reason"], life["action"]) == ("idle", 428, "connect")
    hops = [(t["from"], t["to"], t["reason"]) for t in life["transitions"]]
    assert hops[-2:] == [("awaiting_pairing", "connecting", 200), ("connecting", "idle", 428)]
    row = await stored(h, "restarted")
    assert (row["connectionStatus"], row["disconnectionReasonCode"]) == ("close", 428)
    assert await sim_stats(h, "restarted") == {"connectAttempts": 2, "liveSessions": 0}
    await run_for(h, 600.0)
    assert (await sim_stats(h, "restarted"))["connectAttempts"] == 2

    r = await h.client.get("/instance/connect/restarted")  # a new count
    assert r.json()["count"] == 1 and r.json()["code"]
