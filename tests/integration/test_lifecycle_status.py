"""The rich status: an additive `lifecycle` key on connectionState, fetchInstances and
connection.update (internal state, reason, message, what to do, recent transitions with
timestamps); Evolution's own keys stay exactly as they were."""

from __future__ import annotations

from tests.conftest import Harness
from tests.integration.lifecycle_support import connection_state, pair, run_for, settle, stored

LIFECYCLE_KEYS = {"state", "reason", "cause", "message", "action", "detail", "failures"}
EVOLUTION_ROW_KEYS = {
    "id",
    "name",
    "connectionStatus",
    "ownerJid",
    "profileName",
    "profilePicUrl",
    "integration",
    "number",
    "businessId",
    "token",
    "clientName",
    "disconnectionReasonCode",
    "disconnectionObject",
    "disconnectionAt",
    "createdAt",
    "updatedAt",
    "Chatwoot",
    "Proxy",
    "Rabbitmq",
    "Nats",
    "Sqs",
    "Websocket",
    "Setting",
    "_count",
}


async def test_connection_state_keeps_evolution_shape_and_adds_lifecycle(
    virtual_harness: Harness,
) -> None:
    h = virtual_harness
    await h.create("rich")
    body = await connection_state(h, "rich")
    assert set(body) == {"instance", "lifecycle"}
    assert body["instance"] == {"instanceName": "rich", "state": "close"}
    assert body["lifecycle"] == {
        "state": "idle",
        "reason": 200,
        "cause": None,
        "message": "Not connected.",
        "action": "connect",
        "detail": None,
        "failures": 0,
        "transitions": [],
    }

    await h.client.get("/instance/connect/rich")
    life = (await connection_state(h, "rich"))["lifecycle"]
    assert (life["state"], life["action"]) == ("awaiting_pairing", "scan")

    await pair(h, "rich", "5511900000301")
    life = (await connection_state(h, "rich"))["lifecycle"]
    assert (life["state"], life["action"], life["message"]) == ("open", "none", "Connected.")

    await h.client.post("/sim/rich/disconnect", json={"code": 428})
    await h.client.post("/sim/network", json={"up": False})
    await run_for(h, 0.5)
    life = (await connection_state(h, "rich"))["lifecycle"]
    assert (life["state"], life["action"], life["reason"]) == ("reconnecting", "wait", 428)
    assert "reconnecting with backoff" in life["message"]

    await h.client.post("/sim/network", json={"up": True})
    await h.client.post("/sim/rich/disconnect", json={"code": 440})  # nothing live: no effect
    await run_for(h, 2.0)
    await h.client.post("/sim/rich/disconnect", json={"code": 440})
    life = (await connection_state(h, "rich"))["lifecycle"]
    assert (life["state"], life["reason"], life["action"]) == ("failed", 440, "check_phone")
    assert life["message"] == "Stopped: another client replaced this session."


async def test_transitions_are_the_last_ones_with_timestamps(virtual_harness: Harness) -> None:
    h = virtual_harness
    await h.create("history")
    await pair(h, "history", "5511900000302")
    transitions = (await connection_state(h, "history"))["lifecycle"]["transitions"]
    assert [(t["from"], t["to"]) for t in transitions] == [
        ("idle", "connecting"),
        ("connecting", "awaiting_pairing"),
        ("awaiting_pairing", "open"),
    ]
    assert set(transitions[0]) == {"at", "from", "to", "reason", "cause", "detail"}
    assert all(t["at"] == h.clock.wall() for t in transitions)  # no virtual time passed

    for _ in range(15):  # 30 more transitions, each a second apart
        await h.client.post("/sim/history/disconnect", json={"code": 428})
        await run_for(h, 62.0)  # reopened after 1 s, then stable for a minute
    transitions = (await connection_state(h, "history"))["lifecycle"]["transitions"]
    assert len(transitions) == 20  # the last N
    assert transitions[-1]["to"] == "open"
    stamps = [t["at"] for t in transitions]
    assert stamps == sorted(stamps) and stamps[-1] - stamps[0] > 60
    drops = [t for t in transitions if t["to"] == "reconnecting"]
    assert drops and all(t["reason"] == 428 for t in drops)


async def test_fetch_instances_rows_gain_lifecycle_without_history(
    virtual_harness: Harness,
) -> None:
    h = virtual_harness
    await h.create("listed")
    await pair(h, "listed", "5511900000303")
    row = await stored(h, "listed")
    # `token` only with AUTHENTICATION_EXPOSE_IN_FETCH_INSTANCES=true (tests/api/test_env_names.py)
    assert set(row) == (EVOLUTION_ROW_KEYS - {"token"}) | {"lifecycle"}
    assert set(row["lifecycle"]) == LIFECYCLE_KEYS
    assert row["lifecycle"]["state"] == "open" and row["connectionStatus"] == "open"


async def test_connection_update_carries_the_lifecycle(virtual_harness: Harness) -> None:
    h = virtual_harness
    await h.create("told")
    await pair(h, "told", "5511900000304")
    await h.client.delete("/instance/logout/told")
    await settle(h)
    events = h.events_of("told", "connection.update")
    assert [e["data"]["state"] for e in events] == ["connecting", "open", "close"]
    for e in events:
        assert {"instance", "state", "statusReason", "lifecycle"} <= set(e["data"])
        assert set(e["data"]["lifecycle"]) == LIFECYCLE_KEYS
    assert events[-1]["data"]["lifecycle"]["state"] == "logged_out"
    # the event words a logout asked through the API as connectionState does
    assert events[-1]["data"]["lifecycle"]["action"] == "connect"
