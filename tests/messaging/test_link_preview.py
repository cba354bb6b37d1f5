"""Link previews: the link finder, the page parser, the thumbnail, every way a fetch fails
(none of which fails a send), the cache, and sendText from A to B with the preview."""

from __future__ import annotations

import asyncio
import base64
import io
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.messaging.conftest import B_NUMBER, Pair
from tests.messaging.pages import Page, PageServer, jpeg, og_page
from wagate.messaging import preview as pv
from wagate.messaging.preview import Previewer, decode, find_url, parse, thumbnail


@pytest.fixture
async def site() -> AsyncIterator[PageServer]:
    server = await PageServer().start()
    try:
        yield server.site()
    finally:
        await server.stop()


def _image_size(b64: str) -> tuple[str | None, tuple[int, int]]:
    from PIL import Image

    with Image.open(io.BytesIO(base64.b64decode(b64))) as img:
        return img.format, img.size


# --- the link finder -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("see https://example.com/a.", ("https://example.com/a", "https://example.com/a")),
        (
            "x (https://en.wikipedia.org/wiki/A_(b)) y",
            ("https://en.wikipedia.org/wiki/A_(b)",) * 2,
        ),
        ("[https://x.org/p]", ("https://x.org/p", "https://x.org/p")),
        ("go to www.example.org!", ("www.example.org", "https://www.example.org")),
        ("HTTPS://EXAMPLE.COM/Path", ("HTTPS://EXAMPLE.COM/Path", "https://EXAMPLE.COM/Path")),
        ("http://127.0.0.1:8080/p?q=1#f", ("http://127.0.0.1:8080/p?q=1#f",) * 2),
        ("http://[::1]:8080/x", ("http://[::1]:8080/x", "http://[::1]:8080/x")),
        ("http://localhost/x", ("http://localhost/x", "http://localhost/x")),
        ("https://münchen.de/", ("https://münchen.de/", "https://münchen.de/")),
        # credentials are never fetched: the next link is the preview
        ("https://u:p@x.com and https://y.com", ("https://y.com", "https://y.com")),
        ("*bold https://x.org*", ("https://x.org", "https://x.org")),
    ],
)
def test_the_first_link_is_found(text: str, found: tuple[str, str]) -> None:
    assert find_url(text) == found


@pytest.mark.parametrize(
    "text",
    [
        "no link here",
        "file.py and node.js and example.com",  # bare domains are not previews
        "ftp://www.example.com/file",  # not http(s), and not a www. link inside another URL
        "mailto:me@www.example.com",
        "https://x",  # no TLD
        "https://a.b.c1",  # the TLD is not alphabetic
        "http://localhost:99999/",  # not a port
        "https://",
        "awww.example.com",
        "https://" + "a" * 3000 + ".com",
    ],
)
def test_texts_without_a_link_we_fetch(text: str) -> None:
    assert find_url(text) is None


_ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"
_LABEL = st.builds(
    lambda a, mid, b: a + mid + b,
    st.sampled_from(_ALNUM),
    st.text(_ALNUM + "-", max_size=8),
    st.sampled_from(_ALNUM),
)
_SEGMENT = st.builds(
    lambda mid, end: "/" + mid + end,
    st.text(_ALNUM + "_~%=&+-.", max_size=8),
    st.sampled_from(_ALNUM),
)


