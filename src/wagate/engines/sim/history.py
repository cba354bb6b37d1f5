"""What a simulated phone remembers of its account's past, and the history sync a newly paired
device gets from it.

Every message an account sends or receives on the simulated network is remembered (the phone
keeps it whether or not an instance is linked), as are the chats it was in and the push names
of the people who wrote to it; `POST /sim/{instance}/history` adds past messages of its own.
When an instance pairs with the account (a scan or a pairing code, not a reconnect with saved
credentials), the phone sends that history in chunks, as WhatsApp does: the whole of it when
the instance asked for the full history (syncFullHistory), else only its last RECENT_DAYS.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace
from typing import TypeVar

from wagate.domain.jids import is_group
from wagate.engines.messaging import History, HistoryChat, HistoryContact, Message

HISTORY_LIMIT = 50_000
"""Messages remembered per account, and chats and contacts: the oldest messages, and the
chats and contacts least recently written in, are forgotten first."""
RECENT_DAYS = 90
CHUNK = 500
"""Messages per history chunk."""
V = TypeVar("V")


@dataclass(slots=True)
class _Chat:
    name: str | None = None
    timestamp: int = 0
    unread: int = 0
    jid_alt: str | None = None


@dataclass(slots=True)
class Remembered:
    """One account's past: its messages (as its own devices see them), chats and contacts."""

    messages: deque[Message] = field(default_factory=lambda: deque(maxlen=HISTORY_LIMIT))
    chats: dict[str, _Chat] = field(default_factory=dict)
    contacts: dict[str, str | None] = field(default_factory=dict)

    def record(self, message: Message, chat_name: str | None = None) -> None:
        """Remember a message the account sent (`key.from_me`) or received."""
        key = message.key
        self.messages.append(replace(message, epoch=0, kind="history"))
        chat = _latest(self.chats, key.remote_jid, self.chats.get(key.remote_jid) or _Chat())
        chat.name = chat_name or chat.name
        chat.timestamp = max(chat.timestamp, message.timestamp)
        chat.jid_alt = key.remote_jid_alt or chat.jid_alt
        chat.unread = 0 if key.from_me else chat.unread + 1
        if not key.from_me:
            who = key.participant if is_group(key.remote_jid) else key.remote_jid
            if who:
                _latest(self.contacts, who, message.push_name or self.contacts.get(who))

    def sync(self, now: float, full: bool, chunk: int = CHUNK) -> list[History]:
        """The history sync a newly paired device gets (epoch 0: the session retags it)."""
        since = 0 if full else now - RECENT_DAYS * 86_400
        picked = sorted(
            (m for m in self.messages if m.timestamp >= since), key=lambda m: m.timestamp
        )
        contacts = tuple(HistoryContact(jid, notify=name) for jid, name in self.contacts.items())
        if not picked and not contacts:
            return []
        parts = [picked[i : i + chunk] for i in range(0, len(picked), chunk)] or [[]]
        sent: set[str] = set()
        out: list[History] = []
        for n, part in enumerate(parts, start=1):
            chats = []
            for m in part:
                jid = m.key.remote_jid
                if jid not in sent:
                    sent.add(jid)
                    c = self.chats.get(jid) or _Chat()
                    chats.append(HistoryChat(jid, c.name, c.unread, c.timestamp, False, c.jid_alt))
            out.append(
                History(
                    0,
                    tuple(part),
                    tuple(chats),
                    contacts if n == 1 else (),
                    progress=round(100 * n / len(parts)),
                    final=n == len(parts),
                    sync_type="full" if full else "recent",
                )
            )
        return out


def _latest(entries: dict[str, V], key: str, value: V) -> V:
    """Set `entries[key]` as the most recent entry; past HISTORY_LIMIT the oldest goes (the
    chats of the remembered messages are the most recent ones, so they all stay)."""
    entries.pop(key, None)
    entries[key] = value
    if len(entries) > HISTORY_LIMIT:
        del entries[next(iter(entries))]
    return value
