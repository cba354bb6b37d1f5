"""The dispatcher: delivers outbox rows at least once, in order per lane, with backoff.

A lane is one instance's stream to one destination (its webhook, the global webhook, a broker).
Each lane is delivered by at most one worker at a time, strictly in `seq` order; a failing head
blocks only its own lane until its retry is due.

Three kinds of task share the work:
- the reader follows the outbox with a cursor (rows are committed in `seq` order: the outbox
  has one writer) and hands each new row to its lane's worker, starting one when the lane has
  none;
- a lane worker lives while its lane has rows: it delivers them one after the other, and when
  its queue runs dry while the table holds more of its rows (rows it had no room for), it
  reads them itself (`lane_pending`);
- the recorder writes the outcomes of every lane in one transaction per turn (delivered rows
  in one statement), so the workers never wait for the database between two deliveries.

Memory stays bounded whatever the receivers do: at most `max_lanes` workers hold at most
`lane_rows` rows each; a lane beyond that, or one waiting for a retry, holds no row at all
(only where to read from again); the recorder's backlog is capped and the workers wait when it
is full. Whatever the dispatcher cannot account for (a replay, outcomes the database would not
take) makes it start over from the oldest pending row: a delivery may then be repeated, never
skipped.
"""

from __future__ import annotations

import asyncio
import heapq
import random
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog

from wagate.events.backoff import RetryPolicy
from wagate.events.sinks.base import Result, Sink
from wagate.runtime.tasks import spawn
from wagate.store.models import utcnow
from wagate.store.outbox import DEAD, DELIVERED, PENDING, Claimed, Outbox, Outcome

_log = structlog.get_logger("wagate.events.dispatcher")
LANE_ROWS = 100
RECORD_BACKLOG = 5000
RECORD_RETRIES = 5
STOP_FLUSH_SECONDS = 5.0


@dataclass(slots=True)
class _Lane:
    """A lane with a worker: its queued rows, and where its rows in the table continue."""

    name: str
    instance_id: str
    floor: int  # every pending row of the lane up to here is queued or handled
    queue: deque[Claimed] = field(default_factory=deque)
    more: bool = False  # the table may hold rows of the lane above `floor`
    dropped: bool = False  # the reader left out a row of the lane since the last refill
    stop: bool = False
    task: asyncio.Task[Any] | None = None


@dataclass(slots=True)
class _Parked:
    """A lane without a worker that has pending rows above `floor`: waiting for a worker slot
    (`until` None) or for its head's retry time."""

    instance_id: str
    floor: int
    until: datetime | None = None


