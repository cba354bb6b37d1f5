"""Boot: restore from the store, reconnect (staggered) what was up and still has credentials,
reconcile the rest to close; whatever a crash left behind, no lie survives the restart."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Harness, make_settings, start_harness, stop_harness
from tests.integration.lifecycle_support import (
    connection_state,
    pair,
    run_for,
    settle,
    sim_stats,
    stored,
    updates,
)


class Apps:
    """Starts the app again and again on one database (virtual clock, 1 s boot stagger)."""

    def __init__(self, tmp_path: Path) -> None:
        self.settings = make_settings(tmp_path, reconnect_jitter=0.0, boot_stagger=1.0)
        self.running: dict[int, tuple[Harness, Any]] = {}

    async def start(self) -> Harness:
        h, ctx = await start_harness(self.settings, virtual=True)
        self.running[id(h)] = (h, ctx)
        return h

    async def stop(self, h: Harness) -> None:
        """Stop the app. Shutdown writes nothing about the instances, so the store is left as
        a crash at this moment would leave it."""
        await stop_harness(*self.running.pop(id(h)))


@pytest.fixture
async def apps(tmp_path: Path) -> AsyncIterator[Apps]:
    apps = Apps(tmp_path)
    yield apps
    for h, ctx in list(apps.running.values()):
        await stop_harness(h, ctx)


async def _no_lie(h: Harness, names: list[str]) -> dict[str, str]:
    """Memory (connectionState) and the store (fetchInstances) agree for every instance."""
    seen = {}
    for name in names:
        memory = (await connection_state(h, name))["instance"]["state"]
        row = await stored(h, name)
        assert row["connectionStatus"] == memory, (name, row["connectionStatus"], memory)
        seen[name] = memory
    return seen


async def test_boot_restores_staggered_and_reconciles_the_rest(apps: Apps) -> None:
    h1 = await apps.start()
    for i, name in enumerate(["a", "b", "c", "gone"]):
        await h1.create(name)
        await pair(h1, name, f"551190000040{i}")
    await h1.client.delete("/instance/logout/gone")
    await h1.create("never")
    await h1.create("pairing")
    await h1.client.get("/instance/connect/pairing")  # a QR on screen, never scanned
    await apps.stop(h1)

    h2 = await apps.start()
    await settle(h2)

    names = ["a", "b", "c", "gone", "never", "pairing"]
    assert await _no_lie(h2, names) == {
        "a": "open",  # first in line: reconnected at once
        "b": "connecting",  # waiting its turn (1 s), as `reconnecting`
        "c": "connecting",  # (2 s)
        "gone": "close",
        "never": "close",
        "pairing": "close",  # no credentials: reconciled, not reconnected
    }
    assert (await connection_state(h2, "b"))["lifecycle"]["state"] == "reconnecting"
    attempts = {n: (await sim_stats(h2, n))["connectAttempts"] for n in names}
    assert attempts == {"a": 1, "b": 0, "c": 0, "gone": 0, "never": 0, "pairing": 0}

    await run_for(h2, 1.0)
    assert (await connection_state(h2, "b"))["instance"]["state"] == "open"
    assert (await sim_stats(h2, "c"))["connectAttempts"] == 0
    await run_for(h2, 1.0)
    assert await _no_lie(h2, ["a", "b", "c"]) == {"a": "open", "b": "open", "c": "open"}

    # What the world hears after the restart: each change since the store's last word, once.
    assert {n: updates(h2, n) for n in names} == {
        "a": [("connecting", 200), ("open", 200)],
        "b": [("connecting", 200), ("open", 200)],
        "c": [("connecting", 200), ("open", 200)],
        "gone": [],
        "never": [],
        "pairing": [("close", 428)],
    }
    await run_for(h2, 600.0)
    assert [(await sim_stats(h2, n))["connectAttempts"] for n in names] == [1, 1, 1, 0, 0, 0]


async def test_a_logout_during_the_stagger_wins(apps: Apps) -> None:
    h1 = await apps.start()
    for i, name in enumerate(["first", "second"]):
        await h1.create(name)
        await pair(h1, name, f"551190000041{i}")
    await apps.stop(h1)

    h2 = await apps.start()
    await settle(h2)
    r = await h2.client.delete("/instance/logout/second")  # before its turn comes
    assert r.status_code == 200
    await run_for(h2, 600.0)

    assert (await sim_stats(h2, "second"))["connectAttempts"] == 0
    assert await _no_lie(h2, ["first", "second"]) == {"first": "open", "second": "close"}
    assert updates(h2, "second") == [("connecting", 200), ("close", 401)]


async def test_a_crash_leaves_no_lie_after_restart(apps: Apps) -> None:
    """The store as crashes leave it: `open` with no session behind it; `open` with the
    credentials already purged (a crash inside a logout, between the purge and the state
    write); `connecting` while a QR was on screen. After the restart each is true again."""
    h1 = await apps.start()
    for i, name in enumerate(["up", "half-logged-out"]):
        await h1.create(name)
        await pair(h1, name, f"551190000042{i}")
    await h1.create("qr")
    await h1.client.get("/instance/connect/qr")
    half = h1.gateway.get("half-logged-out")
    await h1.gateway.credentials.delete(half.id)
    names = ["up", "half-logged-out", "qr"]
    assert [(await stored(h1, n))["connectionStatus"] for n in names] == [
        "open",
        "open",
        "connecting",
    ]
    await apps.stop(h1)

    h2 = await apps.start()
    await settle(h2)

    assert await _no_lie(h2, names) == {"up": "open", "half-logged-out": "close", "qr": "close"}
    assert updates(h2, "half-logged-out") == [("close", 428)]
    life = (await connection_state(h2, "half-logged-out"))["lifecycle"]
    assert life["state"] == "idle" and life["action"] == "connect"
    await run_for(h2, 600.0)
    assert await _no_lie(h2, names) == {"up": "open", "half-logged-out": "close", "qr": "close"}
    assert (await sim_stats(h2, "half-logged-out"))["connectAttempts"] == 0
