"""S3 media storage against moto's real S3 server on loopback: inbound media is copied to the
bucket (created at start) under Evolution's keys, `message.mediaUrl` in messages.upsert and in
the stored message is a presigned URL that downloads the bytes; a store that does not answer
never loses the message (the event goes out without mediaUrl). Sent media is copied too, under
Evolution's key for sends, and its URL is in the send's answer and its send.message."""

from __future__ import annotations

import base64
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx2
import pytest

from tests.conftest import Harness, make_settings, start_harness, stop_harness
from tests.events.receiver import Receiver
from tests.messaging.conftest import A_NUMBER, B_NUMBER, Pair, open_instance
from tests.moto_server import Moto, free_port, moto_fixture  # noqa: F401  (the fixture)
from wagate.config import SettingsError, load_settings

C_NUMBER = "5521987650003"


def s3_settings(port: int, bucket: str) -> dict[str, Any]:
    return {
        "s3_enabled": True,
        "s3_endpoint": "127.0.0.1",
        "s3_port": port,
        "s3_use_ssl": False,
        "s3_access_key": "test",
        "s3_secret_key": "test",
        "s3_bucket": bucket,
        "s3_region": "us-east-1",
    }


@contextlib.asynccontextmanager
async def running(tmp_path: Path, port: int, bucket: str) -> AsyncIterator[tuple[Harness, Pair]]:
    h, ctx = await start_harness(make_settings(tmp_path, **s3_settings(port, bucket)))
    hook_a, hook_b = await Receiver().start(), await Receiver().start()
    try:
        await open_instance(h, "alice", A_NUMBER, hook_a)
        await open_instance(h, "bob", B_NUMBER, hook_b)
        yield h, Pair(h, "alice", "bob", hook_a, hook_b)
    finally:
        await hook_a.stop()
        await hook_b.stop()
        await stop_harness(h, ctx)


async def _objects(moto: Moto, bucket: str) -> list[str]:
    from aiobotocore.session import get_session  # type: ignore[import-untyped]

    async with get_session().create_client(
        "s3",
        region_name="us-east-1",
        endpoint_url=moto.url,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    ) as client:
        listed = await client.list_objects_v2(Bucket=bucket)
        return [o["Key"] for o in listed.get("Contents", [])]


async def test_inbound_media_lands_in_the_bucket_with_its_url(tmp_path: Path, moto: Moto) -> None:
    bucket = "wagate-media"
    doc = os.urandom(5_000)
    async with running(tmp_path, moto.port, bucket) as (h, pair):
        body = {
            "from": C_NUMBER,
            "media": base64.b64encode(doc).decode(),
            "mimetype": "application/pdf",
            "fileName": "report.pdf",
            "text": "doc",
        }
        r = await h.client.post("/sim/bob/inbound", json=body)
        assert r.status_code == 200, r.text
        (got,) = await pair.events(pair.hook_b, "messages.upsert", 1)
        data = got["data"]
        url = data["message"]["mediaUrl"]
        assert "base64" not in data["message"]  # bob's webhook did not ask for it
        async with httpx2.AsyncClient() as client:
            fetched = await client.get(url)
        assert fetched.status_code == 200 and fetched.content == doc
        assert fetched.headers["content-type"] == "application/pdf"
        key = unquote(urlsplit(url).path).split(f"/{bucket}/", 1)[1]
        instance_id = data["instanceId"]
        prefix = f"evolution-api/{instance_id}/{data['key']['remoteJid']}/documentMessage/"
        assert key.startswith(prefix) and key.endswith("_report.pdf"), key
        assert key[len(prefix) :].split("_", 1)[0].isdigit()
        assert await _objects(moto, bucket) == [key]
        stored = (await h.client.post("/chat/findMessages/bob", json={})).json()
        [row] = stored["messages"]["records"]
        assert row["message"]["mediaUrl"] == url


async def test_an_image_is_named_after_its_message(tmp_path: Path, moto: Moto) -> None:
    bucket = "wagate-images"
    async with running(tmp_path, moto.port, bucket) as (h, pair):
        from tests.messaging.conftest import PNG

        body = {"number": B_NUMBER, "mediatype": "image", "mimetype": "image/png",
                "media": base64.b64encode(PNG).decode()}  # fmt: skip
        r = await h.client.post("/message/sendMedia/alice", json=body)
        assert r.status_code == 201, r.text
        sent = r.json()
        own = sent["message"]["mediaUrl"]  # the send's copy, under Evolution's key for sends
        key = unquote(urlsplit(own).path).split(f"/{bucket}/", 1)[1]
        instance_id = sent["instanceId"]
        assert key == (
            f"evolution-api/{instance_id}/{sent['key']['remoteJid']}/{sent['key']['id']}"
            f"/imageMessage/{sent['key']['id']}.png"
        )
        (echo,) = await pair.events(pair.hook_a, "send.message", 1)
        assert echo["data"]["message"]["mediaUrl"] == own
        async with httpx2.AsyncClient() as client:
            assert (await client.get(own)).content == PNG
        (got,) = await pair.events(pair.hook_b, "messages.upsert", 1)
        url = got["data"]["message"]["mediaUrl"]
        assert "/imageMessage/" in unquote(url)
        assert unquote(urlsplit(url).path).endswith(f"_{got['data']['key']['id']}.png")
        async with httpx2.AsyncClient() as client:
            assert (await client.get(url)).content == PNG


async def test_an_unreachable_store_never_loses_the_message(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    async with running(tmp_path, port, "nowhere") as (h, pair):
        body = {"from": C_NUMBER, "media": base64.b64encode(b"x" * 100).decode(),
                "mimetype": "application/pdf", "fileName": "a.pdf", "text": "a"}  # fmt: skip
        r = await h.client.post("/sim/bob/inbound", json=body)
        assert r.status_code == 200, r.text
        (got,) = await pair.events(pair.hook_b, "messages.upsert", 1)
        assert "mediaUrl" not in got["data"]["message"]
        assert got["data"]["message"]["documentMessage"]["fileName"] == "a.pdf"
        from tests.messaging.conftest import PNG

        body = {"number": B_NUMBER, "mediatype": "image", "mimetype": "image/png",
                "media": base64.b64encode(PNG).decode()}  # fmt: skip
        r = await h.client.post("/message/sendMedia/alice", json=body)
        assert r.status_code == 201, r.text  # the send goes out, without mediaUrl
        assert "mediaUrl" not in r.json()["message"]


def test_s3_needs_an_endpoint() -> None:
    with pytest.raises(SettingsError, match="S3_ENDPOINT is required"):
        load_settings(s3_enabled=True, s3_endpoint="")
