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
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import loopback
from loopback import cpu_seconds

BOB = "5511987650002"


def received(body: dict[str, Any], wall: float) -> Any:
    """What the receiver records of each messages.upsert: (message id, send time, arrival
    time)."""
    if body["event"] != "messages.upsert":
        return None
    data = body["data"]
    return (data["key"]["id"], float(data["message"]["conversation"]), wall)


async def measure(provider: str, uri: str | None, args: argparse.Namespace) -> dict[str, Any]:
    result, arrivals = await loopback.with_receiver(
        __file__,
        provider,
        uri,
        lambda app, port: _run(app, port, args),
        "wagate-messaging-",
        engine="sim",  # driven through the /sim routes
    )
    return _figures(provider, result, arrivals, args.messages)


async def _run(app: Any, port: int, args: argparse.Namespace) -> dict[str, Any]:
    async with loopback.api_client(app, timeout=60) as c:
        await loopback.open_instance(c, "alice", "5511987650001")
        url = f"http://127.0.0.1:{port}/h"
        hook = {"url": url, "enabled": True, "events": ["MESSAGES_UPSERT"]}
        await loopback.open_instance(c, "bob", BOB, webhook=hook)

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
            counts = await app.state.events.outbox.counts()
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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--messages", type=int, default=3000)
    ap.add_argument("--concurrency", type=int, default=16)
    loopback.add_common_args(ap)
    args = ap.parse_args()
    loopback.check_common_args(ap, args)
    if args.messages < 1 or args.concurrency < 1:
        ap.error("--messages and --concurrency must be at least 1")
    return loopback.run_or_serve(args, received, measure)


if __name__ == "__main__":
    sys.exit(main())
