"""The event outbox and the event-sink configs: models and every SQL the events layer runs.

An outbox row is one delivery of one event to one destination (the instance's webhook, the
global webhook, a broker). Rows are written in the same transaction as the state they report,
claimed by the dispatcher in order per lane, and pruned once delivered and old.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

import orjson
import structlog
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
    or_,
    select,
    text,
    update,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from wagate.core.ports import StatusSnapshot
from wagate.store.db import PACKET_MARGIN, literal_bytes
from wagate.store.models import LONG_TEXT, Base, Instance, Webhook, new_cuid, utcnow
from wagate.store.repos import status_values

_log = structlog.get_logger("wagate.events")
PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"
IDLE_PING_SECONDS = 10.0
CLOSE_WAIT_SECONDS = 5.0
_SEQ = BigInteger().with_variant(Integer(), "sqlite")
ERROR_CHARS = 2_000
"""A delivery error is kept this long (a sink's exception may quote a whole body)."""

# --- how large an outbox row MySQL/MariaDB takes ---------------------------------------------
#
# Its columns are LONGTEXT (4 GiB), so the bound is the server's max_allowed_packet (see
# db.literal_bytes). PostgreSQL and SQLite have no such bound short of a gigabyte.
FALLBACK_PACKET = 1 << 20
"""max_allowed_packet assumed until the server's was read: the lowest default of MySQL and
MariaDB releases (1 MiB; now 16 MiB on MariaDB, 64 MiB on MySQL 8)."""
ROW_BYTES = 4_096
"""An outbox INSERT without its target, headers, secret and payload: the statement's text,
the ids, the instance name (255 characters, escaped), the lane and the dates."""
ROW_ALLOWANCE = 8_192
"""Room left for the rest of the row when announcing how large a payload may be: a usual
target URL, headers and secret fit in what ROW_BYTES does not use."""


def row_bytes(d: Delivery) -> int:
    """How large the INSERT of `d`'s row is on MySQL/MariaDB (an upper bound)."""
    headers = None if d.headers is None else json.dumps(d.headers)
    return ROW_BYTES + sum(map(literal_bytes, (d.target, headers, d.secret, d.payload)))


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


class TransportConfig(Base):
    """Per-instance config of websocket / rabbitmq / nats (Evolution's `{enabled, events}`)."""

    __tablename__ = "event_transports"
    __table_args__ = (UniqueConstraint("instance_id", "transport"),)

    id: Mapped[str] = mapped_column(String(30), primary_key=True, default=new_cuid)
    instance_id: Mapped[str] = mapped_column(
        ForeignKey("instances.id", ondelete="CASCADE"), index=True
    )
    transport: Mapped[str] = mapped_column(String(16))
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class Proxy(Base):
    __tablename__ = "proxies"

    id: Mapped[str] = mapped_column(String(30), primary_key=True, default=new_cuid)
    instance_id: Mapped[str] = mapped_column(
        ForeignKey("instances.id", ondelete="CASCADE"), unique=True
    )
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    host: Mapped[str] = mapped_column(String(255), default="")
    port: Mapped[str] = mapped_column(String(16), default="")
    protocol: Mapped[str] = mapped_column(String(16), default="")
    username: Mapped[str] = mapped_column(Text, default="")
    password: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


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


Write = Callable[[AsyncSession], Awaitable[None]]
Rewound = Callable[[], None]


class _Held:
    """One connection kept checked out for one user at a time: the pool's pre-ping and its
    reset on return cost a round trip each, per checkout. A connection idle for a while is
    pinged before use, any error drops it (the next use opens a fresh one); once closed, each
    use checks one out of the pool as usual."""

    def __init__(self, engine: AsyncEngine, *, autocommit: bool) -> None:
        self._engine = engine
        self._autocommit = autocommit
        self._conn: AsyncConnection | None = None
        self._lock = asyncio.Lock()
        self._closed = False
        self._used = 0.0

    async def _open(self) -> AsyncConnection:
        conn = await self._engine.connect()
        if self._autocommit:
            try:
                await conn.execution_options(isolation_level="AUTOCOMMIT")
            except BaseException:
                # Cancelled (the dispatcher stopping) or failed half-way: the connection is
                # nobody's yet, and left checked out it would only be reclaimed by the
                # garbage collector, warning, much later.
                await _to_completion(_discard(conn))
                raise
        return conn

    @asynccontextmanager
    async def use(self) -> AsyncIterator[AsyncConnection]:
        async with self._lock:
            if self._closed:
                conn = await self._open()
                try:
                    yield conn
                finally:
                    await _to_completion(conn.close())
                return
            now = time.monotonic()
            if self._conn is not None and now - self._used > IDLE_PING_SECONDS:
                try:
                    await self._conn.exec_driver_sql("SELECT 1")
                    if not self._autocommit:
                        await self._conn.rollback()
                except Exception:
                    await self._drop()
            if self._conn is None:
                self._conn = await self._open()
            try:
                yield self._conn
            except BaseException:
                await self._drop()
                raise
            finally:
                self._used = time.monotonic()

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await _to_completion(_discard(conn))

    async def close(self) -> None:
        async with self._lock:
            self._closed = True
            await self._drop()


async def _discard(conn: AsyncConnection) -> None:
    """Invalidate and close a connection in an unknown state (errors ignored: it is gone)."""
    for step in (conn.invalidate, conn.close):
        try:
            await step()
        except Exception:
            pass


async def _to_completion(cleanup: Coroutine[Any, Any, None]) -> None:
    """Run `cleanup` to its end even if the caller is cancelled meanwhile; the cancellation
    is raised once it is done. A close abandoned half-way leaves its connection checked out
    of the pool."""
    task = asyncio.get_running_loop().create_task(cleanup)
    interrupted: asyncio.CancelledError | None = None
    while not task.done():
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError as exc:
            if task.done():
                break
            interrupted = exc
    if interrupted is not None:
        raise interrupted
    task.result()


def _disconnected(exc: BaseException) -> bool:
    """The database connection broke (worth one more try on a fresh one)."""
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


@dataclass(slots=True)
class _Queued:
    """A write waiting for the group writer: its own statements, then its outbox rows."""

    op: Write | None
    rows: list[dict[str, Any]]
    done: asyncio.Future[None]


_OneRow = TypeVar("_OneRow", Webhook, Proxy)


class OutboxStore:
    """The outbox and sink-config tables over one async sessionmaker.

    Outbox writes go through one group-commit writer: the writes that queue up while a
    transaction runs are committed together in the next one (each still all-or-nothing; a
    failing group is retried write by write so one bad write fails alone). Concurrent
    producers then cost one commit per group, and SQLite never sees two outbox writers.
    A group runs its writes' own statements in order, then inserts all their outbox rows,
    in the same order, with one statement.

    The writer is also why the dispatcher may read new rows with a cursor (`pending_after`):
    rows are committed in `seq` order, because no two outbox transactions overlap."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._queued: list[_Queued] = []
        self._flusher: asyncio.Task[None] | None = None
        self._rewound: list[Rewound] = []
        engine: AsyncEngine = sessions.kw["bind"]
        self._engine = engine
        self._writer = _Held(engine, autocommit=False)  # the group writer's
        self._reader = _Held(engine, autocommit=True)  # the dispatcher's reads
        self.packet: int | None = (
            FALLBACK_PACKET if engine.dialect.name in ("mysql", "mariadb") else None
        )
        """The largest statement the database takes (MySQL's max_allowed_packet); None: no
        bound that an event could reach (PostgreSQL, SQLite)."""

    async def read_limits(self) -> None:
        """Read the server's max_allowed_packet (MySQL/MariaDB; start-up). If it cannot be
        read, the lowest default stays assumed (logged)."""
        if self.packet is None:
            return
        try:
            async with self._engine.connect() as conn:
                value = (await conn.execute(text("SELECT @@max_allowed_packet"))).scalar_one()
            self.packet = int(value)
        except Exception as exc:
            _log.warning(
                "max_allowed_packet not read; assuming the lowest default",
                packet=self.packet,
                error=repr(exc),
            )
            return
        if self.packet < 1_048_576:
            _log.warning(
                "max_allowed_packet is below 1 MiB: the driver's batched inserts may not fit",
                packet=self.packet,
            )

    @property
    def payload_room(self) -> int | None:
        """The largest payload (bytes, as a MySQL literal) an outbox row with a usual target
        keeps; None: no limit."""
        if self.packet is None:
            return None
        return max(self.packet - PACKET_MARGIN - ROW_ALLOWANCE, 0)

    def fits(self, d: Delivery) -> bool:
        """Whether the database takes `d`'s row: an event too large for it would fail the
        transaction of every write it shares. Costs nothing without a limit, and for the
        usual event."""
        if self.packet is None:
            return True
        limit = self.packet - PACKET_MARGIN
        try:  # JSON as json.dumps writes it, escaped: at most 4 times orjson's size
            headers = 4 if d.headers is None else 4 * len(orjson.dumps(d.headers)) + 2
        except TypeError:  # what orjson does not write (a huge int)
            return row_bytes(d) <= limit
        chars = len(d.payload) + len(d.target) + len(d.secret or "")
        if ROW_BYTES + headers + 4 * chars + 8 <= limit:  # quotes, or NULL for no secret
            return True  # even if each character took 4 bytes (an escaped one takes 2)
        return row_bytes(d) <= limit

    async def close(self) -> None:
        """Let the writer finish what is queued (for a while), then give back the held
        connections (later uses check connections out as usual)."""
        flusher = self._flusher
        if flusher is not None and not flusher.done():
            await asyncio.wait([flusher], timeout=CLOSE_WAIT_SECONDS)
        await self._writer.close()
        await self._reader.close()

    # --- writing --------------------------------------------------------------------------

    async def _write(self, op: Write | None, rows: list[dict[str, Any]]) -> None:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queued.append(_Queued(op, rows, fut))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(
                self._flush(), name="outbox:writer"
            )
        await fut

    async def _flush(self) -> None:
        while self._queued:
            group, self._queued = self._queued, []
            try:
                await self._commit(group)
            except Exception as exc:
                if len(group) == 1:
                    _settle(group[0].done, exc)
                    continue
                for one in group:  # isolate the failing write
                    try:
                        await self._commit([one])
                    except Exception as failed:
                        _settle(one.done, failed)
                    else:
                        _settle(one.done, None)
            else:
                for one in group:
                    _settle(one.done, None)

    async def _commit(self, group: list[_Queued]) -> None:
        rows = [row for one in group for row in one.rows]
        async with (
            self._writer.use() as conn,
            AsyncSession(bind=conn, expire_on_commit=False) as s,
            s.begin(),
        ):
            for one in group:
                if one.op is not None:
                    await one.op(s)
            if rows:
                await s.execute(_INSERT, rows)

    async def _read(self, statement: Any, params: dict[str, Any]) -> list[Claimed]:
        for attempt in (1, 2):
            try:
                async with self._reader.use() as conn:
                    return [Claimed(*row) for row in (await conn.execute(statement, params))]
            except DBAPIError as exc:
                if attempt == 2 or not _disconnected(exc):
                    raise
        raise AssertionError("unreachable")

    async def append(self, deliveries: Sequence[Delivery]) -> None:
        """Write rows in their own transaction (possibly shared with other writes)."""
        if not deliveries:
            return
        now = utcnow()
        await self._write(None, [_row(d, now) for d in deliveries])

    async def save_status_with(
        self, instance_id: str, snap: StatusSnapshot, deliveries: Sequence[Delivery]
    ) -> None:
        """The instance's status row and the rows announcing it, in one transaction."""
        now = utcnow()
        values = status_values(snap)

        async def op(s: AsyncSession) -> None:
            await s.execute(update(Instance).where(Instance.id == instance_id).values(**values))

        await self._write(op, [_row(d, now) for d in deliveries])

    async def write_with(self, op: Write, deliveries: Sequence[Delivery]) -> None:
        """Another table's write and the rows announcing it, in one transaction."""
        now = utcnow()
        await self._write(op, [_row(d, now) for d in deliveries])

    # --- dispatching ----------------------------------------------------------------------

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

        await self._write(op, [])

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
        from sqlalchemy import func

        async with self._sessions() as s:
            rows = await s.execute(
                select(OutboxRow.status, func.count()).group_by(OutboxRow.status)
            )
            return {status: int(n) for status, n in rows}

    # --- sink configs ---------------------------------------------------------------------

    async def webhooks(self, instance_id: str | None = None) -> list[Webhook]:
        q = select(Webhook)
        if instance_id is not None:
            q = q.where(Webhook.instance_id == instance_id)
        async with self._sessions() as s:
            return list((await s.scalars(q)).all())

    async def set_webhook(self, instance_id: str, values: dict[str, Any]) -> Webhook:
        return await self._set_one(Webhook, instance_id, values)

    async def _set_one(
        self, model: type[_OneRow], instance_id: str, values: dict[str, Any]
    ) -> _OneRow:
        """Insert or update the instance's single row of `model` (webhook, proxy)."""
        async with self._sessions.begin() as s:
            row = await s.scalar(select(model).where(model.instance_id == instance_id))
            if row is None:
                row = model(instance_id=instance_id, **values)
                s.add(row)
            else:
                for key, value in values.items():
                    setattr(row, key, value)
                row.updated_at = utcnow()
            await s.flush()
            await s.refresh(row)
            return row

    async def transports(
        self, instance_id: str | None = None, transport: str | None = None
    ) -> list[TransportConfig]:
        q = select(TransportConfig)
        if instance_id is not None:
            q = q.where(TransportConfig.instance_id == instance_id)
        if transport is not None:
            q = q.where(TransportConfig.transport == transport)
        async with self._sessions() as s:
            return list((await s.scalars(q)).all())

    async def set_transport(
        self, instance_id: str, transport: str, enabled: bool, events: list[str]
    ) -> TransportConfig:
        async with self._sessions.begin() as s:
            row = await s.scalar(
                select(TransportConfig).where(
                    TransportConfig.instance_id == instance_id,
                    TransportConfig.transport == transport,
                )
            )
            if row is None:
                row = TransportConfig(
                    instance_id=instance_id, transport=transport, enabled=enabled, events=events
                )
                s.add(row)
            else:
                row.enabled, row.events, row.updated_at = enabled, events, utcnow()
            await s.flush()
            await s.refresh(row)
            return row

    async def get_proxy(self, instance_id: str) -> Proxy | None:
        async with self._sessions() as s:
            return await s.scalar(select(Proxy).where(Proxy.instance_id == instance_id))

    async def set_proxy(self, instance_id: str, values: dict[str, Any]) -> Proxy:
        return await self._set_one(Proxy, instance_id, values)

    async def forget_configs(self, instance_id: str) -> None:
        """Drop the instance's sink configs and proxy (its outbox rows stay until pruned)."""
        async with self._sessions.begin() as s:
            for model in (TransportConfig, Proxy):
                await s.execute(delete(model).where(model.instance_id == instance_id))


def _settle(fut: asyncio.Future[None], exc: BaseException | None) -> None:
    if fut.done():
        return
    if exc is None:
        fut.set_result(None)
    else:
        fut.set_exception(exc)


def retention(hours: float) -> datetime:
    return utcnow() - timedelta(hours=hours)
