"""The message pipeline: what the engines report about messages is stored, then announced.

One lane per instance keeps its events in order. A lane takes everything queued, builds the
rows (each kind gated by its DATABASE_SAVE_* setting) and the events that report them, commits
both in one transaction (the outbox's group-commit writer), then publishes the events. Sends
made through the API take a place in the lane *before* the engine is called, so the receipts
of a message are never processed before the message itself is stored.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from wagate.config import Settings
from wagate.core.tasks import retried, spawn
from wagate.domain.errors import Conflict
from wagate.domain.jids import is_group
from wagate.engines.base import InboundEvent
from wagate.engines.messaging import (
    ChatChange,
    ContactUpdate,
    GroupChange,
    History,
    LabelChange,
    Message,
    MessageKey,
    Presence,
    Receipt,
    Sent,
)
from wagate.events.bus import EventBus
from wagate.messaging import history
from wagate.messaging.raw import media_member, message_raw, row_of
from wagate.store import messages as db
from wagate.store import onwhatsapp
from wagate.store.models import new_cuid, utcnow

_log = structlog.get_logger("wagate.messaging")
BATCH = 500
SEEN = 20_000
WRITE_RETRIES = 5
PROTOCOL_REVOKE = ("REVOKE", 0)
PROTOCOL_EDIT = ("MESSAGE_EDIT", 14)
PARTICIPANT_ACTIONS = ("add", "remove", "promote", "demote")
NUMBER_REFRESH_SECONDS = 3600.0
"""How often a lane rewrites the onWhatsApp cache entry of someone who keeps writing."""


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


@dataclass(slots=True)
class WithMedia:
    """An inbound media message whose bytes are being fetched for the event's `message.base64`
    (webhook base64 on): it keeps its place in the lane, which waits for the fetch (bounded)
    when it reaches it. The result is None when the media is not wanted or not fetched."""

    message: Message
    base64: asyncio.Task[str | None]
    """The fetch; cancelled when the lane stops waiting for it or closes."""


Item = InboundEvent | Pending | WithMedia


def _awaited(item: Item) -> asyncio.Future[Any] | None:
    """What the lane must wait for before it handles `item`."""
    if isinstance(item, Pending):
        return item.sent
    if isinstance(item, WithMedia):
        return item.base64
    return None


def _with_base64(raw: dict[str, Any], data: str | None) -> dict[str, Any]:
    """The messageRaw of an event with `message.base64` (the stored row never has it)."""
    if data is None:
        return raw
    return {**raw, "message": {**raw["message"], "base64": data}}


def _outcome(fut: asyncio.Future[Any]) -> Any:
    """A future's result; None when it is not done, failed or was cancelled."""
    if not fut.done() or fut.cancelled() or fut.exception() is not None:
        return None
    return fut.result()


def _sent(item: Pending) -> Sent | None:
    """What the engine sent for a pending send (None: not yet, failed or cancelled)."""
    result: Sent | None = _outcome(item.sent)
    return result


class _Seen:
    """A bounded memory of keys already handled (duplicates from the engine are dropped)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._keys: OrderedDict[Any, Any] = OrderedDict()

    def get(self, key: Any) -> Any:
        return self._keys.get(key)

    def put(self, key: Any, value: Any = True) -> None:
        self._keys[key] = value
        self._keys.move_to_end(key)
        if len(self._keys) > self._size:
            self._keys.popitem(last=False)


@dataclass(slots=True)
class _Batch:
    writes: list[db.Write] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    contacts: list[dict[str, Any]] = field(default_factory=list)
    chats: dict[str, dict[str, Any]] = field(default_factory=dict)
    numbers: dict[str, dict[str, Any]] = field(default_factory=dict)
    originals: dict[str, str] = field(default_factory=dict)
    """Message key id -> its `messages` row id: the stored messages the batch's receipts are
    about, and the batch's own new messages."""
    events: list[dict[str, Any]] = field(default_factory=list)
    done: list[tuple[asyncio.Future[dict[str, Any]], dict[str, Any]]] = field(default_factory=list)
    known: history.Known = field(default_factory=history.Known)

    def op(self) -> db.Write:
        """Every write of the batch in order: messages before their updates and chats."""
        ops = [
            db.insert_messages(self.messages),
            db.upsert_contacts(self.contacts),
            db.upsert_chats(list(self.chats.values())),
            *self.writes,
            db.insert_updates(self.updates),
        ]
        if self.numbers:
            ops.append(onwhatsapp.save(list(self.numbers.values())))

        async def run(s: AsyncSession) -> None:
            for op in ops:
                await op(s)

        return run


