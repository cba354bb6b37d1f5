"""The Amazon SQS sink (aiobotocore), with Evolution's queues.

Per instance: the FIFO queue `<instance>_<event>.fifo` (`messages_upsert`, …), message group
`evolution`. Global (SQS_GLOBAL_ENABLED): `<SQS_GLOBAL_PREFIX_NAME>_<event>.fifo`, or
`<prefix>_singlequeue.fifo` with SQS_GLOBAL_FORCE_SINGLE_QUEUE, message group
`<SERVER_NAME>-<event>-<instance>`, content-based deduplication on. A queue missing when its
first event comes is created with those attributes.

Unlike Evolution (a timestamp), the deduplication id is the event id, so a delivery repeated
after a crash or a lost answer is dropped by SQS within its five-minute window, and the message
attributes `event`, `instance` and `eventId` let a consumer filter without parsing the body. A
message counts as delivered once SQS answered SendMessage. A body over SQS_MAX_PAYLOAD_SIZE goes
to S3 when S3_ENABLED, as in Evolution: the envelope is stored at
`evolution-api/messages/<prefix>_<event>_<ms time>.json` and the message carries
`dataType: "s3"` and `data: {fileUrl}` (a presigned URL) instead; without S3 it is not sent
(Evolution drops it too): the delivery is dead with an error saying so.
"""

from __future__ import annotations

import asyncio
import re
import time
from contextlib import AsyncExitStack
from typing import Any

import orjson
import structlog

from wagate.config import Settings
from wagate.events.catalogue import event_key
from wagate.events.sinks.base import Result
from wagate.store.objects import ObjectStore
from wagate.store.outbox import Claimed

CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 10.0
QUEUE_NAME = re.compile(r"[A-Za-z0-9_-]{1,75}\.fifo")
"""SQS's rule for a FIFO queue name: at most 80 characters, these ones, ending in .fifo."""
_log = structlog.get_logger("wagate.events.sqs")


def queue_suffix(event: str, single: bool = False) -> str:
    """'messages.upsert' -> 'messages_upsert' (Evolution lower-cases the event's key)."""
    return "singlequeue" if single else event_key(event).lower()


def queue_name(prefix: str, event: str, single: bool = False) -> str:
    return f"{prefix}_{queue_suffix(event, single)}.fifo"


def bad_queue_name(prefix: str, events: list[str]) -> str | None:
    """Why the queues of `prefix` for `events` cannot exist in SQS, or None when they can."""
    for event in events:
        name = queue_name(prefix, event)
        if not QUEUE_NAME.fullmatch(name):
            return (
                f'the SQS queue "{name}" cannot exist: SQS queue names are at most 80 '
                "characters of letters, digits, - and _ (the instance name is part of it)"
            )
    return None


class SqsSink:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._stack: AsyncExitStack | None = None
        self._client: Any = None
        self._urls: dict[str, str] = {}
        self._lock = asyncio.Lock()
        self._objects = ObjectStore(settings) if settings.s3_enabled else None

    async def connect(self) -> None:
        """Make the client (no request yet: the first delivery finds out whether SQS answers)."""
        from aiobotocore.config import AioConfig  # type: ignore[import-untyped]
        from aiobotocore.session import get_session  # type: ignore[import-untyped]

        s = self._settings
        stack = AsyncExitStack()
        self._client = await stack.enter_async_context(
            get_session().create_client(
                "sqs",
                region_name=s.sqs_region,
                endpoint_url=s.sqs_base_url or None,
                aws_access_key_id=s.sqs_access_key_id or None,
                aws_secret_access_key=s.sqs_secret_access_key or None,
                config=AioConfig(
                    connect_timeout=CONNECT_TIMEOUT,
                    read_timeout=READ_TIMEOUT,
                    retries={"max_attempts": 1},  # the outbox retries
                ),
            )
        )
        self._stack = stack
        if self._objects is not None:
            await self._objects.start()

    def _target(self, row: Claimed) -> tuple[str, str, bool]:
        """(queue name, message group, global) of a row."""
        s = self._settings
        if row.scope == "instance":
            return queue_name(row.target, row.event), "evolution", False
        single = s.sqs_global_force_single_queue
        suffix = queue_suffix(row.event, single)
        group = f"{s.server_name}-{suffix}-{row.instance_name}"
        return queue_name(row.target, row.event, single), group[:128], True

    async def queue_url(self, name: str, is_global: bool) -> str:
        """The queue's URL, creating the queue (FIFO) when it does not exist."""
        url = self._urls.get(name)
        if url is not None:
            return url
        if self._client is None:
            async with self._lock:
                if self._client is None:
                    await self.connect()
        client = self._client
        try:
            url = (await client.get_queue_url(QueueName=name))["QueueUrl"]
        except client.exceptions.QueueDoesNotExist:
            attributes = {"FifoQueue": "true"}
            if is_global:
                attributes["ContentBasedDeduplication"] = "true"
            url = (await client.create_queue(QueueName=name, Attributes=attributes))["QueueUrl"]
            _log.info("sqs queue created", queue=name)
        assert isinstance(url, str)
        self._urls[name] = url
        return url

    async def ensure_queues(self, prefix: str, events: list[str]) -> None:
        """Create an instance's queues ahead of its first events, as /sqs/set does in
        Evolution; a failure is logged (the first delivery to a queue creates it anyway)."""
        for event in events:
            try:
                await self.queue_url(queue_name(prefix, event), False)
            except Exception as exc:
                _log.warning("sqs queue not created", prefix=prefix, error=repr(exc))
                return

    async def deliver(self, row: Claimed) -> Result:
        body = row.payload
        size = len(body.encode())
        limit = self._settings.sqs_max_payload_size
        if size > limit and self._objects is None:
            return Result(
                False,
                None,
                f"payload of {size} bytes exceeds SQS_MAX_PAYLOAD_SIZE ({limit} bytes) "
                "and S3 storage is not enabled",
                retryable=False,
            )
        name, group, is_global = self._target(row)
        try:
            if size > limit:
                body = await self._offload(row, name, body)
            url = await self.queue_url(name, is_global)
            await self._client.send_message(
                QueueUrl=url,
                MessageBody=body,
                MessageGroupId=group,
                MessageDeduplicationId=row.event_id,
                MessageAttributes={
                    "event": {"DataType": "String", "StringValue": row.event},
                    "instance": {"DataType": "String", "StringValue": row.instance_name},
                    "eventId": {"DataType": "String", "StringValue": row.event_id},
                },
            )
        except Exception as exc:
            self._urls.pop(name, None)
            code = _status(exc)
            return Result(False, code, f"{type(exc).__name__}: {exc}"[:500])
        return Result(True)

    async def _offload(self, row: Claimed, queue: str, body: str) -> str:
        """Store the envelope in S3 and return the message that points to it."""
        assert self._objects is not None
        stem = queue.removesuffix(".fifo")
        url = await self._objects.put(
            f"messages/{stem}_{int(time.time() * 1000)}.json",
            body.encode(),
            "application/json",
            cache_control="no-store",
        )
        envelope = orjson.loads(body)
        envelope["dataType"] = "s3"
        envelope["data"] = {"fileUrl": url}
        return orjson.dumps(envelope).decode()

    async def close(self) -> None:
        if self._objects is not None:
            await self._objects.close()
        if self._stack is not None:
            await self._stack.aclose()
            self._stack = self._client = None


def _status(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return code if isinstance(code, int) else None
    return None
