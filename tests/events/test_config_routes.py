"""webhook/websocket/rabbitmq/nats/proxy set|find: Evolution's shapes, wagate's validation,
and configs that survive a restart."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Harness
from tests.events.conftest import Apps
from wagate.events.catalogue import NOT_SENT, SENT

# Copies of the recorded Evolution 2.3.7 exchanges these tests compare with (from
# shared/reference/evolution-fixtures), kept here so a clone on its own runs them.
FIXTURES = Path(__file__).resolve().parent / "evolution"
ROW_KEYS = {
    "id",
    "url",
    "headers",
    "enabled",
    "events",
    "webhookByEvents",
    "webhookBase64",
    "createdAt",
    "updatedAt",
    "instanceId",
}


def fixture_body(name: str) -> Any:
    path = FIXTURES / f"{name}.json"
    if not path.exists():
        pytest.skip("Evolution fixtures not available")
    return json.loads(path.read_text())


def _new(name: str) -> dict[str, Any]:
    return {"instanceName": name, "integration": "WHATSAPP-BAILEYS"}


def assert_envelope(r: Any, status: int) -> list[Any]:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"status", "error", "response"} and body["status"] == status
    return list(body["response"]["message"])


async def test_webhook_set_and_find_have_evolution_shapes(sqlite_harness: Harness) -> None:
    h = sqlite_harness
    created = await h.create("fx-main")
    assert (await h.client.get("/webhook/find/fx-main")).json() is None

    rec = fixture_body("webhook.set.ok")
    r = await h.client.post("/webhook/set/fx-main", json=rec["request"]["body"])
    assert r.status_code == 201, r.text
    row = r.json()
    assert set(row) == ROW_KEYS
    expected = rec["response"]["body"]
    for key in ("url", "headers", "enabled", "events", "webhookByEvents", "webhookBase64"):
        assert row[key] == expected[key], key
    assert row["instanceId"] == created["instance"]["instanceId"]
    assert row["id"].startswith("c") and len(row["id"]) == 25
    assert row["createdAt"].endswith("Z")

    found = (await h.client.get("/webhook/find/fx-main")).json()
    assert found == row | {"updatedAt": found["updatedAt"]}


async def test_webhook_events_empty_means_all_and_disabled_clears(sqlite_harness: Harness) -> None:
    h = sqlite_harness
    await h.create("hook")
    r = await h.client.post(
        "/webhook/set/hook", json={"webhook": {"enabled": True, "url": "http://x/y", "events": []}}
    )
    assert r.json()["events"] == list(SENT)
    recorded = fixture_body("webhook.set.all-events")["response"]["body"]["events"]
    assert r.json()["events"] == [e for e in recorded if e not in NOT_SENT]
    r = await h.client.post(
        "/webhook/set/hook",
        json={"webhook": {"enabled": True, "url": "http://x/y", "events": ["TYPEBOT_START"]}},
    )
    assert r.status_code == 400 and "TYPEBOT_START" in r.text and "never sent" in r.text
    r = await h.client.post(
        "/webhook/set/hook",
        json={"webhook": {"enabled": False, "url": "http://x/y", "events": ["CONNECTION_UPDATE"]}},
    )
    assert r.status_code == 201 and r.json()["events"] == [] and r.json()["enabled"] is False


async def test_webhook_set_rejects_bad_bodies(sqlite_harness: Harness) -> None:
    h = sqlite_harness
    await h.create("bad")
    url = "/webhook/set/bad"
    msgs = assert_envelope(
        await h.client.post(
            url,
            json={"webhook": {"enabled": True, "url": "http://x", "events": ["NOT_AN_EVENT"]}},
        ),
        400,
    )
    assert '"NOT_AN_EVENT"' in msgs[0][0] and "CONNECTION_UPDATE" in msgs[0][0]
    msgs = assert_envelope(
        await h.client.post(
            url,
            json={
                "webhook": {"enabled": True, "url": "http://x", "events": ["connection.update"]}
            },
        ),
        400,
    )
    assert "connection.update" in msgs[0][0]
    msgs = assert_envelope(
        await h.client.post(url, json={"webhook": {"enabled": True, "url": "http://x"}}), 400
    )
    assert "webhook.events is required" in msgs[0][0]
    msgs = assert_envelope(
        await h.client.post(url, json={"webhook": {"enabled": True, "events": []}}), 400
    )
    assert '"url"' in str(msgs)
    msgs = assert_envelope(
        await h.client.post(url, json={"enabled": True, "url": "http://x", "events": []}), 400
    )
    assert '"webhook"' in str(msgs)
    assert_envelope(
        await h.client.post(
            url, json={"webhook": {"enabled": "yes", "url": "http://x", "events": []}}
        ),
        400,
    )
    assert_envelope(await h.client.post(url, content=b"{nope"), 400)
    # nothing was stored by any of them
    assert (await h.client.get("/webhook/find/bad")).json() is None


async def test_webhook_routes_guard_instance_and_key(sqlite_harness: Harness) -> None:
    h = sqlite_harness
    other = await h.create("other")
    await h.create("mine")
    assert_envelope(await h.client.get("/webhook/find/nope"), 404)
    r = await h.client.get("/webhook/find/mine", headers={"apikey": "wrong-key-0123456789"})
    assert r.status_code == 401
    r = await h.client.get("/webhook/find/mine", headers={"apikey": other["hash"]})
    assert r.status_code == 401
    r = await h.client.get("/webhook/find/other", headers={"apikey": other["hash"]})
    assert r.status_code == 200


async def test_webhook_from_create_is_found(sqlite_harness: Harness) -> None:
    h = sqlite_harness
    await h.create("fx-hook", webhook={"url": "http://127.0.0.1:1/hook", "events": []})
    row = (await h.client.get("/webhook/find/fx-hook")).json()
    expected = fixture_body("webhook.find.from-create")["response"]["body"]
    assert set(row) == set(expected)
    for key in ("url", "headers", "enabled", "events", "webhookByEvents", "webhookBase64"):
        want = expected[key].replace("18901", "1") if key == "url" else expected[key]
        if key == "events":
            want = [e for e in want if e not in NOT_SENT]
        assert row[key] == want, key


@pytest.mark.parametrize("provider", ["sqlite", "postgresql", "mysql"], indirect=False)
async def test_configs_survive_a_restart(apps: Apps, provider: str) -> None:
    from tests.conftest import DB_PARAMS  # noqa: F401  (the servers are skipped when absent)

    if provider != "sqlite":
        import socket

        port = 5432 if provider == "postgresql" else 3306
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        except OSError:
            pytest.skip(f"{provider} is not running")
    h = await apps.start(provider, rabbitmq_enabled=False, websocket_enabled=True)
    await h.create("keep")
    hook = {
        "enabled": True,
        "url": "http://127.0.0.1:9/keep",
        "headers": {"X-A": "1"},
        "byEvents": True,
        "events": ["CONNECTION_UPDATE", "QRCODE_UPDATED"],
        "secret": "s3cret",
    }
    r1 = (await h.client.post("/webhook/set/keep", json={"webhook": hook})).json()
    r2 = await h.client.post(
        "/websocket/set/keep", json={"websocket": {"enabled": True, "events": ["CALL"]}}
    )
    assert r2.status_code == 201 and r2.json()["events"] == ["CALL"]
    await apps.stop(h)

    h2 = await apps.start(provider, websocket_enabled=True)
    found = (await h2.client.get("/webhook/find/keep")).json()
    assert found == r1
    assert (await h2.client.get("/websocket/find/keep")).json() == r2.json()
    target = await h2.gateway.bus.routes._entry(found["instanceId"])
    assert target.webhook.secret == "s3cret" and target.webhook.by_events


@pytest.mark.parametrize("transport", ["websocket", "rabbitmq", "nats", "sqs"])
async def test_transports_off_in_the_env_are_refused_naming_the_switch(
    sqlite_harness: Harness, transport: str
) -> None:
    """Evolution stores nothing and answers an empty 201; wagate says why with a 400."""
    h = sqlite_harness
    await h.create("fx-main")
    rec = fixture_body(f"{transport}.set.disabled")
    msgs = assert_envelope(
        await h.client.post(f"/{transport}/set/fx-main", json=rec["request"]["body"]), 400
    )
    assert msgs == [
        f"{transport} is off on this server ({transport.upper()}_ENABLED is not true): "
        "its config would be stored and never used"
    ]
    r = await h.client.get(f"/{transport}/find/fx-main")
    assert r.status_code == 200 and r.json() is None
    bad = fixture_body(f"{transport}.set.invalid-body")["request"]["body"]
    msgs = assert_envelope(await h.client.post(f"/{transport}/set/fx-main", json=bad), 400)
    assert any("events" in m for m in msgs[0]) and any('"enabled"' in m for m in msgs[0])
    block = {transport: {"enabled": True, "events": []}}
    msgs = assert_envelope(await h.client.post("/instance/create", json=_new("fx-t") | block), 400)
    assert f"{transport.upper()}_ENABLED" in msgs[0]
    assert (await h.client.get("/instance/connectionState/fx-t")).status_code == 404


async def test_create_saves_transport_blocks_as_their_set_routes_do(apps: Apps) -> None:
    h = await apps.start(
        websocket_enabled=True, nats_enabled=True, nats_uri="nats://127.0.0.1:4222"
    )
    r = await h.client.post(
        "/instance/create",
        json=_new("tc")
        | {
            "websocket": {"enabled": True, "events": ["CALL", "CALL"]},
            "nats": {"enabled": False, "events": []},
            "webhook": {"url": "http://127.0.0.1:9/h", "events": []},
        },
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["websocket"] == {"enabled": True} and body["nats"] == {"enabled": False}
    assert body["rabbitmq"] == {} and body["sqs"] == {}
    ws = (await h.client.get("/websocket/find/tc")).json()
    assert ws["enabled"] is True and ws["events"] == ["CALL"]
    assert ws["instanceId"] == body["instance"]["instanceId"]
    nats = (await h.client.get("/nats/find/tc")).json()
    assert nats["enabled"] is False and nats["events"] == []
    hook = (await h.client.get("/webhook/find/tc")).json()
    assert hook["events"] == list(SENT)
    again = await h.client.post(
        "/websocket/set/tc", json={"websocket": {"enabled": True, "events": ["CALL"]}}
    )
    assert {k: v for k, v in again.json().items() if k != "updatedAt"} == {
        k: v for k, v in ws.items() if k != "updatedAt"
    }
    for bad, word in (
        ({"websocket": {"enabled": True}}, "websocket.events is required"),
        ({"nats": {"enabled": True, "events": ["NOPE"]}}, '"NOPE"'),
        ({"sqs": {"enabled": True, "events": []}}, "SQS_ENABLED is not true"),
        ({"sqs": {"events": []}}, "SQS_ENABLED is not true"),
        ({"sqs": {"enabled": False, "events": []}}, "SQS_ENABLED is not true"),
    ):
        msgs = assert_envelope(
            await h.client.post("/instance/create", json=_new("tc2") | bad), 400
        )
        assert word in str(msgs), msgs
        assert (await h.client.get("/instance/connectionState/tc2")).status_code == 404


async def test_enabled_transport_set_and_find(apps: Apps) -> None:
    h = await apps.start(nats_enabled=True, nats_uri="nats://127.0.0.1:4222")
    await h.create("n")
    r = await h.client.post("/nats/set/n", json={"nats": {"enabled": True, "events": []}})
    assert r.status_code == 201
    row = r.json()
    assert set(row) == {"id", "enabled", "events", "createdAt", "updatedAt", "instanceId"}
    assert row["events"] == list(SENT)
    assert (await h.client.get("/nats/find/n")).json() == row
    msgs = assert_envelope(
        await h.client.post("/nats/set/n", json={"nats": {"enabled": True, "events": ["X"]}}),
        400,
    )
    assert '"X"' in msgs[0][0]


async def test_proxy_set_and_find(sqlite_harness: Harness) -> None:
    h = sqlite_harness
    await h.create("fx-main")
    assert (await h.client.get("/proxy/find/fx-main")).json() is None
    rec = fixture_body("proxy.set.disabled")
    r = await h.client.post("/proxy/set/fx-main", json=rec["request"]["body"])
    assert r.status_code == 201 and r.json() == rec["response"]["body"]
    found = (await h.client.get("/proxy/find/fx-main")).json()
    expected = fixture_body("proxy.find.after-set-disabled")["response"]["body"]
    assert set(found) == set(expected)
    assert {k: found[k] for k in ("enabled", "host", "port", "protocol")} == {
        k: expected[k] for k in ("enabled", "host", "port", "protocol")
    }
    listening = await asyncio.start_server(lambda _r, w: w.close(), "127.0.0.1", 0)
    port = str(listening.sockets[0].getsockname()[1])
    body = {"enabled": True, "host": "127.0.0.1", "port": port, "protocol": "socks5"}
    r = await h.client.post("/proxy/set/fx-main", json=body | {"username": "u"})
    assert r.status_code == 201
    assert r.json()["proxy"]["proxy"] == body | {"username": "u", "password": ""}
    listening.close()
    await listening.wait_closed()
    msgs = assert_envelope(await h.client.post("/proxy/set/fx-main", json=body), 400)
    assert msgs[0] == "Invalid proxy" and "cannot be reached" in msgs[1] and port in msgs[1]
    assert (await h.client.get("/proxy/find/fx-main")).json()["enabled"] is True  # kept
    msgs = assert_envelope(
        await h.client.post("/proxy/set/fx-main", json=body | {"port": "99999"}), 400
    )
    assert msgs[0] == "Invalid proxy" and "99999" in msgs[1]
    msgs = assert_envelope(
        await h.client.post("/proxy/set/fx-main", json=body | {"protocol": "ftp"}), 400
    )
    assert "ftp" in msgs[1]
    for name in ("proxy.set.missing-fields", "proxy.set.port-number"):
        bad = fixture_body(name)["request"]["body"]
        assert_envelope(await h.client.post("/proxy/set/fx-main", json=bad), 400)
    await h.client.delete("/instance/delete/fx-main")
    assert await h.gateway.store.rows_owned(found["instanceId"]) == 0
