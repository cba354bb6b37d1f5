"""fetchInstances is served from memory between commits, and is never older than the last one:
every write path (repositories, the outbox's held connection, the message store, raw Core
statements) is seen by the next call."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from tests.api.routes import SETTINGS
from tests.conftest import Harness
from wagate.store.db import commits_of, make_engine
from wagate.store.messages import upsert_contacts
from wagate.store.repos import Store


async def fetch(h: Harness, name: str) -> dict[str, Any]:
    r = await h.client.get("/instance/fetchInstances", params={"instanceName": name})
    assert r.status_code == 200, r.text
    rows = r.json()
    assert len(rows) == 1
    return dict(rows[0])


async def test_every_write_path_is_seen_by_the_next_fetch(harness: Harness) -> None:
    h = harness
    created = await h.create("fresh")
    iid = created["instance"]["instanceId"]
    first = await fetch(h, "fresh")
    assert await fetch(h, "fresh") == first  # served again, unchanged
    assert first["connectionStatus"] == "close"

    # repositories: settings
    r = await h.client.post("/settings/set/fresh", json=SETTINGS)
    assert r.status_code == 201, r.text
    assert (await fetch(h, "fresh"))["Setting"]["msgCall"] == "busy"

    # the supervisor's status write (through the outbox writer's held connection)
    await h.client.get("/instance/connect/fresh")
    await h.gateway.get("fresh").supervisor.wait_quiescent()
    assert (await fetch(h, "fresh"))["connectionStatus"] == "connecting"

    # the message store (the `_count` subqueries)
    await h.app.state.messenger.store.run(
        upsert_contacts([{"instance_id": iid, "remote_jid": "5511900000001@s.whatsapp.net"}])
    )
    assert (await fetch(h, "fresh"))["_count"]["Contact"] == 1

    # a raw Core statement on the engine, outside every repository
    async with h.app.state.db.begin() as conn:
        await conn.execute(
            text("UPDATE instances SET profile_pic_url = 'https://pic.example/p' WHERE id = :i"),
            {"i": iid},
        )
    assert (await fetch(h, "fresh"))["profilePicUrl"] == "https://pic.example/p"

    r = await h.client.delete("/instance/delete/fresh")
    assert r.status_code == 200, r.text
    all_rows = await h.client.get("/instance/fetchInstances")
    assert all_rows.json() == []


async def test_a_read_that_overlaps_a_commit_is_not_kept(sqlite_harness: Harness) -> None:
    h = sqlite_harness
    await h.create("racy")
    iid = h.gateway.get("racy").id
    store: Store = h.gateway.store
    read = store._read_instances
    raced = False

    async def read_then_commit(client_name: str, ids: Any) -> Any:
        """The rows are read, then a commit lands before the read returns."""
        nonlocal raced
        rows = await read(client_name, ids)
        if not raced:
            raced = True
            async with h.app.state.db.begin() as conn:
                await conn.execute(
                    text("UPDATE instances SET profile_name = 'Late' WHERE id = :i"), {"i": iid}
                )
        return rows

    store._read_instances = read_then_commit  # type: ignore[method-assign]
    stale = await fetch(h, "racy")
    assert stale["profileName"] is None  # read before the commit: right for its time
    assert (await fetch(h, "racy"))["profileName"] == "Late"  # and not served again


async def test_each_commit_moves_the_generation_twice(tmp_path: Any) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'c.db'}")
    commits = commits_of(engine)
    assert commits_of(engine) is commits
    try:
        async with engine.connect() as conn:
            await conn.execute(text("CREATE TABLE t (x INTEGER)"))
            before = commits.generation
            await conn.commit()
            await conn.execute(text("INSERT INTO t VALUES (1)"))
            await conn.commit()  # a connection held across transactions counts each one
            assert (commits.generation, commits.in_flight) == (before + 4, 0)
            await conn.execute(text("SELECT x FROM t"))
            await conn.rollback()
            assert commits.generation == before + 4  # a rollback commits nothing
        other_engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'd.db'}")
        try:
            async with other_engine.connect() as other:
                await other.execute(text("CREATE TABLE u (x INTEGER)"))
                await other.commit()
        finally:
            await other_engine.dispose()  # after the connection went back to its pool
        assert commits.generation == before + 4  # another engine's commits are its own
    finally:
        await engine.dispose()
