"""Request limits under attack, against a real server (`python -m wagate serve`, SQLite, the sim
engine) on 127.0.0.1.

Prints, as JSON:
- `baseline`: GET /health latency with no other load (a new connection per probe, every 20 ms);
- `big_bodies`: the same while N clients (8) send 100 MB bodies over and over (half announce
  the length to an unknown path without a key, half stream it chunked to a keyed route), with
  the server's peak RSS and how the big requests ended;
- `slow_body`: M clients (3000) that announce 1 MB, send 6 bytes and stall, and `slow_header`:
  M clients that send half a request line: how many the server cut, and after how long
  (WAGATE_BODY_TIMEOUT_SECONDS / WAGATE_HEADER_TIMEOUT_SECONDS, --deadline).

Run it with the project's interpreter: `.venv/bin/python bench/request_limits.py --help`.
Exit status 0 when /health never failed and every slow client was cut; 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import tempfile
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--clients", type=int, default=8, help="big-body clients (8)")
    p.add_argument("--seconds", type=float, default=10.0, help="seconds of big bodies (10)")
    p.add_argument("--slow", type=int, default=3000, help="slow clients of each kind (3000)")
    p.add_argument("--deadline", type=float, default=2.0, help="body/header deadline, s (2)")
    args = p.parse_args()
    from tests.integration.durability import Server
    from tests.integration.slowclients import MB, Figures, _prober, big_bodies, slow_clients

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, args.slow + 512))
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    report: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="wagate-limits-") as tmp:
        env = {
            "WAGATE_BODY_TIMEOUT_SECONDS": str(args.deadline),
            "WAGATE_HEADER_TIMEOUT_SECONDS": str(args.deadline),
            "WAGATE_MAX_REQUESTS_PER_CLIENT": str(args.slow + 100),
        }
        server = Server(Path(tmp), env)
        asyncio.run(server.start())
        assert server.proc is not None
        try:
            base = Figures()
            halt = threading.Event()
            t = threading.Thread(target=_prober, args=(server.port, halt, base, 0.02))
            t.start()
            halt.wait(min(args.seconds, 5.0))
            halt.set()
            t.join()
            report["baseline"] = base.summary()
            report["big_bodies"] = big_bodies(
                server.port, server.key, server.proc.pid, args.clients, args.seconds
            ).summary()
            wait = args.deadline * 5 + 10
            report["slow_body"] = slow_clients(
                server.port, server.key, args.slow, "body", wait, MB
            ).summary()
            report["slow_header"] = slow_clients(
                server.port, server.key, args.slow, "header", wait
            ).summary()
        finally:
            server.stop()
    print(json.dumps(report, indent=2))
    big = report["big_bodies"]
    slow = [report["slow_body"], report["slow_header"]]
    ok = isinstance(big, dict) and big["health_errors"] == 0
    ok = ok and all(isinstance(s, dict) and s.get("slow_held_open") == 0 for s in slow)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
