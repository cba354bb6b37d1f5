"""CPU per webhook POST: wagate's keep-alive client (events/sinks/keepalive.py) against httpx2,
over plain HTTP and over HTTPS, on kept-alive connections.

Each client POSTs the same request the webhook sink sends (a 600-byte JSON body with the sink's
headers) to a receiver in a child process on 127.0.0.1 that parses each request with httptools
and answers 200 with a short body, so the receiver's CPU is not counted. HTTPS uses a
throw-away CA (trustme) that the client trusts on top of the system store, as
WAGATE_WEBHOOK_CA_FILE does. A measured run is `--posts` requests by `--concurrency` workers
sharing one client (one connection per worker, reused), after a warm-up that opens them; its
figure is this process's user + system CPU time over the run divided by the requests, which
holds on shared, busy cores where wall-clock rates do not. Each figure is the median of
`--runs` runs, clients and schemes interleaved.

Run: `.venv/bin/python bench/webhook_client.py [--posts 5000] [--concurrency 1,8] [--runs 5]
[--loop uvloop|asyncio]`. Prints JSON, with httpx2's CPU per POST as a multiple of keepalive's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from loopback import cpu_seconds, free_port, run_loop, wait_port
from wagate.events.sinks.keepalive import KeepAlivePool, client_ssl_context, parse_target, render

BODY = json.dumps(
    {
        "event": "messages.upsert",
        "instance": "bench",
        "data": {"key": {"id": "3EB0" + "A" * 16, "fromMe": False}, "text": "x" * 400},
        "destination": "https://receiver.example/hook",
        "date_time": "2026-01-01T00:00:00.000Z",
        "server_url": "http://127.0.0.1:8080",
        "apikey": "0" * 32,
    }
).encode()
HEADERS = {
    "Content-Type": "application/json",
    "X-Event-Id": "01JBENCH0000000000000000000",
    "X-Instance-ID": "b5c7a1e2-0000-4000-8000-000000000000",
    "X-Instance-Name": "bench",
    "X-Event-Type": "MESSAGES_UPSERT",
    "X-Timestamp": "1767225600000",
    "User-Agent": "wagate-Webhook/0.1.0",
    "X-Signature-256": "sha256=" + "0" * 64,
}
ANSWER = (
    b'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n{"ok":true}'
)


# --- the receiver process -------------------------------------------------------------------


def serve(port: int, cert: str | None, key: str | None) -> None:
    import httptools
    import uvloop

    class Answer(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport: Any = transport
            self.parser = httptools.HttpRequestParser(self)

        def data_received(self, data: bytes) -> None:
            self.parser.feed_data(data)

        def on_message_complete(self) -> None:
            self.transport.write(ANSWER)

    async def main() -> None:
        context = None
        if cert and key:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(cert, key)
        server = await asyncio.get_running_loop().create_server(
            Answer, "127.0.0.1", port, ssl=context, backlog=1024
        )
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        async with server:
            await stop.wait()

    uvloop.run(main())


# --- the clients ----------------------------------------------------------------------------


class Client:
    name = ""

    async def post(self) -> int:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError


class Lean(Client):
    """What WebhookSink.deliver does for a row: render the request, post it on the pool."""

    name = "keepalive"

    def __init__(self, url: str, context: ssl.SSLContext) -> None:
        self.target = parse_target(url)
        self.pool = KeepAlivePool(ssl_context=context)

    async def post(self) -> int:
        data = render(self.target, BODY, HEADERS)
        return await self.pool.post(self.target, data, 30.0)

    async def close(self) -> None:
        await self.pool.close()


class Httpx(Client):
    """httpx2's AsyncClient configured as the sink configures its proxied one."""

    name = "httpx2"

    def __init__(self, url: str, context: ssl.SSLContext) -> None:
        import httpx2

        self.url = url
        self.client = httpx2.AsyncClient(
            timeout=httpx2.Timeout(30.0),
            limits=httpx2.Limits(max_connections=100, max_keepalive_connections=100),
            follow_redirects=False,
            verify=context,
            trust_env=False,
        )

    async def post(self) -> int:
        response = await self.client.post(self.url, content=BODY, headers=HEADERS)
        return response.status_code

    async def close(self) -> None:
        await self.client.aclose()


