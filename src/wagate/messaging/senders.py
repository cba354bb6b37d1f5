"""A message consumer: whoever writes to an instance is on WhatsApp, so the onWhatsApp cache
(store/onwhatsapp.py) learns the sender's number and LID, as Evolution's does from
messages.upsert. Registered when DATABASE_SAVE_IS_ON_WHATSAPP is on.

Only live inbound messages teach it (not our own, not history). An entry is written at most
every NUMBER_REFRESH_SECONDS per (number, LID); a write that fails is logged and counted by the
consumer seam, and the next message from the sender tries again.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from wagate.messaging.consumers import StoredMessage
from wagate.messaging.translate import NUMBER_REFRESH_SECONDS, SEEN, Seen, sender_of
from wagate.store.onwhatsapp import OnWhatsappCache


class SendersOnWhatsapp:
    """Fills the onWhatsApp cache from the senders of inbound messages."""

    name = "onwhatsapp"

    def __init__(self, cache: OnWhatsappCache) -> None:
        self.cache = cache
        self._written = Seen(SEEN)
        """(JID, LID) -> when it was last written (monotonic seconds)."""

    async def handle(self, messages: Sequence[StoredMessage]) -> None:
        now = time.monotonic()
        entries: dict[str, str | None] = {}
        for m in messages:
            if m.from_me or m.kind != "notify":
                continue
            jid, lid = sender_of(m.key)
            if not jid or not jid.endswith("@s.whatsapp.net"):
                continue
            lid = lid if lid and lid.endswith("@lid") else None
            if lid is None and jid in entries:
                lid = entries[jid]  # one entry per number: keep what it knew
            written = self._written.get((jid, lid))
            if written is not None and now - written < NUMBER_REFRESH_SECONDS:
                continue
            entries[jid] = lid
        if not entries:
            return
        await self.cache.save(list(entries.items()))
        for jid, lid in entries.items():
            self._written.put((jid, lid), now)
