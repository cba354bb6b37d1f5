"""SQS events are never lost: a real server (`python -m wagate serve`) sends to moto's SQS
server, which is frozen (SIGSTOP: connections hang, as an endpoint that stopped answering)
for 30 s while instances keep producing events, and the server is killed with SIGKILL and
restarted meanwhile. Afterwards every event the outbox holds is in its queue, read back with a
real SQS client; each arrived once (the event id is the deduplication id) and each queue holds
its events in outbox order."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path
from typing import Any

import httpx2
import orjson
import pytest

from tests.integration.durability import Server, _cycle
from tests.moto_server import Moto, free_port

FREEZE_SECONDS = 30.0


async def _read_all(url: str, queue: str) -> list[str]:
    from aiobotocore.session import get_session  # type: ignore[import-untyped]

    ids: list[str] = []
    async with get_session().create_client(
        "sqs",
        region_name="us-east-1",
        endpoint_url=url,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    ) as client:
        try:
            q = (await client.get_queue_url(QueueName=queue))["QueueUrl"]
        except client.exceptions.QueueDoesNotExist:
            return ids
        while True:
            r = await client.receive_message(QueueUrl=q, MaxNumberOfMessages=10)
            messages = r.get("Messages", [])
            if not messages:
                return ids
            for m in messages:
                ids.append(orjson.loads(m["Body"])["id"])
                await client.delete_message(QueueUrl=q, ReceiptHandle=m["ReceiptHandle"])


@pytest.mark.slow
@pytest.mark.timeout(240)
async def test_no_sqs_event_lost_across_a_frozen_endpoint_and_a_sigkill(tmp_path: Path) -> None:
    moto = Moto(free_port())
    moto.start()
    server = Server(
        tmp_path,
        {
            "SQS_ENABLED": "true",
            "SQS_REGION": "us-east-1",
            "SQS_BASE_URL": moto.url,
            "SQS_ACCESS_KEY_ID": "test",
            "SQS_SECRET_ACCESS_KEY": "test",
            "WEBHOOK_RETRY_INITIAL_DELAY_SECONDS": "0.2",
            "WEBHOOK_RETRY_MAX_DELAY_SECONDS": "1",
            "WEBHOOK_RETRY_MAX_ATTEMPTS": "1000",
        },
    )
    names = [f"sd{i}" for i in range(3)]
    try:
        await server.start()
        headers = {"apikey": server.key}

        async def cycles(count: int) -> None:
            async with httpx2.AsyncClient(base_url=server.url, headers=headers, timeout=30) as c:
                for _ in range(count):
                    for name in names:
                        await _cycle(c, name)

        async with httpx2.AsyncClient(base_url=server.url, headers=headers, timeout=30) as c:
            for name in names:
                r = await c.post(
                    "/instance/create",
                    json={"instanceName": name, "integration": "WHATSAPP-BAILEYS"},
                )
                assert r.status_code == 201, r.text
                body = {"sqs": {"enabled": True, "events": ["CONNECTION_UPDATE"]}}
                r = await c.post(f"/sqs/set/{name}", json=body)
                assert r.status_code == 201, r.text
        await cycles(3)
        assert moto.proc is not None
        moto.proc.send_signal(signal.SIGSTOP)
        frozen = time.monotonic()
        try:
            await cycles(3)
            server.kill()
            await server.start()
            await cycles(3)
            await asyncio.sleep(max(0.0, FREEZE_SECONDS - (time.monotonic() - frozen)))
        finally:
            moto.proc.send_signal(signal.SIGCONT)
        await cycles(2)
        rows: dict[str, list[dict[str, Any]]] = {}
        deadline = time.monotonic() + 120
        async with httpx2.AsyncClient(base_url=server.url, headers=headers, timeout=30) as c:
            while True:
                pending = 0
                for name in names:
                    got = (await c.get(f"/events/deliveries/{name}?limit=1000")).json()
                    rows[name] = sorted(
                        (x for x in got if x["sink"] == "sqs"), key=lambda x: x["seq"]
                    )
                    pending += sum(1 for x in rows[name] if x["status"] != "delivered")
                if pending == 0:
                    break
                assert time.monotonic() < deadline, rows
                await asyncio.sleep(0.25)
        retried = sum(1 for n in names for x in rows[n] if x["attempts"] > 1)
        for name in names:
            expected = [x["id"] for x in rows[name]]
            assert len(expected) >= 10, expected
            arrived = await _read_all(moto.url, f"{name}_connection_update.fifo")
            assert len(arrived) == len(set(arrived))  # once each: SQS dropped the repeats
            assert set(arrived) == set(expected)  # nothing lost
            assert arrived == expected  # in outbox order
        assert retried > 0  # the freeze made deliveries fail and be retried
    finally:
        if moto.proc is not None:
            moto.proc.send_signal(signal.SIGCONT)
        server.stop()
        moto.stop()
