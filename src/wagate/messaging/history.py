"""History sync in the message pipeline: the past messages, chats and contacts WhatsApp sends a
newly paired device are stored and announced as Evolution's `messaging-history.set` handler
does, each chunk in one transaction with the events that report it.

Per chunk (all arrays, in this order; an empty one is not sent):
- `chats.set` `[{remoteJid, instanceId, name?}]`: the chats the instance did not have;
- `messages.set` `[messageRaw …]`: the messages it did not have (neither stored nor already
  seen by the lane); a message with no push name gets its contact's name, else the number
  (as Evolution);
- `contacts.upsert` `[{remoteJid, pushName, profilePicUrl: null, instanceId}]`: the contacts
  with a name (Evolution reports history contacts under this name; `contacts.set` is never
  sent by Evolution, so clients listen here);
- at the end of a sync (`History.final`), `messaging-history.set`
  `{messageCount, chatCount, contactCount}`: what the whole sync announced (Evolution 2.4).

A long array goes out as several events of at most EVENT_MESSAGES items and EVENT_BYTES
bytes, each small enough for the outbox (on MySQL, for its max_allowed_packet).

DATABASE_SAVE_DATA_HISTORIC gates storing the messages and chats (the events go out
regardless, as in Evolution); DATABASE_SAVE_DATA_CONTACTS gates the contacts. Stored chats and
contacts that already exist keep what they have. How much history comes is the engine's
business: it asks WhatsApp for the full history only when the instance's syncFullHistory is on
(engines/base.py `SessionSpec.full_history`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
import structlog

from wagate.core.tasks import retried
from wagate.domain.jids import is_group
from wagate.engines.messaging import History, Message
from wagate.messaging.raw import message_raw, row_of
from wagate.store import messages as db
from wagate.store.models import new_cuid, utcnow

if TYPE_CHECKING:
    from wagate.messaging.pipeline import Lane, _Batch

_log = structlog.get_logger("wagate.messaging")
EVENT_MESSAGES = 1000
"""At most this many items per chats.set, messages.set or contacts.upsert event."""
EVENT_BYTES = 2_000_000
"""At most this many bytes of JSON per such event."""
ENVELOPE_SLACK = 2_048
"""Room for the envelope around `data` (ids, names, URLs)."""
READ_RETRIES = 3


def event_bytes(room: int | None) -> int:
    """The budget of one event's `data` when the outbox keeps payloads of at most `room`
    bytes as the database writes them (None: no limit). Escaped for MySQL, JSON takes at
    most twice its size."""
    if room is None:
        return EVENT_BYTES
    return max(min(EVENT_BYTES, room // 2 - ENVELOPE_SLACK), 1)


@dataclass(slots=True)
class Known:
    """What the database already has among a batch's history (filled before the batch)."""

    keys: set[str] = field(default_factory=set)
    chats: set[str] = field(default_factory=set)
    failed: bool = False
    """The database could not be read: the batch's history chunks are dropped (logged)
    rather than stored twice."""


@dataclass(slots=True)
class Counts:
    """What the sync in progress announced so far (for messaging-history.set)."""

    messages: int = 0
    chats: int = 0
    contacts: int = 0


async def known(lane: Lane, items: Sequence[Any]) -> Known:
    """The stored message keys and chats among the history chunks of `items` (one read per
    kind, retried). Never raises: the rest of the batch does not depend on it."""
    chunks = [i for i in items if isinstance(i, History)]
    if not chunks:
        return Known()
    keys = [m.key.id for h in chunks for m in h.messages]
    jids = [c.jid for h in chunks for c in h.chats]
    store = lane.p.store

    async def read() -> Known:
        return Known(
            await store.known_keys(lane.instance_id, keys),
            await store.known_chats(lane.instance_id, jids),
        )

    try:
        return await retried(read, READ_RETRIES, "history lookup", _log)
    except Exception:
        return Known(failed=True)


