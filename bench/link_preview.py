"""The latency a link preview adds to POST /message/sendText, against a loopback web site.

The app runs in this process on SQLite with the sim engine (its lifespan, the message pipeline,
`alice` and `bob` open); the web site is a separate process on 127.0.0.1 serving an HTML page
with Open Graph tags (`--page-kb` of body after its head) and a 1280x720 JPEG. Sends are one at
a time, so each figure is one request's latency:

- plain: a text with no link (the baseline);
- link_off: a text with a link and `linkPreview: false` (no fetch);
- preview_cold: a text whose link was never previewed (a new URL each time: page, image,
  thumbnail);
- preview_cached: the same link again (the in-memory LRU).

Figures are the median and p90 in ms, and `added_ms` is the median over `plain`.

Run: `.venv/bin/python bench/link_preview.py [--sends N] [--page-kb K]`. Prints JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import loopback
from loopback import free_port

BOB = "5511987650002"


def serve_site(port: int, page_kb: int) -> None:
    """The web site, until SIGTERM: /page (any query) and /image.jpg."""
    from tests.messaging.pages import Page, PageServer, jpeg, og_page

    async def main() -> None:
        site = PageServer()
        head = og_page(image="/image.jpg").split(b"<body>")[0]
        page = Page(head + b"<body>" + b"<p>lorem ipsum</p>" * (page_kb * 1024 // 18))
        image = Page(jpeg(1280, 720), content_type="image/jpeg")
        site.pages = {"/page": page, "/image.jpg": image}
        await site.start(port)
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        await site.stop()

    loopback.run_loop(main(), "uvloop")


async def measure(args: argparse.Namespace, port: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="wagate-preview-") as tmp:
        async with loopback.running_app(Path(tmp), engine="sim") as app:
            await loopback.wait_port(port, "the site")
            async with loopback.api_client(app, timeout=60) as c:
                return await _run(c, port, args.sends)


async def _run(c: Any, port: int, sends: int) -> dict[str, Any]:
    for name, number in (("alice", "5511987650001"), ("bob", BOB)):
        await loopback.open_instance(c, name, number)
    base = f"http://127.0.0.1:{port}"

    async def send(text: str, **extra: Any) -> tuple[float, dict[str, Any]]:
        t0 = time.perf_counter()
        r = await c.post("/message/sendText/alice", json={"number": BOB, "text": text, **extra})
        elapsed = (time.perf_counter() - t0) * 1000
        assert r.status_code == 201, r.text
        return elapsed, r.json()["message"]

    await send("warm-up")
    _, first = await send(f"warm-up {base}/page?warm")  # loads httpx2, Pillow, the CA bundle
    ext = first.get("extendedTextMessage") or {}
    assert ext.get("title") and ext.get("jpegThumbnail"), first
    cases: dict[str, list[float]] = {k: [] for k in ("plain", "link_off", "cold", "cached")}
    thumb_bytes = len(ext["jpegThumbnail"]) * 3 // 4
    for i in range(sends):
        cases["plain"].append((await send(f"hello {i}"))[0])
        cases["link_off"].append((await send(f"see {base}/page", linkPreview=False))[0])
        ms, message = await send(f"see {base}/page?n={i}")
        assert "jpegThumbnail" in message["extendedTextMessage"], message
        cases["cold"].append(ms)
        cases["cached"].append((await send(f"again {base}/page?n={i}"))[0])
    plain = statistics.median(cases["plain"])

    def figures(values: list[float]) -> dict[str, float]:
        values = sorted(values)
        med = statistics.median(values)
        return {
            "median_ms": round(med, 2),
            "p90_ms": round(values[int(len(values) * 0.9)], 2),
            "added_ms": round(med - plain, 2),
        }

    return {
        "sends_per_case": sends,
        "thumbnail_bytes": thumb_bytes,
        "plain": figures(cases["plain"]),
        "link_off": figures(cases["link_off"]),
        "preview_cold": figures(cases["cold"]),
        "preview_cached": figures(cases["cached"]),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--sends", type=int, default=50)
    ap.add_argument("--page-kb", type=int, default=64)
    ap.add_argument("--serve-site", type=int, metavar="PORT")
    ap.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop")
    args = ap.parse_args()
    if args.sends < 1 or args.page_kb < 0:
        ap.error("--sends must be at least 1 and --page-kb cannot be negative")
    if args.serve_site:
        serve_site(args.serve_site, args.page_kb)
        return 0
    port = free_port()
    site = subprocess.Popen(
        [sys.executable, __file__, "--serve-site", str(port), "--page-kb", str(args.page_kb)]
    )
    try:
        result = loopback.run_loop(measure(args, port), args.loop)
    finally:
        site.send_signal(signal.SIGTERM)
        site.wait(30)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
