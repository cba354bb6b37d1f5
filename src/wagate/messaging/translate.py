"""Engine events -> rows and Evolution payloads, for one instance (no I/O, no awaits).

The lane (messaging/pipeline.py) gives each event it takes to its instance's `Translator`,
which adds to a `Batch` the rows to write (each kind gated by its DATABASE_SAVE_* setting), the
events that report them, and the messages for the consumers. The translator remembers what it
handled lately (bounded), so the engine's duplicates are dropped: messages and receipts by key,
contacts by push name, chats by JID. History sync is one of its methods (`history`); what it
needs from the database (the stored keys and chats among a chunk) the lane reads before the
batch (messaging/history.py `known`).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from wagate.config import Settings
from wagate.domain.jids import is_group
from wagate.engines.base import InboundEvent
from wagate.engines.messaging import (
    Call,
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
from wagate.messaging import history
from wagate.messaging.consumers import StoredMessage
from wagate.messaging.history import Known
from wagate.messaging.raw import message_raw, row_of
from wagate.store import messages as db
from wagate.store import onwhatsapp
from wagate.store.models import utcnow

_log = structlog.get_logger("wagate.messaging")
SEEN = 20_000
PROTOCOL_REVOKE = ("REVOKE", 0)
PROTOCOL_EDIT = ("MESSAGE_EDIT", 14)
PARTICIPANT_ACTIONS = ("add", "remove", "promote", "demote")
NUMBER_REFRESH_SECONDS = 3600.0
"""How often an instance rewrites the onWhatsApp cache entry of a contact it keeps hearing of."""

Envelope = dict[str, Any]
Announce = Callable[[str, Any], Envelope]
"""Builds the envelope of one event of the instance: (event name, data) -> envelope."""


class Limits(Protocol):
    """What the database and the outbox take (read when a batch is built)."""

    @property
    def packet(self) -> int | None:
        """MySQL's max_allowed_packet; None: no such limit."""
        ...

    def fits(self, row: dict[str, Any]) -> bool:
        """Whether the database takes this new `messages` row (within `packet`)."""
        ...

    @property
    def event_bytes(self) -> int:
        """The budget of one history event's `data` (messaging/history.py `event_bytes`)."""
        ...


class Seen:
    """A bounded memory of keys already handled (the least recently put go first)."""

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

    def clear(self) -> None:
        self._keys.clear()


@dataclass(slots=True)
class Batch:
    """What one lane batch writes (in one transaction) and announces."""

    writes: list[db.Write] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    contacts: list[dict[str, Any]] = field(default_factory=list)
    chats: dict[str, dict[str, Any]] = field(default_factory=dict)
    numbers: dict[str, dict[str, Any]] = field(default_factory=dict)
    originals: dict[str, str] = field(default_factory=dict)
    """Message key id -> its `messages` row id: the stored messages the batch's receipts are
    about (read by the lane before the batch), and the batch's own new messages."""
    known: Known = field(default_factory=Known)
    """What the database has among the batch's history (read by the lane before the batch)."""
    redelivered: frozenset[str] = frozenset()
    """Key ids of the batch's live messages that are stored already: the network delivered
    them again because their acknowledgement was lost (the server stopped between the commit
    and the ack). Dropped: they were stored and announced once."""
    events: list[Envelope] = field(default_factory=list)
    stored: list[StoredMessage] = field(default_factory=list)
    """The batch's new messages, for the consumers once it is committed."""

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


def with_base64(raw: dict[str, Any], data: str | None) -> dict[str, Any]:
    """The messageRaw of an event with `message.base64` (the stored row never has it)."""
    if data is None:
        return raw
    return {**raw, "message": {**raw["message"], "base64": data}}


def contact_data(instance_id: str, jid: str, name: str | None, picture: str | None) -> Any:
    """A contacts.upsert / contacts.update entry."""
    return {
        "remoteJid": jid,
        "pushName": name,
        "profilePicUrl": picture,
        "instanceId": instance_id,
    }


def call_data(c: Call) -> dict[str, Any]:
    """Evolution's CALL data: Baileys' call object for the offer. Announced only; a call is
    not a message and is stored nowhere."""
    data: dict[str, Any] = {
        "chatId": c.group or c.caller,
        "from": c.caller,
        "id": c.id,
        "date": datetime.fromtimestamp(c.timestamp, UTC).isoformat(timespec="milliseconds")[:-6]
        + "Z",
        "isVideo": c.video,
        "isGroup": c.group is not None,
        "status": "offer",
        "offline": c.offline,
    }
    if c.group is not None:
        data["groupJid"] = c.group
    return data


