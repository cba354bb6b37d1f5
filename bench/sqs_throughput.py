"""Events per second to Amazon SQS through the durable outbox, against moto's server on loopback.

The app runs in this process (its lifespan, SQLite, the real dispatcher and SQS sink over
aiobotocore); moto's server runs in a child process on 127.0.0.1. `--instances` instances each
have their own FIFO queue (`<instance>_call.fifo`, made by /sqs/set); `--events` CALL events
are emitted with the bus (one outbox transaction each) as fast as the producers can, and the
rate is counted from the first emit until the dispatcher delivered them all. The queues are
then read back with a real SQS client and every message counted, so the figure is of events
that arrived. Also reported: the server's CPU per event (user + system time of this process).

moto answers far slower than SQS's own endpoints do per request, and each lane sends one
message at a time (in order per instance), so the figure is a floor set mostly by the double:
compare runs, not with AWS.

Run: `.venv/bin/python bench/sqs_throughput.py [--events N] [--instances N]`. Prints JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import loopback
from loopback import cpu_seconds


def start_moto(port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def count_messages(url: str, queues: list[str]) -> int:
    """Every message in `queues`, received and deleted with a real SQS client."""
    from aiobotocore.session import get_session  # type: ignore[import-untyped]

    total = 0
    async with get_session().create_client(
        "sqs",
        region_name="us-east-1",
        endpoint_url=url,
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
    ) as client:
        for queue in queues:
            q = (await client.get_queue_url(QueueName=queue))["QueueUrl"]
            while True:
                r = await client.receive_message(QueueUrl=q, MaxNumberOfMessages=10)
                messages = r.get("Messages", [])
                if not messages:
                    break
                total += len(messages)
                await client.delete_message_batch(
                    QueueUrl=q,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                        for i, m in enumerate(messages)
                    ],
                )
    return total


async def run(args: argparse.Namespace) -> dict[str, Any]:
    port = loopback.free_port()
    moto = start_moto(port)
    url = f"http://127.0.0.1:{port}"
    try:
        await loopback.wait_port(port, "moto's server")
        with tempfile.TemporaryDirectory(prefix="wagate-sqs-") as tmp:
            async with loopback.running_app(
                Path(tmp),
                engine="sim",
                sqs_enabled=True,
                sqs_region="us-east-1",
                sqs_base_url=url,
                sqs_access_key_id="bench",
                sqs_secret_access_key="bench",
            ) as app:
                return await _measure(app, url, args)
    finally:
        moto.kill()
        moto.wait()


async def _measure(app: Any, url: str, args: argparse.Namespace) -> dict[str, Any]:
    gw = app.state.gateway
    names = [f"sq{i}" for i in range(args.instances)]
    async with loopback.api_client(app) as c:
        ids = await loopback.create_instances(c, names)
        for name in names:
            r = await c.post(
                f"/sqs/set/{name}", json={"sqs": {"enabled": True, "events": ["CALL"]}}
            )
            assert r.status_code == 201, r.text
    dispatcher = app.state.events.dispatcher
    per = max(1, args.events // len(names))
    total = per * len(names)

    async def produce(name: str) -> None:
        for k in range(per):
            await gw.bus.emit(name, ids[name], "call", {"k": k}, None)

    base = dispatcher.delivered
    c0, t0 = cpu_seconds(), time.monotonic()
    await asyncio.gather(*(produce(n) for n in names))
    emitted = time.monotonic() - t0
    deadline = time.monotonic() + args.timeout
    while dispatcher.delivered - base < total:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{dispatcher.delivered - base} of {total} delivered in time")
        await asyncio.sleep(0.005)
    elapsed = time.monotonic() - t0
    cpu = cpu_seconds() - c0
    arrived = await count_messages(url, [f"{n}_call.fifo" for n in names])
    return {
        "events": total,
        "instances": len(names),
        "emit_seconds": round(emitted, 3),
        "delivered_per_s": round(total / elapsed, 1),
        "cpu_us_per_event": round(cpu / total * 1e6),
        "arrived": arrived,
        "failed_attempts": dispatcher.failed,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=2000)
    ap.add_argument("--instances", type=int, default=8)
    ap.add_argument("--timeout", type=float, default=600.0)
    args = ap.parse_args()
    if args.events < 1 or args.instances < 1 or args.timeout <= 0:
        ap.error("--events and --instances must be at least 1, --timeout positive")
    print(json.dumps(asyncio.run(run(args)), indent=2))


if __name__ == "__main__":
    main()
