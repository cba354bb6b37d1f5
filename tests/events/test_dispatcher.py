"""The dispatcher over a real SQLite outbox and a scripted sink: order per lane when lanes
outgrow their share of memory or wait for a worker slot, retries that park a lane, replays
while lanes are busy, and outcomes the database would not take."""

from __future__ import annotations

import asyncio
import random
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from wagate.events import dispatcher as dispatcher_module
from wagate.events.backoff import RetryPolicy
from wagate.events.dispatcher import Dispatcher
from wagate.events.sinks.base import Result
from wagate.store.budget import PayloadBudget
from wagate.store.db import make_engine, make_sessionmaker
from wagate.store.models import Base
from wagate.store.outbox import Claimed, Delivery, Outbox

POLICY = RetryPolicy(initial=0.05, jitter=0.0, max_attempts=5)


class ScriptedSink:
    """Records every attempt per lane; `answer(row, attempt)` decides each outcome."""

    def __init__(self, answer: Callable[[Claimed, int], Result] | None = None) -> None:
        self.answer = answer
        self.got: dict[str, list[int]] = defaultdict(list)
        self.tries: dict[int, int] = defaultdict(int)
        self.rng = random.Random(7)

    async def deliver(self, row: Claimed) -> Result:
        self.tries[row.seq] += 1
        if self.rng.random() < 0.3:
            await asyncio.sleep(0)  # interleave the lanes
        result = self.answer(row, self.tries[row.seq]) if self.answer else Result(True, 200)
        if result.ok:
            self.got[row.lane].append(row.seq)
        return result

    async def close(self) -> None:
        return None


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Outbox]:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'outbox.db'}")
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    store = Outbox(make_sessionmaker(engine), PayloadBudget(None))
    try:
        yield store
    finally:
        await store.close()
        await engine.dispose()


def rows_for(lanes: int, per_lane: int) -> list[Delivery]:
    """`per_lane` events on each of `lanes` lanes (one instance each), interleaved."""
    out = []
    for k in range(per_lane):
        for lane in range(lanes):
            iid = f"inst-{lane}"
            out.append(
                Delivery(
                    f"{k:026d}",
                    iid,
                    iid,
                    "call",
                    f"{iid}|webhook|instance",
                    "webhook",
                    "instance",
                    "http://127.0.0.1:1/h",
                    f'{{"k":{k}}}',
                )  # fmt: skip
            )
    return out


async def appended(store: Outbox, rows: list[Delivery], chunk: int = 7) -> None:
    for i in range(0, len(rows), chunk):
        await store.append(rows[i : i + chunk])


async def settled(store: Outbox, d: Dispatcher, timeout: float = 10.0) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    while True:
        counts = await store.counts()
        if not counts.get("pending") and d.idle:
            return counts
        assert time.monotonic() < deadline, counts
        await asyncio.sleep(0.02)


def in_order(sink: ScriptedSink) -> None:
    """Each lane's rows first arrived in `seq` order (a repeat may follow, never precede)."""
    for lane, seqs in sink.got.items():
        first = list(dict.fromkeys(seqs))
        assert first == sorted(first), lane


async def test_lanes_beyond_their_memory_and_worker_slots_keep_their_order(
    store: Outbox,
) -> None:
    """Six lanes, two workers, three rows in memory per lane: every row once, in order."""
    sink = ScriptedSink()
    d = Dispatcher(store, {"webhook": sink}, POLICY, batch=8, max_lanes=2, lane_rows=3)
    await appended(store, rows_for(6, 10))
    d.start()
    try:
        producing = asyncio.create_task(appended(store, rows_for(6, 10)))
        d.wake()
        await producing
        d.wake()
        counts = await settled(store, d)
    finally:
        await d.stop()
    assert counts == {"delivered": 120}
    assert sorted(len(seqs) for seqs in sink.got.values()) == [20] * 6
    assert all(n == 1 for n in sink.tries.values())
    in_order(sink)


