"""What a URL the server will connect to may look like, and the headers sent to it.

A client (webhook/set, create's webhook block) or an operator (WEBHOOK_GLOBAL_URL,
API_AUDIO_CONVERTER, RABBITMQ_URI, NATS_URI) names a place the server sends to. Each is checked
when it is given, so a URL that can never be delivered to (`file:///etc/passwd`, `gopher://…`,
`not a url`, 5 MB of text) is a 400 naming the field, or a start-up error naming the variable,
instead of a stored value that fails on every event. Where the URL may lead (private
addresses) is checked on each connection, not here (domain/addresses.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

WEB = ("http", "https")
AMQP = ("amqp", "amqps")
NATS = ("nats", "tls")

MAX_URL_LENGTH = 2048
"""Longer URLs are refused: browsers and proxies cap near here, and receivers do too."""
MAX_HEADERS = 32
MAX_HEADER_BYTES = 8192
"""The names and values of a webhook's custom headers, all together, in UTF-8."""
MAX_HEADER_NAME = 256

_TOKEN = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_BAD_VALUE_CHARS = frozenset("\r\n\0")


def url_problem(url: str, field: str, schemes: tuple[str, ...] = WEB) -> str | None:
    """Why `url` cannot be a target for `field`, or None when it can.

    The scheme is one of `schemes`, the URL has a host, a valid port, no whitespace or
    control characters, and is at most MAX_URL_LENGTH characters. A host without a dot
    (`http://receiver:8080`) is accepted: receivers on a private network are named so."""
    allowed = " or ".join(f"{s}://" for s in schemes)
    if not url:
        return f"{field} is empty: give an {allowed} URL"
    if len(url) > MAX_URL_LENGTH:
        return f"{field} is {len(url)} characters long; the limit is {MAX_URL_LENGTH}"
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        return f"{field} contains whitespace or a control character"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError for a port out of range)
    except ValueError as exc:
        return f"{field} is not a valid URL: {exc}"
    if parts.scheme.lower() not in schemes:
        shown = f"{parts.scheme}://" if parts.scheme else "no scheme"
        return f"{field} must be an {allowed} URL, not {shown}"
    if not parts.hostname:
        return f"{field} has no host"
    return None


def header_problem(headers: Mapping[str, object], field: str) -> str | None:
    """Why a webhook's custom `headers` cannot be sent, or None when they can.

    At most MAX_HEADERS of them, names that are HTTP tokens (MAX_HEADER_NAME characters at
    most), values that are strings, numbers, booleans or null (null is not sent) without CR,
    LF or NUL, and MAX_HEADER_BYTES in all."""
    if len(headers) > MAX_HEADERS:
        return f"{field} has {len(headers)} headers; the limit is {MAX_HEADERS}"
    size = 0
    for name, value in headers.items():
        shown = name[:60]
        if not name or len(name) > MAX_HEADER_NAME or not _TOKEN.issuperset(name):
            return f'{field} "{shown}" is not a valid header name'
        if value is None:
            continue
        if not isinstance(value, str | int | float | bool):
            return f"{field}.{shown} must be a string, number or boolean"
        text = str(value)
        if not _BAD_VALUE_CHARS.isdisjoint(text):
            return f"{field}.{shown} contains CR, LF or NUL"
        size += len(name.encode()) + len(text.encode())
        if size > MAX_HEADER_BYTES:
            return f"{field} are larger than {MAX_HEADER_BYTES} bytes in all"
    return None
