"""The dispatcher: delivers outbox rows at least once, in order per lane, with backoff.

A lane is one instance's stream to one destination (its webhook, the global webhook, a broker).
Each lane is delivered by at most one worker at a time, strictly in `seq` order; a failing head
blocks only its own lane until its retry is due. Memory stays bounded whatever the receivers
do: the dispatcher reads at most `batch` rows per round from the database and runs at most
`max_lanes` lane workers at once; everything else waits in the table.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import structlog

from wagate.core.tasks import spawn
from wagate.events.backoff import RetryPolicy
from wagate.events.sinks.base import Result, Sink
from wagate.store.models import utcnow
from wagate.store.outbox import DEAD, DELIVERED, PENDING, Claimed, OutboxStore, Outcome

_log = structlog.get_logger("wagate.events.dispatcher")
RECORD_EVERY = 100


class Dispatcher:
    def __init__(
        self,
        store: OutboxStore,
        sinks: Mapping[str, Sink],
        policy: RetryPolicy,
        *,
        batch: int = 500,
        max_lanes: int = 64,
        poll: float = 1.0,
        keep_delivered_hours: float = 24.0,
        keep_dead_hours: float = 168.0,
        prune_every: float = 600.0,
        rng: random.Random | None = None,
    ) -> None:
        self._store = store
        self._sinks = dict(sinks)
        self._policy = policy
        self._batch = batch
        self._max_lanes = max_lanes
        self._poll = poll
        self._keep_delivered = keep_delivered_hours
        self._keep_dead = keep_dead_hours
        self._prune_every = prune_every
        self._rng = rng or random.Random()
        self._wake = asyncio.Event()
        self._busy: set[str] = set()
        self._blocked: dict[str, datetime] = {}
        self._workers: set[asyncio.Task[Any]] = set()
        self._tasks: list[asyncio.Task[Any]] = []
        self.delivered = 0
        self.failed = 0

    def add_sink(self, name: str, sink: Sink) -> None:
        self._sinks[name] = sink

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._tasks = [
            spawn(self._run(), name="events:dispatcher"),
            spawn(self._prune_loop(), name="events:prune"),
        ]

    async def stop(self) -> None:
        """Stop rounds and lane workers; undelivered rows stay pending for the next start."""
        for task in [*self._tasks, *self._workers]:
            task.cancel()
        await asyncio.gather(*self._tasks, *self._workers, return_exceptions=True)
        for sink in self._sinks.values():
            try:
                await sink.close()
            except Exception as exc:
                _log.warning("sink close failed", error=repr(exc))

    @property
    def idle(self) -> bool:
        return not self._busy

    # --- rounds ---------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            launched, full = 0, False
            try:
                launched, full = await self._round()
            except Exception as exc:
                _log.error("dispatch round failed", error=repr(exc))
            if launched and full:
                continue
            await self._sleep()

    async def _sleep(self) -> None:
        timeout = self._poll
        if self._blocked:
            soonest = min(self._blocked.values())
            timeout = max(0.0, min(timeout, (soonest - utcnow()).total_seconds()))
        # asyncio.timeout, not wait_for: on 3.11 wait_for loses a cancel (stop()) that
        # arrives as the wake-up does, and this loop would then never end.
        try:
            async with asyncio.timeout(timeout):
                await self._wake.wait()
        except TimeoutError:
            pass

    async def _round(self) -> tuple[int, bool]:
        now = utcnow()
        for lane, until in list(self._blocked.items()):
            if until <= now:
                del self._blocked[lane]
        if len(self._busy) >= self._max_lanes:
            return 0, False
        exclude = [*self._busy, *self._blocked]
        rows = await self._store.pending(self._batch, exclude)
        lanes: dict[str, list[Claimed]] = {}
        for row in rows:
            lanes.setdefault(row.lane, []).append(row)
        launched = 0
        for lane, queue in lanes.items():
            if queue[0].next_at > now:
                self._blocked[lane] = queue[0].next_at
                continue
            if len(self._busy) >= self._max_lanes:
                break
            self._busy.add(lane)
            task = spawn(self._lane(lane, queue), name=f"events:lane:{lane}")
            self._workers.add(task)
            task.add_done_callback(self._workers.discard)
            launched += 1
        return launched, len(rows) >= self._batch

    # --- one lane -------------------------------------------------------------------------

    async def _lane(self, lane: str, queue: list[Claimed]) -> None:
        outcomes: list[Outcome] = []
        try:
            for row in queue:
                outcome = await self._attempt(row)
                outcomes.append(outcome)
                if outcome.status == PENDING:  # the head failed: the lane waits for its retry
                    assert outcome.next_at is not None
                    self._blocked[lane] = outcome.next_at
                    break
                if len(outcomes) >= RECORD_EVERY:
                    await self._record(outcomes)
                    outcomes = []
            await self._record(outcomes)
        finally:
            self._busy.discard(lane)
            self._wake.set()

    async def _attempt(self, row: Claimed) -> Outcome:
        sink = self._sinks.get(row.sink)
        if sink is None:
            result = Result(False, None, f"the {row.sink} sink is not enabled")
        else:
            try:
                result = await sink.deliver(row)
            except Exception as exc:  # a sink bug must not stop the lane
                result = Result(False, None, repr(exc))
        attempts = row.attempts + 1
        if result.ok:
            self.delivered += 1
            return Outcome(row.seq, DELIVERED, attempts, code=result.code)
        self.failed += 1
        if not result.retryable or self._policy.exhausted(attempts):
            _log.warning(
                "event dead-lettered",
                event_id=row.event_id,
                instance=row.instance_name,
                target=row.target,
                attempts=attempts,
                code=result.code,
                error=result.error,
            )
            return Outcome(row.seq, DEAD, attempts, code=result.code, error=result.error)
        delay = self._policy.delay(attempts, self._rng)
        _log.info(
            "event delivery failed; will retry",
            event_id=row.event_id,
            instance=row.instance_name,
            attempts=attempts,
            delay=round(delay, 2),
            error=result.error,
        )
        return Outcome(
            row.seq,
            PENDING,
            attempts,
            next_at=utcnow() + timedelta(seconds=delay),
            code=result.code,
            error=result.error,
        )

    async def _record(self, outcomes: list[Outcome]) -> None:
        """Write outcomes; if the database keeps failing, the rows stay pending (redelivered)."""
        delay = 0.05
        for attempt in range(5):
            try:
                await self._store.record(outcomes)
                return
            except Exception as exc:
                _log.warning("recording deliveries failed", attempt=attempt + 1, error=repr(exc))
                await asyncio.sleep(delay)
                delay *= 2

    # --- pruning --------------------------------------------------------------------------

    async def prune(self) -> int:
        now = utcnow()
        return await self._store.prune(
            now - timedelta(hours=self._keep_delivered), now - timedelta(hours=self._keep_dead)
        )

    async def _prune_loop(self) -> None:
        while True:
            try:
                removed = await self.prune()
                if removed:
                    _log.info("old deliveries pruned", rows=removed)
            except Exception as exc:
                _log.warning("pruning failed", error=repr(exc))
            await asyncio.sleep(self._prune_every)
