"""Pieces the loopback benches share: CPU time, the event loop, a free port, and a webhook
receiver process that records what arrived until SIGTERM."""

from __future__ import annotations

import asyncio
import resource
import signal
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def cpu_seconds() -> float:
    """User + system CPU time of this process (all its threads)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run_loop(coro: Any, loop: str) -> Any:
    if loop == "uvloop":
        import uvloop

        return uvloop.run(coro)
    return asyncio.run(coro)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve_receiver(port: int, out: str, row: Callable[[dict[str, Any], float], Any]) -> None:
    """Answer 200 to every POST until SIGTERM, then write `row(body, arrival wall time)` of
    each received body (rows that are None are left out) to `out` as JSON."""
    import orjson
    from tests.events.receiver import Receiver

    async def main() -> list[Any]:
        rec = Receiver(port=port)
        await rec.start()
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        await rec.stop()
        rows = (row(orjson.loads(r.body), r.wall) for r in rec.received)
        return [r for r in rows if r is not None]

    Path(out).write_bytes(orjson.dumps(run_loop(main(), "uvloop")))
