"""The new user's path through the instance API, on every database."""

from __future__ import annotations

from tests.conftest import Harness


async def test_create_connect_scan_open_logout_delete(harness: Harness) -> None:
    c = harness.client
    created = await harness.create("flow")
    assert created["instance"]["status"] == "close"
    token = created["hash"]

    r = await c.get("/instance/connect/flow")
    assert r.status_code == 200
    qr = r.json()
    assert qr["code"] and qr["base64"].startswith("data:image/png;base64,")
    assert qr["count"] == 1

    r = await c.post("/sim/flow/scan", json={"number": "5511999990001"})
    assert r.status_code == 200, r.text
    assert r.json()["jid"] == "5511999990001@s.whatsapp.net"

    r = await c.get("/instance/connectionState/flow", headers={"apikey": token})
    assert r.json()["instance"] == {"instanceName": "flow", "state": "open"}

    rows = (await c.get("/instance/fetchInstances")).json()
    assert rows[0]["connectionStatus"] == "open"
    assert rows[0]["ownerJid"] == "5511999990001@s.whatsapp.net"

    r = await c.delete("/instance/logout/flow")
    assert r.json() == {
        "status": "SUCCESS",
        "error": False,
        "response": {"message": "Instance logged out"},
    }
    rows = (await c.get("/instance/fetchInstances")).json()
    assert rows[0]["connectionStatus"] == "close"
    assert rows[0]["disconnectionReasonCode"] == 401

    r = await c.delete("/instance/delete/flow")
    assert r.status_code == 200
    assert (await c.get("/instance/connectionState/flow")).status_code == 404
    assert (await c.get("/instance/fetchInstances")).json() == []
    updates = [e["data"]["state"] for e in harness.events_of("flow", "connection.update")]
    assert updates == ["connecting", "open", "close"]


async def test_restored_after_restart_reconnects(harness: Harness) -> None:
    """Credentials and state survive a restart of the app: the instance comes back open."""
    from tests.conftest import start_harness, stop_harness

    await harness.create("keep")
    await harness.client.get("/instance/connect/keep")
    await harness.client.post("/sim/keep/scan", json={"number": "5511999990002"})
    settings = harness.gateway.settings
    await harness.gateway.shutdown()
    h2, ctx = await start_harness(settings)
    try:
        sup = h2.gateway.get("keep").supervisor
        for _ in range(200):
            if sup.external_state == "open":
                break
            await sup.wait_changed(0.05)
        assert sup.external_state == "open"
        assert sup.inst.jid == "5511999990002@s.whatsapp.net"
    finally:
        await stop_harness(h2, ctx)
