"""History sync of N messages: from the scan of a newly paired instance to the last webhook.

The app runs in this process (its lifespan, a real database, the sim network, the message
pipeline, the outbox dispatcher and webhook sink); the webhook receiver is a separate process
on 127.0.0.1 that answers 200 and records each event. An account is given `--messages` past
messages spread over `--chats` chats (POST /sim/{instance}/history); then an instance with a
webhook for every event pairs with it (POST /sim/{instance}/scan) and gets them as a history
sync (chats.set, messages.set, contacts.upsert, messaging-history.set).

Figures per database:
- stored_s: from the scan until the instance has stored every message (findMessages total);
- delivered_s: from the scan until messaging-history.set reached the receiver (every event of
  the sync is delivered in order before it);
- events: how many events of each name the receiver got, and messages announced in all;
- largest_event_kb: the largest webhook body;
- cpu_ms: user + system CPU time of this process from the scan until the outbox drained.

Run: `.venv/bin/python bench/history_sync.py [--db sqlite,postgresql] [--messages N]
[--chats N] [--runs N]`. With `--runs` > 1 each figure is the median of the runs. PostgreSQL
is used when it answers on 127.0.0.1:5432 (`--pg-uri`). Prints JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import loopback
from loopback import cpu_seconds

NUMBER = "5511987650001"


def received(body: dict[str, Any], wall: float) -> Any:
    """What the receiver records of each webhook: (event, items in its data, arrival time,
    body size)."""
    data = body["data"]
    size = len(json.dumps(body))
    return (body["event"], len(data) if isinstance(data, list) else 1, wall, size)


async def measure(provider: str, uri: str | None, args: argparse.Namespace) -> dict[str, Any]:
    result, arrivals = await loopback.with_receiver(
        __file__,
        provider,
        uri,
        lambda app, port: _run(app, port, args),
        "wagate-history-",
        engine="sim",
    )
    return _figures(provider, result, arrivals, args)


async def _run(app: Any, port: int, args: argparse.Namespace) -> dict[str, Any]:
    async with loopback.api_client(app, timeout=120) as c:
        body = {"instanceName": "seeder", "integration": "WHATSAPP-BAILEYS"}
        assert (await c.post("/instance/create", json=body)).status_code == 201
        now = int(time.time())
        past = [
            {"contact": f"55219{k % args.chats:08d}", "text": f"past message {k} of the bench",
             "fromMe": k % 3 == 0, "timestamp": now - args.messages + k,
             "pushName": f"Contact {k % args.chats}"}
            for k in range(args.messages)
        ]  # fmt: skip
        for i in range(0, len(past), 10_000):
            r = await c.post(
                "/sim/seeder/history", json={"number": NUMBER, "messages": past[i : i + 10_000]}
            )
            assert r.status_code == 200, r.text
        hook = {"url": f"http://127.0.0.1:{port}/h", "enabled": True, "events": []}
        phone: dict[str, Any] = {"instanceName": "phone", "integration": "WHATSAPP-BAILEYS",
                                 "webhook": hook, "syncFullHistory": True}  # fmt: skip
        assert (await c.post("/instance/create", json=phone)).status_code == 201
        await c.get("/instance/connect/phone")
        c0, t0, wall0 = cpu_seconds(), time.monotonic(), time.time()
        r = await c.post("/sim/phone/scan", json={"number": NUMBER})
        assert r.json()["state"] == "open", r.text
        stored_s = None
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            if stored_s is None:
                r = await c.post("/chat/findMessages/phone", json={"offset": 1})
                if r.json()["messages"]["total"] >= args.messages:
                    stored_s = time.monotonic() - t0
            counts = await app.state.events.outbox.counts()
            if stored_s is not None and not counts.get("pending"):
                break
            await asyncio.sleep(0.02)
        cpu = cpu_seconds() - c0
    return {"wall0": wall0, "stored_s": stored_s, "cpu": cpu}


def _figures(
    provider: str, result: dict[str, Any], arrivals: list[Any], args: argparse.Namespace
) -> dict[str, Any]:
    events: dict[str, int] = {}
    for name, _, _, _ in arrivals:
        events[name] = events.get(name, 0) + 1
    done = [wall for name, _, wall, _ in arrivals if name == "messaging-history.set"]
    return {
        "database": provider,
        "messages": args.messages,
        "chats": args.chats,
        "stored_s": round(result["stored_s"], 2) if result["stored_s"] else None,
        "delivered_s": round(done[0] - result["wall0"], 2) if done else None,
        "events": dict(sorted(events.items())),
        "announced_messages": sum(n for name, n, _, _ in arrivals if name == "messages.set"),
        "largest_event_kb": round(max((s for *_, s in arrivals), default=0) / 1024, 1),
        "cpu_ms": round(result["cpu"] * 1000),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--messages", type=int, default=5000)
    ap.add_argument("--chats", type=int, default=50)
    loopback.add_common_args(ap)
    args = ap.parse_args()
    loopback.check_common_args(ap, args)
    if args.messages < 1 or args.chats < 1:
        ap.error("--messages and --chats must be at least 1")
    return loopback.run_or_serve(args, received, measure)


if __name__ == "__main__":
    sys.exit(main())
