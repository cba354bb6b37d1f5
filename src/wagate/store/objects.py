"""Media kept in S3 or MinIO (aiobotocore), under Evolution's keys and with its URLs.

Objects live under `evolution-api/` in S3_BUCKET: an inbound message's media at
`<instance id>/<remote jid>/<media type>/<ms time>_<file name>`, as Evolution stores them; the
URL an event carries (`message.mediaUrl`) is a presigned GET valid for seven days (MinIO's
default, which Evolution uses). The bucket is created at start when it is missing.
"""

from __future__ import annotations

import asyncio
import mimetypes
import time
from contextlib import AsyncExitStack
from typing import Any

import structlog

from wagate.config import Settings

ROOT = "evolution-api"
URL_SECONDS = 7 * 24 * 3600
TIMEOUT = 10.0
START_TIMEOUT = 5.0
_log = structlog.get_logger("wagate.store.objects")


def endpoint_url(settings: Settings) -> str:
    """S3_ENDPOINT, S3_PORT and S3_USE_SSL as one URL (the endpoint may carry its scheme)."""
    host = (settings.s3_endpoint or "").strip().rstrip("/")
    if "://" in host:
        return host
    scheme = "https" if settings.s3_use_ssl else "http"
    default = 443 if settings.s3_use_ssl else 80
    port = "" if settings.s3_port == default else f":{settings.s3_port}"
    return f"{scheme}://{host}{port}"


def file_name(member: dict[str, Any], key_id: str) -> str:
    """The media's file name: a document's own, else `<message id>.<extension>` (Evolution)."""
    given = member.get("fileName")
    if isinstance(given, str) and given.strip():
        return given.strip().replace("/", "_")
    mimetype = str(member.get("mimetype") or "").split(";")[0].strip()
    ext = (mimetypes.guess_extension(mimetype) or ".bin").lstrip(".")
    return f"{key_id}.{ext}"


def inbound_key(instance_id: str, remote_jid: str, media_type: str, name: str) -> str:
    return f"{instance_id}/{remote_jid}/{media_type}/{int(time.time() * 1000)}_{name}"


class ObjectStore:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.bucket = settings.s3_bucket
        self._stack: AsyncExitStack | None = None
        self._client: Any = None

    async def start(self) -> None:
        """Make the client and create the bucket if missing; a store that does not answer is
        logged, not fatal (uploads then fail and events go without mediaUrl)."""
        from aiobotocore.config import AioConfig  # type: ignore[import-untyped]
        from aiobotocore.session import get_session  # type: ignore[import-untyped]

        s = self._settings
        stack = AsyncExitStack()
        self._client = await stack.enter_async_context(
            get_session().create_client(
                "s3",
                region_name=s.s3_region,
                endpoint_url=endpoint_url(s),
                aws_access_key_id=s.s3_access_key or None,
                aws_secret_access_key=s.s3_secret_key or None,
                config=AioConfig(
                    connect_timeout=TIMEOUT,
                    read_timeout=TIMEOUT,
                    retries={"max_attempts": 2},
                    s3={"addressing_style": "path"},
                ),
            )
        )
        self._stack = stack
        try:  # bounded: a store that does not answer must not hold up the start
            await asyncio.wait_for(self.ensure_bucket(), START_TIMEOUT)
        except Exception as exc:
            _log.warning("S3 bucket not checked at start", bucket=self.bucket, error=repr(exc))

    async def ensure_bucket(self) -> None:
        client = self._client
        try:
            await client.head_bucket(Bucket=self.bucket)
        except client.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket"):
                raise
            await client.create_bucket(Bucket=self.bucket)
            _log.info("S3 bucket created", bucket=self.bucket)

    async def put(
        self, name: str, data: bytes, content_type: str, cache_control: str | None = None
    ) -> str:
        """Store `data` at `evolution-api/<name>`; returns its presigned URL."""
        key = f"{ROOT}/{name}"
        extra = {"CacheControl": cache_control} if cache_control else {}
        await self._client.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=data,
            ContentType=content_type,
            Metadata={"custom-header-application": "evolution-api"},
            **extra,
        )
        return await self.url(key)

    async def url(self, key: str, seconds: int = URL_SECONDS) -> str:
        url = await self._client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=seconds
        )
        assert isinstance(url, str)
        return url

    async def close(self) -> None:
        if self._stack is not None:
            await self._stack.aclose()
            self._stack = self._client = None
