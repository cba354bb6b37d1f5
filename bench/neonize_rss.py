"""Memory of the neonize engine per instance, offline, and the time to bring instances up.

For each shard size (instances per host process) and instance count, start that many sessions
through the engine (no HTTP layer), wait until every one is dialing, then sum the memory of
every host process: RSS (counts shared pages once per process), PSS (shares them out: the
honest total) and USS (private pages only). A loopback proxy that accepts and never answers
stands in for the network, so each session stays registered in Go with a socket open, as a
connecting session would; nothing leaves the machine.

    .venv/bin/python bench/neonize_rss.py                      # 1, 10, 100 x shard 1 and 10
    .venv/bin/python bench/neonize_rss.py --counts 1 10 --shards 10 --json out.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported where used, so that bad arguments are refused at once
    from wagate.engines.base import EngineEvent, InboundEvent
    from wagate.engines.neonize import NeonizeSession


@dataclass
class Row:
    shard: int
    instances: int
    hosts: int
    up_seconds: float
    rss_mb: float
    pss_mb: float
    uss_mb: float
    pss_per_instance_mb: float
    rss_per_instance_mb: float
    closed_early: int


def memory(pid: int) -> tuple[float, float, float]:
    """(RSS, PSS, USS) of a process in MB, from smaps_rollup."""
    fields: dict[str, int] = {}
    with open(f"/proc/{pid}/smaps_rollup") as fh:
        for line in fh:
            parts = line.split()
            if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
                fields[parts[0][:-1]] = int(parts[1])
    uss = fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0)
    return fields.get("Rss", 0) / 1024, fields.get("Pss", 0) / 1024, uss / 1024


class Blackhole:
    """Accepts connections on loopback and never answers them."""

    def __init__(self) -> None:
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(1024)
        self.server.settimeout(0.2)
        self.held: list[socket.socket] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.getsockname()[1]}"

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                self.held.append(self.server.accept()[0])
            except OSError:
                continue

    def close(self) -> None:
        self.stop.set()
        self.thread.join(2)
        for conn in self.held:
            conn.close()
        self.server.close()


async def measure(shard: int, count: int, proxy: str, data: Path, settle: float) -> Row:
    from wagate.engines.base import SessionSpec
    from wagate.engines.neonize import HostConfig, NeonizeConfig, NeonizeEngine

    config = NeonizeConfig(
        shard_size=shard,
        recycle_after=10_000,
        proxy=proxy,
        start_timeout=300.0,
        stop_deadline=2.0,
        # the sessions dial a black hole and never stop cleanly: a host gives up on them after
        # 1 s and exits by itself at close, rather than being killed after the pool's timeout
        host=HostConfig(connect_grace=0.3, connect_deadline=600.0, stop_deadline=1.0),
    )
    engine = NeonizeEngine.for_data_dir(data / f"s{shard}-n{count}", config)
    closed: list[EngineEvent | InboundEvent] = []
    t0 = time.monotonic()
    sessions: list[NeonizeSession] = []
    for i in range(count):
        spec = SessionSpec(f"bench-{shard}-{count}-{i}", f"b{i}", 1, None)
        sessions.append(await engine.start(spec, closed.append))
    while not all(s._starter is not None and s._starter.done() for s in sessions):
        await asyncio.sleep(0.05)
    up = time.monotonic() - t0
    await asyncio.sleep(settle)  # let every dial settle into its socket
    pids = [h.pid for h in engine.pool.hosts if h.alive and h.pid is not None]
    totals = [memory(pid) for pid in pids]
    rss, pss, uss = (sum(t[k] for t in totals) for k in range(3))
    row = Row(
        shard=shard,
        instances=count,
        hosts=len(pids),
        up_seconds=round(up, 2),
        rss_mb=round(rss, 1),
        pss_mb=round(pss, 1),
        uss_mb=round(uss, 1),
        pss_per_instance_mb=round(pss / count, 1),
        rss_per_instance_mb=round(rss / count, 1),
        closed_early=len(closed),
    )
    await engine.close()
    return row


async def main(counts: list[int], shards: list[int], settle: float = 2.0) -> list[Row]:
    hole = Blackhole()
    rows: list[Row] = []
    try:
        with tempfile.TemporaryDirectory(prefix="wagate-bench-") as tmp:
            for shard in shards:
                for count in counts:
                    row = await measure(shard, count, hole.url, Path(tmp), settle)
                    rows.append(row)
                    print(json.dumps(asdict(row)), flush=True)
    finally:
        hole.close()
    return rows


def table(rows: list[Row]) -> str:
    head = (
        "| shard | instances | hosts | up (s) | RSS MB | PSS MB | USS MB | PSS/inst | RSS/inst |"
    )
    lines = [head, "|" + "---|" * 9]
    for r in rows:
        lines.append(
            f"| {r.shard} | {r.instances} | {r.hosts} | {r.up_seconds} | {r.rss_mb} | "
            f"{r.pss_mb} | {r.uss_mb} | {r.pss_per_instance_mb} | {r.rss_per_instance_mb} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[1, 10, 100])
    parser.add_argument("--shards", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--json", type=Path, help="also write the rows here")
    parser.add_argument(
        "--settle", type=float, default=2.0, help="seconds between up and measuring (2)"
    )
    args = parser.parse_args()
    if min(args.counts) < 1 or min(args.shards) < 1:
        parser.error("--counts and --shards must be at least 1")
    if args.settle < 0:
        parser.error("--settle cannot be negative")
    from wagate.observability.logging import configure as configure_logging

    configure_logging("WARNING")
    result = asyncio.run(main(args.counts, args.shards, args.settle))
    print(table(result))
    if args.json:
        payload: Any = [asdict(r) for r in result]
        args.json.write_text(json.dumps(payload, indent=2))
