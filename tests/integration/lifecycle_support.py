"""Helpers for lifecycle tests through the HTTP API on a virtual clock."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.conftest import Harness


async def settle(h: Harness) -> None:
    """Until every instance's supervisor has nothing left to do (store writes included)."""
    for _ in range(3):
        for reg in list(h.gateway.instances.values()):
            await reg.supervisor.wait_quiescent()
        for _ in range(20):
            await asyncio.sleep(0)


async def run_for(h: Harness, seconds: float, step: float = 5.0) -> None:
    """Let `seconds` of virtual time pass; every timer fires at its own deadline, and the
    instances settle (store writes included) before time moves on."""
    left = seconds
    while left > 1e-9:
        dt = min(step, left)
        await h.clock.advance(dt, idle=lambda: settle(h))
        left -= dt


async def pair(h: Harness, name: str, number: str) -> dict[str, Any]:
    """Connect, let the phone scan the QR, and return connectionState (open)."""
    r = await h.client.get(f"/instance/connect/{name}")
    assert r.status_code == 200, r.text
    r = await h.client.post(f"/sim/{name}/scan", json={"number": number})
    assert r.status_code == 200, r.text
    await settle(h)
    state = await connection_state(h, name)
    assert state["instance"]["state"] == "open", state
    return state


async def connection_state(h: Harness, name: str) -> dict[str, Any]:
    r = await h.client.get(f"/instance/connectionState/{name}")
    assert r.status_code == 200, r.text
    return dict(r.json())


async def stored(h: Harness, name: str) -> dict[str, Any]:
    """The instance's row as fetchInstances reports it (read from the database)."""
    r = await h.client.get("/instance/fetchInstances", params={"instanceName": name})
    assert r.status_code == 200, r.text
    rows = r.json()
    assert len(rows) == 1, rows
    return dict(rows[0])


async def sim_stats(h: Harness, name: str) -> dict[str, int]:
    """The sim's connection counts of an instance (its proxy and presence left out)."""
    r = await h.client.get(f"/sim/{name}/stats")
    assert r.status_code == 200, r.text
    return {k: r.json()[k] for k in ("connectAttempts", "liveSessions")}


def updates(h: Harness, name: str) -> list[tuple[str, int]]:
    """The (state, statusReason) of every connection.update the instance emitted, in order."""
    return [
        (e["data"]["state"], e["data"]["statusReason"])
        for e in h.events_of(name, "connection.update")
    ]
