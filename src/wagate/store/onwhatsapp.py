"""The onWhatsApp cache (Evolution's `IsOnWhatsapp`): phone numbers known to be WhatsApp
accounts, so that a send to them need not ask the engine first.

One table for the whole installation, not per instance: whether a number is on WhatsApp does
not depend on who asks. A row is the account's phone-number JID (`remote_jid`, unique), the
JIDs a number may be written as and still mean it (`jid_options`, comma-separated: the
Brazilian forms with and without the 9th digit), and its LID when known. Rows are written when
the engine answers yes, and when the account writes to one of our instances; a row older than
DATABASE_SAVE_IS_ON_WHATSAPP_DAYS is not trusted, and is refreshed by the next check.

Two differences from Evolution, both fixes: rows are found by exact JID (Evolution matches
`jidOptions` by substring, so 551199990000@… also matched 5551199990000@…), and `lid` holds
the LID itself (Evolution's recent versions keep the word 'lid' there and the LID in
`jidOptions`, so it is lost the next time the row is written without one).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import DateTime, String, Table, Text, UniqueConstraint, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from wagate.domain.jids import brazil_variants
from wagate.store.messages import Write, upsert
from wagate.store.models import Base, new_cuid, utcnow


class OnWhatsappRow(Base):
    __tablename__ = "is_on_whatsapp"
    __table_args__ = (UniqueConstraint("remote_jid", name="uq_is_on_whatsapp_jid"),)

    id: Mapped[str] = mapped_column(String(30), primary_key=True, default=new_cuid)
    remote_jid: Mapped[str] = mapped_column(String(128))
    jid_options: Mapped[str] = mapped_column(Text)
    lid: Mapped[str | None] = mapped_column(String(128), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


_TABLE = cast(Table, OnWhatsappRow.__table__)


@dataclass(frozen=True, slots=True)
class Known:
    """A number the cache holds: its JID as WhatsApp knows it, its LID, and whether the
    entry is younger than the TTL."""

    jid: str
    lid: str | None
    fresh: bool


def row(jid: str, lid: str | None) -> dict[str, Any]:
    """The values of one cache entry for a phone-number JID (and its LID, when known)."""
    now = utcnow()
    return {
        "id": new_cuid(),
        "remote_jid": jid,
        "jid_options": ",".join(brazil_variants(jid)),
        "lid": lid,
        "created_at": now,
        "updated_at": now,
    }


def save(rows: Sequence[dict[str, Any]]) -> Write:
    """Insert or refresh entries (`row()`); a known LID is kept when a new one is not given."""

    async def op(s: AsyncSession) -> None:
        def values(old: Any, new: Any) -> dict[str, Any]:
            return {
                "jid_options": new.jid_options,
                "lid": func.coalesce(new.lid, old.lid),
                "updated_at": new.updated_at,
            }

        await upsert(s, OnWhatsappRow, rows, ("remote_jid",), values)

    return op


class OnWhatsappCache:
    """The cache's reads and writes over one sessionmaker (`ttl_days`: how long an entry is
    trusted)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], ttl_days: float) -> None:
        self._sessions = sessions
        self.ttl = timedelta(days=ttl_days)

    async def find(self, jids: Sequence[str]) -> dict[str, Known]:
        """The entries of these JIDs (fresh or not), by JID: one query."""
        if not jids:
            return {}
        oldest = utcnow() - self.ttl
        q = select(_TABLE.c.remote_jid, _TABLE.c.lid, _TABLE.c.updated_at).where(
            _TABLE.c.remote_jid.in_(sorted(set(jids)))
        )
        async with self._sessions() as s:
            found = (await s.execute(q)).all()
        return {jid: Known(jid, lid, updated >= oldest) for jid, lid, updated in found}

    async def save(self, entries: Sequence[tuple[str, str | None]]) -> None:
        """Remember (JID, LID) pairs as on WhatsApp, now."""
        if entries:
            async with self._sessions.begin() as s:
                await save([row(jid, lid) for jid, lid in entries])(s)

    async def forget(self, jids: Sequence[str]) -> None:
        """Drop entries the engine no longer confirms."""
        if jids:
            async with self._sessions.begin() as s:
                await s.execute(delete(_TABLE).where(_TABLE.c.remote_jid.in_(list(jids))))
