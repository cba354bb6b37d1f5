"""The host's readers/writer lock: readers share, writers exclude, arrival order is kept."""

from __future__ import annotations

import asyncio

from wagate.engines.neonize.rwlock import ReadWriteLock


async def test_readers_share_and_a_writer_waits_for_them() -> None:
    lock, log = ReadWriteLock(), []
    gate = asyncio.Event()

    async def reader(n: int) -> None:
        async with lock.read():
            log.append(f"r{n}+")
            await gate.wait()
            log.append(f"r{n}-")

    async def writer() -> None:
        async with lock.write():
            log.append("w")
            assert lock.readers == 0 and lock.writing

    tasks = [asyncio.ensure_future(reader(1)), asyncio.ensure_future(reader(2))]
    await asyncio.sleep(0)
    assert lock.readers == 2
    w = asyncio.ensure_future(writer())
    late = asyncio.ensure_future(reader(3))  # arrives after the writer: waits for it
    await asyncio.sleep(0)
    assert log == ["r1+", "r2+"]
    gate.set()
    await asyncio.gather(*tasks, w, late)
    assert log.index("w") > log.index("r2-") and log.index("r3+") > log.index("w")
    assert lock.readers == 0 and not lock.writing


async def test_a_cancelled_waiter_does_not_block_the_line() -> None:
    lock = ReadWriteLock()
    async with lock.write():
        waiting = asyncio.ensure_future(lock.write().__aenter__())
        reader_done = asyncio.Event()

        async def reader() -> None:
            async with lock.read():
                reader_done.set()

        r = asyncio.ensure_future(reader())
        await asyncio.sleep(0)
        waiting.cancel()
        await asyncio.sleep(0)
    await asyncio.wait_for(r, 1)
    assert reader_done.is_set() and not lock.writing and lock.readers == 0


async def test_writers_are_exclusive() -> None:
    lock, inside, peak = ReadWriteLock(), 0, 0

    async def writer() -> None:
        nonlocal inside, peak
        async with lock.write():
            inside += 1
            peak = max(peak, inside)
            await asyncio.sleep(0)
            inside -= 1

    await asyncio.gather(*(writer() for _ in range(20)))
    assert peak == 1
