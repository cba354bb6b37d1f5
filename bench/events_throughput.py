"""Webhook delivery throughput and latency through the durable outbox, SQLite and PostgreSQL.

The app runs in this process (its lifespan, real database, real dispatcher and webhook sink);
the receiver is a separate process on 127.0.0.1 that answers 200 and records when each event
arrived. Events are produced with the bus's `emit` (one outbox transaction each, as the
supervisor and the gateway do) by `--instances` concurrent producers.

Two measurements per database:
- saturation: `--events` events emitted as fast as the producers can; delivered events/s is
  counted from the first emit to the last arrival;
- latency: events emitted at a fixed rate (default: half the saturated rate) for `--seconds`;
  p50/p99/max of emit -> arrival.
Each phase also reports the server's CPU per event (user + system time of this process, every
thread, over the phase, divided by the events): a figure that holds on shared, busy cores where
wall-clock rates do not. The producers' own share is small (a loop calling `emit`, which is
the server's work the supervisor would do), and drain detection reads an in-process counter
rather than querying the outbox.

The event loop is uvloop, as `wagate serve` runs (`--loop asyncio` for the standard one); the
receiver runs on uvloop too so that it takes as little of the shared cores as it can.

Run: `.venv/bin/python bench/events_throughput.py [--db sqlite,postgresql] [--events N]
[--runs N]`. With `--runs` > 1 each figure is the median of the runs. PostgreSQL is used when
it answers on 127.0.0.1:5432 (`--pg-uri`). Prints JSON.
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

# --- the receiver process -------------------------------------------------------------------


def received(body: dict[str, Any], wall: float) -> Any:
    """What the receiver records of each event: (event id, emit time, arrival time, phase)."""
    return (body["id"], body["data"]["t"], wall, body["data"]["p"])


# --- the producer side ----------------------------------------------------------------------


async def measure(provider: str, uri: str | None, args: argparse.Namespace) -> dict[str, Any]:
    result, arrivals = await loopback.with_receiver(
        __file__, provider, uri, lambda app, port: _run(app, port, args), "wagate-throughput-"
    )
    return _figures(provider, result, arrivals)


async def _run(app: Any, port: int, args: argparse.Namespace) -> dict[str, Any]:
    gw = app.state.gateway
    names = [f"tp-{i}" for i in range(args.instances)]
    async with loopback.api_client(app) as c:
        ids = await loopback.create_instances(c, names)
        for name in names:
            hook = {"enabled": True, "url": f"http://127.0.0.1:{port}/h", "events": ["CALL"]}
            await c.post(f"/webhook/set/{name}", json={"webhook": hook})

    async def produce(name: str, count: int, interval: float, phase: str) -> None:
        next_at = time.monotonic()
        for k in range(count):
            if interval:
                next_at += interval
                delay = next_at - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            await gw.bus.emit(
                name, ids[name], "call", {"t": time.time(), "k": k, "p": phase}, None
            )

    dispatcher = app.state.events.dispatcher

    async def drained(target: int, timeout: float) -> float:
        """When `target` deliveries were made (an in-process counter, no query), and the
        outbox confirms that nothing is pending."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if dispatcher.delivered >= target:
                done = time.monotonic()
                counts = await app.state.events.outbox.counts()
                if not counts.get("pending"):
                    return done
            await asyncio.sleep(0.002)
        raise RuntimeError("outbox did not drain")

    # saturation
    base = dispatcher.delivered
    per = args.events // len(names)
    total = per * len(names)
    c0, t0 = cpu_seconds(), time.monotonic()
    await asyncio.gather(*(produce(n, per, 0.0, "sat") for n in names))
    emitted_in = time.monotonic() - t0
    t_done = await drained(base + total, 300)
    cpu_sat = cpu_seconds() - c0
    saturation = {
        "events": total,
        "emit_seconds": round(emitted_in, 3),
        "emit_per_s": round(total / emitted_in),
        "delivered_per_s": round(total / (t_done - t0)),
        "cpu_us_per_event": round(cpu_sat / total * 1e6),
    }
    # latency at a fixed rate
    rate = args.rate or max(50, saturation["delivered_per_s"] // 2)
    per_instance_rate = rate / len(names)
    count = int(per_instance_rate * args.seconds)
    base = dispatcher.delivered
    c1, t1 = cpu_seconds(), time.monotonic()
    await asyncio.gather(*(produce(n, count, 1 / per_instance_rate, "lat") for n in names))
    achieved = count * len(names) / (time.monotonic() - t1)
    await drained(base + count * len(names), 120)
    cpu_lat = cpu_seconds() - c1
    return {
        "saturation": saturation,
        "rate": rate,
        "achieved_rate": round(achieved),
        "cpu_us_per_event_at_rate": round(cpu_lat / (count * len(names)) * 1e6),
    }


def _figures(provider: str, result: dict[str, Any], arrivals: list[Any]) -> dict[str, Any]:
    first: dict[str, float] = {}
    for event_id, t_emit, t_arrive, phase in arrivals:
        if event_id not in first and phase == "lat":
            first[event_id] = (t_arrive - t_emit) * 1000
    lat = sorted(first.values())
    n = len(lat)
    return {
        "database": provider,
        **result,
        "latency_ms_at_rate": {
            "samples": n,
            "p50": round(statistics.median(lat), 2) if lat else None,
            "p99": round(lat[min(n - 1, int(n * 0.99))], 2) if lat else None,
            "max": round(lat[-1], 2) if lat else None,
        },
        "duplicates": len(arrivals) - len({a[0] for a in arrivals}),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=int, default=20_000)
    ap.add_argument("--instances", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--rate", type=int, default=0, help="events/s of the latency run")
    loopback.add_common_args(ap)
    args = ap.parse_args()
    loopback.check_common_args(ap, args)
    if args.instances < 1 or args.events < args.instances:
        ap.error("--instances must be at least 1 and --events at least --instances")
    if args.seconds <= 0 or args.rate < 0:
        ap.error("--seconds must be positive and --rate cannot be negative")
    # the latency samples come from each run's fixed-rate phase only
    return loopback.run_or_serve(args, received, measure)


if __name__ == "__main__":
    sys.exit(main())
