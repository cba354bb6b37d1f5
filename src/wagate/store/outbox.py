"""The event outbox: its rows, how the dispatcher claims them and records what became of them,
and their pruning, replay and inspection.

An outbox row is one delivery of one event to one destination (the instance's webhook, the
global webhook, a broker). Rows are written in the same transaction as the state they report
(store/writer.py's group writer), claimed by the dispatcher in order per lane, and pruned once
delivered and old. The destinations' configs are store/configs.py's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Index,
    Integer,
    String,
    Table,
    Text,
    bindparam,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from wagate.store.budget import PayloadBudget, statement_bytes
from wagate.store.held import HeldConnection, disconnected
from wagate.store.models import LONG_TEXT, Base, utcnow
from wagate.store.writer import GroupWriter, Write

PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"
_SEQ = BigInteger().with_variant(Integer(), "sqlite")
ERROR_CHARS = 2_000
"""A delivery error is kept this long (a sink's exception may quote a whole body)."""
ROW_BYTES = 4_096
"""An outbox INSERT on MySQL/MariaDB without its target, headers, secret and payload: the
statement's text, the ids, the instance name (255 characters, escaped), the lane and the dates."""
ROW_ALLOWANCE = 8_192
"""Room left for the rest of the row when announcing how large a payload may be: a usual
target URL, headers and secret fit in what ROW_BYTES does not use."""


def _sized(d: Delivery) -> tuple[tuple[str | None, ...], tuple[object, ...]]:
    """The literals of `d`'s row that vary in size: its texts, and its headers' JSON."""
    if d.headers is None:
        return (d.target, None, d.secret, d.payload), ()
    return (d.target, d.secret, d.payload), (d.headers,)


def row_bytes(d: Delivery) -> int:
    """How large the INSERT of `d`'s row is on MySQL/MariaDB (an upper bound)."""
    return statement_bytes(ROW_BYTES, *_sized(d))


class OutboxRow(Base):
    __tablename__ = "event_outbox"
    __table_args__ = (
        Index("ix_event_outbox_status_seq", "status", "seq"),
        Index("ix_event_outbox_instance_seq", "instance_id", "seq"),
        Index("ix_event_outbox_done_at", "status", "done_at"),
    )

    seq: Mapped[int] = mapped_column(_SEQ, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(26), index=True)
    instance_id: Mapped[str] = mapped_column(String(36))
    instance_name: Mapped[str] = mapped_column(String(255))
    event: Mapped[str] = mapped_column(String(64))
    lane: Mapped[str] = mapped_column(String(120))
    sink: Mapped[str] = mapped_column(String(16))
    scope: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(LONG_TEXT)
    headers: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    secret: Mapped[str | None] = mapped_column(LONG_TEXT, default=None)
    payload: Mapped[str] = mapped_column(LONG_TEXT)
    status: Mapped[str] = mapped_column(String(12), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_code: Mapped[int | None] = mapped_column(Integer, default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)


@dataclass(frozen=True, slots=True)
class Delivery:
    """One row to write: an event for one destination."""

    event_id: str
    instance_id: str
    instance_name: str
    event: str
    lane: str
    sink: str
    scope: str
    target: str
    payload: str
    headers: dict[str, Any] | None = None
    secret: str | None = None


@dataclass(frozen=True, slots=True)
class Claimed:
    """A pending row as the dispatcher sees it."""

    seq: int
    event_id: str
    instance_id: str
    instance_name: str
    event: str
    lane: str
    sink: str
    scope: str
    target: str
    headers: dict[str, Any] | None
    secret: str | None
    payload: str
    attempts: int
    next_at: datetime


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one delivery attempt did to its row."""

    seq: int
    status: str
    attempts: int
    next_at: datetime | None = None
    code: int | None = None
    error: str | None = None


_T = cast(Table, OutboxRow.__table__)
_CLAIMED = (
    "seq",
    "event_id",
    "instance_id",
    "instance_name",
    "event",
    "lane",
    "sink",
    "scope",
    "target",
    "headers",
    "secret",
    "payload",
    "attempts",
    "next_at",
)


_INSERT = _T.insert()
_SELECTED = select(*(_T.c[name] for name in _CLAIMED))
_PENDING_AFTER = (
    _SELECTED.where(_T.c.status == PENDING, _T.c.seq > bindparam("after"))
    .order_by(_T.c.seq)
    .limit(bindparam("limit"))
)
_LANE_PENDING = (
    _SELECTED.where(
        _T.c.instance_id == bindparam("instance_id"),
        _T.c.lane == bindparam("lane"),
        _T.c.status == PENDING,
        _T.c.seq > bindparam("after"),
    )
    .order_by(_T.c.seq)
    .limit(bindparam("limit"))
)
_DELIVERED_FIRST_TIME = (
    _T.update()
    .where(_T.c.seq.in_(bindparam("seqs", expanding=True)))
    .values(status=DELIVERED, attempts=1, done_at=bindparam("now"), last_code=200)
)


def _row(d: Delivery, now: datetime) -> dict[str, Any]:
    return {
        "event_id": d.event_id,
        "instance_id": d.instance_id,
        "instance_name": d.instance_name,
        "event": d.event,
        "lane": d.lane,
        "sink": d.sink,
        "scope": d.scope,
        "target": d.target,
        "headers": d.headers,
        "secret": d.secret,
        "payload": d.payload,
        "status": PENDING,
        "attempts": 0,
        "next_at": now,
        "created_at": now,
    }


Rewound = Callable[[], None]


class Outbox:
    """The outbox table over one async sessionmaker.

    Every write (new rows, and the outcomes the dispatcher records) goes through one group
    writer (store/writer.py), which is why the dispatcher may read new rows with a cursor
    (`pending_after`): rows are committed in `seq` order. The dispatcher's reads share one held
    connection. `budget` tells which rows the database takes (`fits`)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], budget: PayloadBudget) -> None:
        self._sessions = sessions
        self._rewound: list[Rewound] = []
        engine: AsyncEngine = sessions.kw["bind"]
        self.budget = budget
        self.writer = GroupWriter(engine, _INSERT)
        self._reader = HeldConnection(engine, autocommit=True)  # the dispatcher's reads

    @property
    def payload_room(self) -> int | None:
        """The largest payload (bytes, as a MySQL literal) an outbox row with a usual target
        keeps; None: no limit."""
        return self.budget.room(ROW_ALLOWANCE)

    def fits(self, d: Delivery) -> bool:
        """Whether the database takes `d`'s row: an event too large for it would fail the
        transaction of every write it shares."""
        return self.budget.fits(ROW_BYTES, *_sized(d))

    async def close(self) -> None:
        """Let the writer finish what is queued (for a while), then give back the held
        connections (later uses check connections out as usual)."""
        await self.writer.close()
        await self._reader.close()

    # --- writing --------------------------------------------------------------------------

    async def append(self, deliveries: Sequence[Delivery]) -> None:
        """Write rows in their own transaction (possibly shared with other writes)."""
        if not deliveries:
            return
        now = utcnow()
        await self.writer.write(None, [_row(d, now) for d in deliveries])

    async def write_with(self, op: Write, deliveries: Sequence[Delivery]) -> None:
        """Another table's write and the rows announcing it, in one transaction."""
        now = utcnow()
        await self.writer.write(op, [_row(d, now) for d in deliveries])

    # --- dispatching ----------------------------------------------------------------------

    async def _read(self, statement: Any, params: dict[str, Any]) -> list[Claimed]:
        for attempt in (1, 2):
            try:
                async with self._reader.use() as conn:
                    return [Claimed(*row) for row in (await conn.execute(statement, params))]
            except DBAPIError as exc:
                if attempt == 2 or not disconnected(exc):
                    raise
        raise AssertionError("unreachable")

    async def pending(self, limit: int, exclude: Sequence[str] = ()) -> list[Claimed]:
        """The oldest pending rows, lanes in `exclude` left out."""
        c = _T.c
        q = select(*(c[name] for name in _CLAIMED)).where(c.status == PENDING)
        if exclude:
            q = q.where(c.lane.not_in(list(exclude)))
        q = q.order_by(c.seq).limit(limit)
        async with self._sessions() as s:
            return [Claimed(*row) for row in (await s.execute(q)).all()]

    async def pending_after(self, after: int, limit: int) -> list[Claimed]:
        """Pending rows with `seq` above `after`, oldest first."""
        return await self._read(_PENDING_AFTER, {"after": after, "limit": limit})

    async def lane_pending(
        self, instance_id: str, lane: str, after: int, limit: int
    ) -> list[Claimed]:
        """One lane's pending rows with `seq` above `after`, oldest first."""
        params = {"instance_id": instance_id, "lane": lane, "after": after, "limit": limit}
        return await self._read(_LANE_PENDING, params)

    def on_rewind(self, callback: Rewound) -> None:
        """Call `callback` after rows were put back in the queue (`redeliver`)."""
        self._rewound.append(callback)

    async def record(self, outcomes: Sequence[Outcome]) -> None:
        """Store the outcomes of delivery attempts; delivered rows in one statement."""
        if not outcomes:
            return
        now = utcnow()
        done = [o.seq for o in outcomes if o.status == DELIVERED and o.attempts == 1]

        async def op(s: AsyncSession) -> None:
            if done:
                await s.execute(_DELIVERED_FIRST_TIME, {"seqs": done, "now": now})
            for o in outcomes:
                if o.status == DELIVERED and o.attempts == 1:
                    continue
                values: dict[str, Any] = {
                    "status": o.status,
                    "attempts": o.attempts,
                    "last_code": o.code,
                    "last_error": None if o.error is None else o.error[:ERROR_CHARS],
                }
                if o.next_at is not None:
                    values["next_at"] = o.next_at
                if o.status != PENDING:
                    values["done_at"] = now
                await s.execute(_T.update().where(_T.c.seq == o.seq).values(**values))

        await self.writer.write(op, [])

    async def prune(self, delivered_before: datetime, dead_before: datetime) -> int:
        async with self._sessions.begin() as s:
            result = await s.execute(
                delete(OutboxRow).where(
                    or_(
                        (OutboxRow.status == DELIVERED) & (OutboxRow.done_at < delivered_before),
                        (OutboxRow.status == DEAD) & (OutboxRow.done_at < dead_before),
                    )
                )
            )
            return int(getattr(result, "rowcount", 0) or 0)

    # --- inspection and replay ------------------------------------------------------------

    async def recent(
        self, instance_id: str, limit: int, status: str | None = None
    ) -> list[OutboxRow]:
        q = select(OutboxRow).where(OutboxRow.instance_id == instance_id)
        if status is not None:
            q = q.where(OutboxRow.status == status)
        async with self._sessions() as s:
            return list((await s.scalars(q.order_by(OutboxRow.seq.desc()).limit(limit))).all())

    async def redeliver(
        self, instance_id: str, since: datetime | None, after_id: str | None
    ) -> int:
        """Put an instance's rows back in the queue from a time or an event id on."""
        q = update(OutboxRow).where(OutboxRow.instance_id == instance_id)
        if since is not None:
            q = q.where(OutboxRow.created_at >= since)
        if after_id is not None:
            q = q.where(OutboxRow.event_id >= after_id)
        q = q.where(OutboxRow.status != PENDING).values(
            status=PENDING, attempts=0, next_at=utcnow(), done_at=None, last_error=None
        )
        async with self._sessions.begin() as s:
            result = await s.execute(q)
            count = int(getattr(result, "rowcount", 0) or 0)
        if count:
            for callback in self._rewound:
                callback()
        return count

    async def counts(self) -> dict[str, int]:
        async with self._sessions() as s:
            rows = await s.execute(
                select(OutboxRow.status, func.count()).group_by(OutboxRow.status)
            )
            return {status: int(n) for status, n in rows}