@given(
    before=st.text(max_size=20),
    scheme=st.sampled_from(["http://", "https://", "www."]),
    labels=st.lists(_LABEL, min_size=1, max_size=3),
    tld=st.text("abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=6),
    path=st.lists(_SEGMENT, max_size=3).map("".join),
    after=st.sampled_from(["", " ", ".", ", more", "!", ")", "\nnext line"]),
)
def test_a_link_among_any_text_is_found_as_written(
    before: str, scheme: str, labels: list[str], tld: str, path: str, after: str
) -> None:
    """Whatever precedes it (but a URL), the link is found as written, trailing punctuation
    left out; www. links are fetched over https."""
    before = "".join(ch for ch in before if ch.isspace() or ch.isalnum()) + " "
    before = before.replace("www", "").replace("http", "")
    link = scheme + ".".join([*labels, tld]) + path
    found = find_url(before + link + after)
    assert found is not None
    assert found[0] == link
    assert found[1] == (link if scheme != "www." else "https://" + link)


@given(st.text(max_size=200))
def test_the_finder_never_fails(text: str) -> None:
    found = find_url(text)
    if found is not None:
        assert found[0] in text and found[1].startswith(("http://", "https://"))


# --- the parser ----------------------------------------------------------------------------


def test_open_graph_tags_come_first_and_entities_are_decoded() -> None:
    html = (
        '<html><head><title>Plain</title><meta property="og:title" content="Tom &amp; Jerry">'
        '<meta name="description" content="meta d"><meta property="og:description" '
        'content="  og\n  d&eacute;scription  "><meta property="og:image" content="img/a.png">'
        '</head><body><meta property="og:title" content="in the body"></body></html>'
    )
    info = parse(html, "https://example.com/dir/page")
    assert info.title == "Tom & Jerry"
    assert info.description == "og déscription"
    assert info.image == "https://example.com/dir/img/a.png"
    assert info.video is False


def test_fallbacks_title_and_meta_description() -> None:
    info = parse(
        "<head><title>\n  The &lt;title&gt;  </title><meta name=Description content=d></head>",
        "http://h/",
    )
    assert (info.title, info.description, info.image) == ("The <title>", "d", None)
    info = parse(
        '<meta name="twitter:title" content="tw"><meta name="twitter:image" content="//cdn/i">',
        "https://h/",
    )
    assert (info.title, info.image) == ("tw", "https://cdn/i")


def test_missing_tags_give_no_title() -> None:
    assert parse("<html><body><h1>Only a heading</h1></body></html>", "http://h/").title is None
    assert parse("", "http://h/") == pv.PageInfo(None, None, None, False)
    assert parse("<title>   </title>", "http://h/").title is None


def test_image_urls_resolve_against_base_and_only_http() -> None:
    html = (
        '<head><base href="https://cdn.example.net/s/"><meta property="og:image" content="i.jpg">'
    )
    assert parse(html, "https://example.com/").image == "https://cdn.example.net/s/i.jpg"
    html = '<meta property="og:image" content="data:image/png;base64,AAAA">'
    assert parse(html, "https://example.com/").image is None
    html = '<meta property="og:image" content="file:///etc/passwd">'
    assert parse(html, "https://example.com/").image is None
    html = '<link rel="image_src" href="/pic.png">'
    assert parse(html, "https://example.com/a").image == "https://example.com/pic.png"


def test_video_pages_are_video_previews() -> None:
    assert parse('<meta property="og:type" content="video.other">', "http://h/").video
    assert parse('<meta property="og:video:url" content="http://h/v.mp4">', "http://h/").video
    assert not parse('<meta property="og:type" content="website">', "http://h/").video


def test_long_titles_and_descriptions_are_cut() -> None:
    info = parse(f"<title>{'t' * 5000}</title>", "http://h/")
    assert info.title is not None and len(info.title) == pv.TITLE_MAX_CHARS
    assert info.title.endswith("…")


@pytest.mark.parametrize(
    "html",
    [
        "<html><head><title>Broken<meta property=og:title content='x",
        "<head><title>x</title><!bogus <![CDATA[ ]]> <meta <<>> </head",
        "<<<>>>&&&&#xZZZ;&#99999999999;<title>ok</title>",
        "\x00\x01<title>\x00</title>",
        "<title>unclosed",
    ],
)
def test_broken_html_does_not_raise(html: str) -> None:
    parse(html, "http://h/")


def test_charsets() -> None:
    text = "Olá, coração"
    # declared by the Content-Type header
    assert decode(f"<title>{text}</title>".encode("latin-1"), "iso-8859-1") == (
        f"<title>{text}</title>"
    )
    # declared by <meta charset> and by http-equiv
    body = f'<meta charset="windows-1251"><title>{"Привет"}</title>'.encode("cp1251")
    assert parse(decode(body, None), "http://h/").title == "Привет"
    body = (
        '<meta http-equiv="Content-Type" content="text/html; charset=Shift_JIS">'
        "<title>日本語</title>"
    ).encode("shift_jis")
    assert parse(decode(body, None), "http://h/").title == "日本語"
    # a byte order mark wins
    assert decode(b"\xef\xbb\xbf<title>x</title>", "latin-1") == "<title>x</title>"
    # nothing declared: UTF-8 when it is, even cut in the middle of a character
    assert decode("<title>ção</title>".encode()[:-10], None) == "<title>ç"
    # nothing declared and not UTF-8: windows-1252
    assert decode("<title>café €</title>".encode("cp1252"), None) == "<title>café €</title>"
    # an unknown charset is ignored
    assert decode("<title>é</title>".encode(), "no-such-charset") == "<title>é</title>"


# --- the thumbnail -------------------------------------------------------------------------


def test_thumbnails_are_small_jpegs() -> None:
    from PIL import Image

    out = thumbnail(jpeg(1200, 600))
    assert out is not None and out.startswith(b"\xff\xd8\xff")
    with Image.open(io.BytesIO(out)) as img:
        assert img.size == (300, 150)
    # transparency on white, any format Pillow reads
    png = io.BytesIO()
    Image.new("RGBA", (40, 80), (255, 0, 0, 0)).save(png, "PNG")
    out = thumbnail(png.getvalue())
    assert out is not None
    with Image.open(io.BytesIO(out)) as img:
        assert img.size == (40, 80) and img.getpixel((5, 5)) == (255, 255, 255)


def test_bad_image_bytes_and_huge_images_give_no_thumbnail(monkeypatch: Any) -> None:
    assert thumbnail(b"") is None
    assert thumbnail(b"\xff\xd8\xff\xe0 not really a jpeg") is None
    assert thumbnail(b"<svg xmlns='http://www.w3.org/2000/svg'/>") is None
    monkeypatch.setattr(pv, "IMAGE_MAX_PIXELS", 1000)
    assert thumbnail(jpeg(100, 100)) is None


# --- fetching: success, failures, cache ----------------------------------------------------


async def test_a_page_gives_title_description_and_thumbnail(site: PageServer) -> None:
    p = Previewer(5.0)
    fields = await p.preview(f"look: {site.url('/page')} !")
    assert fields is not None
    thumb = fields.pop("jpegThumbnail")
    assert fields == {
        "matchedText": site.url("/page"),
        "title": "A page",
        "description": "What the page is about",
        "previewType": "NONE",
    }
    assert _image_size(thumb) == ("JPEG", (300, 225))


async def test_redirects_are_followed_up_to_a_limit(site: PageServer) -> None:
    site.pages["/short"] = Page(b"", 302, None, headers={"location": "/page"})
    fields = await Previewer(5.0).preview(site.url("/short"))
    assert fields is not None and fields["title"] == "A page"
    assert fields["matchedText"] == site.url("/short")
    # never to another scheme
    site.pages["/to-file"] = Page(b"", 302, None, headers={"location": "file:///etc/passwd"})
    site.pages["/to-ftp"] = Page(b"", 302, None, headers={"location": "ftp://127.0.0.1/x"})
    assert await Previewer(5.0).preview(site.url("/to-file")) is None
    assert await Previewer(5.0).preview(site.url("/to-ftp")) is None
    for i in range(pv.MAX_REDIRECTS + 1):
        site.pages[f"/loop{i}"] = Page(b"", 301, None, headers={"location": f"/loop{i + 1}"})
    assert await Previewer(5.0).preview(site.url("/loop0")) is None


async def test_a_page_that_does_not_answer_in_time_gives_no_preview(site: PageServer) -> None:
    site.pages["/slow"] = Page(og_page(), delay=5)
    start = time.monotonic()
    assert await Previewer(0.3).preview(site.url("/slow")) is None
    assert time.monotonic() - start < 1.5


@pytest.mark.parametrize(
    ("page", "why"),
    [
        (Page(og_page(), 404), "not found"),
        (Page(og_page(), 500), "server error"),
        (Page(jpeg(), content_type="image/jpeg"), "not HTML"),
        (Page(b'{"title": "x"}', content_type="application/json"), "not HTML"),
        (Page(b"<html><body>no title</body></html>"), "no title"),
        (Page(b"\x00" * 100, content_type=None), "not HTML"),
    ],
)
async def test_pages_that_give_no_preview(site: PageServer, page: Page, why: str) -> None:
    site.pages["/p"] = page
    assert await Previewer(5.0).preview(site.url("/p")) is None, why


async def test_html_without_a_content_type_is_sniffed(site: PageServer) -> None:
    site.pages["/p"] = Page(b"  <!DOCTYPE html><title>sniffed</title>", content_type=None)
    fields = await Previewer(5.0).preview(site.url("/p"))
    assert fields is not None and fields["title"] == "sniffed"


async def test_nothing_listening_gives_no_preview(site: PageServer) -> None:
    await site.stop()
    await asyncio.sleep(0)
    assert await Previewer(2.0).preview(site.url("/page")) is None


async def test_only_the_start_of_a_huge_page_is_read(site: PageServer) -> None:
    head = og_page(title="Huge").split(b"<body>")[0]
    site.pages["/huge"] = Page(head + b"<body>" + b"x" * (8 * 1024 * 1024))
    fields = await Previewer(5.0).preview(site.url("/huge"))
    assert fields is not None and fields["title"] == "Huge"
    # metadata beyond the first PAGE_MAX_BYTES is never read
    site.pages["/late"] = Page(b"<!--" + b"x" * pv.PAGE_MAX_BYTES + b"-->" + head)
    assert await Previewer(5.0).preview(site.url("/late")) is None


async def test_a_failing_image_leaves_a_preview_without_thumbnail(
    site: PageServer, monkeypatch: Any
) -> None:
    cases = {
        "/missing.jpg": None,  # 404
        "/bad.jpg": Page(b"\xff\xd8\xff garbage", content_type="image/jpeg"),
        "/big.jpg": Page(jpeg(), content_type="image/jpeg"),
        "/slow.jpg": Page(jpeg(), content_type="image/jpeg", delay=5),
    }
    monkeypatch.setattr(pv, "IMAGE_MAX_BYTES", 1000)  # /big.jpg is larger
    for image, page in cases.items():
        if page is not None:
            site.pages[image] = page
        site.pages["/p" + image] = Page(og_page(image=image))
        start = time.monotonic()
        fields = await Previewer(0.5).preview(site.url("/p" + image))
        assert time.monotonic() - start < 1.5, image
        assert fields is not None, image
        assert fields["title"] == "A page" and "jpegThumbnail" not in fields, image


async def test_answers_without_a_length_are_capped_while_they_stream(
    site: PageServer, monkeypatch: Any
) -> None:
    monkeypatch.setattr(pv, "IMAGE_MAX_BYTES", 1000)
    site.pages["/nolength.jpg"] = Page(jpeg(), content_type="image/jpeg", length=False)
    head = og_page(image="/nolength.jpg").split(b"<body>")[0]
    site.pages["/p"] = Page(head + b"<body>" + b"x" * (4 * 1024 * 1024), length=False)
    fields = await Previewer(5.0).preview(site.url("/p"))
    assert fields is not None and fields["title"] == "A page" and "jpegThumbnail" not in fields


async def test_previews_are_cached_and_shared(site: PageServer) -> None:
    p = Previewer(5.0)
    url = site.url("/page")
    results = await asyncio.gather(*(p.preview(f"{url} #{i}") for i in range(5)))
    assert all(r == results[0] for r in results) and results[0] is not None
    again = await p.preview(f"again {url}")
    assert again == results[0]
    assert site.hits["/page"] == 1 and site.hits["/image.jpg"] == 1 and p.fetches == 1
    # failures are kept too (for less time): a broadcast of a dead link waits once
    site.pages["/slow"] = Page(og_page(), delay=5)
    dead = Previewer(0.2)
    assert await dead.preview(site.url("/slow")) is None
    assert await dead.preview(site.url("/slow")) is None
    assert site.hits["/slow"] == 1


async def test_the_cache_is_bounded_and_expires(site: PageServer) -> None:
    now = [0.0]
    p = Previewer(5.0, cache_size=2, clock=lambda: now[0])
    for path in ("/a", "/b", "/c"):
        site.pages[path] = Page(og_page(image=None))
        await p.preview(site.url(path))
    assert len(p._cache) == 2 and site.url("/a") not in p._cache
    await p.preview(site.url("/b"))
    assert site.hits["/b"] == 1
    now[0] += pv.CACHE_TTL + 1
    await p.preview(site.url("/b"))
    assert site.hits["/b"] == 2


async def test_a_send_given_up_on_does_not_cancel_the_shared_fetch(site: PageServer) -> None:
    site.pages["/page"].delay = 0.2
    p = Previewer(5.0)
    first = asyncio.create_task(p.preview(site.url("/page")))
    await asyncio.sleep(0.05)
    first.cancel()
    fields = await p.preview(site.url("/page"))
    assert fields is not None and site.hits["/page"] == 1


async def test_no_link_no_fetch_and_zero_turns_previews_off(site: PageServer) -> None:
    assert await Previewer(5.0).preview("just words") is None
    assert await Previewer(0).preview(site.url("/page")) is None
    assert await Previewer(5.0).preview(f"ftp://127.0.0.1:{site.port}/page") is None
    assert sum(site.hits.values()) == 0


def test_message_raw_keeps_a_preview_and_only_a_preview() -> None:
    from wagate.engines.messaging import MessageKey
    from wagate.messaging import content as c
    from wagate.messaging.raw import message_raw

    key = MessageKey("5511987650002@s.whatsapp.net", True, "3EB0AAAA")
    preview = {"matchedText": "https://x.org", "title": "X", "previewType": "NONE"}
    content = c.with_preview(c.text("see https://x.org"), preview)
    assert content == {"extendedTextMessage": {"text": "see https://x.org", **preview}}
    raw = message_raw("i", key, content, 1, None, "PENDING")
    assert raw["messageType"] == "conversation"
    assert raw["message"] == {
        "conversation": "see https://x.org",
        "extendedTextMessage": {"text": "see https://x.org", **preview},
    }
    # a text that is extended only for its context stays Evolution's plain conversation
    quoted = {"extendedTextMessage": {"text": "hi", "contextInfo": {"stanzaId": "A"}}}
    raw = message_raw("i", key, quoted, 1, None, "PENDING")
    assert raw["message"] == {"conversation": "hi"} and raw["contextInfo"] == {"stanzaId": "A"}
    assert c.with_preview(c.text("no link"), None) == {"conversation": "no link"}


# --- sendText from A to B ------------------------------------------------------------------


async def test_send_text_carries_the_preview_to_b(sqlite_pair: Pair, site: PageServer) -> None:
    p, h = sqlite_pair, sqlite_pair.h
    text = f"read this: {site.url('/page')}"
    r = await h.client.post(f"/message/sendText/{p.a}", json={"number": B_NUMBER, "text": text})
    assert r.status_code == 201, r.text
    raw = r.json()
    assert raw["messageType"] == "conversation" and raw["message"]["conversation"] == text
    ext = raw["message"]["extendedTextMessage"]
    assert ext["text"] == text and ext["matchedText"] == site.url("/page")
    assert ext["title"] == "A page" and ext["description"] == "What the page is about"
    assert ext["previewType"] == "NONE"
    assert _image_size(ext["jpegThumbnail"]) == ("JPEG", (300, 225))

    # B hears it with the preview, and both stored it
    upsert = (await p.events(p.hook_b, "messages.upsert", 1))[0]["data"]
    assert upsert["message"]["extendedTextMessage"] == ext
    for name in (p.a, p.b):
        r = await h.client.post(
            f"/chat/findMessages/{name}", json={"where": {"key": {"id": raw["key"]["id"]}}}
        )
        records = r.json()["messages"]["records"]
        assert records[0]["message"]["extendedTextMessage"] == ext, name

    # linkPreview false: a plain text, and nothing fetched
    hits = sum(site.hits.values())
    r = await h.client.post(
        f"/message/sendText/{p.a}", json={"number": B_NUMBER, "text": text, "linkPreview": False}
    )
    assert r.status_code == 201, r.text
    assert r.json()["message"] == {"conversation": text}
    assert sum(site.hits.values()) == hits

    # a quote with a preview: contextInfo on the extendedTextMessage (and lifted to the top)
    r = await h.client.post(
        f"/message/sendText/{p.a}",
        json={"number": B_NUMBER, "text": text, "linkPreview": True,
              "quoted": {"key": {"id": raw["key"]["id"]}}},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    quote = r.json()
    assert quote["message"]["extendedTextMessage"]["title"] == "A page"
    ctx = quote["message"]["extendedTextMessage"]["contextInfo"]
    assert ctx == quote["contextInfo"] and ctx["stanzaId"] == raw["key"]["id"]
    assert ctx["quotedMessage"] == {"conversation": text}  # quoted as text


async def test_a_link_that_fails_is_sent_without_preview(
    sqlite_pair: Pair, site: PageServer
) -> None:
    p, h = sqlite_pair, sqlite_pair.h
    h.app.state.messenger.previews = Previewer(0.3)
    site.pages["/slow"] = Page(og_page(), delay=5)
    for path in ("/nothing-here", "/slow"):
        text = f"broken {site.url(path)}"
        start = time.monotonic()
        r = await h.client.post(
            f"/message/sendText/{p.a}", json={"number": B_NUMBER, "text": text}
        )
        assert r.status_code == 201, r.text
        assert r.json()["message"] == {"conversation": text}
        assert time.monotonic() - start < 2.0
    upserts = await p.events(p.hook_b, "messages.upsert", 2)
    assert [u["data"]["message"] for u in upserts] == [
        {"conversation": f"broken {site.url('/nothing-here')}"},
        {"conversation": f"broken {site.url('/slow')}"},
    ]
