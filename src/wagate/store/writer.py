"""The group-commit writer: one transaction at a time, shared by the writes that queue up.

The writes that queue up while a transaction runs are committed together in the next one (each
still all-or-nothing; a failing group is retried write by write so one bad write fails alone).
Concurrent producers then cost one commit per group, and SQLite never sees two writers. A group
runs its writes' own statements in order, then inserts all their rows, in the same order, with
one statement.

Because no two of its transactions overlap, the rows it inserts are committed in the order of
their autoincrement key: a reader may follow the table with a cursor on it (the outbox's
dispatcher does).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from wagate.runtime.tasks import spawn
from wagate.store.held import HeldConnection

Write = Callable[[AsyncSession], Awaitable[None]]
"""Statements run in an open transaction (another table's rows, outcomes to record)."""
CLOSE_WAIT_SECONDS = 5.0


@dataclass(slots=True)
class _Queued:
    """A write waiting for its group: its own statements, then its rows."""

    op: Write | None
    rows: list[dict[str, Any]]
    done: asyncio.Future[None]


class GroupWriter:
    """Commits queued writes in groups, over one held connection; `insert` writes the rows."""

    def __init__(self, engine: AsyncEngine, insert: Insert) -> None:
        self._insert = insert
        self._queued: list[_Queued] = []
        self._flusher: asyncio.Task[None] | None = None
        self.connection = HeldConnection(engine, autocommit=False)

    async def write(self, op: Write | None, rows: list[dict[str, Any]]) -> None:
        """Run `op`, then insert `rows`, in one transaction (possibly shared with other
        writes). Raises what failed this write."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queued.append(_Queued(op, rows, fut))
        if self._flusher is None or self._flusher.done():
            self._flusher = spawn(self._flush(), "outbox:writer")
        await fut

    async def close(self) -> None:
        """Let the writer finish what is queued (for a while), then give back its connection
        (later writes check one out as usual)."""
        flusher = self._flusher
        if flusher is not None and not flusher.done():
            await asyncio.wait([flusher], timeout=CLOSE_WAIT_SECONDS)
        await self.connection.close()

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
            self.connection.use() as conn,
            AsyncSession(bind=conn, expire_on_commit=False) as s,
            s.begin(),
        ):
            for one in group:
                if one.op is not None:
                    await one.op(s)
            if rows:
                await s.execute(self._insert, rows)


def _settle(fut: asyncio.Future[None], exc: BaseException | None) -> None:
    if fut.done():
        return
    if exc is None:
        fut.set_result(None)
    else:
        fut.set_exception(exc)
