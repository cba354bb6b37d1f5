"""The message pipeline: what the engines report about messages is stored, then announced.

One lane per instance keeps its events in order; the lane only queues and orders. It takes
everything queued, reads what the batch needs from the database (the stored messages its
receipts are about, the stored history among its chunks), has the instance's translator build
the rows and the events that report them (messaging/translate.py), commits both in one
transaction (the outbox's group-commit writer), publishes the events, then hands the batch's
new messages to the consumers (messaging/consumers.py). Sends made through the API take a
place in the lane *before* the engine is called, so the receipts of a message are never
processed before the message itself is stored.
"""

from __future__ import annotations

import asyncio
import base64
import functools
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
import structlog

from wagate.config import Settings
from wagate.domain.errors import Conflict
from wagate.engines.base import InboundEvent
from wagate.engines.messaging import Message, Receipt, Sent
from wagate.events.bus import EventBus
from wagate.messaging import history
from wagate.messaging.consumers import Consumers
from wagate.messaging.raw import media_member, media_type
from wagate.messaging.translate import Batch, Translator
from wagate.runtime.tasks import retried, spawn
from wagate.store import messages as db
from wagate.store.objects import ObjectStore, file_name, inbound_key

_log = structlog.get_logger("wagate.messaging")
BATCH = 500
WRITE_RETRIES = 5


class MediaSource(Protocol):
    """Downloads a media message's bytes through the instance's live engine session (for
    webhook base64)."""

    async def download(self, instance_id: str, media: dict[str, Any]) -> bytes:
        """The bytes of `media` (a message's media member); raises when they cannot be had."""
        ...


@dataclass(slots=True)
class Pending:
    """A send in flight: the engine's answer comes in `sent`; `stored` gets the messageRaw, or
    why it will not be stored. A sender that gives up cancels both."""

    sent: asyncio.Future[Sent]
    stored: asyncio.Future[dict[str, Any]]
    push_name: str | None
    event: str = "send.message"
    store: bool = True
    base64: str | None = None
    """The media sent, for the event's `message.base64` (webhook base64 on)."""
    media_url: str | None = None
    """The sent media's copy in S3 (S3 on), for `message.mediaUrl`."""


@dataclass(slots=True)
class Fetched:
    """What a media fetch adds to the event: `message.base64` (webhook base64 on) and
    `message.mediaUrl` (S3 on); each None when not wanted or not obtained."""

    base64: str | None = None
    media_url: str | None = None


@dataclass(slots=True)
class WithMedia:
    """An inbound media message whose bytes are being fetched for the event's `message.base64`
    (webhook base64 on) or its copy in S3 (`message.mediaUrl`): it keeps its place in the
    lane, which waits for the fetch (bounded) when it reaches it."""

    message: Message
    base64: asyncio.Task[Fetched]
    """The fetch; cancelled when the lane stops waiting for it or closes."""


Item = InboundEvent | Pending | WithMedia


def _awaited(item: Item) -> asyncio.Future[Any] | None:
    """What the lane must wait for before it handles `item`."""
    if isinstance(item, Pending):
        return item.sent
    if isinstance(item, WithMedia):
        return item.base64
    return None


def _outcome(fut: asyncio.Future[Any]) -> Any:
    """A future's result; None when it is not done, failed or was cancelled."""
    if not fut.done() or fut.cancelled() or fut.exception() is not None:
        return None
    return fut.result()


def _sent(item: Pending) -> Sent | None:
    """What the engine sent for a pending send (None: not yet, failed or cancelled)."""
    result: Sent | None = _outcome(item.sent)
    return result


