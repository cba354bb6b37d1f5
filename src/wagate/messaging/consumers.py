"""Message consumers: what an integration (Chatwoot, a chatbot, a cache) plugs in to hear the
messages an instance stores, without reaching into the pipeline.

A consumer is one small class (`Consumer`): a `name` and an async `handle`. Register it on the
pipeline (`Pipeline.consumers.register`). After a lane's batch is committed (its rows and the
outbox rows of its events in one transaction) and its events are published, every consumer is
given the batch's messages: the new messages of `messages.upsert` (inbound, and `fromMe` ones
sent from the account's other devices) and of `send.message` (sent through this server), as
`StoredMessage`s, in the order the lane took them. History sync (`messages.set`), receipts,
revokes and edits are not given.

Isolation: each consumer has its own queue and its own task, so a consumer that is slow or
raises delays only itself; the lane hands a batch over without waiting (`offer` never awaits).
A consumer handles one call at a time, so one instance's messages reach it in order (and the
instances' batches in the order they were committed).

Bounded: at most `backlog` messages (`BACKLOG` by default) wait for a consumer, besides the
batch in its hands. When a new batch would pass that, the oldest waiting messages are dropped
to make room (a consumer that fell behind is brought to the present rather than answering
stale messages), logged and counted in `wagate_consumer_dropped_total{consumer}`. A `handle`
that raises is logged and counted in `wagate_consumer_failures_total{consumer}`; its messages
are not given again. `wagate_consumer_backlog{consumer}` (waiting plus in hand) is read at
each scrape. What a consumer must not lose goes through the durable outbox like an event; this
queue is in memory.

A consumer acts through the same public operations as the HTTP API (gateway/messenger.py
`Messenger`: send, read …), never through the lane.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

from wagate.engines.messaging import MessageKey
from wagate.observability import metrics
from wagate.runtime.tasks import spawn

_log = structlog.get_logger("wagate.messaging")
BACKLOG = 10_000
"""A consumer's default bound: messages waiting for it."""


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """A message an instance stored (or announced, where DATABASE_SAVE_DATA_NEW_MESSAGE is
    off: then `row_id` is None), as a consumer receives it."""

    instance: str
    """The instance's name (what the HTTP routes take)."""
    instance_id: str
    event: str
    """`messages.upsert` (received, or sent from the account's other devices) or the event
    of a send through this server (`send.message`)."""
    kind: str
    """notify (live), append (ours, from another device), history (a live message the
    engine marked as history) or sent (through this server)."""
    key: MessageKey
    push_name: str | None
    message_type: str
    """Evolution's messageType (`conversation`, `imageMessage` …)."""
    content: dict[str, Any]
    """Evolution's `message` object as stored (without the webhook's `base64`)."""
    timestamp: int
    """messageTimestamp: when WhatsApp says it was sent (seconds)."""
    status: str | None
    row_id: str | None
    """Its `messages` row id (findMessages' `id`); None when it was not stored."""
    raw: dict[str, Any]
    """Evolution's messageRaw, as the event carried it (without `base64`)."""

    @property
    def from_me(self) -> bool:
        return self.key.from_me

    @classmethod
    def of(
        cls,
        instance: str,
        event: str,
        kind: str,
        key: MessageKey,
        raw: dict[str, Any],
        row_id: str | None,
    ) -> StoredMessage:
        """The consumer's view of a messageRaw (messaging/raw.py `message_raw`)."""
        return cls(
            instance,
            raw["instanceId"],
            event,
            kind,
            key,
            raw["pushName"],
            raw["messageType"],
            raw["message"],
            raw["messageTimestamp"],
            raw["status"],
            row_id,
            raw,
        )


class Consumer(Protocol):
    """What an integration implements to hear stored messages."""

    @property
    def name(self) -> str:
        """A short, fixed name (the metrics' `consumer` label, the logs)."""
        ...

    async def handle(self, messages: Sequence[StoredMessage]) -> None:
        """Some new messages of one instance, in order. May be slow (it delays only this
        consumer) and may raise (logged, counted; the next messages still come)."""
        ...


class _Queue:
    """One consumer's bounded queue and the task that feeds it."""

    def __init__(self, consumer: Consumer, bound: int) -> None:
        self.consumer = consumer
        self.name = consumer.name
        self.bound = bound
        self.batches: deque[list[StoredMessage]] = deque()
        self.queued = 0
        """Messages waiting (at most `bound`)."""
        self.handling = 0
        """Messages of the batch in the consumer's hands."""
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def backlog(self) -> int:
        return self.queued + self.handling

    def offer(self, messages: list[StoredMessage]) -> None:
        """Queue a batch (never waits); the oldest waiting messages make room when full."""
        if len(messages) > self.bound:
            self._dropped(len(messages) - self.bound)
            messages = messages[-self.bound :]
        while self.batches and self.queued + len(messages) > self.bound:
            old = self.batches.popleft()
            self.queued -= len(old)
            self._dropped(len(old))
        self.batches.append(messages)
        self.queued += len(messages)
        self._wake.set()
        if self._task is None:
            self._task = spawn(self._run(), name=f"consumer:{self.name}")

    def forget(self, instance_id: str) -> None:
        """Drop the waiting messages of an instance that is gone."""
        kept = deque(b for b in self.batches if b[0].instance_id != instance_id)
        self.batches = kept
        self.queued = sum(len(b) for b in kept)

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self.batches.clear()
        self.queued = 0

    def _dropped(self, n: int) -> None:
        metrics.consumer_dropped(self.name, n)
        _log.warning("consumer fell behind: oldest messages dropped", consumer=self.name, count=n)

    async def _run(self) -> None:
        while True:
            while not self.batches:
                self._wake.clear()
                await self._wake.wait()
            batch = self.batches.popleft()
            self.queued -= len(batch)
            self.handling = len(batch)
            try:
                await self.consumer.handle(batch)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # logged and counted; the consumer goes on
                metrics.consumer_failed(self.name)
                _log.error(
                    "message consumer failed",
                    consumer=self.name,
                    instance=batch[0].instance,
                    messages=len(batch),
                    error=repr(exc),
                )
            finally:
                self.handling = 0


class Consumers:
    """The registered consumers, each on its own bounded queue."""

    def __init__(self) -> None:
        self._queues: list[_Queue] = []

    def register(self, consumer: Consumer, backlog: int = BACKLOG) -> None:
        """Give `consumer` every batch committed from now on (`backlog`: its bound)."""
        if backlog < 1:
            raise ValueError("a consumer's backlog must hold at least one message")
        if any(q.name == consumer.name for q in self._queues):
            raise ValueError(f'a consumer named "{consumer.name}" is already registered')
        self._queues.append(_Queue(consumer, backlog))

    def offer(self, messages: list[StoredMessage]) -> None:
        """One instance's new messages of a committed batch, to every consumer (no wait)."""
        if messages:
            for queue in self._queues:
                queue.offer(messages)

    def backlogs(self) -> Iterator[tuple[str, int]]:
        """(consumer name, messages waiting or in its hands), for /metrics."""
        for queue in self._queues:
            yield queue.name, queue.backlog

    def forget(self, instance_id: str) -> None:
        for queue in self._queues:
            queue.forget(instance_id)

    def close(self) -> None:
        """Stop every consumer's task (server shutdown); what is queued is dropped."""
        for queue in self._queues:
            queue.close()
