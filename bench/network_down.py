"""Reconnect pressure with the network down: connect attempts per instance per minute, and
CONNECTION_UPDATE events emitted, through the HTTP API, over 10 minutes of simulated time.

The app runs in-process (ASGI) on SQLite with the sim engine and a virtual clock. N instances
are created and paired through the API, the sim network goes down (every session drops with
408 after login: transient), and the clock moves 10 minutes, every timer firing at its own
time. Attempts are read from GET /sim/{i}/stats at each minute. Evolution API was measured at
114 attempts a minute for one offline instance; the aim here is <= 6.

Two policies are measured: the defaults (1 s doubling to 60 s with 20 % jitter, failed after 10
consecutive failures) and the same backoff that never gives up, to show the steady rate the
cap allows. Afterwards the network comes back: the never-give-up instances reconnect by
themselves; the failed ones wait for a new connect, which is then timed.

    .venv/bin/python bench/network_down.py [--instances 10] [--minutes 10] [--seed 1] [--json]

`--json` prints the figures of both policies as one JSON object instead of the text. Exit
status 1 when an instance made more than 6 attempts in any minute.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported where used, so that bad arguments are refused at once
    from wagate.engines.sim import SimNetwork
    from wagate.runtime.clock import VirtualClock

API_KEY = "bench-network-down-0123456789abcdef"
AIM_PER_MINUTE = 6


@dataclass
class Outcome:
    policy: str
    per_minute: list[list[int]] = field(default_factory=list)
    """Attempts of each instance in each minute."""
    updates: dict[str, list[str]] = field(default_factory=dict)
    """connection.update states per instance while the network was down."""
    recovery_updates: dict[str, list[str]] = field(default_factory=dict)
    final: dict[str, str] = field(default_factory=dict)
    recovery_s: float | None = None
    recovered: int = 0


async def run(policy: str, instances: int, minutes: int, seed: int) -> Outcome:
    from wagate.app import Overrides, build_app
    from wagate.config import load_settings
    from wagate.engines.sim import SimNetwork
    from wagate.runtime.clock import VirtualClock

    extra: dict[str, Any] = {}
    if policy == "never-give-up":
        extra["reconnect_max_failures"] = 1_000_000
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(
            api_key=API_KEY,
            data_dir=Path(tmp),
            database_provider="sqlite",
            log_level="ERROR",
            connect_wait=0.5,
            **extra,
        )
        clock = VirtualClock()
        sim = SimNetwork(clock, qr_interval=settings.sim_qr_interval)
        app = build_app(settings, Overrides(clock=clock, rng=random.Random(seed), sim=sim))
        ctx = app.router.lifespan_context(app)
        await ctx.__aenter__()
        try:
            return await _measure(app, sim, clock, policy, instances, minutes)
        finally:
            await ctx.__aexit__(None, None, None)


async def _measure(
    app: Any, sim: SimNetwork, clock: VirtualClock, policy: str, instances: int, minutes: int
) -> Outcome:
    import httpx2

    gw = app.state.gateway
    out = Outcome(policy)
    names = [f"offline-{i:02d}" for i in range(instances)]

    async def record(env: dict[str, Any]) -> None:
        if env["event"] == "connection.update" and env["instance"] in out.updates:
            out.updates[env["instance"]].append(env["data"]["state"])

    gw.bus.subscribe(record)

    async def settle() -> None:
        for reg in list(gw.instances.values()):
            await reg.supervisor.wait_quiescent(timeout=30)
        for _ in range(20):
            await asyncio.sleep(0)

    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(
        transport=transport, base_url="http://wagate.bench", headers={"apikey": API_KEY}
    ) as c:
        for i, name in enumerate(names):
            r = await c.post(
                "/instance/create", json={"instanceName": name, "integration": "WHATSAPP-BAILEYS"}
            )
            assert r.status_code == 201, r.text
            await c.get(f"/instance/connect/{name}")
            r = await c.post(f"/sim/{name}/scan", json={"number": f"55119{i:08d}"})
            assert r.json()["state"] == "open", r.text

        async def attempts() -> list[int]:
            counts = []
            for name in names:
                r = await c.get(f"/sim/{name}/stats")
                counts.append(int(r.json()["connectAttempts"]))
            return counts

        await settle()
        out.updates = {name: [] for name in names}
        assert (await c.post("/sim/network", json={"up": False})).status_code == 200
        await settle()
        before = await attempts()
        for _ in range(minutes):
            await clock.advance(60.0, idle=settle)
            now = await attempts()
            out.per_minute.append([b - a for a, b in zip(before, now, strict=True)])
            before = now
        for name in names:
            r = await c.get(f"/instance/connectionState/{name}")
            out.final[name] = r.json()["lifecycle"]["state"]
        out.updates = {name: list(seen) for name, seen in out.updates.items()}  # the outage's
        during = out.updates
        out.updates = {name: [] for name in names}  # from here on: the recovery's

        # The network comes back.
        await c.post("/sim/network", json={"up": True})
        start = clock.now()
        if policy == "defaults":  # failed instances wait for a new connect
            for name in names:
                await c.get(f"/instance/connect/{name}")
            await settle()
        for _ in range(130):
            states = [gw.get(n).supervisor.external_state for n in names]
            out.recovered = states.count("open")
            if out.recovered == len(names):
                break
            await clock.advance(0.5, idle=settle)
        out.recovery_s = clock.now() - start
    out.recovery_updates, out.updates = out.updates, during
    return out


def report(out: Outcome, minutes: int) -> bool:
    flat = [n for minute in out.per_minute for n in minute]
    per_instance_total = [sum(col) for col in zip(*out.per_minute, strict=True)]
    worst = max(flat)
    print(f"\n== policy: {out.policy} ==")
    print(f"instances: {len(out.final)}, network down for {minutes} simulated minutes")
    print("connect attempts per instance, minute by minute (max over instances / mean):")
    for i, minute in enumerate(out.per_minute, 1):
        print(f"  minute {i:2d}: max {max(minute):2d}  mean {statistics.mean(minute):5.2f}")
    print(
        f"attempts per instance per minute: worst minute {worst}, overall mean "
        f"{statistics.mean(per_instance_total) / minutes:.2f} (aim <= {AIM_PER_MINUTE}; "
        "Evolution: 114)"
    )
    print(f"attempts per instance over {minutes} min: {sorted(set(per_instance_total))}")
    counts = [len(u) for u in out.updates.values()]
    sequences = sorted({" > ".join(u) for u in out.updates.values()})
    print(
        f"CONNECTION_UPDATE emitted while down: {sum(counts)} in total, {max(counts)} at most "
        f"per instance: {sequences}"
    )
    back = sorted({" > ".join(u) for u in out.recovery_updates.values()})
    print(f"CONNECTION_UPDATE when the network came back: {back}")
    print(f"state after {minutes} min: {sorted(set(out.final.values()))}")
    how = "after a new connect" if out.policy == "defaults" else "by themselves"
    print(
        f"network back: {out.recovered}/{len(out.final)} open {how} within "
        f"{out.recovery_s:.1f} s (simulated)"
    )
    return worst <= AIM_PER_MINUTE


def figures(out: Outcome, minutes: int) -> dict[str, Any]:
    """The figures `report` prints, as data."""
    per_instance_total = [sum(col) for col in zip(*out.per_minute, strict=True)]
    return {
        "policy": out.policy,
        "instances": len(out.final),
        "minutes": minutes,
        "attempts_per_minute": out.per_minute,
        "worst_minute": max(n for minute in out.per_minute for n in minute),
        "mean_per_minute": round(statistics.mean(per_instance_total) / minutes, 2),
        "updates_while_down": out.updates,
        "updates_when_back": out.recovery_updates,
        "final_states": out.final,
        "recovered": out.recovered,
        "recovery_s": round(out.recovery_s, 1) if out.recovery_s is not None else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=10)
    parser.add_argument("--minutes", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON only")
    args = parser.parse_args()
    if args.instances < 1 or args.minutes < 1:
        parser.error("--instances and --minutes must be at least 1")
    outcomes = [
        asyncio.run(run(policy, args.instances, args.minutes, args.seed))
        for policy in ("defaults", "never-give-up")
    ]
    if args.json:
        policies = [figures(out, args.minutes) for out in outcomes]
        ok = all(p["worst_minute"] <= AIM_PER_MINUTE for p in policies)
        print(
            json.dumps(
                {"aim_per_minute": AIM_PER_MINUTE, "policies": policies, "ok": ok}, indent=2
            )
        )
        return 0 if ok else 1
    ok = True
    for out in outcomes:
        ok = report(out, args.minutes) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
