"""The Pusher sink against a loopback double of Pusher's HTTP API that checks each request's
signature as Pusher's published reference describes (auth_key, auth_timestamp within 600 s,
auth_version 1.0, body_md5, auth_signature = HMAC-SHA256 of "POST\\n<path>\\n<sorted query>"),
answering 401 to a bad one as Pusher does: per-instance and global apps, Evolution's channel,
event names and data, the size limit, retries while the server is down, and the routes."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson
import pytest

from tests.events.conftest import Apps
from tests.events.receiver import Receiver

APPS = {"111": ("key-one", "secret-one"), "222": ("key-two", "secret-two")}


def verify(path: str, body: bytes) -> int:
    """Pusher's server-side check of a signed request, written from its HTTP API reference."""
    url = urlsplit(path)
    parts = url.path.split("/")  # /apps/<app id>/events
    if len(parts) != 4 or parts[1] != "apps" or parts[3] != "events" or parts[2] not in APPS:
        return 404
    key, secret = APPS[parts[2]]
    params = dict(parse_qsl(url.query, keep_blank_values=True))
    signature = params.pop("auth_signature", "")
    if params.get("auth_key") != key or params.get("auth_version") != "1.0":
        return 401
    if abs(int(params.get("auth_timestamp", "0")) - time.time()) > 600:
        return 401
    if params.get("body_md5") != hashlib.md5(body).hexdigest():
        return 401
    query = "&".join(f"{k.lower()}={params[k]}" for k in sorted(params))
    expected = hmac.new(
        secret.encode(), f"POST\n{url.path}\n{query}".encode(), hashlib.sha256
    ).hexdigest()
    return 200 if hmac.compare_digest(signature, expected) else 401


@pytest.fixture
async def pusher() -> Any:
    r = await Receiver(answer=verify).start()
    try:
        yield r
    finally:
        await r.stop()


def _app(app_id: str, **extra: Any) -> dict[str, Any]:
    key, secret = APPS[app_id]
    return {"appId": app_id, "key": key, "secret": secret, "cluster": "eu", **extra}


async def _wait(cond: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)


async def test_instance_and_global_apps_get_signed_events(apps: Apps, pusher: Receiver) -> None:
    name = f"pu-{secrets.token_hex(3)}"
    key, secret = APPS["222"]
    h = await apps.start(
        pusher_enabled=True,
        pusher_host=pusher.url,
        pusher_global_enabled=True,
        pusher_global_app_id="222",
        pusher_global_key=key,
        pusher_global_secret=secret,
        pusher_global_cluster="eu",
        event_switches={"PUSHER_EVENTS_CONNECTION_UPDATE": True},
    )
    await h.create(name)
    r = await h.client.post(
        f"/pusher/set/{name}",
        json={
            "pusher": {**_app("111", useTLS=True), "enabled": True, "events": ["QRCODE_UPDATED"]}
        },
    )
    assert r.status_code == 201, r.text
    row = r.json()
    assert {k: row[k] for k in ("enabled", "appId", "key", "secret", "cluster", "useTLS")} == {
        "enabled": True, "appId": "111", "key": "key-one", "secret": "secret-one",
        "cluster": "eu", "useTLS": True,
    }  # fmt: skip
    assert row["events"] == ["QRCODE_UPDATED"] and row["instanceId"]
    assert (await h.client.get(f"/pusher/find/{name}")).json() == row
    await h.client.get(f"/instance/connect/{name}")
    await _wait(lambda: len(pusher.received) >= 2)
    by_app = {urlsplit(x.path).path: x for x in pusher.received}
    own = by_app["/apps/111/events"].json
    assert own["name"] == "qrcode.updated" and own["channel"] == name
    data = orjson.loads(own["data"])
    assert data["event"] == "qrcode.updated" and data["destination"] == "111"
    assert "base64" not in data["data"]["qrcode"] and data["data"]["qrcode"]["code"]
    glob = by_app["/apps/222/events"].json
    assert glob["name"] == "connection.update" and glob["channel"] == name
    assert orjson.loads(glob["data"])["destination"] == "222"
    rows = (await h.client.get(f"/events/deliveries/{name}")).json()
    pushed = [d for d in rows if d["sink"] == "pusher"]
    assert {(d["scope"], d["status"], d["lastCode"]) for d in pushed} >= {
        ("instance", "delivered", 200),
        ("global", "delivered", 200),
    }


async def test_a_wrong_secret_is_refused_by_the_server_and_not_retried(
    apps: Apps, pusher: Receiver
) -> None:
    name = f"pw-{secrets.token_hex(3)}"
    h = await apps.start(pusher_enabled=True, pusher_host=pusher.url)
    await h.create(name)
    app = {**_app("111"), "secret": "not-the-secret"}
    r = await h.client.post(
        f"/pusher/set/{name}",
        json={"pusher": {**app, "enabled": True, "events": ["CONNECTION_UPDATE"]}},
    )
    assert r.status_code == 201
    await h.client.get(f"/instance/connect/{name}")
    rows: list[dict[str, Any]] = []

    async def dead() -> bool:
        nonlocal rows
        rows = (await h.client.get(f"/events/deliveries/{name}?status=dead")).json()
        return bool(rows)

    for _ in range(200):
        if await dead():
            break
        await asyncio.sleep(0.05)
    assert rows[0]["lastCode"] == 401 and rows[0]["attempts"] == 1


