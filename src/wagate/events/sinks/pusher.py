"""The Pusher sink: Pusher's HTTP API (`POST /apps/<app id>/events`) with its request signing,
over httpx2.

Each request is signed as Pusher's HTTP API reference says: the query carries `auth_key`,
`auth_timestamp`, `auth_version=1.0` and `body_md5` (hex MD5 of the body), and
`auth_signature` is the hex HMAC-SHA256, under the app's secret, of
`POST\\n<path>\\n<those parameters sorted by name, key=value joined by &>`.

The row's target is the events URL, its `headers` hold the app key and its `secret` the app
secret (routing.py builds them from the instance's config or PUSHER_GLOBAL_*). The body is
Pusher's `{name, channel, data}`; as in Evolution, an event whose `data` is over Pusher's
10 KB limit is not sent: the delivery is dead with the reason.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import urlsplit

import httpx2
import orjson

from wagate.events.backoff import RetryPolicy
from wagate.events.sinks.base import Result
from wagate.store.outbox import Claimed

MAX_DATA = 10240
"""Pusher's limit on an event's data (bytes), which Evolution applies too."""


def signed_query(key: str, secret: str, path: str, body: bytes, now: int | None = None) -> str:
    """The query string of a signed request to `path` (auth_signature last)."""
    params = {
        "auth_key": key,
        "auth_timestamp": str(int(time.time()) if now is None else now),
        "auth_version": "1.0",
        "body_md5": hashlib.md5(body).hexdigest(),
    }
    query = "&".join(f"{k}={params[k]}" for k in sorted(params))
    signature = hmac.new(
        secret.encode(), f"POST\n{path}\n{query}".encode(), hashlib.sha256
    ).hexdigest()
    return f"{query}&auth_signature={signature}"


class PusherSink:
    def __init__(self, policy: RetryPolicy, timeout: float) -> None:
        self._policy = policy
        self._client = httpx2.AsyncClient(timeout=httpx2.Timeout(timeout))

    async def deliver(self, row: Claimed) -> Result:
        body = row.payload.encode()
        size = len(orjson.loads(body)["data"].encode())
        if size > MAX_DATA:
            return Result(
                False,
                None,
                f"event data of {size} bytes exceeds Pusher's limit ({MAX_DATA} bytes)",
                retryable=False,
            )
        key = str((row.headers or {}).get("key") or "")
        query = signed_query(key, row.secret or "", urlsplit(row.target).path, body)
        try:
            response = await self._client.post(
                f"{row.target}?{query}",
                content=body,
                headers={"Content-Type": "application/json"},
            )
        except (TimeoutError, httpx2.TimeoutException):
            return Result(False, None, "timed out")
        except (httpx2.HTTPError, OSError) as exc:
            return Result(False, None, f"{type(exc).__name__}: {exc}"[:500])
        code = response.status_code
        if 200 <= code < 300:
            return Result(True, code)
        error = f"HTTP {code}: {response.text[:200]}"
        return Result(False, code, error, self._policy.retryable(code))

    async def close(self) -> None:
        await self._client.aclose()
