"""The SQS sink against moto's real server on loopback, read back with a real SQS client:
Evolution's queue names and FIFO attributes, the event id as deduplication id, global queues,
retries while the endpoint is down, the size limit, and the routes' refusals."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from tests.events.conftest import Apps
from tests.moto_server import Moto, free_port, moto_fixture  # noqa: F401  (the fixture)
from wagate.config import SettingsError, load_settings

REGION = "us-east-1"


@contextlib.asynccontextmanager
async def sqs_client(url: str) -> AsyncIterator[Any]:
    from aiobotocore.session import get_session  # type: ignore[import-untyped]

    async with get_session().create_client(
        "sqs",
        region_name=REGION,
        endpoint_url=url,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    ) as client:
        yield client


async def receive(client: Any, queue: str, count: int, timeout: float = 15.0) -> list[Any]:
    """Read `count` messages of `queue` (waiting for the queue to exist), deleting them."""
    deadline = time.monotonic() + timeout
    got: list[Any] = []
    url = None
    while len(got) < count:
        assert time.monotonic() < deadline, (queue, got)
        if url is None:
            try:
                url = (await client.get_queue_url(QueueName=queue))["QueueUrl"]
            except client.exceptions.QueueDoesNotExist:
                await asyncio.sleep(0.1)
                continue
        r = await client.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
            WaitTimeSeconds=0,
        )
        for m in r.get("Messages", []):
            got.append(m)
            await client.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        if len(got) < count:
            await asyncio.sleep(0.1)
    return got


def sqs_settings(url: str, **extra: Any) -> dict[str, Any]:
    return {
        "sqs_enabled": True,
        "sqs_region": REGION,
        "sqs_base_url": url,
        "sqs_access_key_id": "test",
        "sqs_secret_access_key": "test",
        **extra,
    }


async def _deliveries(h: Any, name: str) -> list[dict[str, Any]]:
    r = await h.client.get(f"/events/deliveries/{name}")
    assert r.status_code == 200, r.text
    return [d for d in r.json() if d["sink"] == "sqs"]


async def test_instance_queues_carry_events_with_their_id(apps: Apps, moto: Moto) -> None:
    name = f"sq-{secrets.token_hex(3)}"
    h = await apps.start(**sqs_settings(moto.url))
    await h.create(name)
    r = await h.client.post(
        f"/sqs/set/{name}",
        json={"sqs": {"enabled": True, "events": ["CONNECTION_UPDATE", "QRCODE_UPDATED"]}},
    )
    assert r.status_code == 201, r.text
    row = r.json()
    assert row["enabled"] is True and row["events"] == ["CONNECTION_UPDATE", "QRCODE_UPDATED"]
    assert (await h.client.get(f"/sqs/find/{name}")).json() == row
    async with sqs_client(moto.url) as client:
        # /sqs/set creates the queues ahead of the first event, FIFO as Evolution's
        for _ in range(100):
            listed = (await client.list_queues(QueueNamePrefix=f"{name}_")).get("QueueUrls", [])
            if len(listed) == 2:
                break
            await asyncio.sleep(0.05)
        assert sorted(u.rsplit("/", 1)[1] for u in listed) == [
            f"{name}_connection_update.fifo",
            f"{name}_qrcode_updated.fifo",
        ]
        attrs = await client.get_queue_attributes(QueueUrl=listed[0], AttributeNames=["All"])
        assert attrs["Attributes"]["FifoQueue"] == "true"
        await h.client.get(f"/instance/connect/{name}")
        [msg] = await receive(client, f"{name}_qrcode_updated.fifo", 1)
        body = orjson.loads(msg["Body"])
        assert body["event"] == "qrcode.updated" and body["instance"] == name
        assert "destination" not in body and body["data"]["qrcode"]["base64"]
        assert msg["Attributes"]["MessageGroupId"] == "evolution"
        assert msg["Attributes"]["MessageDeduplicationId"] == body["id"]
        assert msg["MessageAttributes"]["eventId"]["StringValue"] == body["id"]
        assert msg["MessageAttributes"]["event"]["StringValue"] == "qrcode.updated"
        assert msg["MessageAttributes"]["instance"]["StringValue"] == name
        # sent again before it was consumed (a replay, as after a crash): SQS keeps one copy
        for _ in range(200):
            rows = await _deliveries(h, name)
            if rows and all(d["status"] == "delivered" for d in rows):
                break
            await asyncio.sleep(0.05)
        conn = [d for d in rows if d["event"] == "connection.update"]
        r = await h.client.post(f"/events/redeliver/{name}", json={"fromId": conn[-1]["id"]})
        assert r.status_code == 200 and r.json()["redelivered"] >= len(conn)
        replayed = [d["id"] for d in reversed(conn)]
        before = {d["id"]: d["doneAt"] for d in conn}
        for _ in range(200):
            rows = await _deliveries(h, name)
            done = {
                d["id"]
                for d in rows
                if d["status"] == "delivered" and d["doneAt"] != before.get(d["id"])
            }
            if set(replayed) <= done:
                break
            await asyncio.sleep(0.05)
        assert set(replayed) <= done
        url = (await client.get_queue_url(QueueName=f"{name}_connection_update.fifo"))["QueueUrl"]
        ids: list[str] = []
        while True:
            r = await client.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
            if not r.get("Messages"):
                break
            for m in r["Messages"]:
                ids.append(orjson.loads(m["Body"])["id"])
                await client.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        assert len(ids) == len(set(ids))  # once each
        assert [i for i in ids if i in replayed] == replayed  # in order
    rows = await _deliveries(h, name)
    assert rows and {(d["scope"], d["target"], d["status"]) for d in rows} == {
        ("instance", name, "delivered")
    }


async def test_global_queues_replace_the_instances_own(apps: Apps, moto: Moto) -> None:
    prefix = f"g{secrets.token_hex(3)}"
    name = f"sg-{secrets.token_hex(3)}"
    h = await apps.start(
        **sqs_settings(
            moto.url,
            sqs_global_enabled=True,
            sqs_global_prefix_name=prefix,
            server_name="srv1",
            event_switches={"SQS_GLOBAL_CONNECTION_UPDATE": True},
        )
    )
    await h.create(name)
    r = await h.client.post(f"/sqs/set/{name}", json={"sqs": {"enabled": True, "events": []}})
    assert r.status_code == 400 and "SQS_GLOBAL_ENABLED" in r.text
    await h.client.get(f"/instance/connect/{name}")
    async with sqs_client(moto.url) as client:
        [msg] = await receive(client, f"{prefix}_connection_update.fifo", 1)
        body = orjson.loads(msg["Body"])
        assert body["event"] == "connection.update" and body["instance"] == name
        assert msg["Attributes"]["MessageGroupId"] == f"srv1-connection_update-{name}"
        url = (await client.get_queue_url(QueueName=f"{prefix}_connection_update.fifo"))[
            "QueueUrl"
        ]
        attrs = await client.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
        assert attrs["Attributes"]["ContentBasedDeduplication"] == "true"
        # qrcode.updated is not switched on: no queue for it
        names = (await client.list_queues(QueueNamePrefix=prefix)).get("QueueUrls", [])
        assert [u.rsplit("/", 1)[1] for u in names] == [f"{prefix}_connection_update.fifo"]


async def test_global_single_queue(apps: Apps, moto: Moto) -> None:
    prefix = f"s{secrets.token_hex(3)}"
    name = f"ss-{secrets.token_hex(3)}"
    h = await apps.start(
        **sqs_settings(
            moto.url,
            sqs_global_enabled=True,
            sqs_global_force_single_queue=True,
            sqs_global_prefix_name=prefix,
            event_switches={
                "SQS_GLOBAL_CONNECTION_UPDATE": True,
                "SQS_GLOBAL_QRCODE_UPDATED": "true",
            },
        )
    )
    await h.create(name)
    await h.client.get(f"/instance/connect/{name}")
    async with sqs_client(moto.url) as client:
        got = await receive(client, f"{prefix}_singlequeue.fifo", 2)
    events = [orjson.loads(m["Body"])["event"] for m in got]
    assert sorted(events) == ["connection.update", "qrcode.updated"]
    assert {m["Attributes"]["MessageGroupId"].split("-")[1] for m in got} == {"singlequeue"}


async def test_unreachable_endpoint_is_retried_until_it_answers(apps: Apps) -> None:
    moto = Moto(free_port())  # not started yet: nothing listens there
    name = f"sd-{secrets.token_hex(3)}"
    h = await apps.start(**sqs_settings(moto.url))
    try:
        await h.create(name)
        r = await h.client.post(
            f"/sqs/set/{name}", json={"sqs": {"enabled": True, "events": ["CONNECTION_UPDATE"]}}
        )
        assert r.status_code == 201
        await h.client.get(f"/instance/connect/{name}")
        for _ in range(200):
            rows = await _deliveries(h, name)
            if rows and rows[-1]["attempts"] >= 2:
                break
            await asyncio.sleep(0.05)
        head = rows[-1]
        assert head["status"] == "pending" and head["attempts"] >= 2
        assert "Connect" in head["lastError"] or "connect" in head["lastError"]
        moto.start()
        async with sqs_client(moto.url) as client:
            got = await receive(client, f"{name}_connection_update.fifo", len(rows), 30)
        ids = [orjson.loads(m["Body"])["id"] for m in got]
        assert ids == [d["id"] for d in reversed(rows)]  # in order
        for _ in range(100):
            rows = await _deliveries(h, name)
            if all(d["status"] == "delivered" for d in rows):
                break
            await asyncio.sleep(0.05)
        assert {d["status"] for d in rows} == {"delivered"}
    finally:
        moto.stop()


async def test_payload_over_the_limit_is_dead_saying_why(apps: Apps, moto: Moto) -> None:
    name = f"sb-{secrets.token_hex(3)}"
    h = await apps.start(**sqs_settings(moto.url, sqs_max_payload_size=1024))
    await h.create(name)
    r = await h.client.post(
        f"/sqs/set/{name}",
        json={"sqs": {"enabled": True, "events": ["QRCODE_UPDATED", "CONNECTION_UPDATE"]}},
    )
    assert r.status_code == 201
    await h.client.get(f"/instance/connect/{name}")
    for _ in range(200):
        rows = await _deliveries(h, name)
        if len(rows) >= 2 and all(d["status"] != "pending" for d in rows):
            break
        await asyncio.sleep(0.05)
    by_event = {d["event"]: d for d in rows}
    qr = by_event["qrcode.updated"]
    assert qr["status"] == "dead" and qr["attempts"] == 1
    assert "exceeds SQS_MAX_PAYLOAD_SIZE (1024 bytes)" in qr["lastError"]
    assert by_event["connection.update"]["status"] == "delivered"


async def test_create_saves_an_sqs_block(apps: Apps, moto: Moto) -> None:
    h = await apps.start(**sqs_settings(moto.url))
    r = await h.client.post(
        "/instance/create",
        json={
            "instanceName": "sc",
            "integration": "WHATSAPP-BAILEYS",
            "sqs": {"enabled": True, "events": ["MESSAGES_UPSERT"]},
        },
    )
    assert r.status_code == 201, r.text
    assert r.json()["sqs"] == {"enabled": True}
    found = (await h.client.get("/sqs/find/sc")).json()
    assert found["enabled"] is True and found["events"] == ["MESSAGES_UPSERT"]


async def test_refusals(apps: Apps, moto: Moto) -> None:
    h = await apps.start(**sqs_settings(moto.url))
    long_name = "x" * 75
    await h.create(long_name)
    r = await h.client.post(
        f"/sqs/set/{long_name}", json={"sqs": {"enabled": True, "events": ["CALL"]}}
    )
    assert r.status_code == 400 and "at most 80 characters" in r.text
    await h.create("dotted.name")
    r = await h.client.post(
        "/sqs/set/dotted.name", json={"sqs": {"enabled": True, "events": ["CALL"]}}
    )
    assert r.status_code == 400 and "dotted.name_call.fifo" in r.text
    # disabled needs no queue, whatever the name
    r = await h.client.post("/sqs/set/dotted.name", json={"sqs": {"enabled": False}})
    assert r.status_code == 201 and r.json()["events"] == []
    r = await h.client.post("/sqs/set/dotted.name", json={"sqs": {"enabled": True}})
    assert r.status_code == 400 and "sqs.events is required" in r.text
    with pytest.raises(SettingsError, match="SQS_REGION is required"):
        load_settings(sqs_enabled=True, sqs_region="")


async def test_payload_over_the_limit_goes_through_s3(apps: Apps, moto: Moto) -> None:
    import httpx2

    name = f"so-{secrets.token_hex(3)}"
    h = await apps.start(
        **sqs_settings(moto.url, sqs_max_payload_size=1024),
        s3_enabled=True,
        s3_endpoint=moto.url,
        s3_access_key="test",
        s3_secret_key="test",
        s3_bucket="offload",
    )
    await h.create(name)
    r = await h.client.post(
        f"/sqs/set/{name}", json={"sqs": {"enabled": True, "events": ["QRCODE_UPDATED"]}}
    )
    assert r.status_code == 201
    await h.client.get(f"/instance/connect/{name}")
    async with sqs_client(moto.url) as client:
        [msg] = await receive(client, f"{name}_qrcode_updated.fifo", 1)
    body = orjson.loads(msg["Body"])
    assert body["dataType"] == "s3" and set(body["data"]) == {"fileUrl"}
    assert body["event"] == "qrcode.updated" and body["instance"] == name
    assert msg["Attributes"]["MessageDeduplicationId"] == body["id"]
    url = body["data"]["fileUrl"]
    assert f"/offload/evolution-api/messages/{name}_qrcode_updated_" in url
    async with httpx2.AsyncClient() as http:
        got = await http.get(url)
    assert got.status_code == 200 and got.headers["content-type"] == "application/json"
    full = orjson.loads(got.content)
    assert full["id"] == body["id"] and full["data"]["qrcode"]["base64"]
    assert len(got.content) > 1024
