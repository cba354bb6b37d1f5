"""A readers/writer lock for the event loop of a neonize host.

Go keeps its client registry in maps with no mutex: a connect or a stop (writers) racing any
other call (readers) aborts the process. Every FFI call holds one side of this lock. Waiters
are served in arrival order, so a reader that arrives after a waiting writer waits for it and
a stream of reads cannot starve a stop.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class ReadWriteLock:
    """Many readers or one writer, first come first served."""

    def __init__(self) -> None:
        self._readers = 0
        self._writer = False
        self._waiting: deque[tuple[bool, asyncio.Future[None]]] = deque()

    @property
    def readers(self) -> int:
        return self._readers

    @property
    def writing(self) -> bool:
        return self._writer

    @asynccontextmanager
    async def read(self) -> AsyncIterator[None]:
        """Hold the shared side for the duration of the block."""
        await self._acquire(writer=False)
        try:
            yield
        finally:
            self._release(writer=False)

    @asynccontextmanager
    async def write(self) -> AsyncIterator[None]:
        """Hold the exclusive side for the duration of the block."""
        await self._acquire(writer=True)
        try:
            yield
        finally:
            self._release(writer=True)

    def _free_for(self, writer: bool) -> bool:
        return not self._writer and (not writer or self._readers == 0)

    def _grant(self, writer: bool) -> None:
        if writer:
            self._writer = True
        else:
            self._readers += 1

    async def _acquire(self, *, writer: bool) -> None:
        if not self._waiting and self._free_for(writer):
            self._grant(writer)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((writer, fut))
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():  # granted just before the cancel
                self._release(writer=writer)
            else:
                fut.cancel()
                self._dispatch()
            raise

    def _release(self, *, writer: bool) -> None:
        if writer:
            self._writer = False
        else:
            self._readers -= 1
        self._dispatch()

    def _dispatch(self) -> None:
        """Grant the lock to waiters at the head of the line while they fit."""
        while self._waiting:
            writer, fut = self._waiting[0]
            if fut.done():
                self._waiting.popleft()
                continue
            if not self._free_for(writer):
                return
            self._waiting.popleft()
            self._grant(writer)
            fut.set_result(None)
