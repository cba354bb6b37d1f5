"""Link previews of sent texts, built by the sender as WhatsApp clients (and Baileys) do.

The first link of the text is fetched, the page's Open Graph tags (with `<title>` and the
meta description as fallbacks) give the title and the description, and its image becomes a
small inline JPEG. The result is the extendedTextMessage fields WhatsApp shows a preview from:
`matchedText`, `title`, `description`, `previewType` and `jpegThumbnail` (base64, as the JSON
form of the message proto writes bytes).

Which links: `http://` and `https://` URLs, and `www.` forms (fetched as `https://`), with a
host that is a domain with an alphabetic TLD, `localhost` or an IP address. Baileys matches only
`https://` URLs with an alphabetic TLD; WhatsApp's own clients also preview `http://` and `www.`
links. Bare domains (`example.com`) are not previews: they are too often not links
(`file.py`, `node.js`). A URL that carries credentials (`user:pass@`) is never fetched, and
trailing punctuation (`see https://x.org/a.`) is not part of the link.

A preview never blocks or fails a send. Everything is bounded by one deadline
(WAGATE_LINK_PREVIEW_TIMEOUT_SECONDS): a page that does not answer in time, answers other than
200, is not HTML, or has no title gives no preview (the text is sent as is); an image that
fails (too slow, too large, not an image) gives a preview without a thumbnail. Only the first
PAGE_MAX_BYTES of a page are read. Recent previews (and failures, for less time) are kept in a
bounded LRU, and concurrent sends of one link share one fetch, so a broadcast fetches once.

The thumbnail is inline only. Baileys (as Evolution runs it) can also upload a high-quality one
to WhatsApp's media servers (`thumbnailDirectPath`, `mediaKey`, `thumbnailWidth/Height`); those
fields describe that upload, so they are left out. Like a media URL, the link is fetched by the
server: by default what it can reach, a text's link can reach; with
WAGATE_PRIVATE_ADDRESSES=false the page, each redirect and the image connect only to public
addresses (egress.py), and a refused page is no preview (a refused image, no thumbnail).
"""

from __future__ import annotations

import asyncio
import base64
import codecs
import io
import ipaddress
import re
import ssl
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

import structlog

from wagate.messaging.media import TooLarge, read_at_most
from wagate.runtime.tasks import spawn

if TYPE_CHECKING:
    from wagate.egress import Reach

_log = structlog.get_logger("wagate.messaging.preview")

PAGE_MAX_BYTES = 512 * 1024
IMAGE_MAX_BYTES = 5 * 1024 * 1024
IMAGE_MAX_PIXELS = 40_000_000
THUMB_MAX_SIDE = 300
THUMB_QUALITY = 70
MAX_REDIRECTS = 5
URL_MAX_CHARS = 2048
TITLE_MAX_CHARS = 300
DESCRIPTION_MAX_CHARS = 1000
CACHE_SIZE = 256
CACHE_TTL = 600.0
FAILURE_TTL = 60.0
USER_AGENT = "WhatsApp/2 (wagate link preview)"

# Where a link may start: "http(s)://" or "www.", not inside a word, an e-mail address or a
# longer URL. Where it ends is decided by _trim and urlsplit, not by this pattern.
_CANDIDATE = re.compile(r"(?<![\w@./\\-])(?:https?://|www\.)[^\s<>\"`]+", re.IGNORECASE)
_TRAILING = ".,;:!?'\"*_~"
_PAIRS = {")": "(", "]": "[", "}": "{"}
_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_TLD = re.compile(r"^(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$")
_HTML_TYPES = ("text/html", "application/xhtml+xml")
_IMAGE_KEYS = (
    "og:image",
    "og:image:secure_url",
    "og:image:url",
    "twitter:image",
    "twitter:image:src",
)
_VIDEO_KEYS = ("og:video", "og:video:url", "og:video:secure_url")


# --- finding the link ----------------------------------------------------------------------


def _trim(candidate: str) -> str:
    """Drop trailing punctuation and closing brackets that the link does not open."""
    while candidate:
        last = candidate[-1]
        unopened = last in _PAIRS and candidate.count(last) > candidate.count(_PAIRS[last])
        if not (last in _TRAILING or unopened):
            break
        candidate = candidate[:-1]
    return candidate


def _valid_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    try:
        ascii_host = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return False
    labels = ascii_host.rstrip(".").split(".")
    return (
        len(labels) >= 2
        and all(_LABEL.match(label) for label in labels)
        and bool(_TLD.match(labels[-1]))
    )