class Lane:
    """One instance's ordered stream of messaging events."""

    def __init__(
        self,
        pipeline: Pipeline,
        instance_id: str,
        name: str,
        sender: Callable[[], str | None],
    ) -> None:
        self.p = pipeline
        self.instance_id = instance_id
        self.name = name
        self.sender = sender
        self.push_name: Callable[[], str | None] = lambda: None
        self._items: deque[Item] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[Any] | None = None
        self._closed = False
        self._seen_messages = _Seen(SEEN)
        self._seen_updates = _Seen(SEEN)
        self._contacts = _Seen(SEEN)
        self._chats = _Seen(SEEN)
        self.history = history.Counts()
        self._numbers = _Seen(SEEN)

    def put(self, item: Item) -> None:
        if self._closed:  # the instance is gone: nothing more is stored or announced for it
            self._give_up([item])
            return
        if isinstance(item, Message) and self.p.media is not None:
            item = self._with_media(item)
        self._items.append(item)
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
            try:
                await self._handle(taken)
            except asyncio.CancelledError:
                self._give_up(taken)
                raise
            except Exception as exc:  # logged; the lane keeps going
                _log.error("message batch failed", instance=self.name, error=repr(exc))

    # --- one batch --------------------------------------------------------------------------

    def _env(self, b: _Batch, event: str, data: Any) -> None:
        b.events.append(
            self.p.bus.envelope(self.name, self.instance_id, event, data, self.sender())
        )

    async def _handle(self, items: Sequence[Item]) -> None:
        b = _Batch(known=await history.known(self, items), originals=await self._originals(items))
        for item in items:
            try:
                self._one(b, item)
            except Exception as exc:
                _log.error("message event not handled", instance=self.name, error=repr(exc))
                if isinstance(item, Pending) and not item.stored.done():
                    item.stored.set_exception(exc)
        try:
            await self._commit(b)
        except Exception as exc:
            for fut, _ in b.done:
                if not fut.done():
                    fut.set_exception(exc)
            raise
        for fut, raw in b.done:
            if not fut.done():
                fut.set_result(raw)
        await self.p.bus.published(b.events)

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

    async def _commit(self, b: _Batch) -> None:
        op = b.op()

        async def write() -> None:
            if self.p.bus.durable:
                await self.p.bus.write_with(op, b.events)
            else:
                await self.p.store.run(op)
                await self.p.bus.write(b.events)

        await retried(write, WRITE_RETRIES, "message batch write", _log)

    def _one(self, b: _Batch, item: Item) -> None:  # noqa: PLR0912
        s = self.p.settings
        match item:
            case Pending():
                if item.sent.cancelled() or item.sent.exception() is not None:
                    if not item.stored.done():  # the sender still waits: the lane gave up
                        item.stored.set_exception(
                            Conflict(f'The "{self.name}" instance did not confirm the send')
                        )
                    return
                sent = item.sent.result()
                raw = message_raw(
                    self.instance_id, sent.key, sent.content, sent.timestamp, item.push_name,
                    "PENDING",
                )  # fmt: skip
                self._seen_messages.put(sent.key.id)
                if s.save_new_message and item.store:
                    self._keep(b, row_of(raw))
                if item.store:
                    self._chat(b, sent.key.remote_jid, sent.timestamp, unread=0)
                self._env(b, item.event, _with_base64(raw, item.base64))
                b.done.append((item.stored, raw))
            case Message():
                self._message(b, item)
            case WithMedia():
                self._message(b, item.message, _outcome(item.base64))
            case History():
                history.add(self, b, item, b.known)
            case Receipt():
                for key in item.keys:
                    if self._seen_updates.get((key.id, item.status)):
                        continue
                    self._seen_updates.put((key.id, item.status))
                    message_id = b.originals.get(key.id)
                    if message_id is None and s.save_new_message:
                        # As Evolution: while messages are stored, an update of one that is
                        # not (older than the store, sent from elsewhere before this instance
                        # was linked, a revoke or edit) is neither announced nor stored. With
                        # DATABASE_SAVE_DATA_NEW_MESSAGE off there is nothing to link to: it
                        # is announced and stored without `messageId` (Evolution then fails
                        # on its required foreign key).
                        continue
                    data: dict[str, Any] = {
                        "keyId": key.id,
                        "remoteJid": key.remote_jid,
                        "fromMe": key.from_me,
                        "participant": key.participant,
                        "status": item.status,
                        "instanceId": self.instance_id,
                    }
                    if message_id is not None:
                        data["messageId"] = message_id
                    if key.remote_jid_alt:
                        data["remoteJidAlt"] = key.remote_jid_alt
                    if s.save_message_update:
                        b.updates.append(
                            {
                                "id": db.sortable_id(),
                                "instance_id": self.instance_id,
                                "message_id": message_id,
                                "key_id": key.id,
                                "remote_jid": key.remote_jid,
                                "from_me": key.from_me,
                                "participant": key.participant,
                                "status": item.status,
                                "poll_updates": None,
                                "created_at": utcnow(),
                            }
                        )
                    self._env(b, "messages.update", data)
            case Presence():
                presence: dict[str, Any] = {"lastKnownPresence": item.presence}
                if item.last_seen is not None:
                    presence["lastSeen"] = item.last_seen
                self._env(
                    b,
                    "presence.update",
                    {"id": item.chat, "presences": {item.participant: presence}},
                )
            case ContactUpdate():
                self._on_whatsapp(b, item.jid, item.lid)
                row = self._contact_row(item.jid, item.push_name, item.picture_url)
                if s.save_contacts:
                    b.contacts.append(row)
                self._contacts.put(item.jid, item.push_name)
                self._env(b, "contacts.update", [self._contact_data(row)])
            case ChatChange():
                self._chat_change(b, item)
            case GroupChange():
                self._group(b, item)
            case LabelChange():
                self._label(b, item)

    def _message(self, b: _Batch, m: Message, media: str | None = None) -> None:
        s = self.p.settings
        if self._seen_messages.get(m.key.id):
            return
        self._seen_messages.put(m.key.id)
        proto = m.content.get("protocolMessage")
        if isinstance(proto, dict) and proto.get("type") in PROTOCOL_REVOKE:
            target = proto.get("key") or {}
            target_id = str(target.get("id", ""))
            b.writes.append(db.mark_deleted(self.instance_id, target_id, s.delete_message_logical))
            self._env(b, "messages.delete", {**target, "remoteJid": m.key.remote_jid})
            return
        if isinstance(proto, dict) and proto.get("type") in PROTOCOL_EDIT:
            target = proto.get("key") or {}
            edited = proto.get("editedMessage") or {}
            if s.save_new_message and edited:
                b.writes.append(db.edit_message(self.instance_id, str(target.get("id")), edited))
            self._env(
                b, "messages.edited", {**proto, "key": {**target, "remoteJid": m.key.remote_jid}}
            )
            return
        if m.kind == "history" and not s.save_historic:
            return
        status = "DELIVERY_ACK" if not m.key.from_me else "SERVER_ACK"
        raw = message_raw(self.instance_id, m.key, m.content, m.timestamp, m.push_name, status)
        if s.save_new_message:
            self._keep(b, row_of(raw))
        if not m.key.from_me:
            if m.kind == "notify":
                self._sender_on_whatsapp(b, m.key)
            who = m.key.participant if is_group(m.key.remote_jid) else m.key.remote_jid
            if who and m.push_name and self._contacts.get(who) != m.push_name:
                self._contacts.put(who, m.push_name)
                row = self._contact_row(who, m.push_name, None)
                if s.save_contacts:
                    b.contacts.append(row)
                self._env(b, "contacts.upsert", self._contact_data(row))
        self._chat(b, m.key.remote_jid, m.timestamp, unread=0 if m.key.from_me else 1)
        self._env(b, "messages.upsert", _with_base64(raw, media))

    # --- webhook base64 ---------------------------------------------------------------------

    def _with_media(self, m: Message) -> Item:
        """A live media message: its bytes are fetched now, for `message.base64`, while it
        keeps its place in the lane."""
        member = media_member(m.content)
        if member is None or m.kind == "history" or self._seen_messages.get(m.key.id):
            return m
        return WithMedia(m, spawn(self._fetch(m, member), name=f"base64:{self.name}"))

    async def _fetch(self, m: Message, member: dict[str, Any]) -> str | None:
        """`message.base64` of a media message when the instance's webhook (or the global
        one) wants it: downloaded through the engine under its deadline and a size cap. Any
        failure leaves it out (logged): the event is delivered without it."""
        try:
            if await self.p.wants_base64(self.instance_id):
                return await self._download(m, member)
        except Exception as exc:
            _log.warning(
                "media not added to the event as base64",
                instance=self.name,
                id=m.key.id,
                error=repr(exc),
            )
        return None

    async def _download(self, m: Message, member: dict[str, Any]) -> str | None:
        cap = self.p.base64_cap(m.content)
        declared = str(member.get("fileLength") or "0")
        if declared.isdigit() and int(declared) > cap:
            raise ValueError(f"the media ({declared} bytes) is larger than the cap ({cap})")
        fetch = self.p.media
        assert fetch is not None
        data = await asyncio.wait_for(
            fetch(self.instance_id, member), self.p.settings.engine_timeout
        )
        if len(data) > cap:
            raise ValueError(f"the media ({len(data)} bytes) is larger than the cap ({cap})")
        return base64.b64encode(data).decode()

    def _keep(self, b: _Batch, row: dict[str, Any]) -> None:
        """Store a new message; the batch's receipts of it link to its row. One larger than
        the database takes (MySQL's max_allowed_packet) is not stored, logged: it would fail
        the whole batch."""
        if not self.p.store.fits(row):
            _log.error(
                "message too large to store",
                instance=self.name,
                id=row["key_id"],
                packet=self.p.packet,
            )
            return
        b.messages.append(row)
        b.originals[row["key_id"]] = row["id"]

    def _sender_on_whatsapp(self, b: _Batch, key: MessageKey) -> None:
        """Whoever writes to us is on WhatsApp: the onWhatsApp cache learns the sender's
        number and LID (the chat in a direct message, the participant in a group), as
        Evolution's does from messages.upsert."""
        if is_group(key.remote_jid):
            jid, alt = key.participant, key.participant_alt
        else:
            jid, alt = key.remote_jid, key.remote_jid_alt
        if jid and jid.endswith("@lid"):
            jid, alt = alt, jid
        if jid:
            self._on_whatsapp(b, jid, alt)

    def _on_whatsapp(self, b: _Batch, jid: str, lid: str | None) -> None:
        """An onWhatsApp cache entry for a phone-number JID, unless this lane wrote the same
        one lately (an entry is refreshed at most every NUMBER_REFRESH_SECONDS)."""
        if not self.p.settings.save_is_on_whatsapp or not jid.endswith("@s.whatsapp.net"):
            return
        lid = lid if lid and lid.endswith("@lid") else None
        if lid is None and jid in b.numbers:
            lid = b.numbers[jid]["lid"]  # one row per number and batch: keep what it knew
        now = time.monotonic()
        written = self._numbers.get((jid, lid))
        if written is not None and now - written < NUMBER_REFRESH_SECONDS:
            return
        self._numbers.put((jid, lid), now)
        b.numbers[jid] = onwhatsapp.row(jid, lid)

    def _contact_row(self, jid: str, name: str | None, picture: str | None) -> dict[str, Any]:
        now = utcnow()
        return {
            "id": new_cuid(),
            "instance_id": self.instance_id,
            "remote_jid": jid,
            "push_name": name,
            "profile_pic_url": picture,
            "created_at": now,
            "updated_at": now,
        }

    def _contact_data(self, row: dict[str, Any]) -> dict[str, Any]:
        return {
            "remoteJid": row["remote_jid"],
            "pushName": row["push_name"],
            "profilePicUrl": row["profile_pic_url"],
            "instanceId": self.instance_id,
        }

    def _chat(self, b: _Batch, jid: str, ts: int, unread: int) -> None:
        if self.p.settings.save_chats:
            row = b.chats.get(jid)
            if row is not None:  # one row per chat and batch: an upsert touches a row once
                row["unread_messages"] += unread
                row["last_message_at"] = max(row["last_message_at"], ts)
            else:
                now = utcnow()
                b.chats[jid] = {
                    "id": new_cuid(),
                    "instance_id": self.instance_id,
                    "remote_jid": jid,
                    "name": None,
                    "labels": [],
                    "unread_messages": unread,
                    "archived": False,
                    "last_message_at": ts,
                    "created_at": now,
                    "updated_at": now,
                }
        if not self._chats.get(jid):
            self._chats.put(jid)
            self._env(b, "chats.upsert", [{"remoteJid": jid, "instanceId": self.instance_id}])

    def _chat_change(self, b: _Batch, c: ChatChange) -> None:
        if c.deleted:
            self._env(b, "chats.delete", [c.jid])
            return
        values: dict[str, Any] = {}
        data: dict[str, Any] = {"remoteJid": c.jid, "instanceId": self.instance_id}
        if c.archived is not None:
            values["archived"] = c.archived
            data["archived"] = c.archived
        if c.unread is not None:
            values["unread_messages"] = -1 if c.unread else 0
            data["unreadMessages"] = values["unread_messages"]
        if self.p.settings.save_chats and values:
            b.writes.append(db.change_chat(self.instance_id, c.jid, values))
        self._env(b, "chats.update", [data])

    def _group(self, b: _Batch, g: GroupChange) -> None:
        info = g.group.as_dict()
        if g.action == "create":
            self._env(b, "groups.upsert", [info])
            self._chat(b, g.group.jid, g.group.creation, unread=0)
        elif g.action in PARTICIPANT_ACTIONS:
            self._env(
                b,
                "group-participants.update",
                {
                    "id": g.group.jid,
                    "author": g.author,
                    "participants": list(g.participants),
                    "action": g.action,
                },
            )
        else:
            self._env(b, "groups.update", [info])

    def _label(self, b: _Batch, lc: LabelChange) -> None:
        s = self.p.settings
        if lc.label is not None:
            label = lc.label
            if s.save_labels:
                if label.deleted:
                    b.writes.append(db.delete_labels(self.instance_id, [label.id]))
                else:
                    now = utcnow()
                    b.writes.append(
                        db.upsert_labels(
                            [
                                {
                                    "id": new_cuid(),
                                    "instance_id": self.instance_id,
                                    "label_id": label.id,
                                    "name": label.name,
                                    "color": label.color,
                                    "predefined_id": label.predefined_id,
                                    "created_at": now,
                                    "updated_at": now,
                                }
                            ]
                        )
                    )
            self._env(
                b,
                "labels.edit",
                {
                    "id": label.id,
                    "name": label.name,
                    "color": label.color,
                    "predefinedId": label.predefined_id,
                    "deleted": label.deleted,
                    "instance": self.name,
                },
            )
        elif lc.chat is not None and lc.label_id is not None:
            if s.save_chats:
                b.writes.append(
                    db.label_chat(self.instance_id, lc.chat, lc.label_id, bool(lc.added))
                )
            self._env(
                b,
                "labels.association",
                {
                    "instance": self.name,
                    "type": "add" if lc.added else "remove",
                    "chatId": lc.chat,
                    "labelId": lc.label_id,
                },
            )


class Pipeline:
    """Every instance's lane, created on its first event."""

    def __init__(self, settings: Settings, bus: EventBus, store: db.MessageStore) -> None:
        self.settings = settings
        self.bus = bus
        self.store = store
        self.lanes: dict[str, Lane] = {}
        self.media: Callable[[str, dict[str, Any]], Awaitable[bytes]] | None = None
        """Downloads a media message's bytes through the instance's engine session (for
        webhook base64); None: media is never downloaded for events."""

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

    def lane(self, instance_id: str, name: str, sender: Callable[[], str | None]) -> Lane:
        lane = self.lanes.get(instance_id)
        if lane is None:
            lane = self.lanes[instance_id] = Lane(self, instance_id, name, sender)
        return lane

    def forget(self, instance_id: str) -> None:
        lane = self.lanes.pop(instance_id, None)
        if lane is not None:
            lane.close()

    def close(self) -> None:
        for instance_id in list(self.lanes):
            self.forget(instance_id)