async def test_a_failing_head_parks_its_lane_and_the_others_go_on(store: Outbox) -> None:
    await appended(store, rows_for(3, 6))
    first_of_lane0 = 1
    sink = ScriptedSink(
        lambda row, attempt: (
            Result(False, 503, "HTTP 503")
            if row.seq == first_of_lane0 and attempt < 3
            else Result(True, 200)
        )
    )
    d = Dispatcher(store, {"webhook": sink}, POLICY, max_lanes=1, lane_rows=2)
    d.start()
    try:
        counts = await settled(store, d)
    finally:
        await d.stop()
    assert counts == {"delivered": 18}
    assert sink.tries[first_of_lane0] == 3
    assert sink.got["inst-0|webhook|instance"][0] == first_of_lane0
    in_order(sink)
    rows = await store.recent("inst-0", 100)
    assert [r.attempts for r in rows if r.seq == first_of_lane0] == [3]


async def test_a_replay_while_lanes_are_busy_delivers_again_in_order(store: Outbox) -> None:
    await appended(store, rows_for(2, 20))
    d = Dispatcher(store, {"webhook": ScriptedSink()}, POLICY, lane_rows=4)
    d.start()
    try:
        await settled(store, d)
        sink = ScriptedSink()
        d.add_sink("webhook", sink)
        await appended(store, rows_for(2, 20))
        d.wake()
        assert await store.redeliver("inst-1", None, None) >= 20
        counts = await settled(store, d)
    finally:
        await d.stop()
    assert counts == {"delivered": 80}
    # what went out before the replay was in order; then the lane went on from its oldest
    # row again: every old row once more, in order
    lane1 = sink.got["inst-1|webhook|instance"]
    before, replayed = lane1[: lane1.index(2)], lane1[lane1.index(2) :]
    assert before == sorted(before) and replayed == sorted(replayed)
    assert set(lane1) == {seq for seq in range(1, 81) if seq % 2 == 0}
    assert sink.got["inst-0|webhook|instance"] == list(range(41, 81, 2))


async def test_outcomes_the_database_refuses_are_delivered_again(
    store: Outbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dispatcher_module, "RECORD_RETRIES", 1)
    real = store.record
    refused = {"left": 2}

    async def flaky(outcomes: Any) -> None:
        if refused["left"]:
            refused["left"] -= 1
            raise ConnectionError("database went away")
        await real(outcomes)

    monkeypatch.setattr(store, "record", flaky)
    await appended(store, rows_for(2, 5))
    sink = ScriptedSink()
    d = Dispatcher(store, {"webhook": sink}, POLICY)
    d.start()
    try:
        counts = await settled(store, d)
    finally:
        await d.stop()
    assert counts == {"delivered": 10}
    assert set(sink.tries) == set(range(1, 11))
    assert max(sink.tries.values()) >= 2  # the refused ones went out again
    in_order(sink)


async def test_a_broken_held_connection_is_replaced(
    store: Outbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The writer's kept connection dies: a write after a pause pings it and opens a fresh
    one; a write right away fails once (its caller retries), and the next one goes through."""
    from wagate.store import held

    async def break_writer() -> None:
        async with store.writer.connection.use() as conn:
            raw = await conn.get_raw_connection()
        assert raw.driver_connection is not None
        await raw.driver_connection.close()

    await appended(store, rows_for(1, 1))
    await break_writer()
    monkeypatch.setattr(held, "IDLE_PING_SECONDS", 0.0)
    await appended(store, rows_for(1, 1))
    monkeypatch.setattr(held, "IDLE_PING_SECONDS", 3600.0)
    await break_writer()
    with pytest.raises(Exception):  # noqa: B017 - the driver's own error for a closed link
        await appended(store, rows_for(1, 1))
    await appended(store, rows_for(1, 1))
    assert await store.counts() == {"pending": 3}
