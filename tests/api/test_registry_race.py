"""Registry operations on one name race each other over HTTP and leave the registry whole:
fetchInstances, connectionState, delete, create and the database agree after every round."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import httpx2

from tests.conftest import Harness

NAME = "race"
ROUNDS = 200


async def _create(c: httpx2.AsyncClient) -> int:
    r = await c.post(
        "/instance/create", json={"instanceName": NAME, "integration": "WHATSAPP-BAILEYS"}
    )
    return r.status_code


async def _call(c: httpx2.AsyncClient, op: str) -> int:
    match op:
        case "create":
            return await _create(c)
        case "delete":
            return (await c.delete(f"/instance/delete/{NAME}")).status_code
        case "logout":
            return (await c.delete(f"/instance/logout/{NAME}")).status_code
        case "restart":
            return (await c.post(f"/instance/restart/{NAME}")).status_code
        case _:
            return (await c.get(f"/instance/connect/{NAME}")).status_code


async def _views(h: Harness) -> dict[str, Any]:
    c = h.client
    listed = [r["name"] for r in (await c.get("/instance/fetchInstances")).json()]
    state = (await c.get(f"/instance/connectionState/{NAME}")).status_code
    rows = await h.gateway.store.all_instances(h.gateway.settings.client_name)
    return {"listed": NAME in listed, "state": state, "stored": any(r.name == NAME for r in rows)}


async def _broken(h: Harness) -> str | None:
    """None if every view agrees and delete then create work at once; else what disagreed."""
    views = await _views(h)
    exists = views["state"] == 200
    if views["listed"] != exists or views["stored"] != exists:
        return f"views disagree: {views}"
    c = h.client
    if exists:
        r = await c.delete(f"/instance/delete/{NAME}")
        if r.status_code != 200:
            return f"delete of a listed instance answered {r.status_code}"
    r = await c.delete(f"/instance/delete/{NAME}")
    if r.status_code != 404:
        return f"a second delete answered {r.status_code}"
    if (status := await _create(c)) != 201:
        return f"create after delete answered {status}"
    r = await c.delete(f"/instance/delete/{NAME}")
    return None if r.status_code == 200 else f"delete after create answered {r.status_code}"


async def test_two_deletes_racing_a_create(sqlite_harness: Harness) -> None:
    """The measured race: two DELETEs and one CREATE of one name at once, 200 rounds."""
    h = sqlite_harness
    broken: list[str] = []
    for _ in range(ROUNDS):
        assert await _create(h.client) == 201
        ops = ["delete", "delete", "create"]
        statuses = await asyncio.gather(*(_call(h.client, op) for op in ops))
        assert sorted(statuses[:2]) == [200, 404], statuses  # exactly one delete found it
        assert statuses[2] in (201, 403), statuses
        if (problem := await _broken(h)) is not None:
            broken.append(problem)
    assert broken == []
    assert len(h.gateway.names) == 0  # no lock outlives the work on its name


async def test_every_registry_operation_racing(sqlite_harness: Harness) -> None:
    """Create, delete, connect, restart and logout of one name in random mixes at once."""
    h = sqlite_harness
    rng = random.Random(14)
    ops = ["create", "delete", "connect", "restart", "logout"]
    broken: list[str] = []
    for _ in range(ROUNDS // 2):
        if rng.random() < 0.7:
            await _create(h.client)
        mix = [rng.choice(ops) for _ in range(rng.randint(2, 5))]
        statuses = await asyncio.gather(*(_call(h.client, op) for op in mix))
        assert all(s < 500 for s in statuses), list(zip(mix, statuses, strict=True))
        if (problem := await _broken(h)) is not None:
            broken.append(f"{mix}: {problem}")
    assert broken == []
    assert h.gateway.instances == {} and h.gateway.by_id == {}
