"""Messages, their status updates, contacts, chats and labels: models and every SQL on them.

Writes are `Write` operations (a function of an open transaction) so that the message pipeline
can commit a batch of rows together with the outbox rows of the events that report them
(store/outbox.py `write_with`). Reads answer the /chat/find* routes with Evolution's filters.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    bindparam,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from wagate.store.budget import PayloadBudget
from wagate.store.models import Base, new_cuid, utcnow

Write = Callable[[AsyncSession], Awaitable[None]]
KNOWN_CHUNK = 500
_B36 = "0123456789abcdefghijklmnopqrstuvwxyz"
_last_ns = 0


def sortable_id() -> str:
    """A cuid-like id (25 characters, starting with 'c') that sorts in creation order within
    a process: rows written in one second (MySQL DATETIME keeps no fraction) keep their order."""
    global _last_ns
    ns = max(time.time_ns(), _last_ns + 1)
    _last_ns = ns
    head = ""
    while ns:
        ns, r = divmod(ns, 36)
        head = _B36[r] + head
    return "c" + head.rjust(14, "0") + "".join(_B36[b % 36] for b in secrets.token_bytes(10))


class MessageRow(Base):
    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_instance_ts", "instance_id", "message_timestamp"),
        Index("ix_messages_instance_key", "instance_id", "key_id"),
        Index("ix_messages_instance_chat_ts", "instance_id", "remote_jid", "message_timestamp"),
    )

    id: Mapped[str] = mapped_column(String(30), primary_key=True, default=new_cuid)
    instance_id: Mapped[str] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"))
    key_id: Mapped[str] = mapped_column(String(128))
    remote_jid: Mapped[str] = mapped_column(String(128))
    remote_jid_alt: Mapped[str | None] = mapped_column(String(128), default=None)
    from_me: Mapped[bool] = mapped_column(Boolean)
    participant: Mapped[str | None] = mapped_column(String(128), default=None)
    key: Mapped[dict[str, Any]] = mapped_column(JSON)
    push_name: Mapped[str | None] = mapped_column(String(255), default=None)
    message_type: Mapped[str] = mapped_column(String(64))
    message: Mapped[dict[str, Any]] = mapped_column(JSON)
    context_info: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    source: Mapped[str] = mapped_column(String(16))
    message_timestamp: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str | None] = mapped_column(String(16), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class MessageUpdateRow(Base):
    __tablename__ = "message_updates"
    __table_args__ = (
        Index("ix_message_updates_instance_key", "instance_id", "key_id"),
        Index("ix_message_updates_message", "message_id"),
    )

    id: Mapped[str] = mapped_column(String(30), primary_key=True, default=new_cuid)
    instance_id: Mapped[str] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"))
    message_id: Mapped[str | None] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), default=None
    )
    key_id: Mapped[str] = mapped_column(String(128))
    remote_jid: Mapped[str] = mapped_column(String(128))
    from_me: Mapped[bool] = mapped_column(Boolean)
    participant: Mapped[str | None] = mapped_column(String(128), default=None)
    status: Mapped[str] = mapped_column(String(16))
    poll_updates: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class ContactRow(Base):
    __tablename__ = "contacts"
    __table_args__ = (UniqueConstraint("instance_id", "remote_jid", name="uq_contacts_jid"),)

    id: Mapped[str] = mapped_column(String(30), primary_key=True, default=new_cuid)
    instance_id: Mapped[str] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"))
    remote_jid: Mapped[str] = mapped_column(String(128))
    push_name: Mapped[str | None] = mapped_column(String(255), default=None)
    profile_pic_url: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class ChatRow(Base):
    __tablename__ = "chats"
    __table_args__ = (UniqueConstraint("instance_id", "remote_jid", name="uq_chats_jid"),)

    id: Mapped[str] = mapped_column(String(30), primary_key=True, default=new_cuid)
    instance_id: Mapped[str] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"))
    remote_jid: Mapped[str] = mapped_column(String(128))
    name: Mapped[str | None] = mapped_column(String(255), default=None)
    labels: Mapped[list[str]] = mapped_column(JSON, default=list)
    unread_messages: Mapped[int] = mapped_column(Integer, default=0)
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    last_message_at: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class LabelRow(Base):
    __tablename__ = "labels"
    __table_args__ = (UniqueConstraint("instance_id", "label_id", name="uq_labels_id"),)

    id: Mapped[str] = mapped_column(String(30), primary_key=True, default=new_cuid)
    instance_id: Mapped[str] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"))
    label_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255))
    color: Mapped[int] = mapped_column(Integer, default=0)
    predefined_id: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


OWNED = (MessageUpdateRow, MessageRow, ContactRow, ChatRow, LabelRow)
"""Every table of this module, children first."""


# --- rows: one builder per table's row shape ----------------------------------------------

NAME_LENGTH = 255
"""The length of the name columns (contacts' push_name, chats' and labels' name)."""


def fit(name: str | None) -> str | None:
    """A name as its column holds it (NAME_LENGTH characters)."""
    return name[:NAME_LENGTH] if name else name


def contact_row(
    instance_id: str, jid: str, push_name: str | None, picture: str | None = None
) -> dict[str, Any]:
    """The values of one `contacts` row."""
    now = utcnow()
    return {
        "id": new_cuid(),
        "instance_id": instance_id,
        "remote_jid": jid,
        "push_name": fit(push_name),
        "profile_pic_url": picture,
        "created_at": now,
        "updated_at": now,
    }


def chat_row(
    instance_id: str,
    jid: str,
    *,
    name: str | None = None,
    unread: int = 0,
    archived: bool = False,
    last_message_at: int = 0,
) -> dict[str, Any]:
    """The values of one `chats` row."""
    now = utcnow()
    return {
        "id": new_cuid(),
        "instance_id": instance_id,
        "remote_jid": jid,
        "name": fit(name),
        "labels": [],
        "unread_messages": unread,
        "archived": archived,
        "last_message_at": last_message_at,
        "created_at": now,
        "updated_at": now,
    }


def label_row(
    instance_id: str, label_id: str, name: str, color: int, predefined_id: str | None
) -> dict[str, Any]:
    """The values of one `labels` row."""
    now = utcnow()
    return {
        "id": new_cuid(),
        "instance_id": instance_id,
        "label_id": label_id,
        "name": fit(name) or "",
        "color": color,
        "predefined_id": predefined_id,
        "created_at": now,
        "updated_at": now,
    }


# --- writes (run inside the caller's transaction) ----------------------------------------------


def _dialect(s: AsyncSession) -> str:
    return s.get_bind().dialect.name


def _dedupe(rows: Sequence[dict[str, Any]], keys: Sequence[str]) -> list[dict[str, Any]]:
    """One row per key (the last wins): an upsert may not touch a row twice."""
    out: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        out[tuple(row[k] for k in keys)] = row
    return list(out.values())


async def upsert(
    s: AsyncSession,
    model: type[Base],
    rows: Sequence[dict[str, Any]],
    keys: Sequence[str],
    values: Callable[[Any, Any], dict[str, Any]] | None,
) -> None:
    """INSERT … ON CONFLICT/DUPLICATE KEY UPDATE on SQLite, PostgreSQL and MySQL.
    `values(table_columns, incoming_columns)` gives the columns to update; None leaves the
    rows that exist as they are (only the absent ones are inserted)."""
    if not rows:
        return
    table: Any = model.__table__
    rows = _dedupe(rows, keys)
    dialect = _dialect(s)
    # executemany of one statement (compiled once, cached) rather than a VALUES list per call
    stmt: Any
    if dialect == "mysql":
        from sqlalchemy.dialects.mysql import insert as my_insert

        my = my_insert(table)
        # absent only: a no-op update rather than INSERT IGNORE, which would also hide
        # truncation errors
        update = {keys[-1]: table.c[keys[-1]]} if values is None else values(table.c, my.inserted)
        stmt = my.on_duplicate_key_update(update)
    elif dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        pg = pg_insert(table)
        if values is None:
            stmt = pg.on_conflict_do_nothing(index_elements=list(keys))
        else:
            stmt = pg.on_conflict_do_update(
                index_elements=list(keys), set_=values(table.c, pg.excluded)
            )
    else:
        from sqlalchemy.dialects.sqlite import insert as lite_insert

        lite = lite_insert(table)
        if values is None:
            stmt = lite.on_conflict_do_nothing(index_elements=list(keys))
        else:
            stmt = lite.on_conflict_do_update(
                index_elements=list(keys), set_=values(table.c, lite.excluded)
            )
    await s.execute(stmt, list(rows))


def insert_absent_chats(rows: Sequence[dict[str, Any]]) -> Write:
    """Chats of a history sync: new ones are added, known ones keep what they have."""

    async def op(s: AsyncSession) -> None:
        await upsert(s, ChatRow, rows, ("instance_id", "remote_jid"), None)

    return op


def insert_absent_contacts(rows: Sequence[dict[str, Any]]) -> Write:
    """Contacts of a history sync: new ones are added, known ones keep their push name."""

    async def op(s: AsyncSession) -> None:
        await upsert(s, ContactRow, rows, ("instance_id", "remote_jid"), None)

    return op


MESSAGE_ROW_BYTES = 8_192
"""A `messages` INSERT without its message and contextInfo: the statement's text, the ids,
the JIDs, the key and the push name, escaped."""


def message_fits(row: dict[str, Any], budget: PayloadBudget) -> bool:
    """Whether the database takes the INSERT of this `messages` row (MySQL/MariaDB: within
    max_allowed_packet; its JSON written as json.dumps writes it, then escaped)."""
    return budget.fits(MESSAGE_ROW_BYTES, documents=(row["message"], row["context_info"]))


def insert_messages(rows: Sequence[dict[str, Any]]) -> Write:
    async def op(s: AsyncSession) -> None:
        if rows:
            await s.execute(_MESSAGES.insert(), list(rows))  # Core: no ORM bulk machinery

    return op


_MESSAGES = cast(Table, MessageRow.__table__)
_UPDATES = cast(Table, MessageUpdateRow.__table__)
_SET_STATUS = (
    update(_MESSAGES)
    .where(_MESSAGES.c.id == bindparam("b_id"))
    .values(status=bindparam("b_status"))
)
_PRESENT = select(_MESSAGES.c.id).where(_MESSAGES.c.id.in_(bindparam("ids", expanding=True)))


def insert_updates(rows: Sequence[dict[str, Any]]) -> Write:
    """Status updates, each linked to its message's row (`message_id`, found by the caller)
    or to none; the linked messages take the update's status."""

    async def op(s: AsyncSession) -> None:
        if not rows:
            return
        values = list(rows)
        linked = {r["message_id"] for r in values if r["message_id"] is not None}
        if linked:
            # The caller looked the messages up before this transaction: one deleted since
            # (or by a revoke earlier in it) is unlinked instead of failing the foreign key.
            present = set((await s.scalars(_PRESENT, {"ids": sorted(linked)})).all())
            if present != linked:
                values = [
                    {**r, "message_id": None} if r["message_id"] not in present else r
                    for r in values
                ]
        await s.execute(_UPDATES.insert(), values)
        statuses = [
            {"b_id": r["message_id"], "b_status": r["status"]}
            for r in values
            if r["message_id"] is not None
        ]
        if statuses:  # one statement, run per row in order: the last status of a message wins
            await s.execute(_SET_STATUS, statuses)

    return op


REMOVED_PICTURE = ""
"""A contact row's `profile_pic_url` meaning "the picture was removed": the write clears the
stored URL (None leaves it as it is)."""


def upsert_contacts(rows: Sequence[dict[str, Any]]) -> Write:
    async def op(s: AsyncSession) -> None:
        def values(old: Any, new: Any) -> dict[str, Any]:
            # a name change keeps the picture and a picture change the name
            return {
                "push_name": func.coalesce(new.push_name, old.push_name),
                "profile_pic_url": func.coalesce(new.profile_pic_url, old.profile_pic_url),
                "updated_at": new.updated_at,
            }

        await upsert(s, ContactRow, rows, ("instance_id", "remote_jid"), values)
        removed = [r for r in rows if r.get("profile_pic_url") == REMOVED_PICTURE]
        if removed:  # rare: one statement clears what the upsert marked
            table: Any = ContactRow.__table__
            await s.execute(
                update(table)
                .where(table.c.instance_id == bindparam("b_instance"))
                .where(table.c.remote_jid == bindparam("b_jid"))
                .where(table.c.profile_pic_url == REMOVED_PICTURE)
                .values(profile_pic_url=None),
                [{"b_instance": r["instance_id"], "b_jid": r["remote_jid"]} for r in removed],
            )

    return op


def upsert_chats(rows: Sequence[dict[str, Any]]) -> Write:
    """New chats, or more unread messages / a newer last message on existing ones."""

    async def op(s: AsyncSession) -> None:
        def values(old: Any, new: Any) -> dict[str, Any]:
            return {
                "unread_messages": old.unread_messages + new.unread_messages,
                "last_message_at": new.last_message_at,
                "updated_at": new.updated_at,
            }

        await upsert(s, ChatRow, rows, ("instance_id", "remote_jid"), values)

    return op


def change_chat(instance_id: str, jid: str, values: dict[str, Any]) -> Write:
    """Set some of a chat's columns (`values`), creating the chat when it is not stored."""

    async def op(s: AsyncSession) -> None:
        await upsert(
            s,
            ChatRow,
            [{**chat_row(instance_id, jid), **values}],
            ("instance_id", "remote_jid"),
            lambda _, new: {k: getattr(new, k) for k in (*values, "updated_at")},
        )

    return op


def label_chat(instance_id: str, jid: str, label_id: str, add: bool) -> Write:
    async def op(s: AsyncSession) -> None:
        row = await s.scalar(
            select(ChatRow).where(ChatRow.instance_id == instance_id, ChatRow.remote_jid == jid)
        )
        if row is None:
            row = ChatRow(instance_id=instance_id, remote_jid=jid, labels=[])
            s.add(row)
        labels = [x for x in (row.labels or []) if x != label_id]
        row.labels = [*labels, label_id] if add else labels
        row.updated_at = utcnow()

    return op


def upsert_labels(rows: Sequence[dict[str, Any]]) -> Write:
    async def op(s: AsyncSession) -> None:
        def values(_: Any, new: Any) -> dict[str, Any]:
            return {
                "name": new.name,
                "color": new.color,
                "predefined_id": new.predefined_id,
                "updated_at": new.updated_at,
            }

        await upsert(s, LabelRow, rows, ("instance_id", "label_id"), values)

    return op


def delete_labels(instance_id: str, label_ids: Sequence[str]) -> Write:
    async def op(s: AsyncSession) -> None:
        await s.execute(
            delete(LabelRow).where(
                LabelRow.instance_id == instance_id, LabelRow.label_id.in_(list(label_ids))
            )
        )

    return op


def mark_deleted(instance_id: str, key_id: str, logical: bool) -> Write:
    """A message deleted for everyone: marked (`DATABASE_DELETE_MESSAGE`) or removed."""

    async def op(s: AsyncSession) -> None:
        rows = (
            await s.scalars(
                select(MessageRow).where(
                    MessageRow.instance_id == instance_id, MessageRow.key_id == key_id
                )
            )
        ).all()
        for row in rows:
            if logical:
                row.status = "DELETED"
                row.key = {**row.key, "deleted": True}
            else:
                await s.delete(row)

    return op


def edit_message(instance_id: str, key_id: str, content: dict[str, Any]) -> Write:
    async def op(s: AsyncSession) -> None:
        await s.execute(
            update(MessageRow)
            .where(MessageRow.instance_id == instance_id, MessageRow.key_id == key_id)
            .values(message=content, status="EDITED")
        )

    return op


# --- reads ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MessageFilter:
    """Evolution's findMessages `where`."""

    id: str | None = None
    source: str | None = None
    message_type: str | None = None
    key_id: str | None = None
    from_me: bool | None = None
    remote_jid: str | None = None
    participant: str | None = None
    since: int | None = None
    until: int | None = None


class MessageStore:
    """The reads of /chat/find*, and writes outside the pipeline, over one sessionmaker."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], budget: PayloadBudget) -> None:
        self._sessions = sessions
        self.budget = budget

    def fits(self, row: dict[str, Any]) -> bool:
        """Whether the database takes this new `messages` row: one too large would fail the
        transaction of the whole batch it came in."""
        return message_fits(row, self.budget)

    async def run(self, op: Write) -> None:
        async with self._sessions.begin() as s:
            await op(s)

    async def known_keys(self, instance_id: str, key_ids: Collection[str]) -> set[str]:
        """Which of these message key ids the instance has stored."""
        m = MessageRow
        q = select(m.key_id).where(m.instance_id == instance_id)
        return {key for (key,) in await self._where_in(q, m.key_id, key_ids)}

    async def known_chats(self, instance_id: str, jids: Collection[str]) -> set[str]:
        """Which of these chats the instance has stored."""
        q = select(ChatRow.remote_jid).where(ChatRow.instance_id == instance_id)
        return {jid for (jid,) in await self._where_in(q, ChatRow.remote_jid, jids)}

    async def message_ids(self, instance_id: str, key_ids: Collection[str]) -> dict[str, str]:
        """The row ids of the stored messages with these key ids (the newest of a key)."""
        m = MessageRow
        q = select(m.key_id, m.id).where(m.instance_id == instance_id).order_by(m.id)
        return {key: row_id for key, row_id in await self._where_in(q, m.key_id, key_ids)}

    async def _where_in(self, query: Any, column: Any, values: Collection[str]) -> list[Any]:
        """The rows of `query` whose `column` is one of `values`, asked in IN lists of at most
        KNOWN_CHUNK (the drivers bound a statement's parameters), in one session; each value
        is in one list only."""
        wanted = sorted(set(values))
        rows: list[Any] = []
        if not wanted:
            return rows
        async with self._sessions() as s:
            for i in range(0, len(wanted), KNOWN_CHUNK):
                part = wanted[i : i + KNOWN_CHUNK]
                rows.extend((await s.execute(query.where(column.in_(part)))).all())
        return rows

    async def find_messages(
        self, instance_id: str, f: MessageFilter, page: int, per_page: int
    ) -> tuple[int, list[MessageRow], dict[str, list[str]]]:
        """(total, the page newest first, message id -> its statuses)."""
        m = MessageRow
        conds: list[Any] = [m.instance_id == instance_id]
        if f.id is not None:
            conds.append(m.id == f.id)
        if f.source is not None:
            conds.append(m.source == f.source)
        if f.message_type is not None:
            conds.append(m.message_type == f.message_type)
        if f.key_id is not None:
            conds.append(m.key_id == f.key_id)
        if f.from_me is not None:
            conds.append(m.from_me == f.from_me)
        if f.remote_jid is not None:
            conds.append(or_(m.remote_jid == f.remote_jid, m.remote_jid_alt == f.remote_jid))
        if f.participant is not None:
            conds.append(m.participant == f.participant)
        if f.since is not None:
            conds.append(m.message_timestamp >= f.since)
        if f.until is not None:
            conds.append(m.message_timestamp <= f.until)
        async with self._sessions() as s:
            total = int(await s.scalar(select(func.count()).select_from(m).where(*conds)) or 0)
            rows = list(
                (
                    await s.scalars(
                        select(m)
                        .where(*conds)
                        .order_by(m.message_timestamp.desc(), m.id.desc())
                        .offset((page - 1) * per_page)
                        .limit(per_page)
                    )
                ).all()
            )
            statuses: dict[str, list[str]] = {r.id: [] for r in rows}
            if rows:
                q = (
                    select(MessageUpdateRow.message_id, MessageUpdateRow.status)
                    .where(MessageUpdateRow.message_id.in_(list(statuses)))
                    .order_by(MessageUpdateRow.id)
                )
                for mid, status in (await s.execute(q)).all():
                    statuses[str(mid)].append(status)
        return total, rows, statuses

    async def message_by_key(self, instance_id: str, key_id: str) -> MessageRow | None:
        async with self._sessions() as s:
            return await s.scalar(
                select(MessageRow)
                .where(MessageRow.instance_id == instance_id, MessageRow.key_id == key_id)
                .order_by(MessageRow.created_at.desc())
                .limit(1)
            )

    async def channels(
        self, instance_id: str, page: int, per_page: int
    ) -> tuple[int, list[tuple[str, int]]]:
        """(how many channels, the page of (channel JID, its last message's timestamp)) of
        the channels (`@newsletter` chats) the instance has messages in, latest first."""
        m = MessageRow
        conds = (m.instance_id == instance_id, m.remote_jid.like("%@newsletter"))
        last = func.max(m.message_timestamp)
        async with self._sessions() as s:
            total = int(
                await s.scalar(select(func.count(func.distinct(m.remote_jid))).where(*conds)) or 0
            )
            rows = (
                await s.execute(
                    select(m.remote_jid, last)
                    .where(*conds)
                    .group_by(m.remote_jid)
                    .order_by(last.desc(), m.remote_jid)
                    .offset((page - 1) * per_page)
                    .limit(per_page)
                )
            ).all()
        return total, [(str(jid), int(ts or 0)) for jid, ts in rows]

    async def poll_votes(self, instance_id: str, poll_id: str) -> list[MessageRow]:
        """The stored votes (pollUpdateMessage) on the poll whose key id is `poll_id`, oldest
        first. Votes are few per instance; the poll each names is read from its content."""
        m = MessageRow
        async with self._sessions() as s:
            rows = (
                await s.scalars(
                    select(m)
                    .where(m.instance_id == instance_id, m.message_type == "pollUpdateMessage")
                    .order_by(m.message_timestamp, m.id)
                )
            ).all()
        out = []
        for row in rows:
            update = (row.message or {}).get("pollUpdateMessage") or {}
            if (update.get("pollCreationMessageKey") or {}).get("id") == poll_id:
                out.append(row)
        return out

    async def find_updates(
        self,
        instance_id: str,
        remote_jid: str | None,
        key_id: str | None,
        page: int,
        per_page: int,
    ) -> list[MessageUpdateRow]:
        u = MessageUpdateRow
        conds: list[Any] = [u.instance_id == instance_id]
        if remote_jid is not None:
            conds.append(u.remote_jid == remote_jid)
        if key_id is not None:
            conds.append(u.key_id == key_id)
        async with self._sessions() as s:
            q = select(u).where(*conds).order_by(u.id.desc())
            q = q.offset((page - 1) * per_page).limit(per_page)
            return list((await s.scalars(q)).all())

    async def find_contacts(
        self,
        instance_id: str,
        *,
        id: str | None,
        remote_jid: str | None,
        push_name: str | None,
        page: int | None,
        per_page: int | None,
    ) -> list[ContactRow]:
        c = ContactRow
        conds: list[Any] = [c.instance_id == instance_id]
        if id is not None:
            conds.append(c.id == id)
        if remote_jid is not None:
            conds.append(c.remote_jid == remote_jid)
        if push_name is not None:
            conds.append(func.lower(c.push_name).contains(push_name.lower(), autoescape=True))
        q = select(c).where(*conds).order_by(c.updated_at.desc(), c.id)
        if per_page is not None:
            q = q.offset(((page or 1) - 1) * per_page).limit(per_page)
        async with self._sessions() as s:
            return list((await s.scalars(q)).all())

    async def find_chats(
        self,
        instance_id: str,
        *,
        remote_jid: str | None,
        since: int | None,
        until: int | None,
        skip: int,
        take: int | None,
    ) -> list[tuple[ChatRow, ContactRow | None, MessageRow | None]]:
        """Chats, newest activity first, with their contact and last message (3 queries)."""
        ch, co = ChatRow, ContactRow
        conds: list[Any] = [ch.instance_id == instance_id]
        if remote_jid is not None:
            conds.append(ch.remote_jid == remote_jid)
        if since is not None:
            conds.append(ch.last_message_at >= since)
        if until is not None:
            conds.append(ch.last_message_at <= until)
        q = (
            select(ch, co)
            .outerjoin(co, (co.instance_id == ch.instance_id) & (co.remote_jid == ch.remote_jid))
            .where(*conds)
            .order_by(ch.last_message_at.desc(), ch.updated_at.desc(), ch.id)
            .offset(skip)
        )
        if take is not None:
            q = q.limit(take)
        async with self._sessions() as s:
            pairs = [(a, b) for a, b in (await s.execute(q)).all()]
            jids = [a.remote_jid for a, _ in pairs]
            last: dict[str, MessageRow] = {}
            if jids:
                m = MessageRow
                newest = (
                    select(m.remote_jid, func.max(m.message_timestamp).label("ts"))
                    .where(m.instance_id == instance_id, m.remote_jid.in_(jids))
                    .group_by(m.remote_jid)
                    .subquery()
                )
                q2 = (
                    select(m)
                    .join(
                        newest,
                        (m.remote_jid == newest.c.remote_jid)
                        & (m.message_timestamp == newest.c.ts)
                        & (m.instance_id == instance_id),
                    )
                    .order_by(m.id.desc())
                )  # ids sort by creation: the newest of a second first
                for row in (await s.scalars(q2)).all():
                    last.setdefault(row.remote_jid, row)
        return [(a, b, last.get(a.remote_jid)) for a, b in pairs]

    async def chat(self, instance_id: str, remote_jid: str) -> ChatRow | None:
        async with self._sessions() as s:
            return await s.scalar(
                select(ChatRow).where(
                    ChatRow.instance_id == instance_id, ChatRow.remote_jid == remote_jid
                )
            )

    async def labels(self, instance_id: str) -> list[LabelRow]:
        async with self._sessions() as s:
            q = select(LabelRow).where(LabelRow.instance_id == instance_id)
            return list((await s.scalars(q.order_by(LabelRow.label_id))).all())

    async def contact_jids(self, instance_id: str) -> list[str]:
        async with self._sessions() as s:
            q = select(ContactRow.remote_jid).where(ContactRow.instance_id == instance_id)
            return [j for j in (await s.scalars(q)).all() if j.endswith("@s.whatsapp.net")]


def counts_columns(instance_id: Any) -> list[Any]:
    """Correlated counts of messages, contacts and chats of an instance (fetchInstances)."""
    return [
        select(func.count())
        .select_from(model)
        .where(model.instance_id == instance_id)
        .correlate_except(model)
        .scalar_subquery()
        .label(label)
        for model, label in (
            (MessageRow, "n_messages"),
            (ContactRow, "n_contacts"),
            (ChatRow, "n_chats"),
        )
    ]