class Dispatcher:
    def __init__(
        self,
        store: Outbox,
        sinks: Mapping[str, Sink],
        policy: RetryPolicy,
        *,
        batch: int = 500,
        max_lanes: int = 64,
        lane_rows: int = LANE_ROWS,
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
        self._lane_rows = max(1, lane_rows)
        self._poll = poll
        self._keep_delivered = keep_delivered_hours
        self._keep_dead = keep_dead_hours
        self._prune_every = prune_every
        self._rng = rng or random.Random()
        self._wake = asyncio.Event()
        self._cursor = 0
        self._restart = False
        self._lanes: dict[str, _Lane] = {}
        self._ahead: dict[str, int] = {}  # finished lanes whose rows went beyond the cursor
        self._parked: dict[str, _Parked] = {}
        self._waiting: deque[str] = deque()  # parked lanes whose turn came, first come first
        self._due: list[tuple[datetime, str]] = []  # heap of the parked lanes' retry times
        self._outcomes: list[Outcome] = []
        self._recorded = asyncio.Event()
        self._record_wake = asyncio.Event()
        self._recording = False
        self._tasks: list[asyncio.Task[Any]] = []
        self.delivered = 0
        self.failed = 0
        store.on_rewind(self.rewind)

    def add_sink(self, name: str, sink: Sink) -> None:
        self._sinks[name] = sink

    def wake(self) -> None:
        self._wake.set()

    def rewind(self) -> None:
        """Rows went back to pending behind the cursor: read from the oldest again."""
        self._restart = True
        self._wake.set()

    def start(self) -> None:
        self._tasks = [
            spawn(self._run(), name="events:dispatcher"),
            spawn(self._record_loop(), name="events:recorder"),
            spawn(self._prune_loop(), name="events:prune"),
        ]

    async def stop(self) -> None:
        """Stop reading and delivering, write the outcomes already known (for a while), close
        the sinks; undelivered rows stay pending for the next start."""
        reader, recorder, pruner = self._tasks or (None, None, None)
        workers = [lane.task for lane in self._lanes.values() if lane.task is not None]
        for task in (reader, pruner, *workers):
            if task is not None:
                task.cancel()
        await asyncio.gather(
            *(t for t in (reader, pruner, *workers) if t is not None), return_exceptions=True
        )
        if recorder is not None:
            try:
                async with asyncio.timeout(STOP_FLUSH_SECONDS):
                    await self._flushed()
            except TimeoutError:
                _log.warning("outcomes not written at stop; those rows will be sent again")
            recorder.cancel()
            await asyncio.gather(recorder, return_exceptions=True)
        for sink in self._sinks.values():
            try:
                await sink.close()
            except Exception as exc:
                _log.warning("sink close failed", error=repr(exc))

    @property
    def idle(self) -> bool:
        return not self._lanes and not self._outcomes and not self._recording

    # --- reading --------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            full = False
            try:
                if self._restart:
                    await self._start_over()
                self._resume_parked()
                full = await self._read()
            except Exception as exc:
                _log.error("dispatch round failed", error=repr(exc))
            if not full:
                await self._sleep()

    async def _sleep(self) -> None:
        timeout = self._poll
        if self._due:
            timeout = max(0.0, min(timeout, (self._due[0][0] - utcnow()).total_seconds()))
        # asyncio.timeout, not wait_for: on 3.11 wait_for loses a cancel (stop()) that
        # arrives as the wake-up does, and this loop would then never end.
        try:
            async with asyncio.timeout(timeout):
                await self._wake.wait()
        except TimeoutError:
            if self.idle and not self._parked:
                # nothing in hand and every outcome written: a cheap look at the whole queue
                self._cursor = 0
                self._ahead.clear()

    async def _read(self) -> bool:
        """Hand the rows above the cursor to their lanes; True when the page was full."""
        rows = await self._store.pending_after(self._cursor, self._batch)
        now = utcnow()
        taken = 0
        for row in rows:
            self._cursor = row.seq
            lane = self._lanes.get(row.lane)
            if lane is not None:
                if row.seq <= lane.floor:
                    continue
                if lane.more or len(lane.queue) >= self._lane_rows:
                    lane.more = lane.dropped = True
                    continue
                lane.queue.append(row)
                lane.floor = row.seq
                taken += 1
                continue
            if row.lane in self._parked:
                continue
            ahead = self._ahead.pop(row.lane, None)
            if ahead is not None and row.seq <= ahead:
                self._ahead[row.lane] = ahead  # its worker delivered it already
                continue
            if row.next_at > now:
                self._park_lane(row.lane, _Parked(row.instance_id, row.seq - 1, row.next_at))
            elif len(self._lanes) < self._max_lanes:
                self._launch(_Lane(row.lane, row.instance_id, row.seq, deque([row])))
                taken += 1
            else:
                self._park_lane(row.lane, _Parked(row.instance_id, row.seq - 1))
        if self._ahead:
            self._ahead = {k: v for k, v in self._ahead.items() if v > self._cursor}
        # a full page that nobody could take waits for a worker to make room
        return len(rows) >= self._batch and taken > 0

    def _park_lane(self, name: str, parked: _Parked) -> None:
        self._parked[name] = parked
        if parked.until is None:
            self._waiting.append(name)
        else:
            heapq.heappush(self._due, (parked.until, name))

    def _resume_parked(self) -> None:
        """Give free worker slots to parked lanes whose turn came, first come first."""
        if self._due:
            now = utcnow()
            while self._due and self._due[0][0] <= now:
                until, name = heapq.heappop(self._due)
                parked = self._parked.get(name)
                if parked is not None and parked.until == until:
                    parked.until = None
                    self._waiting.append(name)
        while self._waiting and len(self._lanes) < self._max_lanes:
            name = self._waiting.popleft()
            parked = self._parked.pop(name, None)
            if parked is None or parked.until is not None:
                continue  # resumed already, or parked again since
            self._launch(_Lane(name, parked.instance_id, parked.floor, more=True))

    def _launch(self, lane: _Lane) -> None:
        self._lanes[lane.name] = lane
        lane.task = spawn(self._lane(lane), name=f"events:lane:{lane.name}")

    async def _start_over(self) -> None:
        """Let every worker finish its current row, write the outcomes, forget every lane and
        read from the oldest pending row."""
        self._restart = False
        for lane in self._lanes.values():
            lane.stop = True
        workers = [lane.task for lane in self._lanes.values() if lane.task is not None]
        await asyncio.gather(*workers, return_exceptions=True)
        await self._flushed()
        self._lanes.clear()
        self._ahead.clear()
        self._parked.clear()
        self._waiting.clear()
        self._due.clear()
        self._cursor = 0

    # --- one lane -------------------------------------------------------------------------

    async def _lane(self, lane: _Lane) -> None:
        try:
            while not lane.stop:
                if not lane.queue:
                    if not lane.more or not await self._refill(lane):
                        break
                    continue
                row = lane.queue[0]
                if row.next_at > utcnow():  # a retry not yet due: park the lane until then
                    await self._park(lane, row, row.next_at)
                    return
                outcome = await self._attempt(row)
                lane.queue.popleft()
                await self._note(outcome)
                if outcome.status == PENDING:  # the head failed: the lane waits for its retry
                    assert outcome.next_at is not None
                    await self._park(lane, row, outcome.next_at)
                    return
        finally:
            if self._lanes.get(lane.name) is lane:
                del self._lanes[lane.name]
                if lane.floor > self._cursor:  # refills read past the cursor
                    self._ahead[lane.name] = lane.floor
            self._wake.set()

    async def _refill(self, lane: _Lane) -> bool:
        """Read the lane's next rows from the table; False when it has none left."""
        await self._flushed()  # rows already delivered must not come back as pending
        # `more` stays set meanwhile: the reader leaves this lane's rows to the query
        lane.dropped = False
        rows = await self._store.lane_pending(
            lane.instance_id, lane.name, lane.floor, self._lane_rows
        )
        for row in rows:
            if row.seq > lane.floor:
                lane.queue.append(row)
                lane.floor = row.seq
        lane.more = len(rows) >= self._lane_rows or lane.dropped
        return bool(lane.queue) or lane.more

    async def _park(self, lane: _Lane, head: Claimed, until: datetime) -> None:
        """Free the worker slot; the lane's rows from `head` on are read again at `until`."""
        await self._flushed()
        if self._lanes.get(lane.name) is lane:
            del self._lanes[lane.name]
            self._park_lane(lane.name, _Parked(lane.instance_id, head.seq - 1, until))

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

    # --- recording ------------------------------------------------------------------------

    async def _note(self, outcome: Outcome) -> None:
        """Queue an outcome for the recorder; wait while its backlog is full."""
        self._outcomes.append(outcome)
        self._record_wake.set()
        while len(self._outcomes) >= RECORD_BACKLOG:
            await self._flushed()

    async def _flushed(self) -> None:
        """Return once every outcome queued so far was written (or given up on)."""
        while self._outcomes or self._recording:
            self._recorded.clear()
            self._record_wake.set()
            await self._recorded.wait()

    async def _record_loop(self) -> None:
        while True:
            if not self._outcomes:
                self._recorded.set()
                self._record_wake.clear()
                await self._record_wake.wait()
                continue
            batch, self._outcomes = self._outcomes, []
            self._recording = True
            try:
                await self._record(batch)
            finally:
                self._recording = False
            self._recorded.set()

    async def _record(self, outcomes: list[Outcome]) -> None:
        """Write outcomes; if the database keeps failing, the rows stay pending and the
        dispatcher starts over from the oldest (they are delivered again)."""
        delay = 0.05
        for attempt in range(RECORD_RETRIES):
            try:
                await self._store.record(outcomes)
                return
            except Exception as exc:
                _log.warning("recording deliveries failed", attempt=attempt + 1, error=repr(exc))
                await asyncio.sleep(delay)
                delay *= 2
        self.rewind()

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
