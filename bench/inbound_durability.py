"""Inbound durability: N messages written to sim instances over HTTP while the server is killed
with SIGKILL at random points; a message is acknowledged (200) only once it is durable.

Contacts deliver each message again, with its id, until it is acknowledged (WhatsApp's offline
queue). Checks that every acknowledged message is stored and announced by webhook, under one
event id, and counts the webhook deliveries repeated under the same id (at-least-once); prints
the figures as JSON, with acknowledgements per second and the server's CPU per message (with
`--kills 0` and `--concurrency 1` they show what acknowledging after the commit costs one
instance whose network hands it one message at a time, as whatsmeow's handler does).
Run: `.venv/bin/python bench/inbound_durability.py [--messages N] [--instances N] [--kills N]
[--concurrency N] [--seed N]`. Exit status 0 when every check held.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--messages", type=int, default=2_000)
    ap.add_argument("--instances", type=int, default=4)
    ap.add_argument("--kills", type=int, default=5)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args()
    if args.messages < 1 or args.instances < 1 or args.concurrency < 1:
        ap.error("--messages, --instances and --concurrency must be at least 1")
    if args.kills < 0:
        ap.error("--kills cannot be negative")
    from tests.integration.inbound_durability import run

    with tempfile.TemporaryDirectory(prefix="wagate-inbound-") as tmp:
        report = asyncio.run(
            run(
                data_dir=Path(tmp),
                messages=args.messages,
                instances=args.instances,
                kills=args.kills,
                concurrency=args.concurrency,
                seed=args.seed,
                settle_timeout=300.0,
            )
        )
    print(json.dumps(asdict(report) | {"ok": report.ok}, indent=2))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
