"""Labels arrive with the account's app state when a session opens: a new device hears of
every label, a reconnecting one of what changed while it was away; each is stored
(DATABASE_SAVE_DATA_LABELS) and announced as labels.edit, as Evolution does from Baileys."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.conftest import Harness
from tests.messaging.conftest import A_NUMBER, open_instance


async def edits(h: Harness, count: int) -> list[dict[str, Any]]:
    for _ in range(500):
        found = [e["data"] for e in h.events_of("alice", "labels.edit")]
        if len(found) >= count:
            await asyncio.sleep(0.05)  # and no more than that
            found = [e["data"] for e in h.events_of("alice", "labels.edit")]
            assert len(found) == count, found
            return found
        await asyncio.sleep(0.01)
    raise TimeoutError(h.events_of("alice", "labels.edit"))


async def stored(h: Harness) -> list[tuple[str, str, int]]:
    """/label/findLabels while the instance is not open: the database's labels only."""
    r = await h.client.post("/sim/network", json={"up": False})
    assert r.status_code == 200
    try:
        r = await h.client.get("/label/findLabels/alice")
        assert r.status_code == 200, r.text
        return [(x["id"], x["name"], x["color"]) for x in r.json()]
    finally:
        await h.client.post("/sim/network", json={"up": True})


async def test_labels_come_with_the_session(harness: Harness) -> None:
    h = harness
    await open_instance(h, "alice", A_NUMBER, None)
    first = await edits(h, 5)
    assert first[0] == {
        "id": "1",
        "name": "New customer",
        "color": 1,
        "predefinedId": "1",
        "deleted": False,
        "instance": "alice",
    }
    assert await stored(h) == [
        ("1", "New customer", 1),
        ("2", "New order", 2),
        ("3", "Pending payment", 3),
        ("4", "Paid", 4),
        ("5", "Order complete", 5),
    ]

    # the phone edits the account's labels while the instance is away
    account = h.sim.accounts[A_NUMBER]
    account.labels["6"] = ("VIP", 7)
    account.labels["2"] = ("Big order", 12)
    del account.labels["5"]
    r = await h.client.post("/instance/restart/alice")
    assert r.status_code == 200, r.text
    changed = (await edits(h, 8))[5:]
    assert sorted((x["id"], x["name"], x["color"], x["deleted"]) for x in changed) == [
        ("2", "Big order", 12, False),
        ("5", "Order complete", 5, True),
        ("6", "VIP", 7, False),
    ]
    assert await stored(h) == [
        ("1", "New customer", 1),
        ("2", "Big order", 12),
        ("3", "Pending payment", 3),
        ("4", "Paid", 4),
        ("6", "VIP", 7),
    ]
    # a device logged out keeps no app state on the account
    assert set(account.synced_labels) == account.linked and len(account.linked) == 1
    for _ in range(500):  # back from the network outage of stored(): a live session unlinks
        r = await h.client.get("/instance/connectionState/alice")
        if r.json()["instance"]["state"] == "open":
            break
        await asyncio.sleep(0.01)
    r = await h.client.delete("/instance/logout/alice")
    assert r.status_code == 200, r.text
    assert account.linked == set() and account.synced_labels == {}