class Translator:
    """One instance's engine events as rows, events and consumer messages."""

    def __init__(
        self,
        instance_id: str,
        name: str,
        settings: Settings,
        limits: Limits,
        announce: Announce,
    ) -> None:
        self.instance_id = instance_id
        self.name = name
        self.settings = settings
        self.limits = limits
        self.announce = announce
        self._messages = Seen(SEEN)
        self._updates = Seen(SEEN)
        self._contacts = Seen(SEEN)
        self._chats = Seen(SEEN)
        self._numbers = Seen(SEEN)
        self.counts = history.Counts()
        """What the history sync in progress announced so far."""

    def seen(self, key_id: str) -> bool:
        """Whether a message with this key id was handled lately."""
        return bool(self._messages.get(key_id))

    def forget_seen(self) -> None:
        """Forget the messages, chats and contacts handled, as a restart of the server does."""
        for memory in (self._messages, self._chats, self._contacts):
            memory.clear()

    def _emit(self, b: Batch, event: str, data: Any) -> None:
        b.events.append(self.announce(event, data))

    def event(self, b: Batch, item: InboundEvent, media: str | None = None) -> None:
        """One engine event into the batch (`media`: a media message's base64 for its event)."""
        match item:
            case Message():
                self.message(b, item, media)
            case History():
                self.history(b, item)
            case Receipt():
                self.receipt(b, item)
            case Presence():
                self.presence(b, item)
            case ContactUpdate():
                self.contact(b, item)
            case ChatChange():
                self.chat_change(b, item)
            case GroupChange():
                self.group(b, item)
            case LabelChange():
                self.label(b, item)
            case Call():
                self._emit(b, "call", call_data(item))

    # --- messages ---------------------------------------------------------------------------

    def sent(
        self,
        b: Batch,
        sent: Sent,
        push_name: str | None,
        event: str,
        store: bool,
        media: str | None,
        media_url: str | None = None,
    ) -> dict[str, Any]:
        """A send through this server, as the engine confirmed it; returns its messageRaw."""
        raw = message_raw(
            self.instance_id, sent.key, sent.content, sent.timestamp, push_name, "PENDING"
        )
        if media_url is not None:  # the S3 copy: stored, announced and answered
            raw = {**raw, "message": {**raw["message"], "mediaUrl": media_url}}
        self._messages.put(sent.key.id)
        row_id = None
        if self.settings.save_new_message and store:
            row_id = self._keep(b, row_of(raw))
        if store:
            self._chat(b, sent.key.remote_jid, sent.timestamp, unread=0)
        self._emit(b, event, with_base64(raw, media))
        b.stored.append(StoredMessage.of(self.name, event, "sent", sent.key, raw, row_id))
        return raw

    def message(
        self, b: Batch, m: Message, media: str | None = None, media_url: str | None = None
    ) -> None:
        s = self.settings
        if self._messages.get(m.key.id) or m.key.id in b.redelivered:
            return
        self._messages.put(m.key.id)
        proto = m.content.get("protocolMessage")
        if isinstance(proto, dict) and proto.get("type") in PROTOCOL_REVOKE:
            target = proto.get("key") or {}
            target_id = str(target.get("id", ""))
            b.writes.append(db.mark_deleted(self.instance_id, target_id, s.delete_message_logical))
            self._emit(b, "messages.delete", {**target, "remoteJid": m.key.remote_jid})
            return
        if isinstance(proto, dict) and proto.get("type") in PROTOCOL_EDIT:
            target = proto.get("key") or {}
            edited = proto.get("editedMessage") or {}
            if s.save_new_message and edited:
                b.writes.append(db.edit_message(self.instance_id, str(target.get("id")), edited))
            self._emit(
                b, "messages.edited", {**proto, "key": {**target, "remoteJid": m.key.remote_jid}}
            )
            return
        if m.kind == "history" and not s.save_historic:
            return
        status = "DELIVERY_ACK" if not m.key.from_me else "SERVER_ACK"
        raw = message_raw(self.instance_id, m.key, m.content, m.timestamp, m.push_name, status)
        if media_url is not None:  # the S3 copy: stored and announced, as in Evolution
            raw = {**raw, "message": {**raw["message"], "mediaUrl": media_url}}
        row_id = self._keep(b, row_of(raw)) if s.save_new_message else None
        if not m.key.from_me:
            who = m.key.participant if is_group(m.key.remote_jid) else m.key.remote_jid
            known = self._contacts.get(who) if who else None
            if who and m.push_name and known != m.push_name:
                self._contacts.put(who, m.push_name)
                row = db.contact_row(self.instance_id, who, m.push_name)
                if s.save_contacts:
                    b.contacts.append(row)
                # as Evolution: a new sender is an upsert, a known one who renamed an update
                event = "contacts.upsert" if known is None else "contacts.update"
                data = contact_data(self.instance_id, who, m.push_name, None)
                self._emit(b, event, data if known is None else [data])
        self._chat(b, m.key.remote_jid, m.timestamp, unread=0 if m.key.from_me else 1)
        self._emit(b, "messages.upsert", with_base64(raw, media))
        b.stored.append(StoredMessage.of(self.name, "messages.upsert", m.kind, m.key, raw, row_id))

    def _keep(self, b: Batch, row: dict[str, Any]) -> str | None:
        """Store a new message (returns its row id); the batch's receipts of it link to its
        row. One larger than the database takes (MySQL's max_allowed_packet) is not stored,
        logged: it would fail the whole batch."""
        if not self.limits.fits(row):
            _log.error(
                "message too large to store",
                instance=self.name,
                id=row["key_id"],
                packet=self.limits.packet,
            )
            return None
        b.messages.append(row)
        b.originals[row["key_id"]] = row["id"]
        return str(row["id"])

    def receipt(self, b: Batch, r: Receipt) -> None:
        s = self.settings
        for key in r.keys:
            if self._updates.get((key.id, r.status)):
                continue
            self._updates.put((key.id, r.status))
            message_id = b.originals.get(key.id)
            if message_id is None and s.save_new_message:
                # As Evolution: while messages are stored, an update of one that is not
                # (older than the store, sent from elsewhere before this instance was
                # linked, a revoke or edit) is neither announced nor stored. With
                # DATABASE_SAVE_DATA_NEW_MESSAGE off there is nothing to link to: it is
                # announced and stored without `messageId` (Evolution then fails on its
                # required foreign key).
                continue
            data: dict[str, Any] = {
                "keyId": key.id,
                "remoteJid": key.remote_jid,
                "fromMe": key.from_me,
                "participant": key.participant,
                "status": r.status,
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
                        "status": r.status,
                        "poll_updates": None,
                        "created_at": utcnow(),
                    }
                )
            self._emit(b, "messages.update", data)

    # --- contacts, chats, groups, labels, presence -------------------------------------------

    def presence(self, b: Batch, p: Presence) -> None:
        presence: dict[str, Any] = {"lastKnownPresence": p.presence}
        if p.last_seen is not None:
            presence["lastSeen"] = p.last_seen
        self._emit(b, "presence.update", {"id": p.chat, "presences": {p.participant: presence}})

    def contact(self, b: Batch, c: ContactUpdate) -> None:
        self._on_whatsapp(b, c.jid, c.lid)
        if self.settings.save_contacts:
            # "" clears the stored picture (None keeps it: a name change says nothing of it)
            picture = db.REMOVED_PICTURE if c.picture_removed else c.picture_url
            b.contacts.append(db.contact_row(self.instance_id, c.jid, c.push_name, picture))
        self._contacts.put(c.jid, c.push_name)
        data = contact_data(self.instance_id, c.jid, c.push_name, c.picture_url)
        self._emit(b, "contacts.update", [data])

    def _on_whatsapp(self, b: Batch, jid: str, lid: str | None) -> None:
        """An onWhatsApp cache entry for a phone-number JID, unless this instance wrote the
        same one lately (an entry is refreshed at most every NUMBER_REFRESH_SECONDS)."""
        if not self.settings.save_is_on_whatsapp or not jid.endswith("@s.whatsapp.net"):
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

    def _chat(self, b: Batch, jid: str, ts: int, unread: int) -> None:
        if self.settings.save_chats:
            row = b.chats.get(jid)
            if row is not None:  # one row per chat and batch: an upsert touches a row once
                row["unread_messages"] += unread
                row["last_message_at"] = max(row["last_message_at"], ts)
            else:
                b.chats[jid] = db.chat_row(
                    self.instance_id, jid, unread=unread, last_message_at=ts
                )
        if not self._chats.get(jid):
            self._chats.put(jid)
            self._emit(b, "chats.upsert", [{"remoteJid": jid, "instanceId": self.instance_id}])

    def chat_change(self, b: Batch, c: ChatChange) -> None:
        if c.deleted:
            self._emit(b, "chats.delete", [c.jid])
            return
        values: dict[str, Any] = {}
        data: dict[str, Any] = {"remoteJid": c.jid, "instanceId": self.instance_id}
        if c.archived is not None:
            values["archived"] = c.archived
            data["archived"] = c.archived
        if c.unread is not None:
            values["unread_messages"] = -1 if c.unread else 0
            data["unreadMessages"] = values["unread_messages"]
        if self.settings.save_chats and values:
            b.writes.append(db.change_chat(self.instance_id, c.jid, values))
        self._emit(b, "chats.update", [data])

    def group(self, b: Batch, g: GroupChange) -> None:
        info = g.group.as_dict()
        if g.action == "create":
            self._emit(b, "groups.upsert", [info])
            self._chat(b, g.group.jid, g.group.creation, unread=0)
        elif g.action in PARTICIPANT_ACTIONS:
            self._emit(
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
            self._emit(b, "groups.update", [info])

    def label(self, b: Batch, lc: LabelChange) -> None:
        s = self.settings
        if lc.label is not None:
            label = lc.label
            if s.save_labels:
                if label.deleted:
                    b.writes.append(db.delete_labels(self.instance_id, [label.id]))
                else:
                    row = db.label_row(
                        self.instance_id, label.id, label.name, label.color, label.predefined_id
                    )
                    b.writes.append(db.upsert_labels([row]))
            self._emit(
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
            self._emit(
                b,
                "labels.association",
                {
                    "instance": self.name,
                    "type": "add" if lc.added else "remove",
                    "chatId": lc.chat,
                    "labelId": lc.label_id,
                },
            )

    # --- history sync -------------------------------------------------------------------------

    def history(self, b: Batch, h: History) -> None:
        """One history chunk's rows and events (messaging/history.py describes them)."""
        have = b.known
        if have.failed:
            _log.error(
                "history chunk dropped: the stored messages could not be read",
                instance=self.name,
                messages=len(h.messages),
            )
            return
        s = self.settings
        iid = self.instance_id
        names = {c.jid: c.name or c.notify for c in h.contacts if c.name or c.notify}
        budget = self.limits.event_bytes
        chats = self._history_chats(b, h, have)
        for part in history.split(chats, budget, "chat"):
            self._emit(b, "chats.set", part)
        raws: list[dict[str, Any]] = []
        for m in h.messages:
            raw = self._history_message(m, have, names)
            if raw is None:
                continue
            raws.append(raw)
            if s.save_historic:
                self._keep(b, row_of(raw))
        for part in history.split(raws, budget, "message"):
            self._emit(b, "messages.set", part)
        contacts = [contact_data(iid, jid, name, None) for jid, name in names.items()]
        if contacts:
            if s.save_contacts:
                rows = [db.contact_row(iid, jid, name) for jid, name in names.items()]
                b.writes.append(db.insert_absent_contacts(rows))
            for jid, name in names.items():
                self._contacts.put(jid, name)
            for part in history.split(contacts, budget, "contact"):
                self._emit(b, "contacts.upsert", part)
        counts = self.counts
        counts.messages += len(raws)
        counts.chats += len(chats)
        counts.contacts += len(h.contacts)
        if h.final:
            self._emit(
                b,
                "messaging-history.set",
                {"messageCount": counts.messages, "chatCount": counts.chats,
                 "contactCount": counts.contacts},
            )  # fmt: skip
            self.counts = history.Counts()

    def _history_chats(self, b: Batch, h: History, have: Known) -> list[dict[str, Any]]:
        """The chats.set entries of the chunk's new chats (and their rows when saving history)."""
        out: list[dict[str, Any]] = []
        rows: list[dict[str, Any]] = []
        latest: dict[str, int] = {}
        for m in h.messages:
            jid = m.key.remote_jid
            latest[jid] = max(latest.get(jid, 0), m.timestamp)
        for c in h.chats:
            if c.jid in have.chats or self._chats.get(c.jid):
                continue
            have.chats.add(c.jid)
            self._chats.put(c.jid)
            entry: dict[str, Any] = {"remoteJid": c.jid, "instanceId": self.instance_id}
            if c.name:
                entry["name"] = c.name
            out.append(entry)
            rows.append(
                db.chat_row(
                    self.instance_id,
                    c.jid,
                    name=c.name,
                    unread=max(c.unread, 0),
                    archived=c.archived,
                    last_message_at=c.timestamp or latest.get(c.jid, 0),
                )
            )
        if rows and self.settings.save_historic:
            b.writes.append(db.insert_absent_chats(rows))
        return out

    def _history_message(
        self, m: Message, have: Known, names: dict[str, str | None]
    ) -> dict[str, Any] | None:
        """The messageRaw of a history message the instance does not have yet, else None."""
        key = m.key
        if not m.content or not key.id or not m.timestamp:
            return None
        if key.id in have.keys or self._messages.get(key.id):
            return None
        have.keys.add(key.id)
        self._messages.put(key.id)
        push = m.push_name
        if not push and not key.from_me:
            who = (
                key.participant if is_group(key.remote_jid) and key.participant else key.remote_jid
            )
            push = names.get(who) or who.split("@", 1)[0]
        status = m.status or ("SERVER_ACK" if key.from_me else "DELIVERY_ACK")
        return message_raw(self.instance_id, key, m.content, m.timestamp, push, status)


def sender_of(key: MessageKey) -> tuple[str | None, str | None]:
    """Who wrote a message, as (phone-number JID, LID) when known: the chat in a direct
    message, the participant in a group."""
    if is_group(key.remote_jid):
        jid, alt = key.participant, key.participant_alt
    else:
        jid, alt = key.remote_jid, key.remote_jid_alt
    if jid and jid.endswith("@lid"):
        jid, alt = alt, jid
    return jid, alt