class Lane:
    """One instance's ordered stream of messaging events."""

    def __init__(
        self,
        pipeline: Pipeline,
        instance_id: str,
        name: str,
        sender: Callable[[], str | None],
        media: MediaSource | None,
    ) -> None:
        self.p = pipeline
        self.instance_id = instance_id
        self.name = name
        self.sender = sender
        self.media = media
        """Where media bytes come from for webhook base64; None: never downloaded."""
        self.translator = Translator(
            instance_id, name, pipeline.settings, pipeline, self._announce
        )
        self._items: deque[Item] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[Any] | None = None
        self._closed = False
        self.accepted = 0
        """How many items the lane has taken so far (a mark for `durable`)."""
        self._settled = 0
        """How many of them a finished batch has dealt with (committed, or failed: their
        waiters are told so)."""
        self._waiters: deque[tuple[int, asyncio.Future[None]]] = deque()
        """Who waits for a mark to be durable, in mark order."""

    def _announce(self, event: str, data: Any) -> dict[str, Any]:
        return self.p.bus.envelope(self.name, self.instance_id, event, data, self.sender())

    def put(self, item: Item) -> None:
        if self._closed:  # the instance is gone: nothing more is stored or announced for it
            self._give_up([item])
            return
        if isinstance(item, Message) and self.media is not None:
            item = self._with_media(item)
        self._items.append(item)
        self.accepted += 1
        self._wake.set()
        if self._task is None:
            self._task = spawn(self._run(), name=f"messages:{self.name}")

    def close(self) -> None:
        """Stop (the instance was deleted, or the server stops): the batch in hand and every
        waiting item are dropped, their media fetches cancelled and their senders told."""
        self._closed = True
        if self._task is not None:
            self._task.cancel()  # _run gives up the batch it holds
        self._give_up(self._items)
        self._items.clear()
        gone = Conflict(f'The "{self.name}" instance was deleted or stopped before it was stored')
        while self._waiters:
            _, fut = self._waiters.popleft()
            if not fut.done():
                fut.set_exception(gone)
                fut.exception()  # a waiter that stopped waiting leaves nothing unretrieved

    async def durable(self, mark: int) -> None:
        """Return once the first `mark` items the lane took are durable: their batch (the
        rows and the events reporting them) is committed. Raises the batch's failure when it
        could not be, or Conflict when the lane closed first. Waiting is shared: a batch that
        commits many items wakes every waiter at once (group commit), and cancelling a wait
        changes nothing for the lane."""
        if mark <= self._settled:
            return
        if self._closed:
            raise Conflict(f'The "{self.name}" instance was deleted or stopped')
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((mark, fut))
        await asyncio.shield(fut)

    def _settle(self, upto: int, error: BaseException | None) -> None:
        """The items up to `upto` are dealt with: wake who waited for them."""
        self._settled = max(self._settled, upto)
        while self._waiters and self._waiters[0][0] <= self._settled:
            _, fut = self._waiters.popleft()
            if fut.done():
                continue
            if error is None:
                fut.set_result(None)
            else:
                fut.set_exception(error)
                fut.exception()  # a waiter that stopped waiting leaves nothing unretrieved

    def _give_up(self, items: Iterable[Item]) -> None:
        for item in items:
            if isinstance(item, WithMedia):
                item.base64.cancel()
            elif isinstance(item, Pending) and not item.stored.done():
                item.stored.set_exception(
                    Conflict(
                        f'The "{self.name}" instance was deleted or stopped before the message '
                        "was stored"
                    )
                )

    async def _run(self) -> None:
        while True:
            while not self._items:
                self._wake.clear()
                await self._wake.wait()
            taken: list[Item] = []
            while self._items and len(taken) < BATCH:
                waiting = _awaited(self._items[0])
                if waiting is not None and not waiting.done():
                    if taken:
                        break  # flush what is ready; the send or fetch is awaited next round
                    try:
                        await asyncio.wait([waiting], timeout=self.p.settings.engine_timeout * 2)
                    except asyncio.CancelledError:
                        raise
                    if not waiting.done():
                        waiting.cancel()
                taken.append(self._items.popleft())
            upto = self._settled + len(taken)  # items leave the lane in the order they came
            try:
                await self._handle(taken, functools.partial(self._settle, upto, None))
            except asyncio.CancelledError:
                self._give_up(taken)
                raise
            except Exception as exc:  # logged; the lane keeps going
                _log.error("message batch failed", instance=self.name, error=repr(exc))
                self._settle(upto, exc)

    # --- one batch --------------------------------------------------------------------------

    async def _handle(self, items: Sequence[Item], committed: Callable[[], None]) -> None:
        b = Batch(
            known=await history.known(self.p.store, self.instance_id, items),
            originals=await self._originals(items),
            redelivered=await self._redelivered(items),
        )
        done: list[tuple[asyncio.Future[dict[str, Any]], dict[str, Any]]] = []
        for item in items:
            try:
                if isinstance(item, Pending):
                    raw = self._sent(b, item)
                    if raw is not None:
                        done.append((item.stored, raw))
                elif isinstance(item, WithMedia):
                    got: Fetched = _outcome(item.base64) or Fetched()
                    self.translator.message(b, item.message, got.base64, got.media_url)
                else:
                    self.translator.event(b, item)
            except Exception as exc:
                _log.error("message event not handled", instance=self.name, error=repr(exc))
                if isinstance(item, Pending) and not item.stored.done():
                    item.stored.set_exception(exc)
        try:
            await self._commit(b)
        except Exception as exc:
            # Nothing of the batch is stored: its messages must not count as seen when the
            # network delivers them again (the database answers for what was stored before).
            self.translator.forget_seen()
            for fut, _ in done:
                if not fut.done():
                    fut.set_exception(exc)
            raise
        committed()  # durable now: the network may be told (before the events go out)
        for fut, raw in done:
            if not fut.done():
                fut.set_result(raw)
        await self.p.bus.published(b.events)
        self.p.consumers.offer(b.stored)

    def _sent(self, b: Batch, item: Pending) -> dict[str, Any] | None:
        """A send's messageRaw once the engine confirmed it; None (its sender told) when the
        engine failed or the lane stopped waiting."""
        if item.sent.cancelled() or item.sent.exception() is not None:
            if not item.stored.done():  # the sender still waits: the lane gave up
                item.stored.set_exception(
                    Conflict(f'The "{self.name}" instance did not confirm the send')
                )
            return None
        return self.translator.sent(
            b,
            item.sent.result(),
            item.push_name,
            item.event,
            item.store,
            item.base64,
            item.media_url,
        )

    async def _originals(self, items: Sequence[Item]) -> dict[str, str]:
        """The stored messages the receipts of `items` are about, by key id: one query for
        the batch, leaving out the messages the batch itself brings. After failed retries,
        none (the batch's commit then meets the same failure and reports it)."""
        if not self.p.settings.save_new_message:
            return {}
        own: set[str] = set()
        for item in items:
            if isinstance(item, Message):
                own.add(item.key.id)
            elif isinstance(item, Pending) and (sent := _sent(item)) is not None:
                own.add(sent.key.id)
        wanted = {k.id for i in items if isinstance(i, Receipt) for k in i.keys} - own
        if not wanted:
            return {}
        try:
            return await retried(
                lambda: self.p.store.message_ids(self.instance_id, wanted),
                WRITE_RETRIES,
                "receipt lookup",
                _log,
            )
        except Exception:
            return {}

    async def _redelivered(self, items: Sequence[Item]) -> frozenset[str]:
        """The live messages among `items` this lane has not handled since it opened but the
        database has: one query for the batch. After failed retries, none (logged): such a
        message would then be stored and announced a second time."""
        if not self.p.settings.save_new_message:
            return frozenset()
        wanted = set()
        for item in items:
            m = item.message if isinstance(item, WithMedia) else item
            if (
                isinstance(m, Message)
                and m.kind != "history"
                and not self.translator.seen(m.key.id)
            ):
                wanted.add(m.key.id)
        if not wanted:
            return frozenset()
        try:
            found = await retried(
                lambda: self.p.store.known_keys(self.instance_id, wanted),
                WRITE_RETRIES,
                "redelivery lookup",
                _log,
            )
        except Exception:
            return frozenset()
        return frozenset(found)

    async def _commit(self, b: Batch) -> None:
        op = b.op()

        async def write() -> None:
            if self.p.bus.durable:
                await self.p.bus.write_with(op, b.events)
            else:
                await self.p.store.run(op)
                await self.p.bus.write(b.events)

        await retried(write, WRITE_RETRIES, "message batch write", _log)

    # --- webhook base64 ---------------------------------------------------------------------

    def _with_media(self, m: Message) -> Item:
        """A live media message: its bytes are fetched now, for `message.base64`, while it
        keeps its place in the lane."""
        member = media_member(m.content)
        if member is None or m.kind == "history" or self.translator.seen(m.key.id):
            return m
        return WithMedia(m, spawn(self._fetch(m, member), name=f"base64:{self.name}"))

    async def _fetch(self, m: Message, member: dict[str, Any]) -> Fetched:
        """`message.base64` of a media message when the instance's webhook (or the global
        one) wants it, and its copy in S3 when S3 is on: downloaded once through the engine
        under its deadline and a size cap. Any failure leaves them out (logged): the event is
        delivered without them."""
        objects = self.p.objects
        try:
            want64 = await self.p.wants_base64(self.instance_id)
            if not want64 and objects is None:
                return Fetched()
            cap64 = self.p.base64_cap(m.content)
            data = await self._download(
                member, self.p.settings.media_max_bytes if objects is not None else cap64
            )
        except Exception as exc:
            _log.warning(
                "media not added to the event", instance=self.name, id=m.key.id, error=repr(exc)
            )
            return Fetched()
        got = Fetched(base64.b64encode(data).decode() if want64 and len(data) <= cap64 else None)
        if objects is not None:
            kind = media_type(m.content)
            name = inbound_key(
                self.instance_id, m.key.remote_jid, kind, file_name(member, m.key.id)
            )
            mimetype = str(member.get("mimetype") or "application/octet-stream")
            try:
                got.media_url = await objects.put(name, data, mimetype.split(";")[0].strip())
            except Exception as exc:
                _log.warning(
                    "media not stored in S3", instance=self.name, id=m.key.id, error=repr(exc)
                )
        return got

    async def _download(self, member: dict[str, Any], cap: int) -> bytes:
        declared = str(member.get("fileLength") or "0")
        if declared.isdigit() and int(declared) > cap:
            raise ValueError(f"the media ({declared} bytes) is larger than the cap ({cap})")
        assert self.media is not None
        data = await asyncio.wait_for(
            self.media.download(self.instance_id, member), self.p.settings.engine_timeout
        )
        if len(data) > cap:
            raise ValueError(f"the media ({len(data)} bytes) is larger than the cap ({cap})")
        return data


