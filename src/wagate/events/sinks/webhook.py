"""The webhook sink: one POST per outbox row over a kept-alive connection, with Evolution's
headers and wagate's additions.

Per-instance deliveries carry the instance's custom headers (a `jwt_key` header becomes
`Authorization: Bearer <HS256 JWT>` as in Evolution), `X-Instance-ID`, `X-Instance-Name`,
`X-Event-Type` and `X-Timestamp`. Every delivery carries `X-Event-Id` (the envelope's id, the
same on every retry) and, when a secret is set, `X-Signature-256: sha256=<HMAC of the body>`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ssl
import time

import httpx2
import orjson

from wagate import __version__
from wagate.egress import OPEN, AddressNotAllowed, Reach
from wagate.events.backoff import RetryPolicy
from wagate.events.sinks.base import Result
from wagate.events.sinks.keepalive import (
    InvalidRequest,
    KeepAlivePool,
    Target,
    describe,
    needs_proxy,
    parse_target,
    render,
)
from wagate.store.outbox import Claimed

USER_AGENT = f"wagate-Webhook/{__version__}"
JWT_TTL = 600
TARGETS_CACHED = 4096


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def make_jwt(secret: str, now: int | None = None) -> str:
    """Evolution's webhook JWT: HS256, claims {iat, exp: iat+600, app, action}."""
    iat = int(time.time()) if now is None else now
    header = _b64(orjson.dumps({"alg": "HS256", "typ": "JWT"}))
    claims = _b64(
        orjson.dumps({"iat": iat, "exp": iat + JWT_TTL, "app": "evolution", "action": "webhook"})
    )
    signing = f"{header}.{claims}".encode()
    sig = _b64(hmac.new(secret.encode(), signing, hashlib.sha256).digest())
    return f"{header}.{claims}.{sig}"


def signature(secret: str, body: bytes) -> str:
    """The X-Signature-256 value: sha256=<hex HMAC-SHA256 of the raw body>."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def request_headers(row: Claimed, body: bytes) -> dict[str, str]:
    headers: dict[str, str] = {"Content-Type": "application/json", "X-Event-Id": row.event_id}
    if row.scope == "instance":
        for name, value in (row.headers or {}).items():
            if name == "jwt_key":
                headers["Authorization"] = f"Bearer {make_jwt(str(value))}"
            elif value is not None:
                headers[str(name)] = str(value)
        headers.update(
            {
                "X-Instance-ID": row.instance_id,
                "X-Instance-Name": row.instance_name,
                "X-Event-Type": row.event,
                "X-Timestamp": str(int(time.time() * 1000)),
                "User-Agent": USER_AGENT,
            }
        )
    if row.secret:
        headers["X-Signature-256"] = signature(row.secret, body)
    return headers


class WebhookSink:
    """POSTs rows over pooled keep-alive connections; a per-request timeout bounds every attempt.

    Requests go through the lean client (`keepalive`) unless the environment routes their URL
    through a proxy; those go through httpx2, which speaks to proxies. Both verify HTTPS
    receivers with `ssl_context`, else with the system's CA store plus `ca_file`'s CAs. A failed
    handshake (a certificate rejected, or no TLS at all) is a retryable failure, as a refused
    connection is. A receiver `reach` does not permit (WAGATE_PRIVATE_ADDRESSES=false and not
    allow-listed) is a failed delivery that is not retried, its reason in the delivery log;
    guarded requests never go through a proxy (it would connect where the check cannot see)."""

    def __init__(
        self,
        policy: RetryPolicy,
        timeout: float,
        max_connections: int = 100,
        ssl_context: ssl.SSLContext | None = None,
        ca_file: str | None = None,
        reach: Reach = OPEN,
    ) -> None:
        self._policy = policy
        self._timeout = timeout
        self._max_connections = max_connections
        self._reach = reach
        self._pool = KeepAlivePool(max_connections, ssl_context, ca_file, reach)
        self._targets: dict[str, tuple[Target, bool]] = {}
        self._proxied: httpx2.AsyncClient | None = None

    def _target(self, url: str) -> tuple[Target, bool]:
        """The parsed URL and whether it needs a proxy (cached: lanes reuse their URL)."""
        known = self._targets.get(url)
        if known is None:
            if len(self._targets) >= TARGETS_CACHED:
                self._targets.clear()
            target = parse_target(url)
            # a proxy would connect where the guard cannot see: guarded webhooks go direct
            proxied = self._reach.private and needs_proxy(target)
            known = self._targets[url] = (target, proxied)
        return known

    async def deliver(self, row: Claimed) -> Result:
        body = row.payload.encode()
        try:
            target, proxied = self._target(row.target)
            headers = request_headers(row, body)
            if proxied:
                code = await self._via_proxy(row.target, body, headers)
            else:
                code = await self._pool.post(target, render(target, body, headers), self._timeout)
        except InvalidRequest as exc:
            return Result(False, None, str(exc)[:500], retryable=False)
        except AddressNotAllowed as exc:
            why = f"refused: {exc} (WAGATE_PRIVATE_ADDRESSES=false)"
            return Result(False, None, why, retryable=False)
        except (TimeoutError, httpx2.TimeoutException):
            return Result(False, None, "timed out")
        except (httpx2.HTTPError, OSError) as exc:
            return Result(False, None, describe(exc)[:500])
        if 200 <= code < 300:
            return Result(True, code)
        return Result(False, code, f"HTTP {code}", self._policy.retryable(code))

    async def _via_proxy(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        if self._proxied is None:
            self._proxied = httpx2.AsyncClient(
                timeout=httpx2.Timeout(self._timeout),
                limits=httpx2.Limits(
                    max_connections=self._max_connections,
                    max_keepalive_connections=self._max_connections,
                ),
                follow_redirects=False,
                verify=self._pool.ssl_context,
            )
        response = await self._proxied.post(url, content=body, headers=headers)
        return response.status_code

    async def close(self) -> None:
        await self._pool.close()
        if self._proxied is not None:
            await self._proxied.aclose()
