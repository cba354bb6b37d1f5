"""The RabbitMQ sink (aio-pika), with Evolution's naming.

Per instance: a topic exchange named after the instance, a durable quorum queue
`<instance>.<event>` bound to it with routing key `<event>`. Global: the exchange
RABBITMQ_EXCHANGE_NAME and the queue `<RABBITMQ_PREFIX_KEY>.<event>` (or `<event>`). Messages
are persistent, carry the event id as message id, and count as delivered once the broker
confirmed them.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aio_pika
import structlog

from wagate.config import Settings
from wagate.events.sinks.base import Result
from wagate.store.outbox import Claimed

CONNECT_TIMEOUT = 5.0
_log = structlog.get_logger("wagate.events.amqp")


class AmqpSink:
    def __init__(self, uri: str, settings: Settings) -> None:
        self._uri = uri
        self._frame_max = settings.rabbitmq_frame_max
        self._prefix = settings.rabbitmq_prefix_key
        self._connection: Any = None
        self._channel: Any = None
        self._exchanges: dict[str, Any] = {}
        self._bound: set[tuple[str, str]] = set()

    async def connect(self) -> None:
        self._connection = await asyncio.wait_for(
            aio_pika.connect_robust(
                self._uri, heartbeat=30, client_properties={"connection_name": "wagate"}
            ),
            CONNECT_TIMEOUT,
        )
        self._channel = await self._connection.channel(publisher_confirms=True)

    def queue_name(self, row: Claimed) -> str:
        if row.scope == "instance":
            return f"{row.target}.{row.event}"
        return f"{self._prefix}.{row.event}" if self._prefix else row.event

    async def _exchange(self, name: str) -> Any:
        ex = self._exchanges.get(name)
        if ex is None:
            ex = await self._channel.declare_exchange(
                name, aio_pika.ExchangeType.TOPIC, durable=True
            )
            self._exchanges[name] = ex
        return ex

    async def deliver(self, row: Claimed) -> Result:
        try:
            if self._channel is None:
                await self.connect()
            ex = await self._exchange(row.target)
            queue = self.queue_name(row)
            if (row.target, queue) not in self._bound:
                q = await self._channel.declare_queue(
                    queue, durable=True, arguments={"x-queue-type": "quorum"}
                )
                await q.bind(ex, routing_key=row.event)
                self._bound.add((row.target, queue))
            message = aio_pika.Message(
                row.payload.encode(),
                content_type="application/json",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                message_id=row.event_id,
                headers={"event": row.event, "instance": row.instance_name},
            )
            await ex.publish(message, routing_key=row.event)
        except Exception as exc:
            self._exchanges.clear()
            self._bound.clear()
            return Result(False, None, f"{type(exc).__name__}: {exc}"[:500])
        return Result(True)

    async def close(self) -> None:
        if self._connection is not None:
            await self._connection.close()
