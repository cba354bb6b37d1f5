"""Time as a dependency: the real clock, and a virtual one that makes timer tests instant."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Awaitable, Callable
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds on a monotonic scale."""

    def wall(self) -> float:
        """Seconds since the epoch (for timestamps shown to people)."""

    async def sleep(self, seconds: float) -> None: ...


class RealClock:
    def now(self) -> float:
        return time.monotonic()

    def wall(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class VirtualClock:
    """A clock that moves only when told to. `advance()` wakes sleepers in deadline order and
    lets the event loop run what they schedule before moving on."""

    def __init__(self, start: float = 1_000.0, wall_start: float = 1_780_000_000.0) -> None:
        self._now = start
        self._wall_offset = wall_start - start
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self._now

    def wall(self) -> float:
        return self._now + self._wall_offset

    async def sleep(self, seconds: float) -> None:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + max(0.0, seconds), next(self._seq), fut))
        await fut

    def pending(self) -> int:
        return sum(1 for *_, f in self._sleepers if not f.done())

    def next_deadline(self) -> float | None:
        live = [d for d, _, f in self._sleepers if not f.done()]
        return min(live) if live else None

    async def advance(
        self,
        seconds: float,
        *,
        settle: int = 20,
        idle: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """Move time forward by `seconds`, firing every timer due on the way, each at its own
        deadline. After each one the loop runs `settle` rounds, then `idle()` if given (e.g.
        "until every worker is quiet", for work that waits on threads such as a database
        driver), so what a timer schedules is scheduled from the time it fired."""

        async def quiet() -> None:
            await _settle(settle)
            if idle is not None:
                await idle()

        target = self._now + seconds
        await quiet()
        while self._sleepers and self._sleepers[0][0] <= target:
            deadline, _, fut = heapq.heappop(self._sleepers)
            if fut.done():
                continue
            self._now = max(self._now, deadline)
            fut.set_result(None)
            await quiet()
        self._now = target
        await quiet()


async def _settle(rounds: int) -> None:
    for _ in range(rounds):
        await asyncio.sleep(0)