async def test_a_down_server_is_retried_until_it_answers(apps: Apps, pusher: Receiver) -> None:
    name = f"pd-{secrets.token_hex(3)}"
    h = await apps.start(pusher_enabled=True, pusher_host=pusher.url)
    await h.create(name)
    await pusher.refuse()
    r = await h.client.post(
        f"/pusher/set/{name}",
        json={"pusher": {**_app("111"), "enabled": True, "events": ["CONNECTION_UPDATE"]}},
    )
    assert r.status_code == 201
    await h.client.get(f"/instance/connect/{name}")
    rows: list[dict[str, Any]] = []
    for _ in range(200):
        rows = (await h.client.get(f"/events/deliveries/{name}")).json()
        if rows and rows[-1]["attempts"] >= 2:
            break
        await asyncio.sleep(0.05)
    assert rows[-1]["status"] == "pending" and rows[-1]["attempts"] >= 2
    assert rows[-1]["lastError"]
    await pusher.start()
    await _wait(lambda: len(pusher.received) >= len(rows), 30)
    for _ in range(200):
        rows = (await h.client.get(f"/events/deliveries/{name}")).json()
        if all(d["status"] == "delivered" for d in rows):
            break
        await asyncio.sleep(0.05)
    assert {d["status"] for d in rows} == {"delivered"}
    ids = [orjson.loads(x.json["data"])["id"] for x in pusher.received]
    assert ids[: len(rows)] == [d["id"] for d in reversed(rows)]  # in order


async def test_data_over_pushers_limit_is_dead_saying_why(apps: Apps, pusher: Receiver) -> None:
    from tests.messaging.conftest import B_NUMBER, open_instance

    h = await apps.start(pusher_enabled=True, pusher_host=pusher.url)
    await open_instance(h, "bob", B_NUMBER, None)
    r = await h.client.post(
        "/pusher/set/bob",
        json={"pusher": {**_app("111"), "enabled": True, "events": ["MESSAGES_UPSERT"]}},
    )
    assert r.status_code == 201
    for text in ("short", "y" * 11_000):
        body = {"from": "5521987650003", "text": text}
        assert (await h.client.post("/sim/bob/inbound", json=body)).status_code == 200
    rows: list[dict[str, Any]] = []
    for _ in range(200):
        rows = (await h.client.get("/events/deliveries/bob")).json()
        if len(rows) == 2 and all(d["status"] != "pending" for d in rows):
            break
        await asyncio.sleep(0.05)
    big, small = rows
    assert small["status"] == "delivered" and big["status"] == "dead" and big["attempts"] == 1
    assert "exceeds Pusher's limit (10240 bytes)" in big["lastError"]
    assert [orjson.loads(x.json["data"])["id"] for x in pusher.received] == [small["id"]]


async def test_refusals(apps: Apps, sqlite_harness: Any) -> None:
    h = sqlite_harness
    await h.create("off")
    body = {"pusher": {**_app("111"), "enabled": True, "events": []}}
    r = await h.client.post("/pusher/set/off", json=body)
    assert r.status_code == 400 and "PUSHER_ENABLED" in r.text
    h2 = await apps.start(pusher_enabled=True)
    await h2.create("on")
    r = await h2.client.post(
        "/pusher/set/on", json={"pusher": {"enabled": True, "appId": "1", "events": []}}
    )
    assert r.status_code == 400
    msgs = r.json()["response"]["message"][0]
    assert "pusher.key is required when pusher.enabled is true" in msgs
    assert "pusher.cluster is required when pusher.enabled is true" in msgs
    r = await h2.client.post("/pusher/set/on", json={"pusher": {"enabled": False}})
    assert r.status_code == 201 and r.json()["events"] == [] and r.json()["appId"] == ""


async def test_create_saves_its_pusher_block_as_pusher_set_does(
    apps: Apps, sqlite_harness: Any
) -> None:
    off = sqlite_harness
    block = {**_app("111", useTLS=True), "enabled": True, "events": ["QRCODE_UPDATED"]}
    r = await off.client.post(
        "/instance/create",
        json={"instanceName": "p0", "integration": "WHATSAPP-BAILEYS", "pusher": block},
    )
    assert r.status_code == 400 and "PUSHER_ENABLED" in r.text
    assert (await off.client.get("/instance/fetchInstances")).json() == []
    h = await apps.start(pusher_enabled=True)
    r = await h.client.post(
        "/instance/create",
        json={"instanceName": "p1", "integration": "WHATSAPP-BAILEYS", "pusher": block},
    )
    assert r.status_code == 201, r.text
    row = (await h.client.get("/pusher/find/p1")).json()
    assert {k: row[k] for k in ("enabled", "appId", "key", "cluster", "useTLS", "events")} == {
        "enabled": True, "appId": "111", "key": "key-one", "cluster": "eu", "useTLS": True,
        "events": ["QRCODE_UPDATED"],
    }  # fmt: skip
    r = await h.client.post(
        "/instance/create",
        json={
            "instanceName": "p2",
            "integration": "WHATSAPP-BAILEYS",
            "pusher": {"enabled": True, "appId": "1", "events": []},
        },
    )
    assert r.status_code == 400 and "pusher.key is required" in r.text
    r = await h.client.post(
        "/instance/create",
        json={"instanceName": "p3", "integration": "WHATSAPP-BAILEYS", "kafka": {"enabled": True}},
    )
    assert r.status_code == 400, r.text
    assert "kafka: Kafka is not supported yet by wagate" in r.text
    r = await h.client.post(
        "/instance/create",
        json={
            "instanceName": "p4",
            "integration": "WHATSAPP-BAILEYS",
            "kafka": {"enabled": False},
        },
    )
    assert r.status_code == 201, r.text
    names = {i["name"] for i in (await h.client.get("/instance/fetchInstances")).json()}
    assert names == {"p1", "p4"}