async def run_once(client: Client, posts: int, concurrency: int) -> dict[str, float]:
    async def worker(count: int) -> None:
        for _ in range(count):
            status = await client.post()
            if status != 200:
                raise RuntimeError(f"{client.name}: HTTP {status}")

    await asyncio.gather(*(worker(20) for _ in range(concurrency)))  # warm-up: connections open
    share = posts // concurrency
    cpu, wall = cpu_seconds(), time.perf_counter()
    await asyncio.gather(*(worker(share) for _ in range(concurrency)))
    cpu, wall = cpu_seconds() - cpu, time.perf_counter() - wall
    done = share * concurrency
    return {"cpu_us_per_post": cpu / done * 1e6, "posts_per_s": done / wall}


async def measure(args: argparse.Namespace, urls: dict[str, str], ca_pem: str) -> dict[str, Any]:
    context = client_ssl_context(ca_pem)
    samples: dict[tuple[str, str, int], list[dict[str, float]]] = {}
    for _ in range(args.runs):
        for concurrency in args.concurrency:
            for scheme, url in urls.items():
                for kind in (Lean, Httpx):
                    client = kind(url, context)
                    try:
                        figures = await run_once(client, args.posts, concurrency)
                    finally:
                        await client.close()
                    samples.setdefault((scheme, kind.name, concurrency), []).append(figures)
    out: dict[str, Any] = {}
    for (scheme, name, concurrency), runs in samples.items():
        key = f"{scheme} c={concurrency}"
        out.setdefault(key, {})[name] = {
            field: round(statistics.median(r[field] for r in runs), 1) for field in runs[0]
        }
    for figures in out.values():
        lean, other = figures["keepalive"], figures["httpx2"]
        figures["httpx2_cpu_ratio"] = round(other["cpu_us_per_post"] / lean["cpu_us_per_post"], 2)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--serve", nargs=3, metavar=("PORT", "CERT", "KEY"), help=argparse.SUPPRESS)
    ap.add_argument("--posts", type=int, default=5000)
    ap.add_argument("--concurrency", default="1,8")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop")
    args = ap.parse_args()
    if args.serve:
        port, cert, key = args.serve
        serve(int(port), cert if cert != "-" else None, key if key != "-" else None)
        return 0
    try:
        args.concurrency = [int(c) for c in args.concurrency.split(",")]
    except ValueError:
        ap.error("--concurrency takes a comma-separated list of numbers")
    if args.posts < 1 or args.runs < 1 or min(args.concurrency) < 1:
        ap.error("--posts, --runs and --concurrency must be positive")

    import trustme

    ca = trustme.CA()
    leaf = ca.issue_cert("localhost")
    with tempfile.TemporaryDirectory(prefix="wagate-webhook-client-") as tmp:
        ca_pem, cert, key = (os.path.join(tmp, n) for n in ("ca.pem", "cert.pem", "key.pem"))
        ca.cert_pem.write_to_path(ca_pem)
        leaf.cert_chain_pems[0].write_to_path(cert)
        leaf.private_key_pem.write_to_path(key)
        ports = {"http": free_port(), "https": free_port()}
        children = [
            subprocess.Popen([sys.executable, __file__, "--serve", str(ports["http"]), "-", "-"]),
            subprocess.Popen(
                [sys.executable, __file__, "--serve", str(ports["https"]), cert, key]
            ),
        ]
        try:

            async def go() -> dict[str, Any]:
                for port in ports.values():
                    await wait_port(port)
                urls = {
                    "http": f"http://127.0.0.1:{ports['http']}/hook",
                    "https": f"https://localhost:{ports['https']}/hook",
                }
                return await measure(args, urls, ca_pem)

            result = run_loop(go(), args.loop)
        finally:
            for child in children:
                child.send_signal(signal.SIGTERM)
                child.wait(30)
    print(
        json.dumps(
            {"loop": args.loop, "posts": args.posts, "runs": args.runs, "figures": result},
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
