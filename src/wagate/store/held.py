"""A connection kept checked out across uses, for a hot path that runs one statement at a time
(the outbox's group writer and the dispatcher's reads)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from wagate.runtime.tasks import spawn

IDLE_PING_SECONDS = 10.0


class HeldConnection:
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
                await to_completion(discard(conn))
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
                    await to_completion(conn.close())
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
            await to_completion(discard(conn))

    async def close(self) -> None:
        async with self._lock:
            self._closed = True
            await self._drop()


async def discard(conn: AsyncConnection) -> None:
    """Invalidate and close a connection in an unknown state (errors ignored: it is gone)."""
    for step in (conn.invalidate, conn.close):
        try:
            await step()
        except Exception:
            pass


async def to_completion(cleanup: Coroutine[Any, Any, None]) -> None:
    """Run `cleanup` to its end even if the caller is cancelled meanwhile; the cancellation
    is raised once it is done. A close abandoned half-way leaves its connection checked out
    of the pool."""
    task = spawn(cleanup, "store:cleanup", awaited=True)
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


def disconnected(exc: BaseException) -> bool:
    """The database connection broke (worth one more try on a fresh one)."""
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)
