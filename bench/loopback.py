"""Pieces the loopback benches share: CPU time, the event loop, a free port, the app running in
the bench's process on a fresh database with an API client, sim instances to open, a webhook
receiver process that records what arrived until SIGTERM, and the median of several runs."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

API_KEY = "bench-global-key-0123456789abcdef"
T = TypeVar("T")


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


async def wait_port(port: int, what: str = "receiver") -> None:
    """Until something listens on 127.0.0.1:`port` (10 s at most)."""
    for _ in range(200):
        try:
            _, w = await asyncio.open_connection("127.0.0.1", port)
            w.close()
            return
        except OSError:
            await asyncio.sleep(0.05)
    raise RuntimeError(f"{what} did not start")


@asynccontextmanager
async def running_app(
    tmp: Path, provider: str = "sqlite", uri: str | None = None, **settings: Any
) -> AsyncIterator[Any]:
    """The app with its lifespan running in this process, its data directory in `tmp`, on a
    fresh database (on a server at `uri`: the database wagate_bench, dropped and created)."""
    from tests.conftest import _admin

    from wagate.app import Overrides, build_app
    from wagate.config import load_settings

    loaded = load_settings(
        api_key=API_KEY,
        data_dir=tmp / "data",
        database_provider=provider,
        database_uri=uri,
        log_level="WARNING",
        **settings,
    )
    if uri:
        await _admin(provider, uri, "drop", "wagate_bench")
        await _admin(provider, uri, "create", "wagate_bench")
        loaded = loaded.model_copy(
            update={"database_uri": uri.rsplit("/", 1)[0] + "/wagate_bench"}
        )
    app = build_app(loaded, Overrides())
    ctx = app.router.lifespan_context(app)
    await ctx.__aenter__()
    try:
        yield app
    finally:
        await ctx.__aexit__(None, None, None)


@asynccontextmanager
async def api_client(app: Any, **options: Any) -> AsyncIterator[Any]:
    """An HTTP client of the app in this process, with the global API key (`options` go to
    httpx2.AsyncClient, e.g. timeout)."""
    import httpx2

    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(
        transport=transport, base_url="http://bench", headers={"apikey": API_KEY}, **options
    ) as c:
        yield c


async def create_instances(c: Any, names: list[str]) -> dict[str, str]:
    """Create a sim instance of each name; their instance ids by name."""
    ids: dict[str, str] = {}
    for name in names:
        r = await c.post(
            "/instance/create", json={"instanceName": name, "integration": "WHATSAPP-BAILEYS"}
        )
        ids[name] = r.json()["instance"]["instanceId"]
    return ids


async def open_instance(c: Any, name: str, number: str, **create: Any) -> None:
    """Create a sim instance (with the `create` body's extra fields), connect it and pair it
    with the account `number`."""
    body = {"instanceName": name, "integration": "WHATSAPP-BAILEYS", **create}
    assert (await c.post("/instance/create", json=body)).status_code == 201
    await c.get(f"/instance/connect/{name}")
    r = await c.post(f"/sim/{name}/scan", json={"number": number})
    assert r.json()["state"] == "open", r.text


def start_receiver(script: str, port: int, out: Path) -> subprocess.Popen[bytes]:
    """`script --serve-receiver PORT OUT` in a child process (the bench's own receiver)."""
    return subprocess.Popen([sys.executable, script, "--serve-receiver", str(port), str(out)])


async def with_receiver(
    script: str,
    provider: str,
    uri: str | None,
    run: Callable[[Any, int], Awaitable[T]],
    prefix: str,
    **settings: Any,
) -> tuple[T, list[Any]]:
    """`run(app, port)` against the running app (`running_app`), with `script`'s webhook
    receiver listening on `port` in a child process (`script --serve-receiver PORT OUT`: see
    `run_or_serve`); returns what `run` returned and the rows the receiver recorded."""
    import orjson

    port = free_port()
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        out = Path(tmp) / "received.json"
        receiver = start_receiver(script, port, out)
        try:
            async with running_app(Path(tmp), provider, uri, **settings) as app:
                await wait_port(port)
                result = await run(app, port)
        finally:
            receiver.send_signal(signal.SIGTERM)
            receiver.wait(30)
        arrivals: list[Any] = orjson.loads(out.read_bytes())
    return result, arrivals


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


def median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Each numeric figure as the median of the runs (the runs themselves kept alongside)."""

    def merge(values: list[Any]) -> Any:
        first = values[0]
        if isinstance(first, dict):
            return {k: merge([v[k] for v in values]) for k in first}
        if isinstance(first, bool) or not isinstance(first, int | float):
            return first
        return statistics.median(values)

    return {**merge(runs), "runs": runs}


def run_or_serve(
    args: argparse.Namespace,
    row: Callable[[dict[str, Any], float], Any],
    measure: Callable[[str, str | None, argparse.Namespace], Coroutine[Any, Any, Any]],
) -> int:
    """The rest of a loopback bench's main once its arguments are checked: as the receiver
    child (--serve-receiver), record `row` of each body; else measure every database and
    print the results as JSON."""
    if args.serve_receiver:
        port, out = args.serve_receiver
        serve_receiver(int(port), out, row)
        return 0
    print(json.dumps(per_database(args, measure, median_of), indent=2))
    return 0
