"""RabbitMQ, NATS and Socket.IO sinks against the real local servers and a real Socket.IO
client (each skipped when its server is not running)."""

from __future__ import annotations

import asyncio
import secrets
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.conftest import API_KEY, make_settings
from tests.events.conftest import Apps


def _up(port: int) -> None:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        pytest.skip(f"nothing listens on 127.0.0.1:{port}")


async def test_rabbitmq_per_instance_and_global_queues(apps: Apps) -> None:
    _up(5672)
    import aio_pika

    prefix = f"t{secrets.token_hex(4)}"
    name = f"amqp-{secrets.token_hex(3)}"
    h = await apps.start(
        rabbitmq_enabled=True,
        rabbitmq_uri="amqp://guest:guest@127.0.0.1:5672/",
        rabbitmq_global_enabled=True,
        rabbitmq_prefix_key=prefix,
        event_switches={"RABBITMQ_EVENTS_CONNECTION_UPDATE": True},
    )
    await h.create(name)
    r = await h.client.post(
        f"/rabbitmq/set/{name}", json={"rabbitmq": {"enabled": True, "events": ["QRCODE_UPDATED"]}}
    )
    assert r.status_code == 201 and r.json()["events"] == ["QRCODE_UPDATED"]
    await h.client.get(f"/instance/connect/{name}")
    conn = await aio_pika.connect("amqp://guest:guest@127.0.0.1:5672/")
    try:
        ch = await conn.channel()
        args: dict[str, Any] = {"x-queue-type": "quorum"}
        own = await ch.declare_queue(f"{name}.qrcode.updated", durable=True, arguments=args)
        glob = await ch.declare_queue(f"{prefix}.connection.update", durable=True, arguments=args)
        got: dict[str, Any] = {}
        for _ in range(100):
            for key, q in (("own", own), ("global", glob)):
                if key not in got:
                    msg = await q.get(no_ack=True, fail=False)
                    if msg is not None:
                        got[key] = (msg, orjson.loads(msg.body))
            if len(got) == 2:
                break
            await asyncio.sleep(0.05)
        assert set(got) == {"own", "global"}
        msg, body = got["own"]
        assert body["event"] == "qrcode.updated" and body["instance"] == name
        assert "destination" not in body and msg.message_id == body["id"]
        assert msg.routing_key == "qrcode.updated"
        _, gbody = got["global"]
        assert gbody["event"] == "connection.update" and gbody["data"]["state"] == "connecting"
        await own.delete(if_unused=False, if_empty=False)
        await glob.delete(if_unused=False, if_empty=False)
    finally:
        await conn.close()
    rows = await h.client.get(f"/events/deliveries/{name}")
    assert {(x["sink"], x["status"]) for x in rows.json()} == {("amqp", "delivered")}


async def test_nats_subjects(apps: Apps) -> None:
    _up(4222)
    import nats

    prefix = f"t{secrets.token_hex(4)}"
    name = f"nats-{secrets.token_hex(3)}"
    nc = await nats.connect("nats://127.0.0.1:4222")
    seen: dict[str, list[Any]] = {"own": [], "global": []}

    async def on_own(msg: Any) -> None:
        seen["own"].append(msg)

    async def on_global(msg: Any) -> None:
        seen["global"].append(msg)

    await nc.subscribe(f"{name}.connection.update", cb=on_own)
    await nc.subscribe(f"{prefix}.connection.update", cb=on_global)
    try:
        h = await apps.start(
            nats_enabled=True,
            nats_uri="nats://127.0.0.1:4222",
            nats_global_enabled=True,
            nats_prefix_key=prefix,
            event_switches={"NATS_EVENTS_CONNECTION_UPDATE": True},
        )
        await h.create(name)
        r = await h.client.post(
            f"/nats/set/{name}", json={"nats": {"enabled": True, "events": ["CONNECTION_UPDATE"]}}
        )
        assert r.status_code == 201
        await h.client.get(f"/instance/connect/{name}")
        for _ in range(100):
            if seen["own"] and seen["global"]:
                break
            await asyncio.sleep(0.05)
        own = orjson.loads(seen["own"][0].data)
        assert own["event"] == "connection.update" and own["instance"] == name
        assert seen["own"][0].headers["Nats-Msg-Id"] == own["id"]
        assert orjson.loads(seen["global"][0].data)["id"] == own["id"]
    finally:
        await nc.close()


@pytest.fixture
async def socketio_server(tmp_path: Path) -> AsyncIterator[tuple[str, Any]]:
    """The real server (Socket.IO outermost) on a free port, with uvicorn, in this process."""
    import uvicorn

    from wagate.app import asgi_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = make_settings(
        tmp_path,
        engine="sim",
        server_port=port,
        websocket_enabled=True,
        websocket_global_events=True,
        websocket_allowed_hosts="",
    )
    server = uvicorn.Server(
        uvicorn.Config(asgi_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", server
    finally:
        server.should_exit = True
        await task


async def test_socketio_namespaces_auth_and_global_mode(
    socketio_server: tuple[str, Any],
) -> None:
    import httpx2
    import socketio  # type: ignore[import-untyped]

    url, _ = socketio_server
    async with httpx2.AsyncClient(base_url=url, headers={"apikey": API_KEY}) as c:
        tokens = {}
        for name in ("sio-a", "sio-b"):
            r = await c.post(
                "/instance/create", json={"instanceName": name, "integration": "WHATSAPP-BAILEYS"}
            )
            tokens[name] = r.json()["hash"]
        r = await c.post(
            "/websocket/set/sio-a",
            json={"websocket": {"enabled": True, "events": ["CONNECTION_UPDATE"]}},
        )
        assert r.status_code == 201

        # another instance's token opens neither this namespace nor the global one
        for ns in ("/sio-a", "/"):
            intruder = socketio.AsyncClient()
            with pytest.raises(socketio.exceptions.ConnectionError):
                await intruder.connect(
                    url, namespaces=[ns], auth={"apikey": tokens["sio-b"]}, wait_timeout=5
                )
            await intruder.disconnect()
        nobody = socketio.AsyncClient()
        with pytest.raises(socketio.exceptions.ConnectionError):
            await nobody.connect(url, namespaces=["/sio-a"], wait_timeout=5)
        await nobody.disconnect()

        own = socketio.AsyncClient()
        glob = socketio.AsyncClient()
        got: dict[str, list[dict[str, Any]]] = {"own": [], "global": []}

        async def on_own(data: dict[str, Any]) -> None:
            got["own"].append(data)

        async def on_global(data: dict[str, Any]) -> None:
            got["global"].append(data)

        own.on("connection.update", on_own, namespace="/sio-a")
        glob.on("connection.update", on_global, namespace="/")
        await own.connect(
            url, namespaces=["/sio-a"], auth={"apikey": tokens["sio-a"]}, wait_timeout=5
        )
        await glob.connect(url, namespaces=["/"], headers={"apikey": API_KEY}, wait_timeout=5)
        try:
            await c.get("/instance/connect/sio-a")
            await c.get("/instance/connect/sio-b")
            for _ in range(100):
                if got["own"] and len(got["global"]) >= 2:
                    break
                await asyncio.sleep(0.05)
        finally:
            await own.disconnect()
            await glob.disconnect()
    assert [e["instance"] for e in got["own"]] == ["sio-a"]
    assert got["own"][0]["data"]["state"] == "connecting" and "destination" not in got["own"][0]
    assert {e["instance"] for e in got["global"]} == {"sio-a", "sio-b"}
