"""Media given to the send routes: a URL (fetched with a deadline and a size cap, and, with
WAGATE_PRIVATE_ADDRESSES=false, only from public addresses: see egress.py), base64
(optionally a data: URI), or the bytes of a multipart upload."""

from __future__ import annotations

import asyncio
import base64
import binascii
import mimetypes
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from wagate.domain.errors import BadRequest

if TYPE_CHECKING:
    from wagate.egress import Reach

_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF8", "image/gif"),
    (b"%PDF", "application/pdf"),
    (b"OggS", "audio/ogg"),
    (b"ID3", "audio/mpeg"),
    (b"PK\x03\x04", "application/zip"),
)
_B64 = re.compile(r"^[A-Za-z0-9+/\s]+={0,2}\s*$")


@dataclass(frozen=True, slots=True)
class Media:
    data: bytes
    mimetype: str | None
    file_name: str | None


class TooLarge(Exception):
    """More bytes came than the limit allows."""


async def read_at_most(chunks: AsyncIterator[bytes], limit: int, *, cut: bool = False) -> bytes:
    """The bytes of a streamed body, at most `limit` of them: past the limit, TooLarge (or,
    with `cut`, the first `limit` bytes). Nothing past the limit is kept in memory."""
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        parts.append(chunk)
        size += len(chunk)
        if size > limit:
            if not cut:
                raise TooLarge(f"more than {limit} bytes")
            break
    return b"".join(parts)[:limit]


def sniff(data: bytes) -> str | None:
    """The MIME type of well-known file signatures."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "audio/wav"
    if data[4:8] == b"ftyp":
        return "video/mp4"
    return next((mime for magic, mime in _MAGIC if data.startswith(magic)), None)


def is_url(value: str) -> bool:
    parsed = urlparse(value)
    return parsed.scheme in ("http", "https") and bool(parsed.netloc)


def decode_base64(value: str, field: str, max_bytes: int) -> Media:
    mime: str | None = None
    text = value
    if text.startswith("data:"):
        head, _, text = text.partition(",")
        mime = head[5:].split(";", 1)[0] or None
    if len(text) > max_bytes * 4 // 3 + 8:
        raise BadRequest(f"{field} is larger than the limit of {max_bytes} bytes")
    if len(text) < 4 or not _B64.match(text):
        raise BadRequest("Owned media must be a url or base64")
    try:
        data = base64.b64decode(text, validate=False)
    except (binascii.Error, ValueError):
        raise BadRequest("Owned media must be a url or base64") from None
    if not data:
        raise BadRequest(f"{field} is empty")
    return Media(data, mime or sniff(data), None)


async def fetch(
    url: str,
    field: str,
    max_bytes: int,
    timeout: float,
    *,
    allow_private: bool | Reach = True,
    proxy: str | None = None,
) -> Media:
    """GET the URL: at most `max_bytes`, within `timeout` seconds in all, else a 400. Without
    `allow_private`, a connection to an address that is not public (the URL's, or a redirect's)
    is a 400 too. With `proxy` (the instance's), the request goes through it (an http:// or
    https:// proxy; the proxy then decides which addresses it reaches)."""
    import httpx2  # on first use: a server that never fetches media does not load it

    from wagate import egress

    try:
        if proxy is not None:
            client = httpx2.AsyncClient(timeout=timeout, follow_redirects=True, proxy=proxy)
        else:
            client = httpx2.AsyncClient(
                timeout=timeout, follow_redirects=True, transport=egress.transport(allow_private)
            )
        async with asyncio.timeout(timeout), client, client.stream("GET", url) as resp:
            if resp.status_code != 200:
                raise BadRequest(f"{field}: {url} answered HTTP {resp.status_code}")
            declared = resp.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise BadRequest(f"{field} is larger than the limit of {max_bytes} bytes")
            try:
                data = await read_at_most(resp.aiter_bytes(), max_bytes)
            except TooLarge:
                raise BadRequest(
                    f"{field} is larger than the limit of {max_bytes} bytes"
                ) from None
            mime = resp.headers.get("content-type", "").split(";", 1)[0].strip() or None
    except egress.AddressNotAllowed as exc:
        raise BadRequest(
            f"{field}: fetching from {exc.host} is not allowed (not a public address)"
        ) from None
    except httpx2.ProxyError as exc:
        raise BadRequest(f"{field}: the instance's proxy failed: {exc}") from None
    except (httpx2.TimeoutException, TimeoutError):
        raise BadRequest(f"{field}: {url} did not answer within {timeout:g} s") from None
    except httpx2.HTTPError as exc:
        raise BadRequest(f"{field}: {url} could not be fetched ({type(exc).__name__})") from None
    name = urlparse(url).path.rsplit("/", 1)[-1] or None
    guessed = mimetypes.guess_type(name)[0] if name else None
    if mime in (None, "application/octet-stream"):
        mime = sniff(data) or guessed or mime
    return Media(data, mime, name)


async def load(
    value: str,
    field: str,
    max_bytes: int,
    timeout: float,
    *,
    allow_private: bool | Reach = True,
    proxy: str | None = None,
) -> Media:
    """A URL or base64 value of a send route's media field."""
    value = value.strip()
    if is_url(value):
        return await fetch(
            value, field, max_bytes, timeout, allow_private=allow_private, proxy=proxy
        )
    return decode_base64(value, field, max_bytes)