def _as_url(matched: str) -> str | None:
    """The URL to fetch for a matched link, or None when it is not one we fetch."""
    lowered = matched.lower()
    if lowered.startswith(("http://", "https://")):
        scheme, rest = matched.split("://", 1)
        url = f"{scheme.lower()}://{rest}"
    else:
        url = "https://" + matched
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port that is not one
    except ValueError:
        return None
    if "@" in parts.netloc or not parts.hostname or not _valid_host(parts.hostname):
        return None
    return url


def find_url(text: str) -> tuple[str, str] | None:
    """The first link of the text: (the text as written, the URL to fetch)."""
    for match in _CANDIDATE.finditer(text):
        matched = _trim(match.group(0))
        if len(matched) > URL_MAX_CHARS or matched.lower() in ("http://", "https://", "www."):
            continue
        url = _as_url(matched)
        if url is not None:
            return matched, url
    return None


# --- reading the page ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PageInfo:
    title: str | None
    description: str | None
    image: str | None
    video: bool


class _Head(HTMLParser):
    """Collects the metadata of a page's head; `done` once the head is over."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.meta: dict[str, str] = {}
        self.title: list[str] = []
        self.base: str | None = None
        self.image_src: str | None = None
        self.charset: str | None = None
        self.done = False
        self._in_title = False
        self._title_seen = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.done:
            return
        a = {k.lower(): v for k, v in attrs if v is not None}
        if tag == "meta":
            self._meta(a)
        elif tag == "title" and not self._title_seen:
            self._in_title = True
        elif tag == "base" and self.base is None and a.get("href"):
            self.base = a["href"]
        elif tag == "link" and "image_src" in a.get("rel", "").lower().split():
            self.image_src = self.image_src or a.get("href")
        elif tag == "body":
            self.done = True

    def _meta(self, a: dict[str, str]) -> None:
        if self.charset is None:
            if a.get("charset"):
                self.charset = a["charset"].strip()
            elif a.get("http-equiv", "").lower() == "content-type":
                _, _, tail = a.get("content", "").lower().partition("charset=")
                self.charset = tail.strip(" \"';") or None
        key = (a.get("property") or a.get("name") or "").strip().lower()
        if key and "content" in a:
            self.meta.setdefault(key, a["content"])

    def handle_endtag(self, tag: str) -> None:
        if self.done:
            return
        if tag == "title" and self._in_title:
            self._in_title = False
            self._title_seen = True
        elif tag == "head":
            self.done = True

    def handle_data(self, data: str) -> None:
        if self._in_title and not self.done:
            self.title.append(data)


def _feed(head: _Head, html: str, step: int, enough: Callable[[], bool]) -> None:
    """Feed in small steps, to stop soon after the head (pages are mostly body)."""
    for start in range(0, len(html), step):
        head.feed(html[start : start + step])
        if head.done or enough():
            return


def _codec(name: str | None) -> str | None:
    """A Python codec for a declared charset; latin-1 is windows-1252 as browsers read it."""
    if not name:
        return None
    try:
        codec = codecs.lookup(name.strip().strip("\"'")).name
    except LookupError:
        return None
    return "cp1252" if codec in ("latin-1", "iso8859-1", "ascii") else codec


def decode(data: bytes, declared: str | None) -> str:
    """The page's text: by its BOM, else its Content-Type charset, else its <meta> charset,
    else UTF-8 when it is valid UTF-8 (a character cut at the size cap is fine), else
    windows-1252."""
    for bom, by_bom in (
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            return data.decode(by_bom, errors="replace")
    codec = _codec(declared)
    if codec is None:
        prescan = _Head()
        _feed(prescan, data[:4096].decode("latin-1"), 512, lambda: bool(prescan.charset))
        codec = _codec(prescan.charset)
        if codec in ("utf-16", "utf-16-le", "utf-16-be"):
            codec = "utf-8"  # an ASCII-readable page cannot be UTF-16 (as browsers decide)
    if codec is not None:
        return data.decode(codec, errors="replace")
    try:
        return codecs.getincrementaldecoder("utf-8")().decode(data, final=False)
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _clean(value: str | None, limit: int) -> str | None:
    if value is None:
        return None
    text = " ".join(value.split())
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text or None


def parse(html: str, page_url: str) -> PageInfo:
    """The preview's metadata of a page's HTML (its head; parsing stops where the body starts)."""
    head = _Head()
    _feed(head, html, 2048, lambda: False)
    head.close()
    meta = head.meta
    title = meta.get("og:title") or meta.get("twitter:title") or "".join(head.title)
    description = (
        meta.get("og:description") or meta.get("twitter:description") or meta.get("description")
    )
    image = next((meta[k] for k in _IMAGE_KEYS if meta.get(k)), None) or head.image_src
    base = urljoin(page_url, head.base) if head.base else page_url
    image_url = urljoin(base, image.strip()) if image else None
    if image_url and urlsplit(image_url).scheme not in ("http", "https"):
        image_url = None
    video = meta.get("og:type", "").lower().startswith("video") or any(
        meta.get(k) for k in _VIDEO_KEYS
    )
    return PageInfo(
        _clean(title, TITLE_MAX_CHARS),
        _clean(description, DESCRIPTION_MAX_CHARS),
        image_url,
        video,
    )


# --- the thumbnail -------------------------------------------------------------------------


def thumbnail(data: bytes) -> bytes | None:
    """A JPEG of at most THUMB_MAX_SIDE pixels a side, or None when the bytes are not an
    image Pillow reads (or one too large to decode)."""
    from PIL import Image, ImageOps  # on first use: a server that sends no links never loads it

    try:
        with Image.open(io.BytesIO(data)) as img:
            width, height = img.size
            if width < 1 or height < 1 or width * height > IMAGE_MAX_PIXELS:
                return None
            img.draft("RGB", (THUMB_MAX_SIDE, THUMB_MAX_SIDE))  # JPEG: decode at a small scale
            small = ImageOps.exif_transpose(img)
            small.thumbnail((THUMB_MAX_SIDE, THUMB_MAX_SIDE), Image.Resampling.BICUBIC)
            if small.mode in ("RGBA", "LA", "P", "PA"):
                rgba = small.convert("RGBA")
                small = Image.new("RGB", rgba.size, (255, 255, 255))
                small.paste(rgba, mask=rgba.getchannel("A"))
            out = io.BytesIO()
            small.convert("RGB").save(out, "JPEG", quality=THUMB_QUALITY, optimize=True)
            return out.getvalue()
    except Exception:
        return None


# --- fetching ------------------------------------------------------------------------------


class Skip(Exception):
    """Why a page or an image gives nothing (logged at debug, never raised to a send)."""


@dataclass(frozen=True, slots=True)
class Fetched:
    data: bytes
    url: str
    content_type: str
    charset: str | None


async def _get(client: Any, url: str, accept: str, max_bytes: int, cut: bool) -> Fetched:
    """GET the URL: a 200, at most `max_bytes` (the first ones when `cut`, else Skip)."""
    headers = {"accept": accept}
    async with client.stream("GET", url, headers=headers) as resp:
        if resp.status_code != 200:
            raise Skip(f"HTTP {resp.status_code}")
        declared = resp.headers.get("content-length", "")
        if not cut and declared.isdigit() and int(declared) > max_bytes:
            raise Skip(f"{declared} bytes is more than {max_bytes}")
        ctype = resp.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        try:
            data = await read_at_most(resp.aiter_bytes(), max_bytes, cut=cut)
        except TooLarge as exc:
            raise Skip(str(exc)) from None
        return Fetched(data, str(resp.url), ctype, resp.charset_encoding)


def _is_html(page: Fetched) -> bool:
    if page.content_type:
        return page.content_type in _HTML_TYPES
    start = page.data[:512].lstrip().lower()
    return start.startswith((b"<!doctype html", b"<html", b"<head"))


class Previewer:
    """Builds the preview of a text's first link; one per process (its LRU is shared)."""

    def __init__(
        self,
        timeout: float,
        *,
        allow_private: bool | Reach = True,
        cache_size: int = CACHE_SIZE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.timeout = timeout
        self.allow_private = allow_private
        self.cache_size = cache_size
        self._clock = clock
        self._cache: OrderedDict[str, tuple[float, dict[str, Any] | None]] = OrderedDict()
        self._inflight: dict[str, asyncio.Task[dict[str, Any] | None]] = {}
        self._ssl: ssl.SSLContext | None = None
        self.fetches = 0  # pages fetched (what the cache saves)

    @property
    def enabled(self) -> bool:
        return self.timeout > 0

    async def preview(self, text: str) -> dict[str, Any] | None:
        """The extendedTextMessage fields of the text's first link, or None (no link, or no
        preview for it). Never raises, and returns within the deadline."""
        task = self.start(text)
        return None if task is None else await task

    def start(self, text: str) -> asyncio.Task[dict[str, Any] | None] | None:
        """`preview` as a task, started only when the text has a link to preview."""
        found = find_url(text) if self.enabled else None
        return None if found is None else spawn(self._preview(*found), "preview", awaited=True)

    async def _preview(self, matched: str, url: str) -> dict[str, Any] | None:
        fields = self._cached(url)
        if fields is None and url not in self._cache:
            task = self._inflight.get(url)
            if task is None:
                task = spawn(self._build(url), f"preview:{url}")
                self._inflight[url] = task
                task.add_done_callback(lambda t: self._settle(url, t))
            # shielded: a send given up on does not cancel the fetch other sends wait for
            fields = await asyncio.shield(task)
        if fields is None:
            return None
        return {"matchedText": matched, **fields}

    def _cached(self, url: str) -> dict[str, Any] | None:
        hit = self._cache.get(url)
        if hit is None:
            return None
        expires, fields = hit
        if expires <= self._clock():
            del self._cache[url]
            return None
        self._cache.move_to_end(url)
        return fields

    def _settle(self, url: str, task: asyncio.Task[dict[str, Any] | None]) -> None:
        self._inflight.pop(url, None)
        fields = None if task.cancelled() or task.exception() else task.result()
        ttl = CACHE_TTL if fields is not None else FAILURE_TTL
        self._cache[url] = (self._clock() + ttl, fields)
        self._cache.move_to_end(url)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    async def _ssl_context(self) -> ssl.SSLContext:
        """Loading the CA bundle takes tens of ms: once per process, and off the loop."""
        if self._ssl is None:
            import httpx2

            self._ssl = await asyncio.to_thread(httpx2.create_ssl_context)
        return self._ssl

    async def _build(self, url: str) -> dict[str, Any] | None:
        """The fields of the URL's page, within the deadline; None when there is no preview."""
        import httpx2  # on first use: a server that sends no links never loads it

        from wagate import egress

        deadline = asyncio.get_running_loop().time() + self.timeout
        try:
            ssl_context = await self._ssl_context()
            client = httpx2.AsyncClient(
                verify=ssl_context,
                timeout=self.timeout,
                follow_redirects=True,
                max_redirects=MAX_REDIRECTS,
                headers={"user-agent": USER_AGENT},
                transport=egress.transport(self.allow_private, ssl_context),
            )
            async with client:
                async with asyncio.timeout_at(deadline):
                    info = await self._page(client, url)
                fields: dict[str, Any] = {"title": info.title}
                if info.description:
                    fields["description"] = info.description
                fields["previewType"] = "VIDEO" if info.video else "NONE"
                if info.image:
                    thumb = await self._thumbnail(client, info.image, deadline)
                    if thumb is not None:
                        fields["jpegThumbnail"] = base64.b64encode(thumb).decode("ascii")
                return fields
        except TimeoutError:
            reason = "timed out"
        except egress.AddressNotAllowed as exc:
            reason = str(exc)
        except Skip as exc:
            reason = str(exc)
        except httpx2.HTTPError as exc:
            reason = f"{type(exc).__name__}: {exc}"
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"
        _log.debug("link preview skipped", url=url, reason=reason)
        return None

    async def _page(self, client: Any, url: str) -> PageInfo:
        self.fetches += 1
        accept = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1"
        page = await _get(client, url, accept, PAGE_MAX_BYTES, cut=True)
        if not _is_html(page):
            raise Skip(f"not HTML ({page.content_type or 'no content type'})")
        info = parse(decode(page.data, page.charset), page.url)
        if not info.title:
            raise Skip("the page has no title")
        return info

    async def _thumbnail(self, client: Any, url: str, deadline: float) -> bytes | None:
        """The image's thumbnail within what is left of the deadline; None if it fails."""
        import httpx2

        from wagate.egress import AddressNotAllowed

        try:
            async with asyncio.timeout_at(deadline):
                image = await _get(client, url, "image/*", IMAGE_MAX_BYTES, cut=False)
                thumb = await asyncio.to_thread(thumbnail, image.data)
        except (TimeoutError, Skip, httpx2.HTTPError, AddressNotAllowed) as exc:
            _log.debug("link preview image skipped", url=url, reason=str(exc) or repr(exc))
            return None
        if thumb is None:
            _log.debug("link preview image skipped", url=url, reason="not an image")
        return thumb