class Pipeline:
    """Every instance's lane, and the consumers of what they store."""

    def __init__(self, settings: Settings, bus: EventBus, store: db.MessageStore) -> None:
        self.settings = settings
        self.bus = bus
        self.store = store
        self.lanes: dict[str, Lane] = {}
        self.consumers = Consumers()
        self.objects: ObjectStore | None = None
        """Where inbound media is copied when S3_ENABLED (its URL goes in the event)."""
        """Who hears the messages each committed batch stored (messaging/consumers.py)."""

    async def wants_base64(self, instance_id: str) -> bool:
        """Whether the instance's media events carry `message.base64` (its webhook's base64,
        or WAGATE_WEBHOOK_GLOBAL_BASE64 with the global webhook on)."""
        routes = self.bus.routes
        return routes is not None and await routes.wants_base64(instance_id)

    def base64_cap(self, content: dict[str, Any]) -> int:
        """The largest media put into an event: WAGATE_MEDIA_MAX_BYTES, and on a database
        whose outbox bounds an event (MySQL's max_allowed_packet), what still fits in one:
        base64 is written as it is, the rest of the message may double when escaped. Not
        downloading what could not be sent; the bus still checks the event itself."""
        cap = self.settings.media_max_bytes
        room = self.bus.payload_room if self.bus.durable else None
        if room is not None:
            room -= history.ENVELOPE_SLACK + 2 * len(orjson.dumps(content)) + 1024
            cap = min(cap, max(room, 0) * 3 // 4)
        return cap

    @property
    def packet(self) -> int | None:
        """MySQL's max_allowed_packet as read at start-up; None: no such limit."""
        return self.store.budget.packet

    def fits(self, row: dict[str, Any]) -> bool:
        """Whether the database takes this new `messages` row."""
        return self.store.fits(row)

    @property
    def event_bytes(self) -> int:
        """The budget of one history event's `data` (what the outbox keeps)."""
        return history.event_bytes(self.bus.payload_room if self.bus.durable else None)

    def lane(
        self,
        instance_id: str,
        name: str,
        sender: Callable[[], str | None],
        media: MediaSource | None = None,
    ) -> Lane:
        """The instance's lane, opened on first use (`media`: where it downloads media for
        webhook base64; `sender`: the account's JID for the envelopes)."""
        lane = self.lanes.get(instance_id)
        if lane is None:
            lane = self.lanes[instance_id] = Lane(self, instance_id, name, sender, media)
        return lane

    def forget(self, instance_id: str) -> None:
        lane = self.lanes.pop(instance_id, None)
        if lane is not None:
            lane.close()
        self.consumers.forget(instance_id)

    def close(self) -> None:
        for instance_id in list(self.lanes):
            self.forget(instance_id)
        self.consumers.close()
