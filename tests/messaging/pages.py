"""A loopback web site for link previews: each path answers a programmed page (status,
headers, body, a delay before the answer), and every request is counted."""

from __future__ import annotations

import asyncio
import io
from collections import Counter
from dataclasses import dataclass, field

from tests.messaging.servers import LoopbackServer


@dataclass
class Page:
    body: bytes = b""
    status: int = 200
    content_type: str | None = "text/html; charset=utf-8"
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    length: bool = True  # False: no content-length, the body ends when the connection closes


def og_page(
    title: str = "A page",
    description: str = "What the page is about",
    image: str | None = "/image.jpg",
    extra: str = "",
) -> bytes:
    image_tag = f'<meta property="og:image" content="{image}">' if image else ""
    return (
        "<!doctype html><html><head><meta charset=utf-8>"
        f'<meta property="og:title" content="{title}">'
        f'<meta property="og:description" content="{description}">'
        f"{image_tag}{extra}<title>not this one</title></head>"
        "<body><p>hello</p></body></html>"
    ).encode()


def jpeg(width: int = 640, height: int = 480) -> bytes:
    from PIL import Image

    img = Image.new("RGB", (width, height))
    for x in range(0, width, 16):
        img.paste((x % 256, 128, 255 - x % 256), (x, 0, min(x + 16, width), height))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=80)
    return out.getvalue()


class PageServer(LoopbackServer):
    """GET <path>[?query] answers `pages[path]` (404 when unknown)."""

    def __init__(self) -> None:
        super().__init__()
        self.pages: dict[str, Page] = {}
        self.hits: Counter[str] = Counter()

    def site(self, image: bytes | None = None) -> PageServer:
        """/page (og tags and an image), /image.jpg."""
        self.pages["/page"] = Page(og_page())
        self.pages["/image.jpg"] = Page(image or jpeg(), content_type="image/jpeg")
        return self

    async def answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            path = head.split(b" ", 2)[1].decode().split("?", 1)[0]
            self.hits[path] += 1
            page = self.pages.get(path) or Page(b"not found", 404, "text/plain")
            if page.delay:
                await asyncio.sleep(page.delay)
            lines = [f"HTTP/1.1 {page.status} X"]
            lines.append(
                f"content-length: {len(page.body)}" if page.length else "connection: close"
            )
            if page.content_type is not None:
                lines.append(f"content-type: {page.content_type}")
            lines += [f"{k}: {v}" for k, v in page.headers.items()]
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + page.body)
            await writer.drain()
            if not page.length:
                break
