"""Messages/s through the API and delivered as webhooks, between two sim instances.

The app runs in this process (its lifespan, a real database, the sim network, the message
pipeline, the outbox dispatcher and webhook sink); the webhook receiver is a separate process
on 127.0.0.1 that answers 200 and records when each `messages.upsert` arrived. `alice` sends
`--messages` texts to `bob` through POST /message/sendText with `--concurrency` requests in
flight; each message carries its send time, so the receiver gives send -> webhook latency.

Figures per database:
- api_per_s: 201 answers per second (each one a stored message and its send.message event);
- delivered_per_s: messages from the first send to the last messages.upsert webhook at bob;
- latency_ms: p50/p99/max of API call start -> webhook arrival at bob;
- cpu_us_per_message: user + system CPU time of this process (every thread) from the first send
  until the outbox drained, per message. It includes the in-process API client's share.

The event loop is uvloop, as `wagate serve` runs (`--loop asyncio` for the standard one); the
receiver runs on uvloop too.

Run: `.venv/bin/python bench/messaging.py [--db sqlite,postgresql] [--messages N] [--runs N]`.
With `--runs` > 1 each figure is the median of the runs. PostgreSQL is used when it answers on
127.0.0.1:5432 (`--pg-uri`). Prints JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import loopback  # noqa: E402
from loopback import cpu_seconds, free_port  # noqa: E402

API_KEY = "bench-global-key-0123456789abcdef"
BOB = "5511987650002"


def serve_receiver(port: int, out: str) -> None:
    """Answer 200 to every POST; record (message id, send time, arrival time)."""

    def row(body: dict[str, Any], wall: float) -> Any:
        if body["event"] != "messages.upsert":
            return None
        data = body["data"]
        return (data["key"]["id"], float(data["message"]["conversation"]), wall)

    loopback.serve_receiver(port, out, row)


def start_receiver(port: int, out: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, __file__, "--serve-receiver", str(port), str(out)])


async def wait_port(port: int) -> None:
    for _ in range(200):
        try:
            _, w = await asyncio.open_connection("127.0.0.1", port)
            w.close()
            return
        except OSError:
            await asyncio.sleep(0.05)
    raise RuntimeError("receiver did not start")


async def measure(provider: str, uri: str | None, args: argparse.Namespace) -> dict[str, Any]:
    from tests.conftest import _admin

    from wagate.app import Overrides, build_app
    from wagate.config import load_settings

    port = free_port()
    with tempfile.TemporaryDirectory(prefix="wagate-messaging-") as tmp:
        out = Path(tmp) / "received.json"
        receiver = start_receiver(port, out)
        settings = load_settings(
            api_key=API_KEY,
            data_dir=Path(tmp) / "data",
            database_provider=provider,
            database_uri=uri,
            log_level="WARNING",
            engine="sim",  # driven through the /sim routes
        )
        if uri:
            await _admin(provider, uri, "drop", "wagate_bench")
            await _admin(provider, uri, "create", "wagate_bench")
            settings = settings.model_copy(
                update={"database_uri": uri.rsplit("/", 1)[0] + "/wagate_bench"}
            )
        app = build_app(settings, Overrides())
        ctx = app.router.lifespan_context(app)
        await ctx.__aenter__()
        try:
            await wait_port(port)
            result = await _run(app, port, args)
        finally:
            await ctx.__aexit__(None, None, None)
            receiver.send_signal(signal.SIGTERM)
            receiver.wait(30)
        import orjson

        arrivals = orjson.loads(out.read_bytes())
    return _figures(provider, result, arrivals, args.messages)


async def _run(app: Any, port: int, args: argparse.Namespace) -> dict[str, Any]:
    import httpx2

    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(
        transport=transport, base_url="http://bench", headers={"apikey": API_KEY}, timeout=60
    ) as c:
        for name, number, hook in (("alice", "5511987650001", None), ("bob", BOB, port)):
            body: dict[str, Any] = {"instanceName": name, "integration": "WHATSAPP-BAILEYS"}
            if hook is not None:
                url = f"http://127.0.0.1:{hook}/h"
                body["webhook"] = {"url": url, "enabled": True, "events": ["MESSAGES_UPSERT"]}
            assert (await c.post("/instance/create", json=body)).status_code == 201
            await c.get(f"/instance/connect/{name}")
            r = await c.post(f"/sim/{name}/scan", json={"number": number})
            assert r.json()["state"] == "open", r.text

        queue: asyncio.Queue[int] = asyncio.Queue()
        for k in range(args.messages):
            queue.put_nowait(k)
        failures = 0

        async def worker() -> None:
            nonlocal failures
            while not queue.empty():
                queue.get_nowait()
                r = await c.post(
                    "/message/sendText/alice", json={"number": BOB, "text": repr(time.time())}
                )
                if r.status_code != 201:
                    failures += 1

        c0 = cpu_seconds()
        t0 = time.monotonic()
        wall0 = time.time()
        await asyncio.gather(*(worker() for _ in range(args.concurrency)))
        api_seconds = time.monotonic() - t0
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            counts = await app.state.events.store.counts()
            if not counts.get("pending"):
                break
            await asyncio.sleep(0.02)
        cpu = cpu_seconds() - c0
    return {"api_seconds": api_seconds, "wall0": wall0, "failures": failures, "cpu": cpu}


def _figures(
    provider: str, result: dict[str, Any], arrivals: list[Any], sent: int
) -> dict[str, Any]:
    first: dict[str, tuple[float, float]] = {}
    for msg_id, t_send, t_arrive in arrivals:
        first.setdefault(msg_id, (t_send, t_arrive))
    lat = sorted((a - s) * 1000 for s, a in first.values())
    last_arrival = max((a for _, a in first.values()), default=result["wall0"])
    n = len(lat)
    return {
        "database": provider,
        "messages": sent,
        "failures": result["failures"],
        "api_per_s": round(sent / result["api_seconds"]),
        "delivered": n,
        "delivered_per_s": round(n / max(last_arrival - result["wall0"], 1e-9)),
        "latency_ms": {
            "p50": round(statistics.median(lat), 1) if lat else None,
            "p99": round(lat[min(n - 1, int(n * 0.99))], 1) if lat else None,
            "max": round(lat[-1], 1) if lat else None,
        },
        "duplicates": len(arrivals) - n,
        "cpu_us_per_message": round(result["cpu"] / sent * 1e6),
    }


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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--messages", type=int, default=3000)
    ap.add_argument("--concurrency", type=int, default=16)
    loopback.add_common_args(ap)
    args = ap.parse_args()
    loopback.check_common_args(ap, args)
    if args.messages < 1 or args.concurrency < 1:
        ap.error("--messages and --concurrency must be at least 1")
    if args.serve_receiver:
        serve_receiver(int(args.serve_receiver[0]), args.serve_receiver[1])
        return 0
    results = loopback.per_database(args, measure, median_of)
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
