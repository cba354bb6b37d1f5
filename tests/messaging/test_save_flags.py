"""DATABASE_SAVE_* off: the events still go out, the database keeps nothing of them."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import make_settings, start_harness, stop_harness
from tests.events.receiver import Receiver
from tests.messaging.conftest import A_NUMBER, B_NUMBER, Pair, open_instance


async def test_nothing_is_stored_when_the_flags_are_off(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path,
        save_new_message=False,
        save_message_update=False,
        save_contacts=False,
        save_chats=False,
        save_labels=False,
    )
    h, ctx = await start_harness(settings)
    hook_a, hook_b = await Receiver().start(), await Receiver().start()
    try:
        await open_instance(h, "alice", A_NUMBER, hook_a)
        await open_instance(h, "bob", B_NUMBER, hook_b)
        p = Pair(h, "alice", "bob", hook_a, hook_b)
        r = await h.client.post("/message/sendText/alice", json={"number": B_NUMBER, "text": "x"})
        assert r.status_code == 201, r.text
        await p.events(hook_b, "messages.upsert", 1)
        await p.events(hook_b, "contacts.upsert", 1)
        await p.events(hook_a, "messages.update", 2)
        for name in ("alice", "bob"):
            r = await h.client.post(f"/chat/findMessages/{name}", json={})
            assert r.json()["messages"]["total"] == 0
            for route in ("findContacts", "findChats", "findStatusMessage"):
                r = await h.client.post(f"/chat/{route}/{name}", json={})
                assert r.json() == [], (name, route)
        r = await h.client.get("/label/findLabels/alice")
        assert r.json() == []
    finally:
        await hook_a.stop()
        await hook_b.stop()
        await stop_harness(h, ctx)