def add(lane: Lane, b: _Batch, h: History, have: Known) -> None:
    """One history chunk's rows and events into the batch."""
    if have.failed:
        _log.error(
            "history chunk dropped: the stored messages could not be read",
            instance=lane.name,
            messages=len(h.messages),
        )
        return
    s = lane.p.settings
    iid = lane.instance_id
    counts = lane.history
    names = {c.jid: c.name or c.notify for c in h.contacts if c.name or c.notify}
    budget = event_bytes(lane.p.bus.payload_room if lane.p.bus.durable else None)
    chats = _chats(lane, b, h, have)
    for part in _split(chats, budget, "chat"):
        lane._env(b, "chats.set", part)
    raws: list[dict[str, Any]] = []
    for m in h.messages:
        raw = _message(lane, m, have, names)
        if raw is None:
            continue
        raws.append(raw)
        if s.save_historic:
            lane._keep(b, row_of(raw))
    for part in _split(raws, budget, "message"):
        lane._env(b, "messages.set", part)
    contacts = [
        {"remoteJid": jid, "pushName": name, "profilePicUrl": None, "instanceId": iid}
        for jid, name in names.items()
    ]
    if contacts:
        if s.save_contacts:
            now = utcnow()
            rows = [
                {"id": new_cuid(), "instance_id": iid, "remote_jid": c["remoteJid"],
                 "push_name": _fit(c["pushName"]), "profile_pic_url": None, "created_at": now,
                 "updated_at": now}
                for c in contacts
            ]  # fmt: skip
            b.writes.append(db.insert_absent_contacts(rows))
        for c in contacts:
            lane._contacts.put(c["remoteJid"], c["pushName"])
        for part in _split(contacts, budget, "contact"):
            lane._env(b, "contacts.upsert", part)
    counts.messages += len(raws)
    counts.chats += len(chats)
    counts.contacts += len(h.contacts)
    if h.final:
        lane._env(
            b,
            "messaging-history.set",
            {"messageCount": counts.messages, "chatCount": counts.chats,
             "contactCount": counts.contacts},
        )  # fmt: skip
        lane.history = Counts()


def _chats(lane: Lane, b: _Batch, h: History, have: Known) -> list[dict[str, Any]]:
    """The chats.set entries of the chunk's new chats (and their rows when saving history)."""
    out: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    latest: dict[str, int] = {}
    for m in h.messages:
        jid = m.key.remote_jid
        latest[jid] = max(latest.get(jid, 0), m.timestamp)
    now = utcnow()
    for c in h.chats:
        if c.jid in have.chats or lane._chats.get(c.jid):
            continue
        have.chats.add(c.jid)
        lane._chats.put(c.jid)
        entry: dict[str, Any] = {"remoteJid": c.jid, "instanceId": lane.instance_id}
        if c.name:
            entry["name"] = c.name
        out.append(entry)
        rows.append(
            {"id": new_cuid(), "instance_id": lane.instance_id, "remote_jid": c.jid,
             "name": _fit(c.name), "labels": [], "unread_messages": max(c.unread, 0),
             "archived": c.archived, "last_message_at": c.timestamp or latest.get(c.jid, 0),
             "created_at": now, "updated_at": now}
        )  # fmt: skip
    if rows and lane.p.settings.save_historic:
        b.writes.append(db.insert_absent_chats(rows))
    return out


def _fit(name: str | None) -> str | None:
    """A name as its column holds it (255 characters)."""
    return name[:255] if name else name


def _message(
    lane: Lane, m: Message, have: Known, names: dict[str, str | None]
) -> dict[str, Any] | None:
    """The messageRaw of a history message the instance does not have yet, else None."""
    key = m.key
    if not m.content or not key.id or not m.timestamp:
        return None
    if key.id in have.keys or lane._seen_messages.get(key.id):
        return None
    have.keys.add(key.id)
    lane._seen_messages.put(key.id)
    push = m.push_name
    if not push and not key.from_me:
        who = key.participant if is_group(key.remote_jid) and key.participant else key.remote_jid
        push = names.get(who) or who.split("@", 1)[0]
    status = m.status or ("SERVER_ACK" if key.from_me else "DELIVERY_ACK")
    return message_raw(lane.instance_id, key, m.content, m.timestamp, push, status)


def _split(items: list[dict[str, Any]], budget: int, what: str) -> list[list[dict[str, Any]]]:
    """The arrays of a set event: at most EVENT_MESSAGES items and `budget` bytes each. An item
    larger than the budget on its own is stored but not announced (logged): no event of it
    could be kept by the outbox."""
    parts: list[list[dict[str, Any]]] = []
    part: list[dict[str, Any]] = []
    size = 2
    for item in items:
        n = len(orjson.dumps(item)) + 1
        if n + 2 > budget:
            _log.warning(f"history {what} too large to announce", size=n)
            continue
        if part and (len(part) >= EVENT_MESSAGES or size + n > budget):
            parts.append(part)
            part, size = [], 2
        part.append(item)
        size += n
    if part:
        parts.append(part)
    return parts
