"""History sync in the message pipeline: the past messages, chats and contacts WhatsApp sends a
newly paired device are stored and announced as Evolution's `messaging-history.set` handler
does, each chunk in one transaction with the events that report it. The translator builds a
chunk's rows and events (messaging/translate.py `Translator.history`); this module holds what
it needs: the database lookup the lane makes before the batch (`known`), the running counts,
and the splitting of long arrays into events that fit the outbox.

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
from typing import Any

import orjson
import structlog

from wagate.engines.messaging import History
from wagate.runtime.tasks import retried
from wagate.store.messages import MessageStore

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


async def known(store: MessageStore, instance_id: str, items: Sequence[Any]) -> Known:
    """The stored message keys and chats among the history chunks of `items` (one read per
    kind, retried). Never raises: the rest of the batch does not depend on it."""
    chunks = [i for i in items if isinstance(i, History)]
    if not chunks:
        return Known()
    keys = [m.key.id for h in chunks for m in h.messages]
    jids = [c.jid for h in chunks for c in h.chats]

    async def read() -> Known:
        return Known(
            await store.known_keys(instance_id, keys),
            await store.known_chats(instance_id, jids),
        )

    try:
        return await retried(read, READ_RETRIES, "history lookup", _log)
    except Exception:
        return Known(failed=True)


def split(items: list[dict[str, Any]], budget: int, what: str) -> list[list[dict[str, Any]]]:
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
