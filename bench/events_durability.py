"""Durability proof at full size: 10,000 events through the sim engine while the server is
killed with SIGKILL twice and the webhook receiver refuses connections for 30 s.

Checks that every event in the outbox arrived at least once, that duplicates carry the same id
and bytes, and that each instance's events arrived in order; prints the figures as JSON.
Run: `.venv/bin/python bench/events_durability.py [--events N] [--instances N]
[--refuse S] [--kills N] [--postgres URI]`. Exit status 0 when every check held.
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
    ap.add_argument("--events", type=int, default=10_000)
    ap.add_argument("--instances", type=int, default=25)
    ap.add_argument("--refuse", type=float, default=30.0)
    ap.add_argument("--kills", type=int, default=2)
    ap.add_argument("--postgres", help="a PostgreSQL URI instead of SQLite")
    args = ap.parse_args()
    if args.events < 1 or args.instances < 1:
        ap.error("--events and --instances must be at least 1")
    if args.refuse < 0 or args.kills < 0:
        ap.error("--refuse and --kills cannot be negative")
    from tests.integration.durability import run

    env = {}
    if args.postgres:
        env = {"DATABASE_PROVIDER": "postgresql", "DATABASE_CONNECTION_URI": args.postgres}
    with tempfile.TemporaryDirectory(prefix="wagate-durability-") as tmp:
        report = asyncio.run(
            run(
                data_dir=Path(tmp),
                instances=args.instances,
                target_events=args.events,
                kills=args.kills,
                refuse_seconds=args.refuse,
                env=env,
                settle_timeout=300.0,
            )
        )
    print(json.dumps(asdict(report) | {"ok": report.ok}, indent=2))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
