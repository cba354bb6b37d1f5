"""Pieces the loopback benches share: CPU time, the event loop, a free port, and a webhook
receiver process that records what arrived until SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import signal
import socket
import sys
from collections.abc import Callable, Coroutine
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


def add_common_args(ap: argparse.ArgumentParser) -> None:
    """The options every loopback bench takes (receiver mode, databases, runs, loop)."""
    ap.add_argument("--serve-receiver", nargs=2, metavar=("PORT", "OUT"))
    ap.add_argument("--db", default="sqlite,postgresql")
    ap.add_argument("--runs", type=int, default=1, help="report the median of N runs")
    ap.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop")
    ap.add_argument(
        "--pg-uri",
        default=os.environ.get("WAGATE_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres"),
    )


DATABASES = ("sqlite", "postgresql")


def check_common_args(ap: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse (exit 2) what `add_common_args` accepts but cannot run: no run, or an unknown
    database."""
    if args.runs < 1:
        ap.error("--runs must be at least 1")
    providers = args.db.split(",")
    if not all(p in DATABASES for p in providers):
        ap.error(f"--db takes a comma-separated list of {', '.join(DATABASES)}; got {args.db!r}")


def per_database(
    args: argparse.Namespace,
    measure: Callable[[str, str | None, argparse.Namespace], Coroutine[Any, Any, Any]],
    median_of: Callable[[list[Any]], Any],
) -> list[Any]:
    """Run `measure` --runs times on each database of --db (PostgreSQL skipped when absent),
    keeping the median run of each."""
    results = []
    for provider in args.db.split(","):
        uri = None
        if provider == "postgresql":
            try:
                socket.create_connection(("127.0.0.1", 5432), 0.5).close()
            except OSError:
                print("PostgreSQL is not running on 127.0.0.1:5432; skipped", file=sys.stderr)
                continue
            uri = args.pg_uri
        runs = [run_loop(measure(provider, uri, args), args.loop) for _ in range(args.runs)]
        results.append(median_of(runs) if len(runs) > 1 else runs[0])
    return results
